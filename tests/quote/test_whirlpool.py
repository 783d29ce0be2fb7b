"""The exact Whirlpool quoter: the real-pool vector, tick math, one-step formulas, tick crossing, errors."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.localnet.genesis_whirlpool import Position, build_whirlpool_state
from core.protocols.whirlpool import (
    MAX_SQRT_PRICE_X64,
    MAX_TICK_INDEX,
    MIN_SQRT_PRICE_X64,
    MIN_TICK_INDEX,
    TickArray,
    decode_whirlpool,
    empty_tick_array,
)
from core.quote.whirlpool import (
    AmountInAboveMaximum,
    AmountOutBelowMinimum,
    DifferentWhirlpoolTickArrayAccount,
    InvalidSqrtPriceLimitDirection,
    InvalidTickArraySequence,
    PartialFillError,
    SqrtPriceOutOfBounds,
    TickArraySequenceInvalidIndex,
    ZeroTradableAmount,
    compute_swap,
    sqrt_price_from_tick_index,
    swap,
    tick_index_from_sqrt_price,
)
from tests.protocols.test_whirlpool import SOL_USDC_TS4, SOL_USDC_WHIRLPOOL

Q64 = 1 << 64


def sol_usdc_arrays(starts: tuple[int, ...] = (-14432, -14784, -15136)) -> list[TickArray]:
    # No initialized tick near -14170 is needed for the vector: 1 SOL moves the price by < 1 tick.
    return [empty_tick_array(s, SOL_USDC_TS4) for s in starts]


def test_one_sol_exact_in_on_the_real_sol_usdc_pool_gives_242382_usdc_units() -> None:
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    result = swap(pool, sol_usdc_arrays(), 1_000_000, a_to_b=True)
    assert result.amount_in == 1_000_000
    assert result.amount_out == 242_382
    assert result.fee_amount == 400
    assert result.protocol_fee == 400 * 1 // 10_000  # protocol_fee_rate 1 bp of the fee rounds to 0
    assert result.next_tick_index == -14170
    min_out = result.amount_out * (10_000 - 100) // 10_000
    assert min_out == 239_958


def test_the_vector_fails_with_amount_out_below_minimum_one_unit_above_the_output() -> None:
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    swap(pool, sol_usdc_arrays(), 1_000_000, a_to_b=True, other_amount_threshold=242_382)
    with pytest.raises(AmountOutBelowMinimum) as err:
        swap(pool, sol_usdc_arrays(), 1_000_000, a_to_b=True, other_amount_threshold=242_383)
    assert err.value.code == 6036


# -- tick math ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tick", "positive", "negative"),
    [
        (0, 18446744073709551616, 18446744073709551616),
        (1, 18447666387855959850, 18445821805675392311),
        (2, 18448588748116922571, 18444899583751176498),
        (4, 18450433606991734263, 18443055278223354162),
        (8, 18454123878217468680, 18439367220385604838),
    ],
)
def test_sqrt_price_from_tick_index_matches_the_programs_bit_values(
    tick: int, positive: int, negative: int
) -> None:
    assert sqrt_price_from_tick_index(tick) == positive
    assert sqrt_price_from_tick_index(-tick) == negative


def test_sqrt_price_bounds_are_the_prices_of_the_tick_bounds() -> None:
    assert sqrt_price_from_tick_index(MAX_TICK_INDEX) == MAX_SQRT_PRICE_X64
    assert sqrt_price_from_tick_index(MIN_TICK_INDEX) == MIN_SQRT_PRICE_X64
    assert tick_index_from_sqrt_price(MAX_SQRT_PRICE_X64) == MAX_TICK_INDEX
    assert tick_index_from_sqrt_price(MAX_SQRT_PRICE_X64 - 1) == MAX_TICK_INDEX - 1
    assert tick_index_from_sqrt_price(MIN_SQRT_PRICE_X64) == MIN_TICK_INDEX
    assert tick_index_from_sqrt_price(MIN_SQRT_PRICE_X64 + 1) == MIN_TICK_INDEX
    assert tick_index_from_sqrt_price(Q64) == 0
    assert tick_index_from_sqrt_price(Q64 - 1) == -1


@settings(max_examples=200)
@given(st.integers(MIN_TICK_INDEX, MAX_TICK_INDEX - 1))
def test_sqrt_prices_increase_with_the_tick_and_invert_exactly(tick: int) -> None:
    price = sqrt_price_from_tick_index(tick)
    assert price < sqrt_price_from_tick_index(tick + 1)
    assert tick_index_from_sqrt_price(price) == tick
    # Within 2^-32 relative of sqrt(1.0001)^tick.
    exact = math.sqrt(1.0001) ** tick * Q64
    assert abs(price - exact) <= exact * 2**-32 + 1


@settings(max_examples=200)
@given(st.integers(MIN_SQRT_PRICE_X64, MAX_SQRT_PRICE_X64 - 1))
def test_tick_index_from_sqrt_price_is_the_floor_tick(price: int) -> None:
    tick = tick_index_from_sqrt_price(price)
    assert sqrt_price_from_tick_index(tick) <= price < sqrt_price_from_tick_index(tick + 1)


# -- one step against the formulas written out with Fractions ---------------------------------------

LIQUIDITY = st.integers(1, 2**100)
SQRT_PRICES = st.integers(2**50, 2**80)
AMOUNTS = st.integers(1, 2**50)
FEES = st.integers(0, 60_000)


@settings(max_examples=200)
@given(AMOUNTS, FEES, LIQUIDITY, SQRT_PRICES)
def test_a_to_b_exact_in_step_rounds_price_up_and_output_down(
    amount: int, fee: int, liq: int, sp: int
) -> None:
    net = amount * (1_000_000 - fee) // 1_000_000
    nxt = math.ceil(Fraction(liq * sp * Q64, liq * Q64 + net * sp))
    # Else the program fails: price below the minimum, or L * delta above u128 (6030).
    assume(nxt > MIN_SQRT_PRICE_X64 and liq * (sp - nxt) < 2**128)
    step = compute_swap(amount, fee, liq, sp, MIN_SQRT_PRICE_X64, True, True)
    assert step.next_price == nxt
    assert step.amount_out == liq * (sp - nxt) // Q64
    assert step.amount_in == math.ceil(Fraction(liq * (sp - nxt) * Q64, sp * nxt))
    assert step.fee_amount == amount - step.amount_in


@settings(max_examples=200)
@given(AMOUNTS, FEES, LIQUIDITY, SQRT_PRICES)
def test_b_to_a_exact_in_step_adds_floor_of_amount_over_liquidity(
    amount: int, fee: int, liq: int, sp: int
) -> None:
    net = amount * (1_000_000 - fee) // 1_000_000
    nxt = sp + net * Q64 // liq
    out = liq * (nxt - sp) * Q64 // (sp * nxt)
    # Else the program fails: TokenMaxExceeded on the output, 6030 on L * delta above u128.
    assume(nxt < MAX_SQRT_PRICE_X64 and out < 2**64 and liq * (nxt - sp) < 2**128)
    step = compute_swap(amount, fee, liq, sp, MAX_SQRT_PRICE_X64, True, False)
    assert step.next_price == nxt
    assert step.amount_out == out
    assert step.amount_in == math.ceil(Fraction(liq * (nxt - sp), Q64))


@settings(max_examples=200)
@given(AMOUNTS, FEES, LIQUIDITY, SQRT_PRICES, st.integers(1, 2**40))
def test_a_step_that_reaches_its_target_charges_the_fee_on_the_rounded_up_input(
    amount: int, fee: int, liq: int, sp: int, gap: int
) -> None:
    target = max(sp - gap, MIN_SQRT_PRICE_X64)
    assume(target < sp and liq * (sp - target) < 2**128)
    step = compute_swap(amount, fee, liq, sp, target, True, True)
    if step.next_price == target:
        assert step.amount_in == math.ceil(Fraction(liq * (sp - target) * Q64, sp * target))
        assert step.fee_amount == math.ceil(Fraction(step.amount_in * fee, 1_000_000 - fee))
        assert step.amount_in + step.fee_amount <= amount
    else:
        assert step.amount_in + step.fee_amount == amount


# -- multi-tick swaps on built pools ------------------------------------------------------------------

MINT_A = Pubkey.from_string("So11111111111111111111111111111111111111112")
MINT_B = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")


def build_pool(tick_spacing: int, price_tick: int, positions: list[Position], fee_rate: int = 3000):
    return build_whirlpool_state(
        token_mint_a=MINT_A,
        token_mint_b=MINT_B,
        token_vault_a=Pubkey.new_unique(),
        token_vault_b=Pubkey.new_unique(),
        tick_spacing=tick_spacing,
        fee_rate=fee_rate,
        sqrt_price=sqrt_price_from_tick_index(price_tick) + 12345,
        positions=positions,
    )


def test_crossing_a_tick_moves_liquidity_by_its_net_and_flips_its_fee_growth_outside() -> None:
    state = build_pool(8, 100, [Position(-800, 800, 10**12), Position(0, 400, 5 * 10**12)])
    pool, arrays = state.pool, list(state.tick_arrays.values())
    assert pool.liquidity == 6 * 10**12
    left = swap(pool, arrays, 5 * 10**10, a_to_b=True)
    assert left.next_tick_index < 0
    assert left.next_liquidity == 10**12  # crossed tick 0 leftwards: L - net(+5e12)
    (update,) = [u for u in left.tick_updates if u.start_tick_index == 0 and u.offset == 0]
    assert update.tick.liquidity_net == 5 * 10**12
    # Growth outside of a tick first crossed: global fee growth at the crossing minus 0.
    assert 0 < update.tick.fee_growth_outside_a <= left.next_fee_growth_global
    right = swap(pool, arrays, 10**11, a_to_b=False)
    assert right.next_tick_index >= 400
    assert right.next_liquidity == 10**12  # crossed tick 400 rightwards: L + net(-5e12)


def test_an_exact_out_fill_needs_no_more_input_than_the_exact_in_that_produced_it() -> None:
    state = build_pool(4, -20, [Position(-400, 400, 10**13), Position(-40, 40, 10**14)])
    arrays = list(state.tick_arrays.values())
    for a_to_b in (True, False):
        exact_in = swap(state.pool, arrays, 10**9, a_to_b=a_to_b)
        exact_out = swap(
            state.pool, arrays, exact_in.amount_out, a_to_b=a_to_b, amount_specified_is_input=False
        )
        assert exact_out.amount_out == exact_in.amount_out
        assert exact_out.amount_in <= exact_in.amount_in


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([1, 4, 8, 64]),
    st.integers(-5000, 5000),
    st.lists(
        st.tuples(st.integers(1, 300), st.integers(1, 300), st.integers(10**9, 10**15)),
        min_size=1,
        max_size=4,
    ),
    st.integers(1, 10**12),
    st.booleans(),
)
def test_swaps_conserve_amounts_and_move_the_price_the_right_way(
    ts: int, price_tick: int, raw_positions: list[tuple[int, int, int]], amount: int, a_to_b: bool
) -> None:
    base = price_tick // ts * ts
    positions = [Position(base - lo * ts, base + hi * ts, liq) for lo, hi, liq in raw_positions]
    state = build_pool(ts, price_tick, positions)
    try:
        result = swap(state.pool, list(state.tick_arrays.values()), amount, a_to_b=a_to_b)
    except TickArraySequenceInvalidIndex:
        return  # ran past the arrays around the price: the program fails the same way
    at_bound = result.next_sqrt_price in (MIN_SQRT_PRICE_X64, MAX_SQRT_PRICE_X64)
    assert result.amount_in == amount or (at_bound and result.amount_in < amount)
    assert result.fee_amount == result.lp_fee + result.protocol_fee
    assert result.protocol_fee <= result.fee_amount * 300 // 10_000
    if a_to_b:
        assert result.next_sqrt_price <= state.pool.sqrt_price
    else:
        assert result.next_sqrt_price >= state.pool.sqrt_price
    assert tick_index_from_sqrt_price(result.next_sqrt_price) in (
        result.next_tick_index,
        result.next_tick_index + 1,
    )
    # Output never exceeds what the liquidity held on the way (rough bound: a vault's worth).
    assert result.amount_out <= (state.amount_b if a_to_b else state.amount_a)


# -- errors ---------------------------------------------------------------------------------------------


def test_limit_on_the_wrong_side_or_at_the_price_is_invalid_sqrt_price_limit_direction() -> None:
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    for limit in (pool.sqrt_price, pool.sqrt_price + 1):
        with pytest.raises(InvalidSqrtPriceLimitDirection) as err:
            swap(pool, sol_usdc_arrays(), 1, a_to_b=True, sqrt_price_limit=limit)
        assert err.value.code == 6034


def test_limit_outside_the_price_bounds_is_sqrt_price_out_of_bounds() -> None:
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    with pytest.raises(SqrtPriceOutOfBounds):
        swap(pool, sol_usdc_arrays(), 1, a_to_b=True, sqrt_price_limit=MIN_SQRT_PRICE_X64 - 1)


def test_zero_amount_is_zero_tradable_amount() -> None:
    with pytest.raises(ZeroTradableAmount) as err:
        swap(decode_whirlpool(SOL_USDC_WHIRLPOOL), sol_usdc_arrays(), 0, a_to_b=True)
    assert err.value.code == 6035


def test_a_price_limit_stops_the_swap_early_and_exact_out_without_limit_must_fill() -> None:
    state = build_pool(8, 0, [Position(-800, 800, 10**12)])
    arrays = list(state.tick_arrays.values())
    limit = sqrt_price_from_tick_index(-80)
    limited = swap(state.pool, arrays, 10**12, a_to_b=True, sqrt_price_limit=limit)
    assert limited.next_sqrt_price == limit
    assert limited.amount_in < 10**12
    out = swap(
        state.pool, arrays, 10**12, a_to_b=True, amount_specified_is_input=False, sqrt_price_limit=limit
    )
    assert out.amount_out < 10**12 and out.next_sqrt_price == limit
    # Near the lowest tick the price can run to MIN_SQRT_PRICE with output still owed.
    lowest = -443632  # the lowest multiple of 8 inside the tick range
    low_state = build_pool(8, lowest + 400, [Position(lowest, lowest + 800, 10**9)])
    low_arrays = list(low_state.tick_arrays.values())
    with pytest.raises(PartialFillError) as err:
        swap(low_state.pool, low_arrays, 10, a_to_b=True, amount_specified_is_input=False)
    assert err.value.code == 6057


def test_exact_in_larger_than_three_arrays_of_liquidity_runs_out_of_arrays() -> None:
    state = build_pool(8, 0, [Position(-8000, 8000, 10**6)])
    with pytest.raises(TickArraySequenceInvalidIndex) as err:
        swap(state.pool, list(state.tick_arrays.values()), 10**15, a_to_b=True)
    assert err.value.code == 6038


def test_thresholds_are_checked_as_the_program_does() -> None:
    state = build_pool(8, 0, [Position(-800, 800, 10**12)])
    arrays = list(state.tick_arrays.values())
    out = swap(state.pool, arrays, 1000, a_to_b=False, amount_specified_is_input=False)
    swap(
        state.pool,
        arrays,
        1000,
        a_to_b=False,
        amount_specified_is_input=False,
        other_amount_threshold=out.amount_in,
    )
    with pytest.raises(AmountInAboveMaximum) as err:
        swap(
            state.pool,
            arrays,
            1000,
            a_to_b=False,
            amount_specified_is_input=False,
            other_amount_threshold=out.amount_in - 1,
        )
    assert err.value.code == 6037


def test_no_array_at_the_current_price_is_invalid_tick_array_sequence() -> None:
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    with pytest.raises(InvalidTickArraySequence) as err:
        swap(pool, sol_usdc_arrays((-14784,)), 1000, a_to_b=True)
    assert err.value.code == 6023
    # An uninitialized array passed at its PDA counts as an empty one (a sparse swap).
    assert swap(pool, [], 1_000_000, a_to_b=True, uninitialized_starts={-14432}).amount_out == 242_382


def test_an_array_of_another_pool_is_rejected_when_the_pool_address_is_known() -> None:
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    other = [empty_tick_array(-14432, Pubkey.new_unique())]
    with pytest.raises(DifferentWhirlpoolTickArrayAccount) as err:
        swap(pool, other, 1000, a_to_b=True, whirlpool_address=SOL_USDC_TS4)
    assert err.value.code == 6056


def real_sol_usdc_array() -> TickArray:
    from core.protocols.whirlpool import decode_tick_array
    from tests.protocols.test_whirlpool import SOL_USDC_TICK_ARRAY

    return decode_tick_array(SOL_USDC_TICK_ARRAY)


def test_the_vector_with_the_real_tick_array_is_still_242382() -> None:
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    result = swap(pool, [real_sol_usdc_array()], 1_000_000, a_to_b=True)
    assert result.amount_out == 242_382
    assert result.tick_updates == ()  # the next initialized tick, -14172, is not reached


def test_5000_sol_crosses_the_real_ticks_between_the_price_and_where_it_stops() -> None:
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    array = real_sol_usdc_array()
    result = swap(pool, [array], 5 * 10**12, a_to_b=True, uninitialized_starts={-14784, -15136})
    end = result.next_tick_index
    crossed = {
        array.start_tick_index + 4 * i: t
        for i, t in enumerate(array.ticks)
        if t.initialized and end < array.start_tick_index + 4 * i <= pool.tick_current_index
    }
    assert len(crossed) > 10
    updated = {u.start_tick_index + 4 * u.offset for u in result.tick_updates}
    assert updated == set(crossed)
    # Moving left subtracts each crossed tick's liquidity_net.
    assert result.next_liquidity == pool.liquidity - sum(t.liquidity_net for t in crossed.values())
    for u in result.tick_updates:
        before = array.ticks[u.offset]
        assert (
            u.tick.fee_growth_outside_b == (pool.fee_growth_global_b - before.fee_growth_outside_b) % 2**128
        )
