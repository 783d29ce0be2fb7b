"""The engine's inlined constant-product path gives exactly what the general sizing path gives."""

from __future__ import annotations

import dataclasses
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from core.protocols.ids import NATIVE_MINT, USDC_MINT
from core.search import Pool, SearchEngine
from core.search.dex_models import constant_product_line
from core.search.dex_raydium import RAYDIUM_AMM_V4, RAYDIUM_AMM_V4_MODEL, RaydiumState
from core.search.dex_raydium import linearize as raydium_linearize
from tests.search.market import LOANS
from tests.search.test_engine import costly_fees, key, random_market

# The same dex without cp_params: every cycle goes through bound quoters and optimal_input.
GENERAL = {RAYDIUM_AMM_V4: dataclasses.replace(RAYDIUM_AMM_V4_MODEL, cp_params=None)}
FAST = {RAYDIUM_AMM_V4: RAYDIUM_AMM_V4_MODEL}


def full_key(o) -> tuple:
    return (*key(o), o.cycle_id, o.gross, o.fees, o.slot, o.state_slots)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32), st.floats(0.001, 0.05), st.integers(1, 10**13))
def test_inlined_constant_product_sizing_equals_the_general_path(seed: int, sigma: float, cap: int) -> None:
    rng = random.Random(seed)
    caps = {USDC_MINT: cap, NATIVE_MINT: cap}
    fast = SearchEngine(LOANS, caps.__getitem__, costly_fees(), FAST)
    general = SearchEngine(LOANS, caps.__getitem__, costly_fees(), GENERAL)
    pools = random_market(rng, 7, 30, sigma)
    for pool in pools:
        fast.upsert_pool(pool)
        general.upsert_pool(pool)
    for step in range(40):
        pool = rng.choice(pools)
        s = pool.state
        moved = Pool(pool.id, pool.dex, pool.mint_a, pool.mint_b, RaydiumState(
            max(1000, int(s.coin_reserve * math.exp(rng.gauss(0, sigma)))), s.pc_reserve,
            s.swap_fee_numerator, s.swap_fee_denominator), pool.slot + step + 1)
        got = [(type(e), e.cycle_id) for e in fast.upsert_pool(moved)]
        want = [(type(e), e.cycle_id) for e in general.upsert_pool(moved)]
        assert got == want
    assert [full_key(o) for o in fast.top(10**9)] == [full_key(o) for o in general.top(10**9)]
    assert fast.stats["searches"] == general.stats["searches"]


@given(st.integers(-5, 10**18), st.integers(-5, 10**18), st.integers(-3, 10_003), st.integers(-3, 10_003))
def test_raydium_linearize_is_the_constant_product_line(x: int, y: int, num: int, den: int) -> None:
    assert raydium_linearize(RaydiumState(x, y, num, den)) == constant_product_line(x, y, num, den)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32))
def test_best_rate_of_every_directed_pair_is_kept_exact_through_updates_and_removals(seed: int) -> None:
    rng = random.Random(seed)
    pools = random_market(rng, 6, 25, 0.02)
    eng = SearchEngine(LOANS, lambda _m: 10**13, costly_fees(), FAST)
    live = {}
    for pool in pools:
        eng.upsert_pool(pool)
        live[pool.id] = pool
    for step in range(120):
        roll = rng.random()
        if roll < 0.15 and live:
            victim = rng.choice(list(live))
            eng.remove_pool(victim)
            del live[victim]
        elif roll < 0.3 and len(live) < len(pools):
            back = rng.choice([p for p in pools if p.id not in live])
            eng.upsert_pool(back)
            live[back.id] = back
        elif live:
            pool = live[rng.choice(list(live))]
            s = pool.state
            scale = math.exp(rng.gauss(0, 0.05))
            moved = Pool(pool.id, pool.dex, pool.mint_a, pool.mint_b, RaydiumState(
                max(1000, int(s.coin_reserve * scale)), s.pc_reserve, s.swap_fee_numerator,
                s.swap_fee_denominator), pool.slot + step + 1)
            eng.upsert_pool(moved)
            live[pool.id] = moved
        for e, slots in enumerate(eng._edge_slots):
            assert eng._edge_best[e] == max((eng._rate[s] for s in slots), default=0.0)
