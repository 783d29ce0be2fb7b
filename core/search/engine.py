"""The search engine: pool updates in, re-priced opportunities out, only for the cycles touched.

Hot path of `upsert_pool` for a known pool:
1. re-linearise the pool (two float Möbius hops) into the flat `_rate` / `_curv` arrays and refresh
   the best rate of the two directed pairs it trades; its bound quoters, input bounds and envelope
   are made later, only if a cycle through it gets sized;
2. for each direction, first the products of the best rates of the pairs the other hops trade (a
   bound on every cycle's product, one entry per pair combination instead of per cycle); only if
   one exceeds the threshold, the product of the other hops' rates for every cycle through the pool
   is computed by C-level `map`s over precomputed slot arrays, and `compress` keeps only cycles
   whose marginal rate at zero exceeds 1 (no cycle with a product ≤ 1 can be profitable: its
   profit curve is concave and starts with slope ∏r − 1 ≤ 0);
3. each survivor gets the closed-form bound (constant product) or the chained envelope bound
   (Whirlpool hops: deepest reachable liquidity; else (A − 1)·cap); only if that bound beats the
   fixed costs does the exact integer search run (sizing.optimal_input). Cycles whose every hop has
   `DexModel.cp_params` (Raydium) take optimal_input's closed-form branch inlined, with
   swap_base_in's arithmetic on the hops' reserves; anything it would not take alone (a refused
   quote, a bracket to scan) goes the general way, so the result is the same to the unit;
4. opportunities are replaced, withdrawn and re-ranked (a sorted list keyed by −net).

`refresh_costs` re-prices a loan mint's cycles after its fee conversion or flash cap moved.
"""
from __future__ import annotations

import bisect
import functools
import math
import time
from collections.abc import Callable, Iterable, Mapping
from itertools import compress
from operator import itemgetter, mul

from solders.pubkey import Pubkey

from core.search.cycles import CycleIndex
from core.search.dex_models import BoundQuote, DexModel, HopLine, default_models
from core.search.fees import FeeModel
from core.search.opportunities import (
    Hop,
    Opportunity,
    OpportunityEvent,
    OpportunityWithdrawn,
    new_opportunity,
    new_withdrawn,
)
from core.search.pools import Pool
from core.search.sizing import (
    EXHAUSTIVE_SMALL_PROFIT,
    NOISE_SHARE,
    exact_bracket,
    gross_upper_bound,
    optimal_input,
)

_RATE_MARGIN = 1.0 - 1e-9
_BOUND_MARGIN = 1.0 + 1e-9
_FLASH_PROBE = 10**12
_UNKNOWN = -1.0
# Per loan mint, for one update: (flash cap, fixed costs, FeeModel.fixed_parts).
_LoanCosts = tuple[int, int, tuple[int, int]]


class UnknownDexError(ValueError):
    def __init__(self, pool: Pubkey, dex: str) -> None:
        super().__init__(f"pool {pool}: no model for dex {dex!r}")
        self.pool = pool
        self.dex = dex


_RatesGetter = Callable[[list[float]], tuple[float, ...]]
# Per direction of a pool: the cycles through it, getters of their other hops' rates, and
# getters of the best rates of the directed pairs those hops trade (None when no fewer).
_Group = tuple[
    list[int], _RatesGetter | None, _RatesGetter | None, tuple[_RatesGetter, _RatesGetter] | None
]


def _getters(i1: list[int], i2: list[int]) -> tuple[_RatesGetter, _RatesGetter]:
    # itemgetter of one index returns a bare item, not a tuple: pad with index 0 (the neutral
    # slot, rate 1 / the neutral pair, best rate 1). A padded product is never a candidate: compress
    # stops at the end of the shorter cids, and the pair filter only needs an upper bound.
    if len(i1) == 1:
        i1, i2 = [*i1, 0], [*i2, 0]
    return itemgetter(*i1), itemgetter(*i2)


def _group(cids: list[int], o1: list[int], o2: list[int], edge_of: Callable[[int], int]) -> _Group:
    if not cids:
        return cids, None, None, None
    # Every cycle's other hops trade two directed pairs; the product of the pairs' best rates
    # (over all their parallel pools) bounds the product of the hops' rates, rounding being
    # monotone. Many cycles share their pairs, so the pairs are fewer to check than the cycles.
    pairs = sorted({(edge_of(s1), edge_of(s2)) for s1, s2 in zip(o1, o2, strict=True)})
    grouped = _getters([e for e, _ in pairs], [e for _, e in pairs]) if len(pairs) < len(cids) else None
    return (cids, *_getters(o1, o2), grouped)


class _CycleRec:
    """Per-cycle data precomputed once, so re-quoting touches no dictionaries of pools."""

    __slots__ = ("cid", "cp", "exact", "flash", "loan", "phi", "pidx", "route", "slots", "state_slots")

    def __init__(
        self, cid: int, loan: Pubkey, pidx: tuple[int, ...], slots: tuple[int, ...], exact: bool,
        route: tuple[Hop, ...], flash: Callable[[int], int], phi: float, cp: bool = False,
    ) -> None:
        self.cid = cid
        self.loan = loan
        self.pidx = pidx
        self.slots = slots
        self.exact = exact
        self.cp = cp  # every hop's quote is swap_base_in on its model's cp_params
        # The state slots of its pools, as one C call over the engine's per-pool slot list
        # (a cycle has at least two hops, so itemgetter returns a tuple).
        self.state_slots = itemgetter(*pidx)
        self.route = route
        self.flash = flash  # the loan mint's flash fee and its rate, looked up once
        self.phi = phi


class SearchEngine:
    """Incremental cycle search over a live market.

    loan_mints: the tokens cycles start and end in (USDC first by convention, SOL, ...).
    flash_cap_fn(loan_mint) -> the largest flash loan available, base units.
    fee_model: flash fee, network fees and tip; see FeeModel.
    dex_models: dex name → DexModel (defaults to every dex whose quoter is importable).
    first_event_id: events are numbered from first_event_id + 1.
    """

    def __init__(
        self,
        loan_mints: Iterable[Pubkey],
        flash_cap_fn: Callable[[Pubkey], int],
        fee_model: FeeModel,
        dex_models: Mapping[str, DexModel] | None = None,
        first_event_id: int = 0,
    ) -> None:
        self.loan_mints = tuple(dict.fromkeys(loan_mints))
        if not self.loan_mints:
            raise ValueError("at least one loan mint is needed")
        self.flash_cap_fn = flash_cap_fn
        self.fee_model = fee_model
        self.models = dict(default_models() if dex_models is None else dex_models)
        self.index = CycleIndex(self.loan_mints)
        self._pidx: dict[Pubkey, int] = {}
        self._pools: list[Pool | None] = []
        self._model: list[DexModel | None] = []
        self._free: list[int] = []
        # slot 0 is a neutral hop (rate 1, curvature 0) padding 2-hop cycles to 3 slots.
        self._rate: list[float] = [1.0]
        self._curv: list[float] = [0.0]
        # Envelope curvature (≤ the true one; 0 = no bound known, _UNKNOWN = not computed yet).
        self._env: list[float] = [0.0]
        self._quote: list[BoundQuote | None] = [None]
        self._max_in: list[int] = [0]  # largest input per slot (the pool's own bound)
        # (reserve_in, reserve_out, fee_num, fee_den) of constant-product slots, made on first need.
        self._cp: list[tuple[int, int, int, int] | None] = [None]
        self._slot_at: list[int] = []  # per pool: the slot its current state was observed at
        # Directed pairs (mint in, mint out): their slots and the best rate among them; pair 0 is
        # the neutral one of slot 0.
        self._edge_ids: dict[tuple[Pubkey, Pubkey], int] = {}
        self._edge_slots: list[list[int]] = [[0]]
        self._edge_best: list[float] = [1.0]
        self._slot_edge: list[int] = [0]
        self._cycles: dict[int, _CycleRec] = {}
        self._hot: list[tuple[_Group, _Group] | None] = []
        self._active: dict[int, Opportunity] = {}
        self._active_by_pool: list[set[int]] = []
        self._ranked: list[tuple[int, int]] = []  # (−net, cycle id), ascending
        self._event_id = first_event_id
        self._flash_fn: dict[Pubkey, Callable[[int], int]] = {}
        self._phi: dict[Pubkey, float] = {}
        for mint in self.loan_mints:
            self._flash_fn[mint] = self._bind_flash(mint)
            self._phi[mint] = max(0.0, (fee_model.flash_fee(mint, _FLASH_PROBE) - 1) / _FLASH_PROBE)
        self.stats = {"updates": 0, "candidates": 0, "searches": 0, "evaluations": 0}

    # ----------------------------------------------------------------- public API

    def upsert_pool(self, pool: Pool) -> list[OpportunityEvent]:
        """Apply a new state of a pool (adding it if new); returns the opportunities that changed."""
        self.stats["updates"] += 1
        model = self.models.get(pool.dex)
        if model is None:
            raise UnknownDexError(pool.id, pool.dex)
        p = self._pidx.get(pool.id)
        events: list[OpportunityEvent] | None = None
        if p is not None:
            old = self._pools[p]
            assert old is not None
            if old.dex != pool.dex or old.mint_a != pool.mint_a or old.mint_b != pool.mint_b:
                events = self.remove_pool(pool.id)
                p = None
        if p is None:
            p = self._add(pool, model)
        else:
            self._pools[p] = pool
        self._slot_at[p] = pool.slot
        line = model.linearize(pool.state)
        s = 2 * p + 1
        rate = self._rate
        was_ab, was_ba = rate[s], rate[s + 1]
        rate[s], self._curv[s], rate[s + 1], self._curv[s + 1] = line
        # Bound quoters and input bounds are made when a cycle through the pool is sized.
        self._quote[s] = self._quote[s + 1] = None
        self._cp[s] = self._cp[s + 1] = None
        self._max_in[s] = self._max_in[s + 1] = -1
        # The best rate of each directed pair: a rate at or above it is the new best; a rate that
        # was the best and fell calls for the max over the pair's slots; else the best stays.
        edge_best, slot_edge = self._edge_best, self._slot_edge
        for t, was in ((s, was_ab), (s + 1, was_ba)):
            e, now = slot_edge[t], rate[t]
            if now >= edge_best[e]:
                edge_best[e] = now
            elif was >= edge_best[e]:
                edge_best[e] = max(map(rate.__getitem__, self._edge_slots[e]))
        if model.mobius_exact:
            self._env[s], self._env[s + 1] = line.curv_ab, line.curv_ba
        else:
            # Found on first need: it may walk the pool's ticks, and most updates size nothing.
            self._env[s] = self._env[s + 1] = _UNKNOWN
        requoted = self._requote(p, pool.slot)
        if events:
            events.extend(requoted)
            return events
        return requoted

    def remove_pool(self, pool_id: Pubkey) -> list[OpportunityEvent]:
        """Forget a pool and every cycle through it; returns the withdrawn opportunities."""
        p = self._pidx.pop(pool_id, None)
        if p is None:
            return []
        pool = self._pools[p]
        slot = pool.slot if pool is not None else 0
        events: list[OpportunityEvent] = []
        for cid in self.index.remove_pool(p):
            rec = self._cycles.pop(cid)
            if cid in self._active:
                events.append(self._withdraw(cid, "pool removed", slot))
            for q in rec.pidx:
                self._hot[q] = None
        self._pools[p] = None
        self._model[p] = None
        self._rate[2 * p + 1] = self._rate[2 * p + 2] = 0.0
        self._curv[2 * p + 1] = self._curv[2 * p + 2] = 0.0
        self._env[2 * p + 1] = self._env[2 * p + 2] = 0.0
        self._quote[2 * p + 1] = self._quote[2 * p + 2] = None
        self._cp[2 * p + 1] = self._cp[2 * p + 2] = None
        self._max_in[2 * p + 1] = self._max_in[2 * p + 2] = 0
        self._edge_leave(2 * p + 1)
        self._edge_leave(2 * p + 2)
        self._active_by_pool[p].clear()
        self._free.append(p)
        return events

    def refresh_costs(self, loan_mints: Iterable[Pubkey], slot: int) -> list[OpportunityEvent]:
        """Re-price every cycle of these loan mints after their costs or flash cap moved (e.g. the
        SOL price that converts lamport fees): opportunities re-sized with the new fees and cap,
        withdrawn if no longer profitable, and cycles the new costs make profitable published.

        Only cycles whose marginal rate product exceeds 1 can be profitable, so only those are
        sized; the rest cost one float product each.
        """
        loans = set(loan_mints) & set(self.loan_mints)
        if not loans:
            return []
        rate = self._rate
        per_loan: dict[Pubkey, _LoanCosts] = {}
        events: list[OpportunityEvent] = []
        for cid, rec in self._cycles.items():
            if rec.loan not in loans:
                continue
            product = 1.0
            for s in rec.slots:
                product *= rate[s]
            opp = self._price(rec, per_loan) if product > _RATE_MARGIN else None
            old = self._active.get(cid)
            if opp is None:
                if old is not None:
                    events.append(self._withdraw(cid, "no longer profitable", slot))
                continue
            if (
                old is not None
                and old.amount_in == opp.amount_in
                and old.expected_out == opp.expected_out
                and old.fees == opp.fees
                and old.state_slots == opp.state_slots
            ):
                continue
            self._publish(opp)
            events.append(opp)
        return events

    def warm(self) -> None:
        """Build every pool's hot arrays now (after a bulk load) instead of on its first update."""
        for p, pool in enumerate(self._pools):
            if pool is not None and self._hot[p] is None:
                self._hot_arrays(p)

    def top(self, n: int) -> list[Opportunity]:
        """The n best opportunities by net profit, best first."""
        active = self._active
        return [active[cid] for _, cid in self._ranked[:n]]

    def opportunity(self, cycle_id: int) -> Opportunity | None:
        return self._active.get(cycle_id)

    @property
    def pool_count(self) -> int:
        return len(self._pidx)

    @property
    def cycle_count(self) -> int:
        return len(self._cycles)

    # ----------------------------------------------------------------- structure

    def _bind_flash(self, mint: Pubkey) -> Callable[[int], int]:
        return functools.partial(self.fee_model.flash_fee, mint)

    def _add(self, pool: Pool, model: DexModel) -> int:
        if self._free:
            p = self._free.pop()
            self._pools[p] = pool
            self._model[p] = model
            self._hot[p] = None
        else:
            p = len(self._pools)
            self._pools.append(pool)
            self._model.append(model)
            self._hot.append(None)
            self._active_by_pool.append(set())
            self._rate.extend((0.0, 0.0))
            self._curv.extend((0.0, 0.0))
            self._env.extend((0.0, 0.0))
            self._quote.extend((None, None))
            self._cp.extend((None, None))
            self._max_in.extend((0, 0))
            self._slot_at.append(pool.slot)
            self._slot_edge.extend((0, 0))
        self._pidx[pool.id] = p
        self._edge_join(2 * p + 1, pool.mint_a, pool.mint_b)
        self._edge_join(2 * p + 2, pool.mint_b, pool.mint_a)
        for cid in self.index.add_pool(p, pool.mint_a, pool.mint_b):
            cycle = self.index.cycle(cid)
            pidx = tuple(q for q, _ in cycle.hops)
            slots = tuple(2 * q + (1 if a_to_b else 2) for q, a_to_b in cycle.hops)
            exact = all(self._model[q].mobius_exact for q in pidx)  # type: ignore[union-attr]
            cp = all(self._model[q].cp_params is not None for q in pidx)  # type: ignore[union-attr]
            route = tuple(self._hop(q, a_to_b) for q, a_to_b in cycle.hops)
            loan = cycle.loan
            self._cycles[cid] = _CycleRec(
                cid, loan, pidx, slots, exact, route, self._flash_fn[loan], self._phi[loan], cp  # type: ignore[index, arg-type]
            )
            for q in pidx:
                self._hot[q] = None
        return p

    def _hop(self, p: int, a_to_b: bool) -> Hop:
        pool = self._pools[p]
        assert pool is not None
        if a_to_b:
            return Hop(pool.id, pool.dex, True, pool.mint_a, pool.mint_b)
        return Hop(pool.id, pool.dex, False, pool.mint_b, pool.mint_a)

    def _hot_arrays(self, p: int) -> tuple[_Group, _Group]:
        """Per direction of pool p, the cycles through it as (ids, getter of the other hops' rates).

        A 2-hop cycle's missing third hop is slot 0 (rate 1). Each getter is an itemgetter over
        the rate array, so one C call fetches every rate the filter needs.
        """
        own = (2 * p + 1, 2 * p + 2)
        cols: tuple[tuple[list[int], list[int], list[int]], ...] = (([], [], []), ([], [], []))
        for cid in sorted(self.index.through(p)):
            slots = self._cycles[cid].slots
            for d in (0, 1):
                if own[d] in slots:
                    others = [s for s in slots if s != own[d]]
                    if len(others) == 1:
                        others.append(0)
                    col = cols[d]
                    col[0].append(cid)
                    col[1].append(others[0])
                    col[2].append(others[1])
                    break
        edge_of = self._slot_edge.__getitem__
        groups = (_group(*cols[0], edge_of), _group(*cols[1], edge_of))
        self._hot[p] = groups
        return groups

    def _edge_join(self, s: int, mint_in: Pubkey, mint_out: Pubkey) -> None:
        """Slot s now trades mint_in → mint_out (a directed pair, numbered on first sight)."""
        e = self._edge_ids.get((mint_in, mint_out))
        if e is None:
            e = self._edge_ids[(mint_in, mint_out)] = len(self._edge_slots)
            self._edge_slots.append([])
            self._edge_best.append(0.0)
        self._edge_slots[e].append(s)
        self._slot_edge[s] = e

    def _edge_leave(self, s: int) -> None:
        e = self._slot_edge[s]
        slots = self._edge_slots[e]
        slots.remove(s)
        self._edge_best[e] = max(map(self._rate.__getitem__, slots), default=0.0)
        self._slot_edge[s] = 0

    # ----------------------------------------------------------------- quoting

    def _requote(self, p: int, slot: int) -> list[OpportunityEvent]:
        groups = self._hot[p] or self._hot_arrays(p)
        rate = self._rate
        edge_best = self._edge_best
        candidates: list[int] = []
        for d in (0, 1):
            own = rate[2 * p + 1 + d]
            cids, get1, get2, grouped = groups[d]
            if own <= 0.0 or not cids:
                continue
            threshold = _RATE_MARGIN / own
            if grouped is not None:
                best1, best2 = grouped
                if max(map(mul, best1(edge_best), best2(edge_best))) <= threshold:  # type: ignore[misc]
                    continue
            # Most updates leave every cycle unprofitable: one C-level max answers that, and only
            # then are the products recomputed to pick the cycles out.
            if max(map(mul, get1(rate), get2(rate))) > threshold:  # type: ignore[misc]
                products = map(mul, get1(rate), get2(rate))  # type: ignore[misc]
                candidates.extend(compress(cids, map(threshold.__lt__, products)))
        previously = self._active_by_pool[p]
        if not candidates and not previously:
            return []
        events: list[OpportunityEvent] = []
        still: set[int] = set()
        self.stats["candidates"] += len(candidates)
        per_loan: dict[Pubkey, _LoanCosts] = {}  # loan → (flash cap, fixed cost), this update
        cycles, active, active_by_pool = self._cycles, self._active, self._active_by_pool
        ranked = self._ranked
        for cid in candidates:
            rec = cycles[cid]
            opp = self._price(rec, per_loan)
            if opp is None:
                continue
            still.add(cid)
            old = active.get(cid)
            if old is None:
                # _publish of a new opportunity, inlined: what most shocks produce.
                for q in rec.pidx:
                    active_by_pool[q].add(cid)
                active[cid] = opp
                bisect.insort(ranked, (-opp.net, cid))
            elif (
                old.amount_in == opp.amount_in
                and old.expected_out == opp.expected_out
                and old.state_slots == opp.state_slots
            ):
                continue
            else:
                self._publish(opp)
            events.append(opp)
        for cid in [c for c in previously if c not in still]:
            events.append(self._withdraw(cid, "no longer profitable", slot))
        return events

    def _price(self, rec: _CycleRec, per_loan: dict[Pubkey, _LoanCosts]) -> Opportunity | None:
        rate, curv = self._rate, self._curv
        a_acc, c_acc = 1.0, 0.0
        slots = rec.slots
        for s in slots:
            c_acc += curv[s] * a_acc
            a_acc *= rate[s]
        if a_acc <= 1.0:
            return None
        loan = rec.loan
        known = per_loan.get(loan)
        if known is None:
            parts = self.fee_model.fixed_parts(loan)
            known = per_loan[loan] = (self.flash_cap_fn(loan), sum(parts), parts)
        flash_cap, fixed, parts = known
        max_in = self._max_in[slots[0]]
        if max_in < 0:
            max_in = self._input_bound(slots[0])
        cap = min(flash_cap, max_in)
        # Upper bound of gross − flash fee; the "+ 1" is the flash fee's allowed shortfall below
        # flash_rate_floor·x. A cycle at or under the fixed costs can never be net positive.
        phi = self.fee_model.flash_rate_floor
        if rec.exact:
            # gross_upper_bound(a_acc, c_acc, phi), inlined: this is the hot path.
            root = math.sqrt(a_acc) - math.sqrt(1.0 + phi) if a_acc > 1.0 + phi and c_acc > 0.0 else 0.0
            bound = root * root / c_acc if root > 0.0 else 0.0
        else:
            # Every hop's envelope lies above its integer quote and is increasing, so the chained
            # envelope bounds the chain; with no envelope curvature only the slope bound is left.
            bound = (a_acc - 1.0 - phi) * cap
            env, e_acc, prefix = self._env, 0.0, 1.0
            for s in rec.slots:
                e = env[s]
                if e == _UNKNOWN:
                    e = self._fill_envelope(s)
                e_acc += e * prefix
                prefix *= rate[s]
            if e_acc > 0.0:
                bound = min(bound, gross_upper_bound(a_acc, e_acc, phi))
        if bound * _BOUND_MARGIN + 1.0 + 1e-6 <= fixed:
            return None
        stats = self.stats
        stats["searches"] += 1
        x0 = 0
        if rec.cp and cap >= 1 and 0.0 < c_acc < math.inf and a_acc < math.inf:
            # optimal_input's closed-form amount x0 when its noise test says x0 alone is taken (the
            # constant-product branch, same float operations in the same order), inlined.
            k1 = 1.0 + rec.phi
            x_star = (math.sqrt(a_acc / k1) - 1.0) / c_acc if a_acc > k1 else 0.0
            x_c = min(x_star, float(cap))
            g_c = a_acc * x_c / (1.0 + c_acc * x_c) - k1 * x_c
            noise, suffix = 2.0, 1.0
            for s in reversed(slots):
                r = rate[s]
                noise += (r + 1.0) * suffix
                suffix *= r
            if noise <= NOISE_SHARE * g_c:
                x0 = min(max(1, round(x_star)), cap)
            else:
                lo, hi = exact_bracket(a_acc, c_acc, k1, noise, g_c)
                if min(cap, hi) - max(1, lo) + 1 > EXHAUSTIVE_SMALL_PROFIT:  # too wide to scan: x0 again
                    x0 = min(max(1, round(x_star)), cap)
        if x0 > 0:
            # optimal_input's constant-product fast path, swap_base_in inlined: x0 alone is within
            # the rounding noise of the optimum; any refusal or oddity goes the general way.
            cp = self._cp
            out = x0
            for s in slots:
                reserve_in, reserve_out, num, den = cp[s] or self._bind_cp(s)
                after_fee = out + (-(out * num) // den)
                total = reserve_in + after_fee
                if after_fee < 0 or total <= 0:
                    x0 = 0
                    break
                out = reserve_out * after_fee // total
                if out <= 0 or out >= reserve_out:
                    x0 = 0
                    break
        if x0 > 0:
            amount_in, amount_out, flash_fee = x0, out, rec.flash(x0)
            stats["evaluations"] += 1
        else:
            quotes = self._quote
            hops = [quotes[s] or self._bind(s) for s in slots]
            rates = [rate[s] for s in slots]
            curvs = None if rec.exact else [curv[s] for s in slots]
            sized = optimal_input(
                hops, a_acc, c_acc, rates, rec.exact, cap, rec.flash, rec.phi, curvs
            )
            if sized is None:
                return None
            stats["evaluations"] += sized.evaluations
            amount_in, amount_out = sized.amount_in, sized.amount_out
            # The sizing's objective is gross − flash fee: the fee is already known.
            flash_fee = amount_out - amount_in - sized.objective
        gross = amount_out - amount_in
        if gross <= fixed:
            return None
        fees = self.fee_model.breakdown(loan, amount_in, gross, parts, flash_fee)
        net = gross - fees.total
        if net <= 0:
            return None
        state_slots = rec.state_slots(self._slot_at)
        self._event_id += 1
        return new_opportunity(  # Opportunity(...) with all fields positional, faster
            self._event_id, rec.cid, loan, rec.route, amount_in, amount_out, gross, fees,
            net, max(state_slots), state_slots, time.monotonic_ns(),
        )

    def _bind_cp(self, s: int) -> tuple[int, int, int, int]:
        p = (s - 1) // 2
        pool, model = self._pools[p], self._model[p]
        assert pool is not None and model is not None and model.cp_params is not None
        params = self._cp[s] = model.cp_params(pool.state, s % 2 == 1)
        return params

    def _bind(self, s: int) -> BoundQuote:
        """Slot s's exact quoter with its pool state bound (kept until the pool's next update)."""
        p = (s - 1) // 2
        pool, model = self._pools[p], self._model[p]
        assert pool is not None and model is not None
        quote = self._quote[s] = model.bound(pool.state, s % 2 == 1)
        return quote

    def _input_bound(self, s: int) -> int:
        p = (s - 1) // 2
        pool, model = self._pools[p], self._model[p]
        assert pool is not None and model is not None
        bound = self._max_in[s] = model.max_input(pool.state, s % 2 == 1)
        return bound

    def _fill_envelope(self, s: int) -> float:
        """The envelope curvatures of slot s's pool (both directions), now that they are needed."""
        p = (s - 1) // 2
        pool, model = self._pools[p], self._model[p]
        assert pool is not None and model is not None
        a, b = 2 * p + 1, 2 * p + 2
        line = HopLine(self._rate[a], self._curv[a], self._rate[b], self._curv[b])
        quote_ab, quote_ba = self._quote[a] or self._bind(a), self._quote[b] or self._bind(b)
        env = model.envelope_line(pool.state, line, quote_ab, quote_ba)
        self._env[a], self._env[b] = env.curv_ab, env.curv_ba
        return self._env[s]

    def _publish(self, opp: Opportunity) -> None:
        cid = opp.cycle_id
        old = self._active.get(cid)
        ranked = self._ranked
        if old is not None:
            del ranked[bisect.bisect_left(ranked, (-old.net, cid))]
        else:
            rec = self._cycles[cid]
            for q in rec.pidx:
                self._active_by_pool[q].add(cid)
        self._active[cid] = opp
        bisect.insort(ranked, (-opp.net, cid))

    def _withdraw(self, cid: int, reason: str, slot: int) -> OpportunityWithdrawn:
        old = self._active.pop(cid)
        ranked = self._ranked
        del ranked[bisect.bisect_left(ranked, (-old.net, cid))]
        rec = self._cycles.get(cid)
        if rec is not None:
            for p in rec.pidx:
                self._active_by_pool[p].discard(cid)
        else:  # the cycle went with a removed pool: what is left of its pools
            for q in old.route:
                p = self._pidx.get(q.pool)
                if p is not None:
                    self._active_by_pool[p].discard(cid)
        self._event_id += 1
        return new_withdrawn(self._event_id, cid, old.id, reason, slot, time.monotonic_ns())
