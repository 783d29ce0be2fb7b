"""The events the search publishes: an opportunity (re)priced, or an opportunity gone."""

from __future__ import annotations

from dataclasses import dataclass, fields

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

# Positional constructors for the search's hot path. A frozen dataclass's __init__ sets each field
# through object.__setattr__ (a type lookup per field); these set the slots through their
# descriptors directly, about twice as fast, and build the very same immutable object. Arguments are
# every field in declaration order (tests hold them equal to the classes' own constructors).
_new = object.__new__
(_o_id, _o_cycle_id, _o_loan_mint, _o_route, _o_amount_in, _o_expected_out, _o_gross, _o_fees, _o_net,
 _o_slot, _o_state_slots, _o_detected_at_ns) = (
    Opportunity.__dict__[f.name].__set__ for f in fields(Opportunity)
)
_w_id, _w_cycle_id, _w_replaces, _w_reason, _w_slot, _w_detected_at_ns = (
    OpportunityWithdrawn.__dict__[f.name].__set__ for f in fields(OpportunityWithdrawn)
)


def new_opportunity(
    id: int, cycle_id: int, loan_mint: Pubkey, route: tuple[Hop, ...], amount_in: int, expected_out: int,
    gross: int, fees: FeeBreakdown, net: int, slot: int, state_slots: tuple[int, ...], detected_at_ns: int,
) -> Opportunity:
    o = _new(Opportunity)
    _o_id(o, id)
    _o_cycle_id(o, cycle_id)
    _o_loan_mint(o, loan_mint)
    _o_route(o, route)
    _o_amount_in(o, amount_in)
    _o_expected_out(o, expected_out)
    _o_gross(o, gross)
    _o_fees(o, fees)
    _o_net(o, net)
    _o_slot(o, slot)
    _o_state_slots(o, state_slots)
    _o_detected_at_ns(o, detected_at_ns)
    return o


def new_withdrawn(
    id: int, cycle_id: int, replaces: int, reason: str, slot: int, detected_at_ns: int
) -> OpportunityWithdrawn:
    w = _new(OpportunityWithdrawn)
    _w_id(w, id)
    _w_cycle_id(w, cycle_id)
    _w_replaces(w, replaces)
    _w_reason(w, reason)
    _w_slot(w, slot)
    _w_detected_at_ns(w, detected_at_ns)
    return w
