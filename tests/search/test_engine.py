"""SearchEngine: incremental results equal from-scratch ones, only touched cycles are re-quoted,
the prefilter drops nothing profitable, caps hold, events carry consistent numbers."""

from __future__ import annotations

import math
import random

from hypothesis import event, given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.protocols.ids import NATIVE_MINT, USDC_MINT
from core.search import DexModel, FeeModel, Opportunity, OpportunityWithdrawn, Pool, SearchEngine
from core.search.cycles import enumerate_cycles
from core.search.dex_raydium import RAYDIUM_AMM_V4, RAYDIUM_AMM_V4_MODEL, RaydiumState
from core.search.fees import solend_flash_fee
from core.search.sizing import compose, optimal_input
from tests.search.market import LOANS, cp_pool, mint, zero_fees

MODELS = {RAYDIUM_AMM_V4: RAYDIUM_AMM_V4_MODEL}
BIG_CAP = {USDC_MINT: 10**13, NATIVE_MINT: 10**13}


def costly_fees() -> FeeModel:
    return FeeModel(
        flash_fee=solend_flash_fee(500_000_000_000_000, 20),
        lamports_to_loan=lambda m, lam: lam if m == NATIVE_MINT else -(-lam * 150 // 1000),
        loan_to_lamports=lambda m, amt: amt if m == NATIVE_MINT else amt * 1000 // 150,
        signatures=2,
        priority_fee_lamports=50_000,
        tip_share_bps=5000,
        min_tip_lamports=1000,
        flash_rate_floor=0.0005,
    )


def random_market(rng: random.Random, n_tokens: int, n_pools: int, sigma: float) -> list[Pool]:
    """Pools priced from per-token reference prices with jitter sigma, so some cycles pay."""
    prices = [1.0, 150.0] + [math.exp(rng.uniform(-4, 6)) for _ in range(n_tokens - 2)]
    decimals = [6, 9] + [rng.choice((6, 9)) for _ in range(n_tokens - 2)]
    pools = []
    for i in range(n_pools):
        if rng.random() < 0.5:
            a, b = rng.sample(range(n_tokens), 2)
        else:
            a, b = rng.randrange(2, n_tokens), rng.randrange(2)
        usd = math.exp(rng.uniform(math.log(1e3), math.log(1e6)))
        ra = int(usd / prices[a] * 10 ** decimals[a])
        rb = int(usd / prices[b] * 10 ** decimals[b] * math.exp(rng.gauss(0, sigma)))
        pools.append(cp_pool(i, a, b, max(ra, 1000), max(rb, 1000), rng.choice(((25, 10_000), (30, 10_000)))))
    return pools


def engine(fees: FeeModel | None = None, caps=BIG_CAP, models=MODELS) -> SearchEngine:
    return SearchEngine(LOANS, caps.__getitem__, fees or costly_fees(), models)


def key(o: Opportunity) -> tuple:
    return (o.loan_mint, o.pools, o.directions, o.amount_in, o.expected_out, o.net)


def brute_force_opportunities(eng: SearchEngine) -> set[tuple]:
    """Size every indexed cycle with no prefilter at all; keep those with net > 0."""
    pools = {p.id: p for p in eng._pools if p is not None}
    found = set()
    for cycle in eng.index.cycles().values():
        route = [(eng._pools[p], a_to_b) for p, a_to_b in cycle.hops]
        rates, curvs, quotes = [], [], []
        for pool, a_to_b in route:
            line = RAYDIUM_AMM_V4_MODEL.linearize(pool.state)
            rates.append(line.rate_ab if a_to_b else line.rate_ba)
            curvs.append(line.curv_ab if a_to_b else line.curv_ba)
            quotes.append(RAYDIUM_AMM_V4_MODEL.bound(pool.state, a_to_b))
        a, c = compose(rates, curvs)
        first, d0 = route[0]
        cap = min(eng.flash_cap_fn(cycle.loan), RAYDIUM_AMM_V4_MODEL.max_input(first.state, d0))
        flash = eng._flash_fn[cycle.loan]
        sized = optimal_input(quotes, a, c, rates, True, cap, flash, eng._phi[cycle.loan])
        if sized is None:
            continue
        gross = sized.amount_out - sized.amount_in
        fees = eng.fee_model.breakdown(cycle.loan, sized.amount_in, gross)
        if gross - fees.total > 0:
            ids = tuple(pool.id for pool, _ in route)
            found.add((cycle.loan, ids, tuple(d for _, d in route), sized.amount_in, sized.amount_out,
                       gross - fees.total))
    assert pools  # the market is not empty
    return found


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.floats(0.002, 0.03))
def test_prefilter_never_drops_a_profitable_cycle(seed: int, sigma: float) -> None:
    rng = random.Random(seed)
    eng = engine()
    for pool in random_market(rng, 7, 30, sigma):
        eng.upsert_pool(pool)
    assert {key(o) for o in eng.top(10**9)} == brute_force_opportunities(eng)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32))
def test_incremental_updates_and_removals_equal_a_fresh_engine(seed: int) -> None:
    rng = random.Random(seed)
    pools = random_market(rng, 7, 30, 0.02)
    live = engine()
    current: dict[Pubkey, Pool] = {}
    for pool in pools:
        live.upsert_pool(pool)
        current[pool.id] = pool
    for step in range(60):
        pool = rng.choice(list(current.values()))
        roll = rng.random()
        if roll < 0.15:
            live.remove_pool(pool.id)
            del current[pool.id]
        elif roll < 0.3 and len(current) < len(pools):
            back = rng.choice([p for p in pools if p.id not in current])
            live.upsert_pool(back)
            current[back.id] = back
        else:
            s = pool.state
            moved = RaydiumState(
                max(1000, int(s.coin_reserve * math.exp(rng.gauss(0, 0.02)))), s.pc_reserve,
                s.swap_fee_numerator, s.swap_fee_denominator,
            )
            new = Pool(pool.id, pool.dex, pool.mint_a, pool.mint_b, moved, pool.slot + step + 1)
            live.upsert_pool(new)
            current[pool.id] = new
    fresh = engine()
    for pool in current.values():
        fresh.upsert_pool(pool)
    by_id = {p: i for i, p in enumerate(live._pools) if p is not None}
    mints = {i: (p.mint_a, p.mint_b) for p, i in by_id.items()}
    assert set(live.index.cycles().values()) == enumerate_cycles(mints, LOANS)
    assert live.cycle_count == fresh.cycle_count
    assert [key(o) for o in live.top(10**9)] == [key(o) for o in fresh.top(10**9)]


class QuoteLog:
    """A Raydium model whose quotes and linearisations record which pool state they ran on."""

    def __init__(self) -> None:
        self.quoted: list[int] = []
        self.linearized: list[int] = []

    def model(self) -> DexModel:
        base = RAYDIUM_AMM_V4_MODEL

        def bind(state: RaydiumState, a_to_b: bool):
            inner = base.bound(state, a_to_b)

            def quote(amount: int) -> int:
                self.quoted.append(id(state))
                return inner(amount)

            return quote

        def linearize(state: RaydiumState):
            self.linearized.append(id(state))
            return base.linearize(state)

        return DexModel(RAYDIUM_AMM_V4, base.quote, linearize, base.max_input, True, bind)


def test_update_requotes_only_cycles_through_the_updated_pool() -> None:
    rng = random.Random(5)
    log = QuoteLog()
    eng = engine(models={RAYDIUM_AMM_V4: log.model()})
    pools = random_market(rng, 8, 60, 0.03)
    for pool in pools:
        eng.upsert_pool(pool)
    assert len(eng.top(10**9)) > 5  # a market with opportunities, so quoting does happen
    state_owner = {id(p.state): p.id for p in pools}
    touched_any = 0
    for target in pools[:30]:
        s = target.state
        moved = Pool(target.id, target.dex, target.mint_a, target.mint_b,
                     RaydiumState(s.coin_reserve * 103 // 100, s.pc_reserve, 25, 10_000), 9)
        state_owner[id(moved.state)] = moved.id
        log.quoted.clear()
        log.linearized.clear()
        searches = eng.stats["searches"]
        eng.upsert_pool(moved)
        p = eng._pidx[target.id]
        through = eng.index.through(p)
        neighbours = {eng._pools[q].id for cid in through for q, _ in eng.index.cycle(cid).hops}
        assert log.linearized == [id(moved.state)]
        assert {state_owner[s] for s in log.quoted} <= neighbours
        assert eng.stats["searches"] - searches <= len(through)
        touched_any += bool(log.quoted)
        if log.quoted:
            assert target.id in {state_owner[s] for s in log.quoted}
    assert touched_any > 0


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 10**9))
def test_amounts_respect_the_flash_cap(seed: int, cap: int) -> None:
    eng = engine(caps={USDC_MINT: cap, NATIVE_MINT: cap})
    for pool in random_market(random.Random(seed), 7, 30, 0.03):
        eng.upsert_pool(pool)
    for o in eng.top(10**9):
        assert 1 <= o.amount_in <= cap


def test_opportunity_numbers_are_consistent_and_ranked_by_net() -> None:
    eng = engine()
    events = []
    for pool in random_market(random.Random(11), 8, 60, 0.03):
        events += eng.upsert_pool(pool)
    top = eng.top(10**9)
    assert len(top) > 3
    assert [o.net for o in top] == sorted((o.net for o in top), reverse=True)
    assert eng.top(2) == top[:2]
    for o in top:
        assert o.gross == o.expected_out - o.amount_in
        assert o.net == o.gross - o.fees.total > 0
        assert o.fees == eng.fee_model.breakdown(o.loan_mint, o.amount_in, o.gross)
        assert o.mints[0] == o.mints[-1] == o.loan_mint
        assert o.slot == max(o.state_slots) and len(o.state_slots) == len(o.route)
        out = o.amount_in
        for hop in o.route:
            pool = eng._pools[eng._pidx[hop.pool]]
            out = RAYDIUM_AMM_V4_MODEL.quote(pool.state, hop.a_to_b, out)
        assert out == o.expected_out
    ids = [e.id for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_removing_a_pool_withdraws_its_opportunities() -> None:
    eng = engine()
    for pool in random_market(random.Random(11), 8, 60, 0.03):
        eng.upsert_pool(pool)
    victim = eng.top(1)[0].pools[0]
    active = {o.cycle_id: o.id for o in eng.top(10**9) if victim in o.pools}
    events = eng.remove_pool(victim)
    assert all(isinstance(e, OpportunityWithdrawn) for e in events)
    assert {e.cycle_id: e.replaces for e in events} == active
    assert all(victim not in o.pools for o in eng.top(10**9))
    assert eng.remove_pool(victim) == []


def test_a_price_move_that_closes_the_gap_withdraws_the_opportunity() -> None:
    eng = engine(fees=zero_fees())
    eng.upsert_pool(cp_pool(0, 0, 2, 10**12, 10**12))
    events = eng.upsert_pool(cp_pool(1, 2, 0, 10**12, 102 * 10**10))
    assert [type(e) for e in events] == [Opportunity]
    opp = events[0]
    assert opp.pools == (mint_pool(0), mint_pool(1)) and opp.directions == (True, True)
    events = eng.upsert_pool(cp_pool(1, 2, 0, 10**12, 10**12, slot=2))
    assert [type(e) for e in events] == [OpportunityWithdrawn]
    assert events[0].replaces == opp.id and eng.top(5) == []


def mint_pool(i: int) -> Pubkey:
    from tests.search.market import pool_id

    return pool_id(i)


def test_raydium_bound_quote_equals_the_quoter() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        fee = rng.choice((0, 25, 30))
        state = RaydiumState(rng.randrange(1, 10**15), rng.randrange(1, 10**15), fee, 10_000)
        d = rng.random() < 0.5
        x = rng.randrange(1, 10**13)
        try:
            want = RAYDIUM_AMM_V4_MODEL.quote(state, d, x)
        except Exception as e:  # the bound quoter must refuse the same amounts
            want = type(e)
        try:
            got = RAYDIUM_AMM_V4_MODEL.bound(state, d)(x)
        except Exception as e:
            got = type(e)
        assert got == want


def test_mint_helper_gives_real_loan_mints() -> None:
    assert mint(0) == USDC_MINT and mint(1) == NATIVE_MINT


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([60, 140, 260, 1000]))
def test_refresh_costs_after_a_price_move_equals_a_fresh_engine_at_the_new_price(seed: int, new: int) -> None:
    rng = random.Random(seed)
    price = {"usdc_per_1000_lamports": 150}
    usdc_cap = 10**12

    def to_loan(m: Pubkey, lam: int) -> int:
        return lam if m == NATIVE_MINT else -(-lam * price["usdc_per_1000_lamports"] // 1000)

    def to_lamports(m: Pubkey, amt: int) -> int:
        return amt if m == NATIVE_MINT else amt * 1000 // price["usdc_per_1000_lamports"]

    def fees() -> FeeModel:
        return FeeModel(
            flash_fee=solend_flash_fee(500_000_000_000_000, 20), lamports_to_loan=to_loan,
            loan_to_lamports=to_lamports, signatures=2, priority_fee_lamports=2_000_000, tip_share_bps=5000,
            min_tip_lamports=1000, flash_rate_floor=0.0005,
        )

    def cap(mint: Pubkey) -> int:  # the SOL cap follows the price, as the engine's does
        return usdc_cap if mint == USDC_MINT else to_lamports(USDC_MINT, usdc_cap)

    pools = random_market(rng, 7, 30, 0.01)
    live = SearchEngine(LOANS, cap, fees())
    for pool in pools:
        live.upsert_pool(pool)
    before = {o.cycle_id: o for o in live.top(10**9)}
    price["usdc_per_1000_lamports"] = new
    events = live.refresh_costs(LOANS, 99)
    fresh = SearchEngine(LOANS, cap, fees())
    for pool in pools:
        fresh.upsert_pool(pool)
    assert [key(o) for o in live.top(10**9)] == [key(o) for o in fresh.top(10**9)]
    assert [o.fees for o in live.top(10**9)] == [o.fees for o in fresh.top(10**9)]
    # Only what changed is announced: withdrawals of what went, (re)publications of what moved.
    after = {o.cycle_id: o for o in live.top(10**9)}
    event(f"withdrawn: {bool(set(before) - set(after))}, new: {bool(set(after) - set(before))}")
    withdrawn = {e.cycle_id for e in events if isinstance(e, OpportunityWithdrawn)}
    assert withdrawn == set(before) - set(after)
    changed = {c for c, o in after.items() if c not in before or before[c].fees != o.fees
               or before[c].amount_in != o.amount_in}
    assert {e.cycle_id for e in events if isinstance(e, Opportunity)} == changed
