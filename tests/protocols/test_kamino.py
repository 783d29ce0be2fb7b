"""Kamino (klend) layouts, instruction encodings and flash-loan fee math."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.errors import DecodeError
from core.protocols.kamino import (
    FLASH_BORROW_DISCRIMINATOR,
    FLASH_REPAY_DISCRIMINATOR,
    FRACTION_ONE,
    LENDING_MARKET_DISCRIMINATOR,
    LENDING_MARKET_LEN,
    LENDING_MARKET_OFFSETS,
    RESERVE_DISCRIMINATOR,
    RESERVE_LEN,
    RESERVE_OFFSETS,
    SLOTS_PER_YEAR,
    U64_MAX,
    KaminoError,
    LendingError,
    LendingMarket,
    Reserve,
    ReserveStatus,
    accrue_interest,
    approximate_compounded_interest,
    borrow_rate_sf,
    decode_lending_market,
    decode_reserve,
    encode_lending_market,
    encode_reserve,
    flash_loan_cost,
    flash_loan_fee,
    flash_loan_fees,
    flash_loan_instructions,
    fraction_from_bps,
    fraction_from_percent,
    lending_market_authority,
)

MAIN_MARKET = Pubkey.from_string("7u3HeHxYDLhnCoErrtycNokbQYbWGzLs6JSDqGAv5PfF")
USDC_FEE_SF = 11_529_215_046_068


def _keys(n: int) -> list[Pubkey]:
    return [Pubkey.new_unique() for _ in range(n)]


def _reserve(**kw: object) -> Reserve:
    market, mint, supply, fee = _keys(4)
    base = Reserve(lending_market=market, liquidity_mint_pubkey=mint, liquidity_supply_vault=supply,
                   liquidity_fee_vault=fee, liquidity_total_available_amount=10**12,
                   config_flash_loan_fee_sf=USDC_FEE_SF)
    return replace(base, **kw)  # type: ignore[arg-type]


# --- discriminators, PDAs, offsets --------------------------------------------------------------


def test_discriminators_are_anchor_sha256_prefixes() -> None:
    for disc, text in (
        (RESERVE_DISCRIMINATOR, "account:Reserve"),
        (LENDING_MARKET_DISCRIMINATOR, "account:LendingMarket"),
        (FLASH_BORROW_DISCRIMINATOR, "global:flash_borrow_reserve_liquidity"),
        (FLASH_REPAY_DISCRIMINATOR, "global:flash_repay_reserve_liquidity"),
    ):
        assert disc == hashlib.sha256(text.encode()).digest()[:8]
    assert list(FLASH_BORROW_DISCRIMINATOR) == [135, 231, 52, 167, 7, 52, 212, 193]
    assert list(FLASH_REPAY_DISCRIMINATOR) == [185, 117, 0, 203, 96, 245, 180, 186]


def test_main_market_authority_is_the_known_pda() -> None:
    authority, bump = lending_market_authority(MAIN_MARKET)
    assert str(authority) == "9DrvZvyWh1HuAoZxvYWMvkf2XCzryCpGgHqrMjyDWpmo"
    assert bump == 248


def test_flash_path_offsets_match_protocols_md() -> None:
    expected = {
        "version": 8, "last_update_slot": 16, "lending_market": 32, "liquidity_mint_pubkey": 128,
        "liquidity_supply_vault": 160, "liquidity_fee_vault": 192, "liquidity_total_available_amount": 224,
        "liquidity_borrowed_amount_sf": 232, "liquidity_mint_decimals": 272, "liquidity_token_program": 408,
        "collateral_mint_pubkey": 2560, "config_status": 4856, "config_loan_to_value_pct": 4872,
        "config_liquidation_threshold_pct": 4873, "config_origination_fee_sf": 4896,
        "config_flash_loan_fee_sf": 4904,
    }
    assert {k: RESERVE_OFFSETS[k] for k in expected} == expected
    assert LENDING_MARKET_OFFSETS["bump_seed"] == 16
    assert LENDING_MARKET_OFFSETS["emergency_mode"] == 122


# --- layouts ------------------------------------------------------------------------------------


def test_reserve_round_trips_and_fields_land_at_their_offsets() -> None:
    r = _reserve(last_update_slot=77, liquidity_borrowed_amount_sf=3 * FRACTION_ONE + 5,
                 config_status=ReserveStatus.HIDDEN, config_borrow_limit=123,
                 config_borrow_rate_curve=tuple((i * 1000, i * 50) for i in range(11)))
    data = encode_reserve(r)
    assert len(data) == RESERVE_LEN and data[:8] == RESERVE_DISCRIMINATOR
    assert decode_reserve(data) == r
    assert data[160:192] == bytes(r.liquidity_supply_vault)
    assert int.from_bytes(data[4904:4912], "little") == USDC_FEE_SF
    assert int.from_bytes(data[224:232], "little") == 10**12
    assert data[4856] == 2


def test_bytes_no_field_covers_survive_a_round_trip() -> None:
    raw = bytearray(encode_reserve(_reserve()))
    raw[7000:7010] = b"0123456789"  # padding the program does not read
    raw[5040:5050] = b"token-name"
    decoded = decode_reserve(bytes(raw))
    assert encode_reserve(decoded) == bytes(raw)


def test_lending_market_round_trips() -> None:
    m = LendingMarket(bump_seed=248, lending_market_owner=Pubkey.new_unique(), referral_fee_bps=25,
                      emergency_mode=1, emergency_council=Pubkey.new_unique())
    data = encode_lending_market(m)
    assert len(data) == LENDING_MARKET_LEN
    assert decode_lending_market(data) == m
    assert data[122] == 1 and int.from_bytes(data[16:24], "little") == 248


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d[:-1], "expected 8624 bytes"),
        (lambda d: bytes(8) + d[8:], "discriminator"),
        (lambda d: d[:4856] + bytes([3]) + d[4857:], "ReserveStatus"),
    ],
)
def test_bad_reserve_data_raises_decode_error(mutate: object, reason: str) -> None:
    data = encode_reserve(_reserve())
    with pytest.raises(DecodeError, match=reason):
        decode_reserve(mutate(data), "R1")  # type: ignore[operator]


def test_encoders_refuse_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="u64"):
        encode_reserve(_reserve(config_flash_loan_fee_sf=2**64))
    with pytest.raises(ValueError, match="points"):
        encode_reserve(_reserve(config_borrow_rate_curve=((0, 0),)))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=9000))
def test_random_bytes_decode_or_raise_decode_error_only(data: bytes) -> None:
    for decode in (decode_reserve, decode_lending_market):
        with contextlib.suppress(DecodeError):
            decode(data)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(8, RESERVE_LEN - 1), st.binary(min_size=1, max_size=64)), max_size=12))
def test_patched_reserves_decode_and_re_encode_exactly_or_raise_decode_error(
    patches: list[tuple[int, bytes]],
) -> None:
    data = bytearray(encode_reserve(_reserve()))
    for offset, chunk in patches:
        data[offset : offset + len(chunk)] = chunk[: RESERVE_LEN - offset]
    try:
        r = decode_reserve(bytes(data))
    except DecodeError:
        assert data[4856] > 2
        return
    assert encode_reserve(r) == bytes(data)


# --- instructions -------------------------------------------------------------------------------


def test_flash_pair_has_twelve_accounts_in_the_program_order_with_placeholders() -> None:
    r = _reserve()
    reserve, user, user_token = _keys(3)
    borrow, repay = flash_loan_instructions(
        reserve_address=reserve, reserve=r, liquidity_amount=1_000_000, borrow_instruction_index=3,
        user_token_account=user_token, user_transfer_authority=user,
    )
    authority, _ = lending_market_authority(r.lending_market)
    expected = [
        (user, True, False), (authority, False, False), (r.lending_market, False, False),
        (reserve, False, True),
        (r.liquidity_mint_pubkey, False, False), (r.liquidity_supply_vault, False, True),
        (user_token, False, True), (r.liquidity_fee_vault, False, True),
        (ids.KAMINO_LEND, False, False), (ids.KAMINO_LEND, False, False),
        (ids.SYSVAR_INSTRUCTIONS, False, False), (ids.TOKEN_PROGRAM, False, False),
    ]
    for ix in (borrow, repay):
        assert ix.program_id == ids.KAMINO_LEND
        assert [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts] == expected
    assert bytes(borrow.data) == FLASH_BORROW_DISCRIMINATOR + (1_000_000).to_bytes(8, "little")
    assert bytes(repay.data) == FLASH_REPAY_DISCRIMINATOR + (1_000_000).to_bytes(8, "little") + bytes([3])


def test_builders_refuse_out_of_range_arguments() -> None:
    r = _reserve()
    kw: dict[str, object] = dict(
        reserve_address=Pubkey.new_unique(), reserve=r, user_token_account=Pubkey.new_unique(),
        user_transfer_authority=Pubkey.new_unique(),
    )
    with pytest.raises(ValueError, match="u8"):
        flash_loan_instructions(liquidity_amount=1, borrow_instruction_index=256, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="u64"):
        flash_loan_instructions(liquidity_amount=2**64, borrow_instruction_index=0, **kw)  # type: ignore[arg-type]


# --- fee math -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "fee_sf", "fee"),
    [(999, USDC_FEE_SF, 1), (1_000_000, USDC_FEE_SF, 10), (123_456_789, USDC_FEE_SF, 1235),
     (3, 1 << 59, 2), (5, 1 << 59, 3), (10**6, 0, 0), (0, USDC_FEE_SF, 0)],
)
def test_measured_fee_vectors(amount: int, fee_sf: int, fee: int) -> None:
    # protocols.md §3.3, measured against the real program.
    assert flash_loan_fee(amount, fee_sf) == fee


def _independent_fee(amount: int, fee_sf: int) -> int | None:
    """The documented rule with exact rationals: max(amount·rate, 1), refused at ≥ amount,
    then rounded half away from zero (Decimal ROUND_HALF_UP on a positive number)."""
    if fee_sf == 0 or amount == 0:
        return 0
    f = max(Fraction(amount * fee_sf, 2**60), Fraction(1))
    if f >= amount:
        return None
    with localcontext() as ctx:
        ctx.prec = 80
        return int((Decimal(f.numerator) / Decimal(f.denominator)).quantize(Decimal(1), ROUND_HALF_UP))


@settings(max_examples=200, deadline=None)
@given(
    amount=st.one_of(st.integers(0, 10_000), st.integers(0, U64_MAX)),
    fee_sf=st.one_of(
        st.sampled_from([0, 1, USDC_FEE_SF, 1 << 59, FRACTION_ONE]), st.integers(0, U64_MAX - 1)
    ),
)
def test_fee_matches_an_independent_fraction_computation(amount: int, fee_sf: int) -> None:
    expected = _independent_fee(amount, fee_sf)
    if expected is None:
        with pytest.raises(KaminoError) as exc:
            flash_loan_fee(amount, fee_sf)
        assert exc.value.error == LendingError.BORROW_TOO_SMALL
    else:
        assert flash_loan_fee(amount, fee_sf) == expected


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(1, 10**15), fee_sf=st.integers(1, FRACTION_ONE // 10), bps=st.integers(0, 10_000))
def test_referral_share_is_floored_and_never_exceeds_the_fee(amount: int, fee_sf: int, bps: int) -> None:
    try:
        protocol, referral = flash_loan_fees(amount, fee_sf, bps, has_referrer=True)
    except KaminoError:
        return
    total = flash_loan_fee(amount, fee_sf)
    assert protocol + referral == total
    exact = max(Fraction(amount * fee_sf, 2**60), Fraction(1)) * Fraction(bps, 10_000)
    assert referral == (total if bps == 10_000 else int(exact)) or referral == int(exact) - 1
    assert flash_loan_fees(amount, fee_sf, bps, has_referrer=False) == (total, 0)


def test_cost_applies_the_borrow_checks_in_order() -> None:
    assert flash_loan_cost(_reserve(), 1_000_000) == 10
    cases = [
        (_reserve(version=2), LendingError.RESERVE_DEPRECATED),
        (_reserve(config_status=ReserveStatus.OBSOLETE), LendingError.RESERVE_OBSOLETE),
        (_reserve(config_flash_loan_fee_sf=U64_MAX), LendingError.FLASH_LOANS_DISABLED),
        (_reserve(liquidity_total_available_amount=999_999), LendingError.INSUFFICIENT_LIQUIDITY),
    ]
    for reserve, error in cases:
        with pytest.raises(KaminoError) as exc:
            flash_loan_cost(reserve, 1_000_000)
        assert exc.value.error == error


def test_utilization_and_token_program_helpers() -> None:
    r = _reserve(liquidity_total_available_amount=750, liquidity_borrowed_amount_sf=250 * FRACTION_ONE)
    assert r.utilization_bps == 2500
    assert _reserve(liquidity_token_program=Pubkey.default()).token_program == ids.TOKEN_PROGRAM
    assert _reserve(liquidity_token_program=ids.TOKEN_2022_PROGRAM).token_program == ids.TOKEN_2022_PROGRAM


# --- interest accrual ---------------------------------------------------------------------------

_CURVE = ((0, 100), (8_000, 800), (10_000, 5_000)) + ((10_000, 5_000),) * 8


@pytest.mark.parametrize(
    ("utilization", "rate_bps"),
    [(Fraction(0), 100), (Fraction(4, 5), 800), (Fraction(1), 5_000), (Fraction(3, 2), 5_000)],
)
def test_borrow_rate_is_exact_at_the_curve_points(utilization: Fraction, rate_bps: int) -> None:
    sf = int(utilization * FRACTION_ONE)
    assert borrow_rate_sf(_CURVE, sf) == fraction_from_bps(rate_bps)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, FRACTION_ONE))
def test_borrow_rate_interpolates_within_one_unit_of_the_exact_line(utilization_sf: int) -> None:
    got = Fraction(borrow_rate_sf(_CURVE, utilization_sf), FRACTION_ONE)
    u = Fraction(utilization_sf, FRACTION_ONE)
    exact = (Fraction(1, 100) + u * Fraction(7, 100) / Fraction(4, 5) if u <= Fraction(4, 5)
             else Fraction(8, 100) + (u - Fraction(4, 5)) * Fraction(42, 100) / Fraction(1, 5))
    # Inside a segment the line is exact up to a few 2^-60 truncations; a utilisation that rounds
    # to a point's bps takes the point's rate, half a bp of utilisation away at most.
    slope = Fraction(7, 80) if u <= Fraction(4, 5) else Fraction(21, 10)
    assert abs(got - exact) <= slope * Fraction(1, 20_000) + Fraction(4, FRACTION_ONE)
    bps = round(u * 10_000)
    if bps not in (0, 8_000, 10_000) and abs(u * 10_000 - bps) != Fraction(1, 2):
        assert abs(got - exact) <= Fraction(4, FRACTION_ONE)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
def test_compounding_up_to_four_slots_multiplies_out(n: int) -> None:
    rate = fraction_from_bps(2_500)
    x = FRACTION_ONE + rate // SLOTS_PER_YEAR
    expected = FRACTION_ONE
    if n == 4:
        sq = x * x >> 60
        expected = sq * sq >> 60
    else:
        for _ in range(n):
            expected = expected * x >> 60
    assert approximate_compounded_interest(rate, n) == expected


def test_accrual_refuses_a_reserve_from_a_later_slot_and_leaves_an_idle_one_unchanged() -> None:
    r = _reserve(last_update_slot=100, config_borrow_rate_curve=_CURVE)
    with pytest.raises(KaminoError) as exc:
        accrue_interest(r, 99)
    assert exc.value.error == LendingError.MATH_OVERFLOW
    assert accrue_interest(r, 100) == r
    # No debt: the cumulative rate still compounds at the curve's rate for 0 % utilisation.
    idle = accrue_interest(r, 100 + SLOTS_PER_YEAR)
    assert idle.liquidity_borrowed_amount_sf == 0
    assert idle.liquidity_cumulative_borrow_rate_bsf > FRACTION_ONE


def test_accrual_splits_new_debt_into_protocol_and_referrer_shares() -> None:
    debt = 10**9 * FRACTION_ONE
    r = _reserve(liquidity_borrowed_amount_sf=debt, liquidity_total_available_amount=10**9,
                 config_borrow_rate_curve=_CURVE, config_protocol_take_rate_pct=20)
    after = accrue_interest(r, 1_000, referral_fee_bps=2_500)
    new_debt = after.liquidity_borrowed_amount_sf - debt
    assert new_debt > 0
    take = fraction_from_percent(20)
    absolute = take * fraction_from_bps(2_500) >> 60
    referrers = new_debt * absolute >> 60
    assert after.liquidity_absolute_referral_rate_sf == absolute
    assert after.liquidity_pending_referrer_fees_sf == referrers
    assert after.liquidity_accumulated_protocol_fees_sf == (new_debt * take >> 60) - referrers
