"""The Raydium AMM v4 quoter against an independent restatement of the program's formula."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.protocols.raydium_amm import AmmError, AmmStatus, decode_amm_info
from core.quote.raydium_amm import (
    RaydiumSwapError,
    check_swap_status,
    pool_reserves,
    quote_pool_base_in,
    quote_pool_base_out,
    swap_base_in,
    swap_base_out,
)
from tests.protocols.test_raydium_amm import SOL_USDC_POOL

U64 = 2**64 - 1


def restated_base_in(amount_in: int, x: int, y: int, num: int, den: int) -> int:
    """processor.rs: fee = ceil(in * num / den); out = floor(y * (in - fee) / (x + in - fee))."""
    fee = math.ceil(Fraction(amount_in * num, den))
    net = amount_in - fee
    return math.floor(Fraction(y * net, x + net))


def restated_base_out(amount_out: int, x: int, y: int, num: int, den: int) -> int:
    """math.rs: before = ceil(x * out / (y - out)); processor.rs: in = ceil(before * den / (den - num))."""
    before = math.ceil(Fraction(x * amount_out, y - amount_out))
    return math.ceil(Fraction(before * den, den - num))


reserves = st.integers(1, U64)
fees = st.integers(1, 1_000_000).flatmap(lambda den: st.tuples(st.integers(0, den - 1), st.just(den)))


def test_base_in_worked_example_at_25_bps() -> None:
    # fee = ceil(1e6 * 25 / 1e4) = 2500; out = floor(2e10 * 997500 / (1e10 + 997500)) = 1994801
    assert swap_base_in(1_000_000, 10**10, 2 * 10**10, 25, 10_000) == 1_994_801


def test_base_out_worked_example_at_25_bps() -> None:
    # before = ceil(1e10 * 1e6 / (2e10 - 1e6)) = 500026; in = ceil(500026 * 10000 / 9975) = 501280
    assert swap_base_out(1_000_000, 10**10, 2 * 10**10, 25, 10_000) == 501_280


def test_fee_on_small_amounts_is_a_plain_ceiling() -> None:
    # 199 * 25 / 10000 = 0.4975: the pre-2025-08-26 rounding gave fee 0, the current one gives 1.
    assert swap_base_in(199, 10**12, 10**12, 25, 10_000) == restated_base_in(199, 10**12, 10**12, 25, 10_000)
    assert swap_base_in(199, 10**12, 10**12, 25, 10_000) == 197


@settings(max_examples=500)
@given(st.integers(0, U64), reserves, reserves, fees)
def test_base_in_equals_the_restated_formula(amount_in: int, x: int, y: int, fee: tuple[int, int]) -> None:
    num, den = fee
    expected = restated_base_in(amount_in, x, y, num, den)
    if amount_in == 0 or expected == 0:
        with pytest.raises(RaydiumSwapError) as err:
            swap_base_in(amount_in, x, y, num, den)
        assert err.value.error == AmmError.INVALID_INPUT
    else:
        assert swap_base_in(amount_in, x, y, num, den) == expected


@settings(max_examples=500)
@given(reserves, reserves, fees, st.data())
def test_base_out_equals_the_restated_formula(
    x: int, y: int, fee: tuple[int, int], data: st.DataObject
) -> None:
    num, den = fee
    amount_out = data.draw(st.integers(1, y - 1)) if y > 1 else 1
    assume(amount_out < y)
    expected = restated_base_out(amount_out, x, y, num, den)
    if expected > U64:
        with pytest.raises(RaydiumSwapError) as err:
            swap_base_out(amount_out, x, y, num, den)
        assert err.value.error is None
    else:
        assert swap_base_out(amount_out, x, y, num, den) == expected


@settings(max_examples=300)
@given(reserves, reserves, fees, st.data())
def test_paying_the_base_out_price_as_base_in_delivers_at_least_the_amount(
    x: int, y: int, fee: tuple[int, int], data: st.DataObject
) -> None:
    num, den = fee
    assume(y > 1)
    amount_out = data.draw(st.integers(1, y - 1))
    try:
        amount_in = swap_base_out(amount_out, x, y, num, den)
    except RaydiumSwapError:
        return
    assert swap_base_in(amount_in, x, y, num, den) >= amount_out


def test_zero_amount_in_is_invalid_input() -> None:
    with pytest.raises(RaydiumSwapError) as err:
        swap_base_in(0, 10**9, 10**9, 25, 10_000)
    assert err.value.error == AmmError.INVALID_INPUT


def test_amount_too_small_for_any_output_is_invalid_input() -> None:
    with pytest.raises(RaydiumSwapError) as err:
        swap_base_in(1, 10**12, 10, 25, 10_000)
    assert err.value.error == AmmError.INVALID_INPUT


def test_base_in_into_an_empty_input_reserve_would_drain_the_pool() -> None:
    with pytest.raises(RaydiumSwapError) as err:
        swap_base_in(1_000, 0, 10**9, 0, 10_000)
    assert err.value.error == AmmError.INSUFFICIENT_FUNDS


def test_zero_amount_out_is_invalid_input() -> None:
    with pytest.raises(RaydiumSwapError) as err:
        swap_base_out(0, 10**9, 10**9, 25, 10_000)
    assert err.value.error == AmmError.INVALID_INPUT


@pytest.mark.parametrize("amount_out", [10**9, 10**9 + 1])
def test_base_out_of_the_whole_reserve_panics_like_the_program(amount_out: int) -> None:
    with pytest.raises(RaydiumSwapError) as err:
        swap_base_out(amount_out, 10**9, 10**9, 25, 10_000)
    assert err.value.error is None


def test_base_out_needing_more_than_u64_panics_like_the_program() -> None:
    with pytest.raises(RaydiumSwapError) as err:
        swap_base_out(U64 - 1, U64, U64, 25, 10_000)
    assert err.value.error is None


def test_fee_numerator_above_denominator_panics_like_the_program() -> None:
    with pytest.raises(RaydiumSwapError) as err:
        swap_base_in(1_000, 10**9, 10**9, 3, 2)
    assert err.value.error is None
    with pytest.raises(RaydiumSwapError):
        swap_base_out(1_000, 10**9, 10**9, 2, 2)


POOL = decode_amm_info(SOL_USDC_POOL)


def test_pool_reserves_subtract_need_take_pnl() -> None:
    assert pool_reserves(POOL, 10**12, 10**11) == (10**12 - 183_502_858, 10**11 - 21_928_100)


def test_pool_reserves_below_need_take_pnl_fail_with_checked_sub_overflow() -> None:
    with pytest.raises(RaydiumSwapError) as err:
        pool_reserves(POOL, 183_502_857, 10**11)
    assert err.value.error == AmmError.CHECKED_SUB_OVERFLOW


@pytest.mark.parametrize("coin_to_pc", [True, False])
def test_pool_quotes_use_the_net_reserves_in_the_right_direction(coin_to_pc: bool) -> None:
    coin_vault, pc_vault = 2 * 10**13, 3 * 10**12
    coin, pc = coin_vault - 183_502_858, pc_vault - 21_928_100
    x, y = (coin, pc) if coin_to_pc else (pc, coin)
    assert quote_pool_base_in(POOL, coin_vault, pc_vault, 10**9, coin_to_pc) == restated_base_in(
        10**9, x, y, 25, 10_000
    )
    assert quote_pool_base_out(POOL, coin_vault, pc_vault, 10**6, coin_to_pc) == restated_base_out(
        10**6, x, y, 25, 10_000
    )


@pytest.mark.parametrize(
    ("status", "now", "allowed"),
    [
        (AmmStatus.INITIALIZED, 0, True),
        (AmmStatus.SWAP_ONLY, 0, True),
        (AmmStatus.WAITING_TRADE, 999, False),
        (AmmStatus.WAITING_TRADE, 1000, True),
        (AmmStatus.UNINITIALIZED, 0, False),
        (AmmStatus.DISABLED, 0, False),
        (AmmStatus.WITHDRAW_ONLY, 0, False),
        (AmmStatus.LIQUIDITY_ONLY, 0, False),
        (AmmStatus.ORDER_BOOK_ONLY, 499, False),
        (AmmStatus.ORDER_BOOK_ONLY, 500, True),
    ],
)
def test_status_gate_allows_initialized_swap_only_and_opened_waiting_trade(
    status: AmmStatus, now: int, allowed: bool
) -> None:
    timed = dataclasses.replace(POOL.state_data, pool_open_time=1000, orderbook_to_init_time=500)
    info = dataclasses.replace(POOL, status=status, state_data=timed)
    if allowed:
        check_swap_status(info, now)
        assert quote_pool_base_in(info, 10**13, 10**12, 10**6, True, unix_timestamp=now) > 0
    else:
        with pytest.raises(RaydiumSwapError) as err:
            quote_pool_base_in(info, 10**13, 10**12, 10**6, True, unix_timestamp=now)
        assert err.value.error == AmmError.INVALID_STATUS
