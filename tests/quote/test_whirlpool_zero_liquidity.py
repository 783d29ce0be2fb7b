"""A Whirlpool with no liquidity at its price still swaps: the program crosses to the next
initialized tick for free and trades from there. The emulator and the quoter agree on it, and
`ExactInQuoter.liquid_start` names where each direction starts trading."""

from __future__ import annotations

from hypothesis import event, given, settings
from hypothesis import strategies as st

from core.localnet.genesis_whirlpool import Position
from core.protocols.whirlpool import MAX_SQRT_PRICE_X64, MIN_SQRT_PRICE_X64
from core.quote.whirlpool import ExactInQuoter, quote_exact_in, sqrt_price_from_tick_index
from tests.localnet.programs.test_whirlpool_program import (
    assert_emulator_matches_quoter,
    make_state,
    shared_env,
)

TS = 8


def gap_positions(base: int, below: tuple[int, int, int], above: tuple[int, int, int]) -> list[Position]:
    """One range below the price and one above, none across it: liquidity 0 at the price."""
    gap_lo, width_lo, liq_lo = below
    gap_hi, width_hi, liq_hi = above
    return [
        Position(base - (gap_lo + width_lo) * TS, base - gap_lo * TS, liq_lo),
        Position(base + gap_hi * TS, base + (gap_hi + width_hi) * TS, liq_hi),
    ]


side = st.tuples(st.integers(1, 60), st.integers(1, 80), st.integers(10**9, 10**15))


@settings(max_examples=25, deadline=None)
@given(st.integers(-3000, 3000), side, side, st.booleans(), st.integers(1, 10**12), st.booleans())
def test_emulator_and_quoter_swap_across_a_range_without_liquidity(
    price_tick: int, below: tuple, above: tuple, a_to_b: bool, amount: int, v2: bool
) -> None:
    env = shared_env()
    base = price_tick // TS * TS
    state = make_state(env, TS, price_tick, gap_positions(base, below, above))
    assert state.pool.liquidity == 0
    limit = MIN_SQRT_PRICE_X64 if a_to_b else MAX_SQRT_PRICE_X64
    result = assert_emulator_matches_quoter(env, state, amount, a_to_b, True, limit, v2)
    event("swapped" if not isinstance(result, int) else f"refused {result}")
    if not isinstance(result, int):
        # The first step took and paid nothing: the swap traded only past the liquid tick.
        start = ExactInQuoter(state.pool, state.tick_arrays.values(), a_to_b).liquid_start
        assert start is not None
        price, liquidity = start
        assert liquidity == (below[2] if a_to_b else above[2])
        assert price == sqrt_price_from_tick_index(base - below[0] * TS if a_to_b else base + above[0] * TS)
        assert (result.next_sqrt_price <= price) if a_to_b else (result.next_sqrt_price >= price)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(-3000, 3000), side, side, st.booleans(),
    st.lists(st.integers(1, 10**7), min_size=1, max_size=8),
)
def test_small_swaps_from_zero_liquidity_follow_the_liquid_start_line(
    price_tick: int, below: tuple, above: tuple, a_to_b: bool, amounts: list[int]
) -> None:
    env = shared_env()
    base = price_tick // TS * TS
    state = make_state(env, TS, price_tick, gap_positions(base, below, above), fee_rate=3000)
    arrays = tuple(state.tick_arrays.values())
    start = ExactInQuoter(state.pool, arrays, a_to_b).liquid_start
    assert start is not None
    sp, liquidity = start[0] / 2**64, start[1]
    gamma = (1_000_000 - 3000) / 1_000_000
    if a_to_b:
        rate, curv = gamma * sp * sp, gamma * sp / liquidity
    else:
        rate, curv = gamma / (sp * sp), gamma / (sp * liquidity)
    steps, _ = ExactInQuoter(state.pool, arrays, a_to_b).step_ends()
    first_liquid_end = min((t for t in steps if t > 0), default=0)
    for x in amounts:
        if first_liquid_end and x >= first_liquid_end:
            continue  # past the first liquid step: another piece of the curve
        try:
            out = quote_exact_in(state.pool, arrays, x, a_to_b)
        except Exception:
            continue
        real = rate * x / (1.0 + curv * x)
        # The integer swap rounds against the trader by a few units at most, never in its favour.
        assert out <= real * (1 + 1e-9) + 1e-6
        assert out >= real * (1 - 1e-9) - 3
