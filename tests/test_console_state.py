"""The console's fold of the event stream: names, prices and the USD ranking across loan tokens."""

from __future__ import annotations

from solders.pubkey import Pubkey

from arbtui.state import ConsoleState, opp_cells, sorted_rows
from core.events import MarketPrices, MintPrice, TokenList, TokenMeta
from core.protocols import ids
from core.search.fees import FeeBreakdown
from core.search.opportunities import Hop, Opportunity

BONK = Pubkey(bytes([9]) * 32)


def opp(oid: int, loan: Pubkey, net: int) -> Opportunity:
    fees = FeeBreakdown(0, 0, 0, 0, 0)
    route = (
        Hop(Pubkey.new_unique(), "raydium_amm_v4", True, loan, BONK),
        Hop(Pubkey.new_unique(), "whirlpool", False, BONK, loan),
    )
    return Opportunity(oid, oid, loan, route, 10 * net, 11 * net, net, fees, net, 1, (1, 1), 0)


def test_ranking_is_by_usd_not_by_base_units_of_different_tokens() -> None:
    state = ConsoleState()
    state.apply(opp(1, ids.NATIVE_MINT, 750_000_000))  # 0.75 SOL
    state.apply(opp(2, ids.USDC_MINT, 176_000_000))  # 176 USDC
    state.apply(MarketPrices((MintPrice(str(ids.NATIVE_MINT), 150.0 / 1e9),)))
    assert [r.opp.id for r in sorted_rows(state, "net", "")] == [2, 1]
    state.apply(MarketPrices((MintPrice(str(ids.NATIVE_MINT), 300.0 / 1e9),)))
    assert [r.opp.id for r in sorted_rows(state, "net", "")] == [1, 2]
    cells = opp_cells(state.opportunities[1], 1, state.tokens)
    assert cells[4] == "0.7500" and cells[5] == "225.00"


def test_token_list_names_the_route_and_sets_decimals() -> None:
    state = ConsoleState()
    state.apply(opp(1, ids.USDC_MINT, 1_000_000))
    assert "…" in state.tokens.route(state.opportunities[1].opp)
    state.apply(TokenList((TokenMeta(str(BONK), "BONK", 5),)))
    assert state.tokens.route(state.opportunities[1].opp) == "USDC-ray→BONK-orca→USDC"
    assert state.tokens.amount(BONK, 123_456_789) == "1,234.5678"
    assert sorted_rows(state, "net", "bonk")


def test_a_requoted_cycle_keeps_the_pending_quote_the_queue_holds() -> None:
    from core.events import ApprovalDecision, PendingApproval

    state = ConsoleState()
    first = opp(1, ids.USDC_MINT, 1_000_000)
    state.apply(first)
    state.apply(PendingApproval(1, expires_slot=30))
    requote = Opportunity(
        2, first.cycle_id, first.loan_mint, first.route, 1, 2, 1, first.fees, 1, 5, (5, 5), 0
    )
    state.apply(requote)
    row = state.opportunities[first.cycle_id]
    assert row.opp.id == 2 and row.pending_id == 1 and state.pending_ids() == [1]
    state.apply(ApprovalDecision(1, "approved", "a"))
    assert row.pending_id is None and row.decision == "approved"
    assert state.row_for(1) is None and state.row_for(2) is row
