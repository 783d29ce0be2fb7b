"""Block-engine settings: regions, rate limits, auction tick, status delays, competitors."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_REGION = "default"  # the unprefixed paths (/api/v1/...), as the global mainnet host


@dataclass(frozen=True)
class Region:
    """One simulated regional block engine: URL prefix `/<name>` and its one-way latency."""

    name: str
    latency_ms: float  # added before a request is served (the network to that region and back)

    @property
    def prefix(self) -> str:
        return "" if self.name == DEFAULT_REGION else f"/{self.name}"


# Latencies of a searcher in Europe to each host, roughly as measured by public bots.
DEFAULT_REGIONS: tuple[Region, ...] = (
    Region(DEFAULT_REGION, 20.0),
    Region("ny", 35.0),
    Region("frankfurt", 8.0),
    Region("tokyo", 110.0),
)


@dataclass(frozen=True)
class CompetitorConfig:
    """Simulated searchers racing the operator on the same pools.

    `aggressiveness`: mean share of an opportunity's profit a searcher bids as its tip.
    `skill`: probability a searcher spots a given opportunity in a slot (and the inverse of its
    reaction delay). `min_profit_lamports`: opportunities below this are ignored.
    """

    count: int = 3
    aggressiveness: float = 0.5
    skill: float = 0.7
    min_profit_lamports: int = 20_000
    reaction_ms: float = 60.0  # reaction delay of a searcher with skill 1 (grows as skill drops)
    seed: int = 0


@dataclass(frozen=True)
class BlockEngineConfig:
    regions: tuple[Region, ...] = DEFAULT_REGIONS
    # Requests per second per region per client IP; None disables the limit.
    rate_limit_per_s: float | None = 1.0
    auth_uuids: frozenset[str] = frozenset()  # x-jito-auth / ?uuid= values that get `auth_rate_limit_per_s`
    auth_rate_limit_per_s: float | None = 10.0  # Jito's default approval: 10 RPS
    tick_ms: float = 50.0  # auction tick
    lookback_s: float = 300.0  # getInflightBundleStatuses covers the last 5 minutes
    tip_floor_window: int = 10_000  # landed bundles the tip floor is computed over
    tip_floor_ema_alpha: float = 0.1
    competitors: CompetitorConfig | None = field(default_factory=CompetitorConfig)
    seed: int = 0  # drop-bundle and competitor draws
    # getBundleStatuses' field: the docs' JSON and jito-js-rpc say confirmation_status, the docs'
    # table confirmationStatus; a client must parse both, so a test can serve either.
    confirmation_status_key: str = "confirmation_status"

    def region(self, name: str) -> Region | None:
        for region in self.regions:
            if region.name == name:
                return region
        return None
