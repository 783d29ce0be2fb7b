"""What the console shows, folded from core's event stream; no Textual here, so it is cheap to test.

The engine may publish tens of thousands of events a second; `apply` only updates dictionaries
and marks panes dirty, and the app redraws dirty panes at `ui.refresh_hz`.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from core.events import (
    ApprovalDecision,
    AttemptUpdate,
    EngineState,
    Event,
    FeedHealth,
    MarketPrices,
    PendingApproval,
    RegionStats,
    SlotTick,
    TipPolicy,
    TokenList,
    ValidationResult,
)
from core.protocols import ids
from core.search.opportunities import Opportunity, OpportunityWithdrawn
from core.store import FINAL_STATES, IN_FLIGHT_STATES

PANES = ("opportunities", "validations", "inclusion", "retries", "trades", "header")
HISTORY = 60

KNOWN_TOKENS: dict[str, tuple[str, int]] = {
    str(ids.USDC_MINT): ("USDC", 6),
    str(ids.USDT_MINT): ("USDT", 6),
    str(ids.NATIVE_MINT): ("SOL", 9),
}
DEX_SHORT = {"raydium": "ray", "whirlpool": "orca"}
STABLE = {str(ids.USDC_MINT): 1e-6, str(ids.USDT_MINT): 1e-6}


@dataclass
class TokenBook:
    """Symbols, decimals and USD prices as the engine reported them; known mainnet mints built in."""

    names: dict[str, tuple[str, int]] = field(default_factory=lambda: dict(KNOWN_TOKENS))
    usd: dict[str, float] = field(default_factory=lambda: dict(STABLE))
    _routes: dict[int, str] = field(default_factory=dict, repr=False)

    def label(self, mint: object) -> str:
        known = self.names.get(str(mint))
        return known[0] if known else str(mint)[:4] + "…"

    def amount(self, mint: object, units: int) -> str:
        """Base units → human amount; integer math so the shown digits are the chain's."""
        known = self.names.get(str(mint))
        if known is None:
            return f"{units:,}"
        decimals = known[1]
        sign = "-" if units < 0 else ""
        whole, frac = divmod(abs(units), 10**decimals)
        shown = min(decimals, 4)
        if shown == 0:
            return f"{sign}{whole:,}"
        return f"{sign}{whole:,}.{str(frac).zfill(decimals)[:shown]}"

    def usd_value(self, mint: object, units: int) -> float | None:
        price = self.usd.get(str(mint))
        return None if price is None else units * price

    def route(self, opp: Opportunity) -> str:
        # A cycle's route never changes; only a token list can rename it (and clears this cache).
        cached = self._routes.get(opp.cycle_id)
        if cached is None:
            cached = self._routes[opp.cycle_id] = self._route(opp)
        return cached

    def rename(self, mint: str, symbol: str, decimals: int) -> None:
        self.names[mint] = (symbol, decimals)
        self._routes.clear()

    def _route(self, opp: Opportunity) -> str:
        parts = [self.label(opp.loan_mint)]
        for hop in opp.route:
            dex = DEX_SHORT.get(hop.dex.split("_")[0], hop.dex[:4])
            parts.append(f"-{dex}→{self.label(hop.mint_out)}")
        return "".join(parts)


@dataclass
class OppRow:
    """One cycle's newest quote; `pending_id` is the (possibly older) quote the approval queue holds."""

    opp: Opportunity
    pending_id: int | None = None
    pending_until: int | None = None
    decision: str = ""

    def forget(self, index: dict[int, int], opportunity_id: int) -> None:
        if opportunity_id not in (self.opp.id, self.pending_id):
            index.pop(opportunity_id, None)


@dataclass
class ConsoleState:
    slot: int = 0
    engine: EngineState | None = None
    feed: FeedHealth | None = None
    opportunities: dict[int, OppRow] = field(default_factory=dict)  # by cycle_id
    by_opportunity: dict[int, int] = field(default_factory=dict)  # opportunity id -> cycle_id
    validations: deque[ValidationResult] = field(default_factory=lambda: deque(maxlen=20))
    regions: dict[str, RegionStats] = field(default_factory=dict)
    tip_policy: TipPolicy | None = None
    inclusion_history: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    tip_history: deque[int] = field(default_factory=lambda: deque(maxlen=HISTORY))
    in_flight: dict[str, AttemptUpdate] = field(default_factory=dict)
    attempts_by_opportunity: dict[int, list[AttemptUpdate]] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=lambda: set(PANES))
    applied: int = 0
    tokens: TokenBook = field(default_factory=TokenBook)

    def apply(self, event: Event) -> None:
        self.applied += 1
        if isinstance(event, Opportunity):
            row = self.opportunities.get(event.cycle_id)
            if row is not None:
                old = row.opp.id
                row.opp = event
                row.forget(self.by_opportunity, old)
            else:
                self.opportunities[event.cycle_id] = OppRow(event)
            self.by_opportunity[event.id] = event.cycle_id
            self.dirty.add("opportunities")
        elif isinstance(event, OpportunityWithdrawn):
            row = self.opportunities.get(event.cycle_id)
            if row is not None and row.pending_id is None:
                del self.opportunities[event.cycle_id]
                self.by_opportunity.pop(row.opp.id, None)
            self.dirty.add("opportunities")
        elif isinstance(event, PendingApproval):
            row = self.opportunities.get(event.cycle_id) or self.row_for(event.opportunity_id)
            if row is not None:
                self.by_opportunity[event.opportunity_id] = row.opp.cycle_id
                row.pending_id = event.opportunity_id
                row.pending_until = event.expires_slot
                row.decision = ""
            self.dirty.add("opportunities")
        elif isinstance(event, ApprovalDecision):
            row = self.row_for(event.opportunity_id)
            if row is not None and row.pending_id == event.opportunity_id:
                self._settle(row, event.decision)
            self.dirty.add("opportunities")
        elif isinstance(event, ValidationResult):
            self.validations.appendleft(event)
            self.dirty.add("validations")
        elif isinstance(event, AttemptUpdate):
            self.attempts_by_opportunity.setdefault(event.opportunity_id, []).append(event)
            if event.state in IN_FLIGHT_STATES:
                self.in_flight[event.attempt_id] = event
            else:
                self.in_flight.pop(event.attempt_id, None)
            if event.state in FINAL_STATES or event.state == "landed":
                self.dirty.add("trades")
            if event.tip_lamports:
                self.tip_history.append(event.tip_lamports)
            self.dirty.update(("retries", "inclusion"))
        elif isinstance(event, RegionStats):
            self.regions[event.region] = event
            sent = sum(r.sent for r in self.regions.values())
            landed = sum(r.landed for r in self.regions.values())
            if sent:
                self.inclusion_history.append(landed / sent)
            self.dirty.add("inclusion")
        elif isinstance(event, TipPolicy):
            self.tip_policy = event
            self.dirty.add("inclusion")
        elif isinstance(event, SlotTick):
            if event.slot != self.slot:
                self.slot = event.slot
                self.dirty.update(("header", "opportunities"))
        elif isinstance(event, FeedHealth):
            self.feed = event
            self.slot = max(self.slot, event.slot)
            self.dirty.add("header")
        elif isinstance(event, EngineState):
            self.engine = event
            self.dirty.add("header")
        elif isinstance(event, TokenList):
            for t in event.tokens:
                self.tokens.rename(t.mint, t.symbol, t.decimals)
            self.dirty.add("opportunities")
        elif isinstance(event, MarketPrices):
            self.tokens.usd.update((p.mint, p.usd_per_unit) for p in event.prices)
            self.dirty.add("opportunities")

    def row_for(self, opportunity_id: int) -> OppRow | None:
        cycle = self.by_opportunity.get(opportunity_id)
        return None if cycle is None else self.opportunities.get(cycle)

    def pending_ids(self) -> list[int]:
        return [r.pending_id for r in self.opportunities.values() if r.pending_id is not None]

    def _settle(self, row: OppRow, decision: str) -> None:
        pending, row.pending_id, row.pending_until = row.pending_id, None, None
        row.decision = decision
        if pending is not None:
            row.forget(self.by_opportunity, pending)
        self.dirty.add("opportunities")

    def take_dirty(self) -> set[str]:
        dirty, self.dirty = self.dirty, set()
        return dirty

    def expire_rows(self) -> None:
        """Decided rows linger one refresh so the operator sees the outcome; withdrawn ones go."""
        for cycle, row in list(self.opportunities.items()):
            if row.pending_until is not None and row.pending_until < self.slot:
                self._settle(row, "expired")
            elif row.decision and self.slot - row.opp.slot > 150:
                del self.opportunities[cycle]
                self.by_opportunity.pop(row.opp.id, None)
                self.dirty.add("opportunities")


SORT_KEYS = ("net", "size", "age", "route")


def sorted_rows(state: ConsoleState, sort: str, text_filter: str, limit: int | None = None) -> list[OppRow]:
    """The rows in display order; with `limit`, only the first `limit` (a partial sort: the screen
    shows a few dozen of thousands, every frame)."""
    book = state.tokens
    rows: Iterable[OppRow] = state.opportunities.values()
    if text_filter:
        needle = text_filter.lower()
        rows = [r for r in rows if needle in book.route(r.opp).lower()]
    key: Callable[[OppRow], Any]
    if sort == "size":

        def key(r: OppRow) -> float:
            return -(book.usd_value(r.opp.loan_mint, r.opp.amount_in) or 0.0)
    elif sort == "age":

        def key(r: OppRow) -> int:
            return -r.opp.slot
    elif sort == "route":

        def key(r: OppRow) -> str:
            return book.route(r.opp)
    else:
        # Pending first, then by net in USD: base units of different tokens do not compare.
        def key(r: OppRow) -> tuple[bool, float]:
            return (r.pending_until is None, -(book.usd_value(r.opp.loan_mint, r.opp.net) or 0.0))

    if limit is None:
        return sorted(rows, key=key)
    return heapq.nsmallest(limit, rows, key=key)


def opp_cells(row: OppRow, slot: int, book: TokenBook, *, wide: bool = False) -> tuple[str, ...]:
    """The row's cells; `wide` adds flash+network fees and the tip before their total."""
    opp = row.opp
    mint = opp.loan_mint
    if row.pending_id is not None and row.pending_until is not None:
        state = f"wait {max(0, row.pending_until - slot)}"
    else:
        state = row.decision or "seen"
    net_usd = book.usd_value(mint, opp.net)
    split = (book.amount(mint, opp.fees.flash_fee + opp.fees.network_fee), book.amount(mint, opp.fees.tip))
    return (
        book.route(opp),
        book.amount(mint, opp.amount_in),
        book.amount(mint, opp.gross),
        *(split if wide else ()),
        book.amount(mint, opp.fees.total),
        book.amount(mint, opp.net),
        f"{net_usd:,.2f}" if net_usd is not None else "—",
        str(max(0, slot - opp.slot)),
        state,
    )


def sparkline(values: list[float] | deque[float] | deque[int], width: int = 24) -> str:
    blocks = "▁▂▃▄▅▆▇█"
    data = list(values)[-width:]
    if not data:
        return ""
    lo, hi = min(data), max(data)
    span = (hi - lo) or 1
    return "".join(blocks[int((v - lo) / span * (len(blocks) - 1))] for v in data)
