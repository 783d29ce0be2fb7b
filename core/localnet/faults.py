"""Fault injection knobs shared by the local cluster's servers (RPC, PubSub, later the block engine).

One `Faults` object is handed to every server; tests and operators change it while the cluster
runs (directly, from `--fault k=v`, or over the loopback-only `arbtui_setFaults` RPC method).
Every rate is a probability in [0, 1] drawn per request / per notification.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from typing import Any


class FaultSpecError(ValueError):
    """A `k=v` fault setting that names no knob or carries a value of the wrong kind."""


@dataclass
class RegionFaults:
    """One block-engine region's knobs, set as `<region>.<knob>=v` (e.g. `ny.outage=true`)."""

    latency_ms: float = 0.0  # added to the region's own simulated latency
    outage: bool = False  # every request to the region fails (HTTP 503); other regions unaffected
    http_5xx_rate: float = 0.0  # answer HTTP 500 instead of serving
    drop_bundle_rate: float = 0.0  # accept a bundle (id returned) but never forward it


REGION_KNOBS = tuple(f.name for f in fields(RegionFaults))


@dataclass
class Faults:
    latency_ms: float = 0.0  # added before every RPC answer and PubSub notification
    http_429_rate: float = 0.0  # answer HTTP 429 Too Many Requests instead of serving
    http_503_rate: float = 0.0  # answer HTTP 503 Service Unavailable instead of serving
    malformed_json_rate: float = 0.0  # answer a truncated JSON body
    ws_drop_rate: float = 0.0  # close a websocket instead of sending a notification
    ws_drop_all: bool = False  # one-shot: PubSub closes every connection, then clears this
    skip_notification_rate: float = 0.0  # silently drop a PubSub notification
    stall_slot_ms: float = 0.0  # one-shot: the slot clock pauses this long, then clears this
    seed: int | None = None  # seeds the draws so a test run is reproducible
    # Block-engine regions by name ("default" is the unprefixed path); absent = no faults.
    regions: dict[str, RegionFaults] = field(default_factory=dict, compare=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.validate()
        if self.seed is not None:
            self._rng.seed(self.seed)

    # -- draws ---------------------------------------------------------------------------------
    def roll(self, rate: float) -> bool:
        return rate > 0.0 and self._rng.random() < rate

    def take_ws_drop_all(self) -> bool:
        """True once per `ws_drop_all = True`: the PubSub server acts on it and it resets."""
        if self.ws_drop_all:
            self.ws_drop_all = False
            return True
        return False

    def take_stall_ms(self) -> float:
        stall, self.stall_slot_ms = self.stall_slot_ms, 0.0
        return stall

    # -- settings ------------------------------------------------------------------------------
    def region(self, name: str) -> RegionFaults:
        """The knobs of block-engine region `name` (all off until set)."""
        found = self.regions.get(name)
        return found if found is not None else RegionFaults()

    @classmethod
    def knob_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if not f.name.startswith("_") and f.name != "regions"]

    def validate(self) -> None:
        for name in ("http_429_rate", "http_503_rate", "malformed_json_rate", "ws_drop_rate",
                     "skip_notification_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise FaultSpecError(f"{name} must be within [0, 1], got {value}")
        for name in ("latency_ms", "stall_slot_ms"):
            if getattr(self, name) < 0:
                raise FaultSpecError(f"{name} must be >= 0, got {getattr(self, name)}")

    def update(self, settings: dict[str, Any]) -> None:
        """Apply several knobs at once; nothing changes if any one of them is bad.

        `<region>.<knob>` names set a block-engine region's knobs (see RegionFaults), as does
        `regions: {<region>: {<knob>: v}}` (the shape `as_dict` reports, so its output can be sent back).
        """
        staged = self._knobs()
        regions = {name: RegionFaults(**vars(rf)) for name, rf in self.regions.items()}
        for name, raw in _flatten_regions(settings).items():
            if "." in name:
                region, _, knob = name.partition(".")
                staged_region = regions.setdefault(region, RegionFaults())
                setattr(staged_region, knob, _coerce_region(region, knob, raw))
                continue
            staged[name] = _coerce(name, raw)
        probe = Faults(**{k: v for k, v in staged.items() if k != "seed"})
        probe.validate()
        for name, value in staged.items():
            setattr(self, name, value)
        self.regions = regions
        if "seed" in settings and self.seed is not None:
            self._rng.seed(self.seed)

    def set_from_spec(self, spec: str) -> None:
        """`latency_ms=50` as given to `--fault`."""
        name, sep, value = spec.partition("=")
        if not sep:
            raise FaultSpecError(f"expected k=v, got {spec!r}")
        self.update({name.strip(): value.strip()})

    def _knobs(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.knob_names()}

    def as_dict(self) -> dict[str, Any]:
        """Every knob, plus `regions`: each block-engine region that has knobs set, with all of its."""
        regions = {name: vars(rf).copy() for name, rf in sorted(self.regions.items())}
        return self._knobs() | {"regions": regions}


def _flatten_regions(settings: dict[str, Any]) -> dict[str, Any]:
    """`{"regions": {"ny": {"outage": true}}}` → `{"ny.outage": true}`; other names pass through."""
    flat = {name: raw for name, raw in settings.items() if name != "regions"}
    nested = settings.get("regions", {})
    if not isinstance(nested, dict) or not all(isinstance(knobs, dict) for knobs in nested.values()):
        raise FaultSpecError("regions must be an object of region name → object of knobs")
    for region, knobs in nested.items():
        for knob, raw in knobs.items():
            flat[f"{region}.{knob}"] = raw
    return flat


def _coerce_region(region: str, knob: str, raw: Any) -> Any:
    if not region or knob not in REGION_KNOBS:
        raise FaultSpecError(f"unknown region fault {region}.{knob}; knobs: {', '.join(REGION_KNOBS)}")
    if knob == "outage":
        return _coerce("ws_drop_all", raw)  # the same bool spelling
    value = _coerce("latency_ms", raw)
    if knob == "latency_ms" and value < 0:
        raise FaultSpecError(f"{region}.latency_ms must be >= 0, got {value}")
    if knob != "latency_ms" and not 0.0 <= value <= 1.0:
        raise FaultSpecError(f"{region}.{knob} must be within [0, 1], got {value}")
    return value


def _coerce(name: str, raw: Any) -> Any:
    kinds = {f.name: f.type for f in fields(Faults) if not f.name.startswith("_")}
    if name not in kinds:
        raise FaultSpecError(f"unknown fault {name!r}; known: {', '.join(kinds)}")
    kind = kinds[name]
    try:
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in ("1", "true", "yes", "on"):
                return True
            if str(raw).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "int | None":
            return None if raw is None or str(raw).lower() == "none" else int(raw)
        if isinstance(raw, bool):
            raise ValueError(raw)
        return float(raw)
    except (TypeError, ValueError):
        raise FaultSpecError(f"bad value for {name}: {raw!r}") from None
