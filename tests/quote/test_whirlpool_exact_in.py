"""ExactInQuoter: the step-table quote equals the full swap for every amount, errors included."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.localnet.genesis_whirlpool import Position
from core.protocols.whirlpool import TickArray
from core.quote.whirlpool import ExactInQuoter, WhirlpoolSwapError, quote_exact_in, sqrt_price_from_tick_index
from tests.quote.test_whirlpool import build_pool, real_sol_usdc_array, sol_usdc_arrays

AMOUNTS = st.one_of(
    st.integers(1, 10**6),
    st.integers(1, 10**12),
    st.integers(1, 10**19),
    st.sampled_from([0, -1, 2**64, 2**64 - 1]),
)


def outcome(fn, amount: int) -> tuple[str, object]:
    try:
        return "ok", fn(amount)
    except (WhirlpoolSwapError, ValueError) as exc:
        return "error", type(exc)


def same_as_swap(pool, arrays: list[TickArray], a_to_b: bool, amounts: list[int]) -> None:
    quoter = ExactInQuoter(pool, arrays, a_to_b)
    for amount in amounts:
        expected = outcome(lambda x: quote_exact_in(pool, arrays, x, a_to_b), amount)
        assert outcome(quoter, amount) == expected, amount


@settings(max_examples=120, deadline=None)
@given(
    st.sampled_from([1, 4, 8, 64]),
    st.one_of(st.integers(-5000, 5000), st.integers(-443_600, -442_000), st.integers(442_000, 443_600)),
    st.lists(
        st.tuples(st.integers(1, 300), st.integers(1, 300), st.integers(10**6, 10**15)),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([0, 100, 3000, 10_000, 65_000]),
    st.booleans(),
    st.lists(AMOUNTS, min_size=1, max_size=12),
)
def test_quotes_equal_the_full_swap_across_tick_crossings_and_errors(
    ts: int, price_tick: int, raw_positions: list[tuple[int, int, int]], fee_rate: int,
    a_to_b: bool, amounts: list[int],
) -> None:
    base = price_tick // ts * ts
    lowest, highest = -443_636 // ts * ts + ts, 443_636 // ts * ts
    positions = [
        Position(max(lowest, base - lo * ts), min(highest, base + hi * ts), liq)
        for lo, hi, liq in raw_positions
    ]
    # Clamped at the price bounds, a range can close up entirely.
    positions = [p for p in positions if p.tick_lower_index < p.tick_upper_index]
    assume(positions)
    state = build_pool(ts, price_tick, positions, fee_rate)
    pool = state.pool
    arrays = list(state.tick_arrays.values())
    # Amounts right at and around every step boundary are where an off-by-one would show.
    quoter = ExactInQuoter(pool, arrays, a_to_b)
    thresholds, costs = quoter.step_ends()
    edges = [t + d for t in thresholds for d in (-1, 0, 1)]
    edges += [c + d for c in costs for d in (0, 1)]
    same_as_swap(pool, arrays, a_to_b, [*amounts, *edges])


def test_the_real_sol_usdc_pool_quotes_the_vector_and_its_crossings() -> None:
    from core.protocols.whirlpool import decode_whirlpool
    from tests.protocols.test_whirlpool import SOL_USDC_WHIRLPOOL

    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    assert ExactInQuoter(pool, sol_usdc_arrays(), True)(1_000_000) == 242_382
    arrays = [real_sol_usdc_array(), *sol_usdc_arrays()[1:]]
    amounts = [10**k for k in range(0, 14)] + [5000 * 10**9, 3 * 10**12]
    for a_to_b in (True, False):
        same_as_swap(pool, arrays, a_to_b, amounts)


def test_max_liquidity_is_the_deepest_range_the_swap_can_reach() -> None:
    state = build_pool(8, 100, [Position(-800, 800, 10**12), Position(0, 400, 5 * 10**12)])
    arrays = list(state.tick_arrays.values())
    assert ExactInQuoter(state.pool, arrays, True).max_liquidity == 6 * 10**12
    # A price above the narrow range: only the wide position is active and the narrow one is reached.
    above = build_pool(8, 600, [Position(-800, 800, 10**12), Position(0, 400, 5 * 10**12)])
    arrays = list(above.tick_arrays.values())
    assert above.pool.liquidity == 10**12
    assert ExactInQuoter(above.pool, arrays, True).max_liquidity == 6 * 10**12
    assert ExactInQuoter(above.pool, arrays, False).max_liquidity == 10**12
    assert sqrt_price_from_tick_index(0) == 1 << 64


@settings(max_examples=60, deadline=None)
@given(
    st.integers(-3000, 3000),
    st.lists(
        st.tuples(st.integers(1, 200), st.integers(1, 200), st.integers(10**9, 10**15)),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from([0, 500, 3000]),
    st.booleans(),
    st.lists(st.integers(1, 10**14), min_size=1, max_size=10),
)
def test_a_piece_is_the_real_constant_product_curve_of_the_step_an_amount_ends_in(
    price_tick: int, raw: list[tuple[int, int, int]], fee_rate: int, a_to_b: bool, amounts: list[int]
) -> None:
    base = price_tick // 8 * 8
    positions = [Position(base - lo * 8, base + hi * 8, liq) for lo, hi, liq in raw]
    state = build_pool(8, price_tick, positions, fee_rate)
    quoter = ExactInQuoter(state.pool, list(state.tick_arrays.values()), a_to_b)
    thresholds, _ = quoter.step_ends()
    for x in [*amounts, *thresholds]:
        piece = quoter.piece(x)
        try:
            out = quoter(x)
        except WhirlpoolSwapError:
            continue
        if piece is None:
            continue
        _, c, o, r, k = piece
        real = o + r * (x - c) / (1.0 + k * (x - c))
        # The integer swap rounds against the trader, a few units per step at most.
        assert real * (1 - 1e-9) - 2 * (len(thresholds) + 2) <= out <= real * (1 + 1e-9) + 1
