"""What the engine socket sends a console: each cycle's newest quote per batch, everything else as is."""

from __future__ import annotations

from solders.pubkey import Pubkey

from arbtui.state import ConsoleState
from core.daemon.server import coalesce
from core.events import ApprovalDecision, FeedHealth, PendingApproval, SlotTick
from core.protocols import ids
from core.search.fees import FeeBreakdown
from core.search.opportunities import Hop, Opportunity, OpportunityWithdrawn

ROUTE = (Hop(Pubkey.new_unique(), "raydium_amm_v4", True, ids.USDC_MINT, ids.NATIVE_MINT),)


def quote(oid: int, cycle: int, net: int = 1) -> Opportunity:
    fees = FeeBreakdown(0, 0, 0, 0, 0)
    return Opportunity(oid, cycle, ids.USDC_MINT, ROUTE, 10, 11, net, fees, net, 1, (1,), 0)


def test_each_cycles_newest_quote_takes_the_first_ones_place_and_nothing_else_moves() -> None:
    events = [
        quote(1, 7), SlotTick(5), quote(2, 8), PendingApproval(1, 30, 7), quote(3, 7),
        SlotTick(6), OpportunityWithdrawn(4, 8, 2, "gone", 6, 0), ApprovalDecision(1, "approved", "a"),
        FeedHealth(True, 6, 0, 30),
    ]  # fmt: skip
    out = coalesce(events)
    assert out == [events[4], events[5], events[6], events[3], events[7], events[8]]


def test_a_console_places_a_pending_quote_that_was_coalesced_away() -> None:
    state = ConsoleState()
    for event in coalesce([quote(1, 7), PendingApproval(1, 30, 7), quote(3, 7)]):
        state.apply(event)
    row = state.opportunities[7]
    assert row.opp.id == 3 and row.pending_id == 1 and state.pending_ids() == [1]
    state.apply(ApprovalDecision(1, "approved", "a"))
    assert row.pending_id is None and row.decision == "approved"
