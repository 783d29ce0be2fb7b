"""Orca Whirlpool layouts, PDAs, tick-array selection and swap instruction bytes."""

from __future__ import annotations

import base64
import dataclasses
import json
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.errors import DecodeError
from core.protocols.whirlpool import (
    DYNAMIC_TICK_ARRAY_DISCRIMINATOR,
    MAX_SQRT_PRICE_X64,
    MAX_TICK_INDEX,
    MIN_SQRT_PRICE_X64,
    MIN_TICK_INDEX,
    SWAP_DISCRIMINATOR,
    SWAP_V2_DISCRIMINATOR,
    TICK_ARRAY_DISCRIMINATOR,
    TICK_ARRAY_LEN,
    TICK_ARRAY_SIZE,
    WHIRLPOOL_DISCRIMINATOR,
    WHIRLPOOL_LEN,
    Tick,
    TickArray,
    Whirlpool,
    WhirlpoolRewardInfo,
    decode_dynamic_tick_array,
    decode_swap_args,
    decode_tick_array,
    decode_whirlpool,
    encode_dynamic_tick_array,
    encode_tick_array,
    encode_whirlpool,
    get_start_tick_indexes,
    oracle_address,
    start_tick_index,
    swap,
    swap_for_pool,
    swap_tick_array_addresses,
    swap_v2,
    tick_array_address,
    whirlpool_address,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SOL_USDC_TS4 = Pubkey.from_string("Czfq3xZZDmsdGdUyrNLtRhGc47cXcZtLG4crryfu44zE")


def fixture_account(name: str) -> bytes:
    doc = json.loads((FIXTURES / name).read_text())
    return base64.b64decode(doc["account"]["data"][0])


SOL_USDC_WHIRLPOOL = fixture_account("whirlpool_sol_usdc_ts4.json")


def test_real_sol_usdc_whirlpool_decodes_to_the_listed_values() -> None:
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL, SOL_USDC_TS4)
    assert pool.whirlpools_config == Pubkey.from_string("2LecshUwdy9xi7meFgHtFJQNSKk4KdTrcpvaB56dP2NQ")
    assert pool.tick_spacing == 4
    assert pool.fee_tier_index_seed == 4
    assert pool.fee_rate == 400
    assert pool.protocol_fee_rate == 1
    assert pool.liquidity == 834193041532709
    assert pool.sqrt_price == 9083581038406259417
    assert pool.tick_current_index == -14170
    assert pool.token_mint_a == ids.NATIVE_MINT
    assert pool.token_mint_b == ids.USDC_MINT
    assert pool.token_vault_a == Pubkey.from_string("EUuUbDcafPrmVTD5M6qoJAoyyNbihBhugADAxRMn5he9")
    assert pool.token_vault_b == Pubkey.from_string("2WLWEuKDgkDUccTpbwYp1GToYktiSB1cXvreHUwiSUVP")
    assert len(pool.reward_infos) == 3
    assert pool.reward_infos[0].initialized and not pool.reward_infos[1].initialized
    assert not pool.is_initialized_with_adaptive_fee_tier


def test_real_whirlpool_reencodes_byte_for_byte() -> None:
    assert encode_whirlpool(decode_whirlpool(SOL_USDC_WHIRLPOOL)) == SOL_USDC_WHIRLPOOL


def test_whirlpool_pda_from_its_seeds_is_the_real_pool_address() -> None:
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    address, bump = whirlpool_address(
        pool.whirlpools_config, pool.token_mint_a, pool.token_mint_b, pool.fee_tier_index_seed
    )
    assert address == SOL_USDC_TS4
    assert bump == pool.whirlpool_bump


def test_tick_array_pda_uses_the_decimal_start_index() -> None:
    expected = Pubkey.from_string("3M9oTcoC5viBCNuJEKgwCrQDEbE3Rh6CpTGP5C2jGHzU")
    assert tick_array_address(SOL_USDC_TS4, -16192) == expected


def test_oracle_pda_of_the_real_pool() -> None:
    assert oracle_address(SOL_USDC_TS4) == Pubkey.from_string("FoKYKtRpD25TKzBMndysKpgPqbj8AdLXjfpYHXn9PGTX")


@pytest.mark.parametrize(
    ("tick", "spacing", "start"),
    [
        (0, 4, 0),
        (351, 4, 0),
        (352, 4, 352),
        (-1, 4, -352),
        (-352, 4, -352),
        (-353, 4, -704),
        (-14170, 4, -14432),
    ],
)
def test_start_tick_index_floors_towards_minus_infinity(tick: int, spacing: int, start: int) -> None:
    assert start_tick_index(tick, spacing) == start


def test_swap_walks_three_arrays_left_for_a_to_b_and_right_for_b_to_a() -> None:
    assert get_start_tick_indexes(-14170, 4, True) == [-14432, -14784, -15136]
    assert get_start_tick_indexes(-14170, 4, False) == [-14432, -14080, -13728]


def test_b_to_a_shifts_one_array_right_when_the_next_usable_tick_is_in_the_next_array() -> None:
    # base 0, 352 ticks per array: tick 348 + spacing 4 reaches 352, the next array's first tick.
    assert get_start_tick_indexes(348, 4, False) == [352, 704, 1056]
    assert get_start_tick_indexes(347, 4, False) == [0, 352, 704]
    assert get_start_tick_indexes(348, 4, True) == [0, -352, -704]


def test_start_indexes_beyond_the_tick_bounds_are_dropped() -> None:
    ts = 64
    per_array = TICK_ARRAY_SIZE * ts
    last = start_tick_index(MAX_TICK_INDEX, ts)
    assert get_start_tick_indexes(MAX_TICK_INDEX - 1, ts, False) == [last]
    first = start_tick_index(MIN_TICK_INDEX, ts)
    assert get_start_tick_indexes(MIN_TICK_INDEX, ts, True) == [first]
    assert get_start_tick_indexes(first + per_array, ts, True) == [first + per_array, first]


def test_swap_tick_array_addresses_repeat_the_last_when_fewer_exist() -> None:
    pool = dataclasses.replace(decode_whirlpool(SOL_USDC_WHIRLPOOL), tick_current_index=MAX_TICK_INDEX - 1)
    keys = swap_tick_array_addresses(SOL_USDC_TS4, pool, False)
    assert len(keys) == 3 and keys[0] == keys[1] == keys[2]


# -- decode errors --------------------------------------------------------------------------------


def _patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (SOL_USDC_WHIRLPOOL[:-1], "expected 653 bytes"),
        (b"\x00" * 8 + SOL_USDC_WHIRLPOOL[8:], "discriminator"),
        (_patched(SOL_USDC_WHIRLPOOL, 45, "<H", 60_001), "fee_rate"),
        (_patched(SOL_USDC_WHIRLPOOL, 47, "<H", 2_501), "protocol_fee_rate"),
        (_patched(SOL_USDC_WHIRLPOOL, 41, "<H", 0), "tick_spacing"),
        (_patched(SOL_USDC_WHIRLPOOL, 81, "<i", MAX_TICK_INDEX + 1), "tick_current_index"),
        (_patched(SOL_USDC_WHIRLPOOL, 81, "<i", MIN_TICK_INDEX - 2), "tick_current_index"),
        (
            _patched(SOL_USDC_WHIRLPOOL, 65, "<Q", MIN_SQRT_PRICE_X64 - 1)[:73]
            + bytes(8)
            + SOL_USDC_WHIRLPOOL[81:],
            "sqrt_price",
        ),
    ],
)
def test_impossible_whirlpool_raises_decode_error_naming_the_account(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as err:
        decode_whirlpool(data, SOL_USDC_TS4)
    assert reason in err.value.reason
    assert err.value.account == str(SOL_USDC_TS4)


def test_sqrt_price_above_max_is_rejected() -> None:
    data = bytearray(SOL_USDC_WHIRLPOOL)
    data[65:81] = (MAX_SQRT_PRICE_X64 + 1).to_bytes(16, "little")
    with pytest.raises(DecodeError, match="sqrt_price"):
        decode_whirlpool(bytes(data))


def test_tick_array_wrong_size_or_discriminator_or_bool_is_rejected() -> None:
    array = encode_tick_array(TickArray(0, (Tick(False, 0, 0, 0, 0, (0, 0, 0)),) * 88, SOL_USDC_TS4))
    with pytest.raises(DecodeError, match="9988"):
        decode_tick_array(array[:-1])
    with pytest.raises(DecodeError, match="discriminator"):
        decode_tick_array(WHIRLPOOL_DISCRIMINATOR + array[8:])
    bad_bool = bytearray(array)
    bad_bool[12] = 2
    with pytest.raises(DecodeError, match="not a bool"):
        decode_tick_array(bytes(bad_bool))


# -- round trips and fuzz --------------------------------------------------------------------------

U128 = st.integers(0, 2**128 - 1)
U64 = st.integers(0, 2**64 - 1)
PUBKEYS = st.binary(min_size=32, max_size=32).map(Pubkey)

REWARDS = st.builds(WhirlpoolRewardInfo, PUBKEYS, PUBKEYS, PUBKEYS, U128, U128)
WHIRLPOOLS = st.builds(
    Whirlpool,
    whirlpools_config=PUBKEYS,
    whirlpool_bump=st.integers(0, 255),
    tick_spacing=st.integers(1, 65535),
    fee_tier_index_seed=st.integers(0, 65535),
    fee_rate=st.integers(0, 60_000),
    protocol_fee_rate=st.integers(0, 2_500),
    liquidity=U128,
    sqrt_price=st.integers(MIN_SQRT_PRICE_X64, MAX_SQRT_PRICE_X64),
    tick_current_index=st.integers(MIN_TICK_INDEX - 1, MAX_TICK_INDEX),
    protocol_fee_owed_a=U64,
    protocol_fee_owed_b=U64,
    token_mint_a=PUBKEYS,
    token_vault_a=PUBKEYS,
    fee_growth_global_a=U128,
    token_mint_b=PUBKEYS,
    token_vault_b=PUBKEYS,
    fee_growth_global_b=U128,
    reward_last_updated_timestamp=U64,
    reward_infos=st.tuples(REWARDS, REWARDS, REWARDS),
)
TICKS = st.builds(
    Tick,
    st.booleans(),
    st.integers(-(2**127), 2**127 - 1),
    U128,
    U128,
    U128,
    st.tuples(U128, U128, U128),
)


@st.composite
def tick_arrays(draw: st.DrawFn) -> TickArray:
    empty = Tick(False, 0, 0, 0, 0, (0, 0, 0))
    ticks = [empty] * TICK_ARRAY_SIZE
    for i in draw(st.lists(st.integers(0, TICK_ARRAY_SIZE - 1), max_size=6)):
        ticks[i] = draw(TICKS)
    start = draw(st.integers(MIN_TICK_INDEX - 88, MAX_TICK_INDEX - 1))
    return TickArray(start, tuple(ticks), draw(PUBKEYS))


@settings(max_examples=150)
@given(WHIRLPOOLS)
def test_whirlpool_encode_decode_round_trips(pool: Whirlpool) -> None:
    data = encode_whirlpool(pool)
    assert len(data) == WHIRLPOOL_LEN
    assert decode_whirlpool(data) == pool


@settings(max_examples=60)
@given(tick_arrays())
def test_tick_array_encode_decode_round_trips(array: TickArray) -> None:
    data = encode_tick_array(array)
    assert len(data) == TICK_ARRAY_LEN
    assert decode_tick_array(data) == array


@settings(max_examples=60)
@given(tick_arrays())
def test_dynamic_tick_array_decodes_to_the_same_ticks(array: TickArray) -> None:
    # The dynamic layout stores only initialized ticks; an uninitialized one reads as empty.
    empty = Tick(False, 0, 0, 0, 0, (0, 0, 0))
    normal = dataclasses.replace(array, ticks=tuple(t if t.initialized else empty for t in array.ticks))
    data = encode_dynamic_tick_array(normal)
    assert data[:8] == DYNAMIC_TICK_ARRAY_DISCRIMINATOR
    decoded = decode_dynamic_tick_array(data)
    assert decoded == dataclasses.replace(normal, is_dynamic=True)
    assert decode_tick_array(data) == decoded


@settings(max_examples=200)
@given(st.binary(max_size=700), st.booleans())
def test_random_bytes_never_raise_anything_but_decode_error_for_a_whirlpool(raw: bytes, framed: bool) -> None:
    data = (WHIRLPOOL_DISCRIMINATOR + raw + bytes(WHIRLPOOL_LEN))[:WHIRLPOOL_LEN] if framed else raw
    try:
        decode_whirlpool(data, "fuzz")
    except DecodeError as err:
        assert err.account == "fuzz"


@settings(max_examples=100)
@given(st.binary(max_size=400), st.sampled_from(["fixed", "dynamic", "raw"]))
def test_random_bytes_never_raise_anything_but_decode_error_for_a_tick_array(
    raw: bytes, framing: str
) -> None:
    if framing == "fixed":
        data = (TICK_ARRAY_DISCRIMINATOR + raw + bytes(TICK_ARRAY_LEN))[:TICK_ARRAY_LEN]
    elif framing == "dynamic":
        data = DYNAMIC_TICK_ARRAY_DISCRIMINATOR + raw
    else:
        data = raw
    try:
        decode_tick_array(data, "fuzz")
    except DecodeError as err:
        assert err.account == "fuzz"


# -- instructions -----------------------------------------------------------------------------------


def test_swap_v1_has_eleven_accounts_and_42_data_bytes() -> None:
    keys = [Pubkey.new_unique() for _ in range(9)]
    ix = swap(
        whirlpool=keys[0],
        token_authority=keys[1],
        token_owner_account_a=keys[2],
        token_vault_a=keys[3],
        token_owner_account_b=keys[4],
        token_vault_b=keys[5],
        tick_arrays=keys[6:9],
        amount=1_000_000,
        other_amount_threshold=239_958,
        sqrt_price_limit=0,
        amount_specified_is_input=True,
        a_to_b=True,
    )
    assert ix.program_id == ids.ORCA_WHIRLPOOL
    assert bytes(ix.data) == (
        SWAP_DISCRIMINATOR + struct.pack("<QQ", 1_000_000, 239_958) + bytes(16) + b"\x01\x01"
    )
    assert len(ix.data) == 42
    metas = [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts]
    assert metas == [
        (ids.TOKEN_PROGRAM, False, False),
        (keys[1], True, False),
        (keys[0], False, True),
        (keys[2], False, True),
        (keys[3], False, True),
        (keys[4], False, True),
        (keys[5], False, True),
        *((k, False, True) for k in keys[6:9]),
        (oracle_address(keys[0]), False, True),
    ]


def test_swap_v2_has_fifteen_accounts_and_a_none_remaining_accounts_info() -> None:
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    owner_a, owner_b, user = Pubkey.new_unique(), Pubkey.new_unique(), Pubkey.new_unique()
    ix = swap_for_pool(
        SOL_USDC_TS4,
        pool,
        token_authority=user,
        token_owner_account_a=owner_a,
        token_owner_account_b=owner_b,
        amount=5,
        other_amount_threshold=7,
        a_to_b=False,
        amount_specified_is_input=False,
        sqrt_price_limit=MAX_SQRT_PRICE_X64,
        v2=True,
    )
    assert bytes(ix.data[:8]) == SWAP_V2_DISCRIMINATOR
    assert len(ix.data) == 43 and ix.data[-1] == 0
    keys = [m.pubkey for m in ix.accounts]
    assert len(keys) == 15
    assert keys[:7] == [
        ids.TOKEN_PROGRAM,
        ids.TOKEN_PROGRAM,
        ids.MEMO_PROGRAM,
        user,
        SOL_USDC_TS4,
        pool.token_mint_a,
        pool.token_mint_b,
    ]
    assert keys[7:11] == [owner_a, pool.token_vault_a, owner_b, pool.token_vault_b]
    assert keys[11:14] == [tick_array_address(SOL_USDC_TS4, s) for s in (-14432, -14080, -13728)]
    assert keys[14] == oracle_address(SOL_USDC_TS4)
    is_v2, args = decode_swap_args(bytes(ix.data))
    assert is_v2
    assert (args.amount, args.other_amount_threshold, args.sqrt_price_limit) == (5, 7, MAX_SQRT_PRICE_X64)
    assert (args.amount_specified_is_input, args.a_to_b) == (False, False)


def test_swap_builder_rejects_out_of_range_arguments() -> None:
    keys = [Pubkey.new_unique() for _ in range(9)]
    common = dict(
        whirlpool=keys[0],
        token_authority=keys[1],
        token_owner_account_a=keys[2],
        token_vault_a=keys[3],
        token_owner_account_b=keys[4],
        token_vault_b=keys[5],
        other_amount_threshold=0,
        sqrt_price_limit=0,
        amount_specified_is_input=True,
        a_to_b=True,
    )
    with pytest.raises(ValueError, match="amount"):
        swap(tick_arrays=keys[6:9], amount=2**64, **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="three"):
        swap(tick_arrays=keys[6:8], amount=1, **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="three"):
        swap_v2(token_mint_a=keys[0], token_mint_b=keys[1], tick_arrays=keys[6:8], amount=1, **common)  # type: ignore[arg-type]


SOL_USDC_TICK_ARRAY_DOC = json.loads((FIXTURES / "whirlpool_sol_usdc_ts4_tick_arrays.json").read_text())
SOL_USDC_TICK_ARRAY, SOL_USDC_TICK_ARRAY_NEXT = (
    base64.b64decode(v["data"][0]) for v in SOL_USDC_TICK_ARRAY_DOC["result"]["value"]
)


def test_real_tick_array_holding_the_current_tick_decodes() -> None:
    array = decode_tick_array(SOL_USDC_TICK_ARRAY, tick_array_address(SOL_USDC_TS4, -14432))
    assert array.start_tick_index == -14432
    assert array.whirlpool == SOL_USDC_TS4
    assert not array.is_dynamic
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    assert start_tick_index(pool.tick_current_index, pool.tick_spacing) == array.start_tick_index
    uninitialized = [i for i, t in enumerate(array.ticks) if not t.initialized]
    assert uninitialized == [36]
    for tick in array.ticks:
        if tick.initialized:
            assert tick.liquidity_gross >= abs(tick.liquidity_net) > 0
            # Growth outside never exceeds the pool's global growth of the same slot here.
            assert tick.fee_growth_outside_a <= pool.fee_growth_global_a
            assert tick.fee_growth_outside_b <= pool.fee_growth_global_b
            assert tick.reward_growths_outside[0] <= pool.reward_infos[0].growth_global_x64
    assert encode_tick_array(array) == SOL_USDC_TICK_ARRAY


def test_the_next_real_tick_array_to_the_right_decodes_fully_initialized() -> None:
    array = decode_tick_array(SOL_USDC_TICK_ARRAY_NEXT)
    assert (array.start_tick_index, array.whirlpool) == (-14080, SOL_USDC_TS4)
    assert get_start_tick_indexes(-14170, 4, False)[1] == array.start_tick_index
    assert all(t.initialized and t.liquidity_gross >= abs(t.liquidity_net) > 0 for t in array.ticks)
    assert encode_tick_array(array) == SOL_USDC_TICK_ARRAY_NEXT
