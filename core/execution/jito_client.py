"""Async Jito block-engine client: every region at once, first acceptance wins, every answer kept.

Methods and quirks follow protocols.md §1: all bundle methods POST to `<region>/api/v1/bundles`,
`sendTransaction` to `<region>/api/v1/transactions` (`?bundleOnly=true` makes it a one-tx bundle,
its id in the `x-bundle-id` header), the tip floor is a GET returning SOL floats, and a bundle
status carries `confirmation_status` or `confirmationStatus` depending on who wrote the server.
Each region has its own token bucket (default 1 request/s, Jito's per-IP limit), so the client
waits for its turn instead of collecting 429s.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from core.config import JitoConfig
from core.events import EventBus, RegionStats
from core.execution.rpc import JsonRpc, RpcError
from core.execution.token_bucket import TokenBucket
from core.metrics import Metrics

MAINNET_TIP_FLOOR_URL = "https://bundles.jito.wtf/api/v1/bundles/tip_floor"
MAX_BUNDLE_TXS = 5
MAX_STATUS_IDS = 5
LAMPORTS_PER_SOL = 1_000_000_000
DEFAULT_RATE_PER_S = 1.0
LATENCY_SAMPLES = 200
# Pace a little under the server's limit: request spacing jitters by a few ms in transit, and a
# request that arrives 1 ms early is a 429.
RATE_HEADROOM = 0.9


def _region_base(url: str) -> str:
    """Accept both a host URL and the SDKs' `…/api/v1` base for a region."""
    url = url.rstrip("/")
    return url[: -len("/api/v1")] if url.endswith("/api/v1") else url


def bundle_id_of(txs: Sequence[VersionedTransaction]) -> str:
    """sha256 of the comma-joined base58 first signatures (jito-solana `derive_bundle_id`)."""
    return hashlib.sha256(",".join(str(tx.signatures[0]) for tx in txs).encode()).hexdigest()


def _b64(tx: VersionedTransaction) -> str:
    return base64.b64encode(bytes(tx)).decode()


@dataclass(frozen=True)
class TipFloor:
    """Jito's landed-tip percentiles, converted from SOL floats to lamports."""

    p25: int
    p50: int
    p75: int
    p95: int
    p99: int
    ema_p50: int

    def percentile(self, p: int) -> int:
        return {25: self.p25, 50: self.p50, 75: self.p75, 95: self.p95, 99: self.p99}[p]

    @classmethod
    def from_json(cls, payload: Any) -> TipFloor:
        entry = payload[0] if isinstance(payload, list) and payload else payload
        if not isinstance(entry, dict):
            raise RpcError(f"tip_floor: unexpected reply {payload!r:.200}")

        def lamports(key: str) -> int:
            value = entry.get(key)
            if not isinstance(value, (int, float)) or value < 0:
                raise RpcError(f"tip_floor: {key} missing or invalid ({value!r})")
            return round(value * LAMPORTS_PER_SOL)

        return cls(
            p25=lamports("landed_tips_25th_percentile"),
            p50=lamports("landed_tips_50th_percentile"),
            p75=lamports("landed_tips_75th_percentile"),
            p95=lamports("landed_tips_95th_percentile"),
            p99=lamports("landed_tips_99th_percentile"),
            ema_p50=lamports("ema_landed_tips_50th_percentile"),
        )


@dataclass(frozen=True)
class BundleStatus:
    """getBundleStatuses entry: the bundle landed at `slot` (err None) or failed there."""

    bundle_id: str
    slot: int
    confirmation_status: str
    err: Any
    transactions: tuple[str, ...]

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> BundleStatus:
        err = entry.get("err")
        if isinstance(err, dict) and "Ok" in err:
            err = None
        status = entry.get("confirmation_status") or entry.get("confirmationStatus") or "processed"
        return cls(
            bundle_id=str(entry["bundle_id"]),
            slot=int(entry.get("slot") or 0),
            confirmation_status=str(status),
            err=err,
            transactions=tuple(str(s) for s in entry.get("transactions") or ()),
        )


@dataclass(frozen=True)
class InflightStatus:
    """getInflightBundleStatuses entry: Invalid | Pending | Failed | Landed."""

    bundle_id: str
    status: str
    landed_slot: int | None

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> InflightStatus:
        slot = entry.get("landed_slot")
        return cls(str(entry["bundle_id"]), str(entry.get("status")), int(slot) if slot is not None else None)


@dataclass(frozen=True)
class RegionAnswer:
    """One region's reply to one submission (accepted with the bundle id, or why not)."""

    region: str
    accepted: bool
    bundle_id: str | None
    latency_ms: float
    error: str = ""
    rate_limited: bool = False
    retryable: bool = False
    # No answer at all (timeout, reset): the region may have accepted the bundle all the same.
    ambiguous: bool = False
    at: float = field(default_factory=time.time)


class AllRegionsRejected(Exception):
    """No region accepted the bundle; `retryable` when every refusal was transient (429, 5xx, I/O)."""

    def __init__(self, answers: list[RegionAnswer]) -> None:
        detail = "; ".join(f"{a.region}: {a.error}" for a in answers) or "no region configured"
        super().__init__(f"bundle refused by every region ({detail})")
        self.answers = answers

    @property
    def retryable(self) -> bool:
        return bool(self.answers) and all(a.retryable for a in self.answers)

    @property
    def rate_limited(self) -> bool:
        return bool(self.answers) and all(a.rate_limited for a in self.answers)

    @property
    def ambiguous(self) -> bool:
        """Some region never answered: the bundle may be in flight there."""
        return any(a.ambiguous for a in self.answers)


@dataclass
class Submission:
    """The winning region's acceptance; the other regions' answers arrive in `answers` as they come."""

    bundle_id: str
    region: str
    answers: list[RegionAnswer]
    _pending: list[asyncio.Task[RegionAnswer]] = field(default_factory=list, repr=False)

    async def settled(self) -> list[RegionAnswer]:
        """Every region's answer (waits for the slower regions)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        return list(self.answers)


@dataclass
class _RegionCounters:
    sent: int = 0
    accepted: int = 0
    landed: int = 0
    rate_limited: int = 0
    errors: int = 0
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))

    def snapshot(self, region: str) -> RegionStats:
        p50 = statistics.median(self.latencies_ms) if self.latencies_ms else 0.0
        rate = self.landed / self.accepted if self.accepted else 0.0
        return RegionStats(region, self.sent, self.landed, self.rate_limited, self.errors, p50, rate)


class JitoClient:
    """One client for every configured region; share one `httpx.AsyncClient` (the caller closes it)."""

    def __init__(
        self,
        regions: dict[str, str],
        http: httpx.AsyncClient,
        *,
        rate_per_s: float = DEFAULT_RATE_PER_S,
        burst: float = 1.0,
        headroom: float = RATE_HEADROOM,
        max_wait_s: float = 2.0,
        tip_floor_url: str | None = None,
        auth_uuid: str | None = None,
        bus: EventBus | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_answer: Callable[[str, RegionAnswer], None] | None = None,
    ) -> None:
        if not regions:
            raise ValueError("JitoClient needs at least one region")
        self.regions = {name: _region_base(url) for name, url in regions.items()}
        self.rpc = JsonRpc(http)
        self.http = http
        self.max_wait_s = max_wait_s
        self.buckets = {
            name: TokenBucket(rate_per_s * headroom, burst, clock=clock, sleep=sleep) for name in self.regions
        }
        self._counters = {name: _RegionCounters() for name in self.regions}
        self._clock = clock
        self._bus = bus
        self._metrics = metrics
        self._headers = {"x-jito-auth": auth_uuid} if auth_uuid else {}
        self.on_answer = on_answer
        self.tip_floor_url = tip_floor_url or self._default_tip_floor_url()

    @classmethod
    def from_config(cls, config: JitoConfig, http: httpx.AsyncClient, **kwargs: Any) -> JitoClient:
        """The engine's client: `jito.regions`, `jito.rate_limit_per_s` per region's token bucket, and
        `jito.auth_uuid` (a secret) as the `x-jito-auth` header. Other keywords as the constructor's."""
        secret = config.auth_uuid.get_secret_value()
        return cls(dict(config.regions), http, rate_per_s=config.rate_limit_per_s, auth_uuid=secret or None,
                   **kwargs)

    def _default_tip_floor_url(self) -> str:
        first = next(iter(self.regions.values()))
        if (urlsplit(first).hostname or "").endswith("jito.wtf"):
            return MAINNET_TIP_FLOOR_URL
        return f"{first}/api/v1/bundles/tip_floor"

    # -- stats ------------------------------------------------------------------------------------

    def stats(self, region: str) -> RegionStats:
        return self._counters[region].snapshot(region)

    def all_stats(self) -> list[RegionStats]:
        return [self.stats(region) for region in self.regions]

    def note_landed(self, region: str) -> None:
        """The lifecycle saw a bundle this region accepted land: feeds its inclusion rate."""
        if region in self._counters:
            self._counters[region].landed += 1
            if self._metrics is not None:
                self._metrics.bundles_landed.labels(region=region).inc()
            self._publish(region)

    def _publish(self, region: str) -> None:
        if self._bus is not None:
            self._bus.publish(self.stats(region))

    # -- transport --------------------------------------------------------------------------------

    def _pick_region(self, region: str | None) -> str:
        """The named region, else the one whose bucket frees up first (spreads status polling)."""
        if region is not None:
            if region not in self.regions:
                raise ValueError(f"unknown region {region!r}")
            return region
        return min(self.regions, key=lambda name: self.buckets[name].delay())

    async def _call(self, region: str, path: str, method: str, params: list[Any],
                    query: dict[str, str] | None = None) -> tuple[Any, httpx.Response]:
        bucket = self.buckets[region]
        await bucket.acquire()
        started = self._clock()
        try:
            reply = await self.rpc.post(
                f"{self.regions[region]}{path}", method, params, query=query, headers=self._headers
            )
        except RpcError as exc:
            if exc.rate_limited:
                bucket.penalize(exc.retry_after_s)
            self._count_failure(region, method, exc, self._clock() - started)
            raise
        if self._metrics is not None and method == "sendBundle":
            self._metrics.send_bundle_latency_seconds.labels(region=region).observe(self._clock() - started)
        return reply

    def _count_failure(self, region: str, method: str, exc: RpcError, elapsed_s: float) -> None:
        if self._metrics is None:
            return
        if exc.rate_limited:
            self._metrics.jito_rate_limited.labels(region=region, method=method).inc()
        else:
            self._metrics.jito_errors.labels(region=region, method=method).inc()
        if method == "sendBundle" and (exc.status is not None or exc.code is not None):
            # The region answered (a refusal is an answer too); a transport failure has no latency.
            self._metrics.send_bundle_latency_seconds.labels(region=region).observe(elapsed_s)

    async def _answer(self, region: str, txs: Sequence[VersionedTransaction]) -> RegionAnswer:
        counters = self._counters[region]
        started = self._clock()
        try:
            result, _ = await self._call(
                region, "/api/v1/bundles", "sendBundle", [[_b64(tx) for tx in txs], {"encoding": "base64"}]
            )
            answer = RegionAnswer(region, True, str(result), (self._clock() - started) * 1000)
        except RpcError as exc:
            answer = RegionAnswer(
                region, False, None, (self._clock() - started) * 1000, exc.message,
                rate_limited=exc.rate_limited, retryable=exc.retryable,
                ambiguous=exc.status is None and exc.code is None,
            )
        counters.sent += 1
        counters.latencies_ms.append(answer.latency_ms)
        if answer.accepted:
            counters.accepted += 1
            if self._metrics is not None:
                self._metrics.bundles_submitted.labels(region=region).inc()
        elif answer.rate_limited:
            counters.rate_limited += 1
        else:
            counters.errors += 1
        self._publish(region)
        return answer

    # -- bundles ----------------------------------------------------------------------------------

    async def send_bundle(
        self, txs: Sequence[VersionedTransaction], regions: Iterable[str] | None = None
    ) -> Submission:
        """Send to every region at once; return on the first acceptance.

        A region whose token bucket would make it wait longer than `max_wait_s` is skipped (its
        answer says so) rather than delaying the others. Raises AllRegionsRejected when none accepts.
        """
        if not 1 <= len(txs) <= MAX_BUNDLE_TXS:
            raise ValueError(f"a bundle holds 1..{MAX_BUNDLE_TXS} transactions, got {len(txs)}")
        bundle_id = bundle_id_of(txs)
        answers: list[RegionAnswer] = []
        tasks: list[asyncio.Task[RegionAnswer]] = []
        for region in regions or self.regions:
            if self.buckets[region].delay() > self.max_wait_s:
                answers.append(
                    RegionAnswer(region, False, None, 0.0, "skipped: rate-limit budget spent",
                                 rate_limited=True, retryable=True)
                )
                continue
            tasks.append(asyncio.create_task(self._answer(region, txs)))

        def record(task: asyncio.Task[RegionAnswer]) -> None:
            if task.cancelled() or task.exception() is not None:
                return
            answer = task.result()
            answers.append(answer)
            if self.on_answer is not None:
                self.on_answer(bundle_id, answer)

        for task in tasks:
            task.add_done_callback(record)
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            finished = [t.result() for t in done if not t.cancelled() and t.exception() is None]
            winner = next((answer for answer in finished if answer.accepted), None)
            if winner is not None:
                await asyncio.sleep(0)  # let the done-callbacks record the answers in so far
                return Submission(winner.bundle_id or bundle_id, winner.region, answers, tasks)
        await asyncio.sleep(0)
        raise AllRegionsRejected(answers)

    async def send_bundle_to(self, region: str, txs: Sequence[VersionedTransaction]) -> RegionAnswer:
        """One region only (a replacement after a region-specific refusal, or a test)."""
        answer = await self._answer(region, txs)
        if self.on_answer is not None:
            self.on_answer(bundle_id_of(txs), answer)
        return answer

    async def send_transaction(
        self, tx: VersionedTransaction, *, bundle_only: bool = True, region: str | None = None
    ) -> tuple[str, str | None]:
        """sendTransaction; returns (signature, bundle id from `x-bundle-id` when sent as a bundle)."""
        name = self._pick_region(region)
        query = {"bundleOnly": "true"} if bundle_only else None
        result, response = await self._call(
            name, "/api/v1/transactions", "sendTransaction", [_b64(tx), {"encoding": "base64"}], query
        )
        return str(result), response.headers.get("x-bundle-id")

    async def get_bundle_statuses(
        self, bundle_ids: Sequence[str], *, region: str | None = None
    ) -> dict[str, BundleStatus]:
        """Landed (or failed-in-slot) bundles among `bundle_ids`; unknown ids are absent."""
        out: dict[str, BundleStatus] = {}
        for chunk in _chunks(bundle_ids, MAX_STATUS_IDS):
            result, _ = await self._call(
                self._pick_region(region), "/api/v1/bundles", "getBundleStatuses", [list(chunk)]
            )
            value = result.get("value") if isinstance(result, dict) else result
            for entry in value or ():
                if isinstance(entry, dict) and entry.get("bundle_id"):
                    status = BundleStatus.from_json(entry)
                    out[status.bundle_id] = status
        return out

    async def get_inflight_bundle_statuses(
        self, bundle_ids: Sequence[str], *, region: str | None = None
    ) -> dict[str, InflightStatus]:
        out: dict[str, InflightStatus] = {}
        for chunk in _chunks(bundle_ids, MAX_STATUS_IDS):
            result, _ = await self._call(
                self._pick_region(region), "/api/v1/bundles", "getInflightBundleStatuses", [list(chunk)]
            )
            value = result.get("value") if isinstance(result, dict) else result
            for entry in value or ():
                if isinstance(entry, dict) and entry.get("bundle_id"):
                    status = InflightStatus.from_json(entry)
                    out[status.bundle_id] = status
        return out

    async def get_tip_accounts(self, *, region: str | None = None) -> list[Pubkey]:
        result, _ = await self._call(self._pick_region(region), "/api/v1/bundles", "getTipAccounts", [])
        try:
            return [Pubkey.from_string(str(key)) for key in result]
        except (TypeError, ValueError) as exc:
            raise RpcError(f"getTipAccounts: bad reply {result!r:.200}") from exc

    async def tip_floor(self) -> TipFloor:
        try:
            response = await self.http.get(self.tip_floor_url, headers=self._headers)
        except httpx.HTTPError as exc:
            raise RpcError(f"tip_floor: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise RpcError(f"tip_floor: HTTP {response.status_code}", status=response.status_code)
        try:
            payload = response.json()
        except ValueError as exc:
            raise RpcError("tip_floor: reply is not JSON") from exc
        return TipFloor.from_json(payload)


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
