"""Solend layouts, PDA, instruction builders and flash-loan fee math."""

from __future__ import annotations

import decimal
import struct
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.errors import DecodeError
from core.protocols.solend import (
    LENDING_MARKET_LEN,
    RESERVE_AVAILABLE_AMOUNT_OFFSET,
    RESERVE_FLASH_LOAN_FEE_WAD_OFFSET,
    RESERVE_LEN,
    SLOTS_PER_YEAR,
    U64_MAX,
    WAD,
    LendingError,
    LendingMarket,
    RateLimiter,
    Reserve,
    SolendError,
    accrue_interest,
    current_borrow_rate,
    decode_lending_market,
    decode_reserve,
    encode_lending_market,
    encode_reserve,
    flash_borrow_reserve_liquidity,
    flash_loan_cost,
    flash_loan_fees,
    flash_repay_reserve_liquidity,
    lending_market_authority,
)

MAIN_MARKET = Pubkey.from_string("4UpD2fh7xH3VP9QQaXtsS1YY3bxzWhtfpks7FatyKvdY")


def _key(n: int) -> Pubkey:
    return Pubkey(bytes([n]) * 32)


def _reserve(**kw: object) -> Reserve:
    base: dict[str, object] = dict(
        lending_market=_key(1),
        liquidity_mint_pubkey=_key(2),
        liquidity_supply_pubkey=_key(3),
        fee_receiver=_key(4),
        available_amount=5_000_000,
        flash_loan_fee_wad=3 * 10**15,
        host_fee_percentage=20,
    )
    base.update(kw)
    return Reserve(**base)  # type: ignore[arg-type]


# --- PDA ----------------------------------------------------------------------------------------


def test_main_market_authority_is_the_known_pda_with_bump_255() -> None:
    authority, bump = lending_market_authority(MAIN_MARKET)
    assert authority == Pubkey.from_string("DdZR6zRFiUt4S5mg7AV1uKB2z1f1WzcNYCaTEEWPAuby")
    assert bump == 255


# --- layouts ------------------------------------------------------------------------------------


def test_reserve_fields_sit_at_the_documented_offsets() -> None:
    r = _reserve(
        last_update_slot=0x0102030405060708,
        available_amount=0x1122334455667788,
        flash_loan_fee_wad=0xAABBCCDDEEFF0011,
        host_fee_percentage=37,
    )
    raw = encode_reserve(r)
    assert len(raw) == RESERVE_LEN
    assert raw[0] == 1
    assert raw[1:9] == struct.pack("<Q", 0x0102030405060708)
    assert raw[10:42] == bytes(_key(1))
    assert raw[42:74] == bytes(_key(2))
    assert raw[75:107] == bytes(_key(3))
    assert raw[RESERVE_AVAILABLE_AMOUNT_OFFSET : RESERVE_AVAILABLE_AMOUNT_OFFSET + 8] == struct.pack(
        "<Q", 0x1122334455667788
    )
    assert raw[RESERVE_FLASH_LOAN_FEE_WAD_OFFSET : RESERVE_FLASH_LOAN_FEE_WAD_OFFSET + 8] == struct.pack(
        "<Q", 0xAABBCCDDEEFF0011
    )
    assert raw[322] == 37
    assert raw[339:371] == bytes(_key(4))


def test_lending_market_fields_sit_at_the_documented_offsets() -> None:
    m = LendingMarket(bump_seed=254, owner=_key(9), risk_authority=_key(8))
    raw = encode_lending_market(m)
    assert len(raw) == LENDING_MARKET_LEN
    assert raw[0] == 1 and raw[1] == 254
    assert raw[2:34] == bytes(_key(9))
    assert raw[66:98] == bytes(ids.TOKEN_PROGRAM)
    assert raw[218:250] == bytes(32)  # no whitelisted liquidator
    assert raw[250:282] == bytes(_key(8))


_u8 = st.integers(0, 255)
_u64 = st.integers(0, U64_MAX)
_u128 = st.integers(0, 2**128 - 1)
_keys = st.binary(min_size=32, max_size=32).map(Pubkey)
_rate_limiters = st.builds(RateLimiter, _u64, _u64, _u128, _u64, _u128)


@settings(max_examples=150)
@given(
    st.builds(
        Reserve,
        lending_market=_keys,
        liquidity_mint_pubkey=_keys,
        liquidity_supply_pubkey=_keys,
        fee_receiver=_keys,
        last_update_slot=_u64,
        last_update_stale=st.booleans(),
        liquidity_mint_decimals=_u8,
        available_amount=_u64,
        borrowed_amount_wads=_u128,
        market_price=_u128,
        collateral_mint_total_supply=_u64,
        loan_to_value_ratio=_u8,
        flash_loan_fee_wad=_u64,
        host_fee_percentage=st.integers(0, 100),
        accumulated_protocol_fees_wads=_u128,
        rate_limiter=_rate_limiters,
        reserve_type=st.integers(0, 1),
        scaled_price_offset_bps=st.integers(-(2**63), 2**63 - 1),
        extra_oracle_pubkey=_keys,
        extra_market_price=st.none() | _u128,
        attributed_borrow_value=_u128,
        padding=st.binary(min_size=49, max_size=49),
    )
)
def test_reserve_round_trips(r: Reserve) -> None:
    raw = encode_reserve(r)
    assert len(raw) == RESERVE_LEN
    assert decode_reserve(raw) == r
    assert encode_reserve(decode_reserve(raw)) == raw


@settings(max_examples=100)
@given(
    st.builds(
        LendingMarket,
        bump_seed=_u8,
        owner=_keys,
        quote_currency=st.binary(min_size=32, max_size=32),
        token_program_id=_keys,
        rate_limiter=_rate_limiters,
        whitelisted_liquidator=st.none() | _keys.filter(lambda k: k != Pubkey.default()),
        risk_authority=_keys,
        padding=st.binary(min_size=8, max_size=8),
    )
)
def test_lending_market_round_trips(m: LendingMarket) -> None:
    raw = encode_lending_market(m)
    assert decode_lending_market(raw) == m
    assert encode_lending_market(decode_lending_market(raw)) == raw


@pytest.mark.parametrize("size", [0, RESERVE_LEN - 1, RESERVE_LEN + 1, 1219])
def test_decode_reserve_rejects_wrong_size(size: int) -> None:
    with pytest.raises(DecodeError, match="bytes"):
        decode_reserve(bytes([1]) + bytes(size - 1) if size else b"", "r")


@pytest.mark.parametrize(
    ("offset", "value", "reason"),
    [
        (0, 0, "uninitialized"),
        (0, 2, "version"),
        (9, 2, "last_update_stale"),
        (322, 101, "host_fee_percentage"),
        (469, 2, "reserve_type"),
        (521, 7, "extra_market_price"),
    ],
)
def test_decode_reserve_rejects_impossible_values(offset: int, value: int, reason: str) -> None:
    raw = bytearray(encode_reserve(_reserve()))
    raw[offset] = value
    with pytest.raises(DecodeError, match=reason) as info:
        decode_reserve(bytes(raw), "ReserveX")
    assert info.value.account == "ReserveX"
    assert info.value.kind == "solend_reserve"


def test_decode_lending_market_rejects_wrong_size_and_version() -> None:
    raw = encode_lending_market(LendingMarket(bump_seed=1, owner=_key(1)))
    with pytest.raises(DecodeError, match="bytes"):
        decode_lending_market(raw[:-1])
    for version in (0, 2):
        with pytest.raises(DecodeError):
            decode_lending_market(bytes([version]) + raw[1:])


# --- instructions -------------------------------------------------------------------------------


def test_flash_borrow_instruction_has_the_real_account_list_and_data() -> None:
    authority, _ = lending_market_authority(_key(1))
    ix = flash_borrow_reserve_liquidity(
        liquidity_amount=1_000_000_000,
        source_liquidity=_key(3),
        destination_liquidity=_key(7),
        reserve=_key(5),
        lending_market=_key(1),
    )
    assert ix.program_id == ids.SOLEND
    assert bytes(ix.data) == bytes([19]) + (1_000_000_000).to_bytes(8, "little")
    metas = [(a.pubkey, a.is_signer, a.is_writable) for a in ix.accounts]
    assert metas == [
        (_key(3), False, True),
        (_key(7), False, True),
        (_key(5), False, True),
        (_key(1), False, False),
        (authority, False, False),
        (ids.SYSVAR_INSTRUCTIONS, False, False),
        (ids.TOKEN_PROGRAM, False, False),
    ]


def test_flash_repay_instruction_has_the_real_account_list_and_data() -> None:
    ix = flash_repay_reserve_liquidity(
        liquidity_amount=42,
        borrow_instruction_index=3,
        source_liquidity=_key(7),
        destination_liquidity=_key(3),
        reserve_liquidity_fee_receiver=_key(4),
        host_fee_receiver=_key(8),
        reserve=_key(5),
        lending_market=_key(1),
        user_transfer_authority=_key(9),
    )
    assert bytes(ix.data) == bytes([20]) + (42).to_bytes(8, "little") + bytes([3])
    metas = [(a.pubkey, a.is_signer, a.is_writable) for a in ix.accounts]
    assert metas == [
        (_key(7), False, True),
        (_key(3), False, True),
        (_key(4), False, True),
        (_key(8), False, True),
        (_key(5), False, True),
        (_key(1), False, False),
        (_key(9), True, False),
        (ids.SYSVAR_INSTRUCTIONS, False, False),
        (ids.TOKEN_PROGRAM, False, False),
    ]


def test_flash_repay_rejects_an_index_that_is_not_a_u8() -> None:
    with pytest.raises(ValueError, match="u8"):
        flash_repay_reserve_liquidity(
            liquidity_amount=1,
            borrow_instruction_index=256,
            source_liquidity=_key(7),
            destination_liquidity=_key(3),
            reserve_liquidity_fee_receiver=_key(4),
            host_fee_receiver=_key(8),
            reserve=_key(5),
            lending_market=_key(1),
            user_transfer_authority=_key(9),
        )


# --- fee math -----------------------------------------------------------------------------------

FEE_03 = 3_000_000_000_000_000  # 0.3 %


def test_fee_matches_the_source_test_vector() -> None:
    assert flash_loan_fees(1_000_000_000, FEE_03, 20) == (3_000_000, 600_000)


def test_fee_on_1000_at_03_percent_is_3_with_host_1() -> None:
    total, host = flash_loan_fees(1000, FEE_03, 20)
    assert (total, host, total - host) == (3, 1, 2)


def test_fee_is_zero_when_the_rate_is_zero() -> None:
    assert flash_loan_fees(1_000_000, 0, 20) == (0, 0)
    assert flash_loan_fees(1_000_000, 0, 0) == (0, 0)


def test_minimum_fee_is_two_with_host_and_one_without() -> None:
    assert flash_loan_fees(100, FEE_03, 20) == (2, 1)
    assert flash_loan_fees(100, FEE_03, 0) == (1, 0)


def test_fee_refuses_a_borrow_too_small_to_pay_it() -> None:
    with pytest.raises(SolendError) as info:
        flash_loan_fees(1, FEE_03, 20)
    assert info.value.error == LendingError.BORROW_TOO_SMALL == 25
    with pytest.raises(SolendError):
        flash_loan_fees(2, FEE_03, 20)  # minimum fee 2 is not below 2
    assert flash_loan_fees(2, FEE_03, 0) == (1, 0)


def test_fee_rounds_half_up() -> None:
    # 500 at 0.3 % = 1.5 → 2; 1500 at 0.3 % = 4.5 → 5 (half up, not to even).
    assert flash_loan_fees(500, FEE_03, 0)[0] == 2
    assert flash_loan_fees(1500, FEE_03, 0)[0] == 5
    assert flash_loan_fees(1499, FEE_03, 0)[0] == 4  # 4.497


def test_flash_loan_cost_checks_disabled_and_liquidity_first() -> None:
    with pytest.raises(SolendError) as info:
        flash_loan_cost(_reserve(flash_loan_fee_wad=U64_MAX), 1000)
    assert info.value.error == LendingError.FLASH_LOANS_DISABLED == 52
    with pytest.raises(SolendError) as info:
        flash_loan_cost(_reserve(available_amount=999), 1000)
    assert info.value.error == LendingError.INSUFFICIENT_LIQUIDITY == 20
    assert flash_loan_cost(_reserve(), 1000) == (3, 1)


def _restated_fees(amount: int, fee_wad: int, host_pct: int) -> tuple[int, int] | str:
    """The §2.3 rule restated with `decimal`: 18-digit truncation after each product, then
    half-up rounding to an integer."""
    ctx = decimal.Context(prec=100, rounding=decimal.ROUND_DOWN)
    q18 = decimal.Decimal("1e-18")
    if fee_wad == 0 or amount == 0:
        return (0, 0)
    rate = ctx.divide(decimal.Decimal(fee_wad), decimal.Decimal(10) ** 18)
    fee = ctx.multiply(decimal.Decimal(amount), rate).quantize(q18, rounding=decimal.ROUND_DOWN, context=ctx)
    fee = max(fee, decimal.Decimal(2 if host_pct else 1))
    if fee >= amount:
        return "BorrowTooSmall"
    total = int(fee.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP, context=ctx))
    host = 0
    if host_pct:
        h = ctx.multiply(fee, ctx.divide(decimal.Decimal(host_pct), decimal.Decimal(100)))
        h = h.quantize(q18, rounding=decimal.ROUND_DOWN, context=ctx)
        host = max(int(h.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP, context=ctx)), 1)
    return (total, host)


@settings(max_examples=200)
@given(
    amount=st.one_of(st.integers(0, 10_000), st.integers(0, U64_MAX)),
    fee_wad=st.one_of(
        st.sampled_from([0, 1, 5 * 10**14, FEE_03, 10**16, WAD // 2, WAD - 1, WAD]),
        st.integers(0, 2 * WAD),
    ),
    host_pct=st.integers(0, 100),
)
def test_fee_math_equals_an_independent_decimal_restatement(amount: int, fee_wad: int, host_pct: int) -> None:
    expected = _restated_fees(amount, fee_wad, host_pct)
    if expected == "BorrowTooSmall":
        with pytest.raises(SolendError) as info:
            flash_loan_fees(amount, fee_wad, host_pct)
        assert info.value.error == LendingError.BORROW_TOO_SMALL
    else:
        total, host = flash_loan_fees(amount, fee_wad, host_pct)
        assert (total, host) == expected
        assert 0 <= host <= total <= amount


def test_fee_rejects_out_of_range_inputs() -> None:
    with pytest.raises(ValueError):
        flash_loan_fees(-1, FEE_03, 20)
    with pytest.raises(ValueError):
        flash_loan_fees(1, 2**64, 20)
    with pytest.raises(ValueError):
        flash_loan_fees(1, FEE_03, 256)


# --- interest accrual ---------------------------------------------------------------------------

PCT = 10**16


def test_accrue_interest_one_slot_matches_the_refresh_reserve_test_formula() -> None:
    # refresh_reserve.rs: 6 SOL all borrowed, borrow rate at max (30 %), take rate 10 %, 1 slot.
    borrowed = 6 * 10**9 * WAD
    r = _reserve(
        available_amount=0,
        borrowed_amount_wads=borrowed,
        optimal_utilization_rate=80,
        max_utilization_rate=90,
        optimal_borrow_rate=10,
        max_borrow_rate=30,
        super_max_borrow_rate=30,
        protocol_take_rate=10,
        last_update_slot=1000,
        last_update_stale=True,
    )
    assert current_borrow_rate(r) == 30 * PCT
    compound_rate = WAD + 30 * PCT // SLOTS_PER_YEAR
    compound_borrow = borrowed * compound_rate // WAD
    after = accrue_interest(r, 1001)
    assert after.borrowed_amount_wads == compound_borrow
    assert after.cumulative_borrow_rate_wads == compound_rate
    assert after.accumulated_protocol_fees_wads == (compound_borrow - borrowed) * (10 * PCT) // WAD
    assert (after.last_update_slot, after.last_update_stale) == (1001, False)


@pytest.mark.parametrize(
    ("available", "borrowed", "expected_pct_wad"),
    [
        (100, 0, 2 * PCT),  # no borrows: the min rate
        (50, 50, 7 * PCT),  # util 0.5 / optimal 0.8 of the (10 − 2) % range, + 2 %
        (20, 80, 10 * PCT),  # at optimal
        (15, 85, 20 * PCT),  # half way optimal → max utilization: half way 10 → 30 %
        (5, 95, 45 * PCT),  # half way max utilization → 100 %: half way 30 → 60 %
        (0, 100, 60 * PCT),
    ],
)
def test_current_borrow_rate_follows_the_three_segments(
    available: int, borrowed: int, expected_pct_wad: int
) -> None:
    r = _reserve(
        available_amount=available,
        borrowed_amount_wads=borrowed * WAD,
        optimal_utilization_rate=80,
        max_utilization_rate=90,
        min_borrow_rate=2,
        optimal_borrow_rate=10,
        max_borrow_rate=30,
        super_max_borrow_rate=60,
    )
    assert current_borrow_rate(r) == expected_pct_wad


def test_accrue_interest_with_a_zero_rate_changes_only_last_update() -> None:
    r = _reserve(borrowed_amount_wads=10 * WAD, last_update_slot=5, last_update_stale=True)
    after = accrue_interest(r, 10**6)
    assert after == replace(r, last_update_slot=10**6, last_update_stale=False)


def test_accrue_interest_refuses_a_slot_before_the_last_update() -> None:
    with pytest.raises(SolendError) as info:
        accrue_interest(_reserve(last_update_slot=10), 9)
    assert info.value.error == LendingError.MATH_OVERFLOW


def test_accrue_interest_compounds_per_slot() -> None:
    r = _reserve(
        available_amount=0,
        borrowed_amount_wads=10**6 * WAD,
        max_borrow_rate=50,
        super_max_borrow_rate=50,
        optimal_utilization_rate=100,
        optimal_borrow_rate=50,
    )
    # util 1 = optimal → 50 %; two one-slot accruals equal one two-slot accrual up to floors
    two = accrue_interest(r, 2)
    one_one = accrue_interest(accrue_interest(r, 1), 2)
    assert two.cumulative_borrow_rate_wads > accrue_interest(r, 1).cumulative_borrow_rate_wads > WAD
    assert abs(two.borrowed_amount_wads - one_one.borrowed_amount_wads) < 10**6 * 10
