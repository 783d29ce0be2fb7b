"""Cycles through a Whirlpool with no liquidity at its price: no longer dead. Its line starts where
the swap starts trading, its envelope still bounds the exact quote, and the engine finds and sizes
the cycles the full search finds profitable."""

from __future__ import annotations

from hypothesis import event, given, settings
from hypothesis import strategies as st

from core.localnet.genesis_whirlpool import Position
from core.protocols.ids import USDC_MINT
from core.search.dex_models import DEAD_LINE
from core.search.dex_raydium import RAYDIUM_AMM_V4_MODEL, RaydiumState
from core.search.dex_whirlpool import WHIRLPOOL_MODEL
from tests.search.market import pool_id
from tests.search.test_whirlpool_cycles import TS, _costly, best_of, mixed_engine, run, whirlpool

side = st.tuples(st.integers(1, 60), st.integers(1, 200), st.integers(10**9, 10**15))
near_side = st.tuples(st.integers(1, 6), st.integers(1, 200), st.integers(10**10, 10**15))


def gap_whirlpool(price_tick: int, below: tuple, above: tuple, fee_rate: int = 3000):
    base = price_tick // TS * TS
    positions = [
        Position(base - (below[0] + below[1]) * TS, base - below[0] * TS, below[2]),
        Position(base + above[0] * TS, base + (above[0] + above[1]) * TS, above[2]),
    ]
    state, x_to_usdc = whirlpool(positions, price_tick, fee_rate)
    assert state.pool.liquidity == 0
    return state, x_to_usdc


@settings(max_examples=80, deadline=None)
@given(
    st.integers(-3000, 3000), side, side, st.sampled_from([500, 3000, 10_000]), st.booleans(),
    st.lists(st.one_of(st.integers(1, 10**6), st.integers(1, 10**13), st.integers(1, 10**18)), max_size=20),
)
def test_zero_liquidity_whirlpool_line_is_live_and_its_envelope_lies_above_the_quote(
    price_tick: int, below: tuple, above: tuple, fee_rate: int, a_to_b: bool, amounts: list[int]
) -> None:
    state, _ = gap_whirlpool(price_tick, below, above, fee_rate)
    line = WHIRLPOOL_MODEL.linearize(state)
    assert line != DEAD_LINE and line.rate_ab > 0 and line.rate_ba > 0
    quote_ab, quote_ba = WHIRLPOOL_MODEL.bound(state, True), WHIRLPOOL_MODEL.bound(state, False)
    env = WHIRLPOOL_MODEL.envelope_line(state, line, quote_ab, quote_ba)
    rate, curv = (env.rate_ab, env.curv_ab) if a_to_b else (env.rate_ba, env.curv_ba)
    quote = quote_ab if a_to_b else quote_ba
    steps, _ = quote.step_ends()
    for x in [*amounts, *steps, *(t - 1 for t in steps if t > 1), *(t + 1 for t in steps)]:
        try:
            out = quote(x)
        except Exception:
            continue
        # The marginal rate at zero is the line's rate, and the envelope (same rate) bounds every amount.
        assert out <= rate * x / (1.0 + curv * x) * (1 + 1e-9) + 1e-6


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-0.002, 0.03), st.integers(10**9, 10**13), st.integers(-40, 40), near_side, near_side,
    st.sampled_from([500, 3000]),
)
def test_engine_finds_the_cycles_through_a_zero_liquidity_whirlpool_the_full_search_finds(
    edge: float, depth: int, price_tick: int, below: tuple, above: tuple, fee_rate: int
) -> None:
    wp, x_to_usdc = gap_whirlpool(price_tick, below, above, fee_rate)
    ray = RaydiumState(depth, int(depth * (1 + edge)), 25, 10_000)  # coin = USDC, pc = X
    hops = [(RAYDIUM_AMM_V4_MODEL, ray, True), (WHIRLPOOL_MODEL, wp, x_to_usdc)]
    fees = _costly()
    cap = 10**13
    # The reference owes nothing to the search's lines: the exact quote over a grid refined twice
    # where the (concave) profit lives.
    grid = [max(1, cap * k // 4000) for k in range(1, 4001)]
    top = max(grid, key=lambda x: run(hops, x) or -(10**30))
    step = cap // 4000
    fine = [max(1, top - step + 2 * step * k // 2000) for k in range(2001)]
    top2 = max(fine, key=lambda x: run(hops, x) or -(10**30))
    best = best_of(hops, [*grid, *fine, *range(max(1, top2 - 300), top2 + 301)])
    fixed = fees.fixed_cost(USDC_MINT)
    engine, _ = mixed_engine(hops, cap, fees)
    found = [o for o in engine.top(10) if o.pools == (pool_id(1), pool_id(2))]
    event("profitable" if best - fixed > best // 1000 else "not profitable")
    if best - fixed > best // 1000:
        assert found
        assert run(hops, found[0].amount_in) == found[0].gross
        assert found[0].gross >= best - best // 1000
    for o in found:  # whatever is published is quoted to the unit and pays
        assert run(hops, o.amount_in) == o.gross > fixed
