"""The events the search publishes: an opportunity (re)priced, or an opportunity gone."""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

from core.search.fees import FeeBreakdown


@dataclass(frozen=True, slots=True)
class Hop:
    """One leg of a route: `amount` of `mint_in` through `pool` in direction `a_to_b`."""

    pool: Pubkey
    dex: str
    a_to_b: bool
    mint_in: Pubkey
    mint_out: Pubkey


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A profitable cycle, sized and quoted to the base unit from the pool states it names.

    id: unique per event (monotonic); cycle_id: stable for the cycle while its pools exist.
    amount_in / expected_out / gross are loan-token base units; gross = expected_out − amount_in.
    net = gross − fees.total; slot = the newest state slot used; state_slots[i] = slot of hop i's
    pool state. detected_at_ns = time.monotonic_ns() when the quote finished.
    """

    id: int
    cycle_id: int
    loan_mint: Pubkey
    route: tuple[Hop, ...]
    amount_in: int
    expected_out: int
    gross: int
    fees: FeeBreakdown
    net: int
    slot: int
    state_slots: tuple[int, ...]
    detected_at_ns: int

    @property
    def pools(self) -> tuple[Pubkey, ...]:
        return tuple(h.pool for h in self.route)

    @property
    def directions(self) -> tuple[bool, ...]:
        return tuple(h.a_to_b for h in self.route)

    @property
    def mints(self) -> tuple[Pubkey, ...]:
        return (self.loan_mint, *(h.mint_out for h in self.route))


@dataclass(frozen=True, slots=True)
class OpportunityWithdrawn:
    """The cycle's previous opportunity no longer holds (unprofitable now, or a pool vanished)."""

    id: int
    cycle_id: int
    replaces: int
    reason: str
    slot: int
    detected_at_ns: int


OpportunityEvent = Opportunity | OpportunityWithdrawn
