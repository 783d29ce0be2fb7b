"""The engine's typed event stream: what the console, the log and `run --headless --json` render.

Every stage publishes here and nothing else talks to the UI, so the three views can never
disagree. Events are frozen dataclasses of plain values (ints in base units, str pubkeys) so
they serialize to JSON without knowing the stage that made them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from solders.pubkey import Pubkey

from core.search.opportunities import Opportunity, OpportunityWithdrawn


def _now_ns() -> int:
    return time.time_ns()


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """The market feed's view of its own freshness; `stale_slots` is cluster slot − newest data slot."""

    connected: bool
    slot: int
    stale_slots: int
    pools: int
    reason: str = ""
    stale: bool = False  # True while the engine must not act on the market state (disconnected or too old)
    decode_errors: int = 0  # malformed accounts skipped since start
    at_ns: int = field(default_factory=_now_ns)


@dataclass(frozen=True, slots=True)
class SlotTick:
    slot: int
    at_ns: int = field(default_factory=_now_ns)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One validator check: measured value versus threshold, both rendered for the operator."""

    name: str
    passed: bool
    measured: str
    threshold: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ValidationResult:
    opportunity_id: int
    attempt_id: str
    provider: str
    amount_in: int
    checks: tuple[CheckResult, ...]
    at_ns: int = field(default_factory=_now_ns)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def first_failure(self) -> CheckResult | None:
        return next((c for c in self.checks if not c.passed), None)


@dataclass(frozen=True, slots=True)
class AttemptUpdate:
    """A bundle attempt changed lifecycle state (the store's STATES); written before it is published."""

    attempt_id: str
    opportunity_id: int
    state: str
    attempt: int = 1
    region: str = ""
    tip_lamports: int = 0
    bundle_id: str = ""
    reason: str = ""
    next_retry_at_ns: int | None = None
    fee_bump: float = 1.0
    realized_pnl: int | None = None
    at_ns: int = field(default_factory=_now_ns)


@dataclass(frozen=True, slots=True)
class RegionStats:
    region: str
    sent: int
    landed: int
    rate_limited: int
    errors: int
    p50_latency_ms: float
    inclusion_rate: float
    at_ns: int = field(default_factory=_now_ns)


@dataclass(frozen=True, slots=True)
class TipPolicy:
    profit_percent: float
    inclusion_multiplier: float
    time_of_day_multiplier: float
    tip_floor_lamports: int
    last_tip_lamports: int
    at_ns: int = field(default_factory=_now_ns)


@dataclass(frozen=True, slots=True)
class EngineState:
    """running / paused / stopped / killed; `reason` says why when not running."""

    state: str
    mode: str
    reason: str = ""
    wallet: str = ""
    cluster: str = ""
    at_ns: int = field(default_factory=_now_ns)


@dataclass(frozen=True, slots=True)
class PendingApproval:
    opportunity_id: int
    expires_slot: int
    cycle_id: int = -1  # lets a front end place it even when that quote was coalesced away
    at_ns: int = field(default_factory=_now_ns)


@dataclass(frozen=True, slots=True)
class TokenMeta:
    mint: str
    symbol: str
    decimals: int


@dataclass(frozen=True, slots=True)
class TokenList:
    """Names and decimals of the tokens the engine trades (display only; amounts stay base units)."""

    tokens: tuple[TokenMeta, ...]
    at_ns: int = field(default_factory=_now_ns)


@dataclass(frozen=True, slots=True)
class MintPrice:
    mint: str
    usd_per_unit: float  # USD per base unit: display and ranking only, never a trading decision


@dataclass(frozen=True, slots=True)
class MarketPrices:
    """Prices read off the pools, so front ends can show and rank amounts of different tokens in USD."""

    prices: tuple[MintPrice, ...]
    at_ns: int = field(default_factory=_now_ns)


@dataclass(frozen=True, slots=True)
class ApprovalDecision:
    """An approve / reject / expiry, already persisted; `key` is the keypress or policy that made it."""

    opportunity_id: int
    decision: str
    key: str
    reason: str = ""
    at_ns: int = field(default_factory=_now_ns)


Event = (
    Opportunity
    | OpportunityWithdrawn
    | FeedHealth
    | SlotTick
    | ValidationResult
    | AttemptUpdate
    | RegionStats
    | TipPolicy
    | EngineState
    | PendingApproval
    | ApprovalDecision
    | TokenList
    | MarketPrices
)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)  # Pubkey, Signature, Hash render as base58


def to_json_dict(event: Event) -> dict[str, Any]:
    """`{"type": ClassName, ...fields}` with pubkeys as base58 and amounts as JSON integers."""
    return {"type": type(event).__name__, **_fields_encoder(type(event))(event)}


_Encoder = Callable[[Any], Any]


@functools.cache
def _encoder(hint: Any) -> _Encoder:
    """`_plain` specialised to a type hint, compiled once: the engine socket encodes every event
    it sends a console (thousands a second) on the engine's own event loop."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [o for o in typing.get_args(hint) if o is not type(None)]
        if len(options) == 1:
            inner = _encoder(options[0])
            return lambda value: None if value is None else inner(value)
        return _plain
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _encoder(args[0])
            return lambda value: [item(v) for v in value]
        return _plain
    if dataclasses.is_dataclass(hint):
        return _fields_encoder(typing.cast(type[Any], hint))
    if hint is Pubkey:
        return str
    if hint in (int, str, bool):
        return _same
    return _plain  # floats (a float field may hold an int), dicts, Any: the general walk


def _same(value: Any) -> Any:
    return value


def _field_hints(cls: type[Any]) -> list[tuple[dataclasses.Field[Any], Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


@functools.cache
def _fields_encoder(cls: type[Any]) -> _Encoder:
    fields = [(f.name, _encoder(hint)) for f, hint in _field_hints(cls)]
    return lambda value: {name: encode(getattr(value, name)) for name, encode in fields}


class EventDecodeError(ValueError):
    """A JSON event that is not one of ours: unknown type, missing field or wrong value type."""


EVENT_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(Event)}


_Decoder = Callable[[Any], Any]
# Decoders raise EventDecodeError with the path below them (".field", "[i]") then ": why"; each
# level prepends its own step, so no path string is built unless something is wrong.


def _at(step: str, decode: _Decoder, value: Any) -> Any:
    try:
        return decode(value)
    except EventDecodeError as exc:
        raise EventDecodeError(f"{step}{exc.args[0]}") from None


@functools.cache
def _decoder(hint: Any) -> _Decoder:
    """One decoder per type hint, compiled once: a console attached over the socket decodes every
    event the engine publishes (thousands a second), so nothing reflective runs per event."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        inner = _decoder(next(o for o in options if o is not type(None)))
        if type(None) not in options:
            return inner
        return lambda value: None if value is None else inner(value)
    if origin is tuple:
        item = _decoder(typing.get_args(hint)[0])

        def decode_tuple(value: Any) -> tuple[Any, ...]:
            if not isinstance(value, list):
                raise EventDecodeError(f": expected a list, got {type(value).__name__}")
            return tuple(_at(f"[{i}]", item, v) for i, v in enumerate(value))

        return decode_tuple
    if dataclasses.is_dataclass(hint):
        return _class_decoder(typing.cast(type[Any], hint))
    if hint is Pubkey:

        def decode_pubkey(value: Any) -> Pubkey:
            try:
                return Pubkey.from_string(value)
            except (ValueError, TypeError):
                raise EventDecodeError(f": not a base58 pubkey: {value!r:.60}") from None

        return decode_pubkey
    if hint in (int, str, bool, float):
        name = hint.__name__

        def decode_plain(value: Any) -> Any:
            if type(value) is hint:
                return value
            if hint is float and type(value) is int:
                return float(value)  # JSON writes 1.0 as 1.0, but a hand-written 1 is still a float field
            raise EventDecodeError(f": expected {name}, got {type(value).__name__}")

        return decode_plain

    def undecodable(value: Any) -> Any:
        raise EventDecodeError(f": no decoder for {hint!r}")

    return undecodable


@functools.cache
def _class_decoder(cls: type[Any]) -> _Decoder:
    fields = [
        (f.name, _decoder(hint),
         f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f, hint in _field_hints(cls)
    ]

    def decode_object(data: Any) -> Any:
        if not isinstance(data, dict):
            raise EventDecodeError(f": expected an object, got {type(data).__name__}")
        values = {}
        for name, decode, required in fields:
            if name in data:
                values[name] = _at(f".{name}", decode, data[name])
            elif required:
                raise EventDecodeError(f".{name}: missing")
        return cls(**values)

    return decode_object


def from_json_dict(data: dict[str, Any]) -> Event:
    """The inverse of `to_json_dict`: the same typed event, pubkeys as `Pubkey`, tuples as tuples.

    Fields the sender does not know yet keep their defaults; fields this side does not know are
    ignored, so a newer engine and an older console still understand each other's events.
    """
    if not isinstance(data, dict):
        raise EventDecodeError(f"expected an object, got {type(data).__name__}")
    cls = EVENT_TYPES.get(data.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise EventDecodeError(f"unknown event type {data.get('type')!r:.40}")
    return typing.cast(Event, _at(cls.__name__, _class_decoder(cls), data))


class EventBus:
    """Fan-out to any number of subscribers; a slow subscriber loses its oldest events, never blocks.

    The engine must not wait on a console redraw, so each subscriber has a bounded queue and a
    drop counter it can show.
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        self._maxsize = maxsize
        self._subs: list[Subscription] = []

    def subscribe(self) -> Subscription:
        sub = Subscription(self, asyncio.Queue(self._maxsize))
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, event: Event) -> None:
        for sub in self._subs:
            sub.put(event)

    def __len__(self) -> int:
        return len(self._subs)


@dataclass(eq=False)
class Subscription:
    bus: EventBus
    queue: asyncio.Queue[Event]
    dropped: int = 0

    def put(self, event: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self) -> Event:
        return await self.queue.get()

    def drain(self) -> Iterator[Event]:
        while not self.queue.empty():
            yield self.queue.get_nowait()

    def close(self) -> None:
        self.bus.unsubscribe(self)
