"""Every account decoder, side by side: real accounts decode to the documented values, encode →
decode round trips, and no input makes a decoder raise anything but DecodeError naming the account.

Real data: tests/fixtures/*.json in `solana account --output json` form (protocols.md §5 and its
Appendix; the `localnet_*` files are the local cluster's genesis accounts, seed 7).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.localnet.genesis import SOLEND_FLASH_LOAN_FEE_WAD, SOLEND_HOST_FEE_PERCENTAGE
from core.protocols import ids
from core.protocols.errors import DecodeError
from core.protocols.raydium_amm import AMM_INFO_LEN, decode_amm_info, encode_amm_info
from core.protocols.solend import (
    LENDING_MARKET_LEN,
    RESERVE_LEN,
    LendingMarket,
    RateLimiter,
    Reserve,
    decode_lending_market,
    decode_reserve,
    encode_lending_market,
    encode_reserve,
    lending_market_authority,
)
from core.protocols.spl_token import (
    MINT_LEN,
    TOKEN_ACCOUNT_LEN,
    Mint,
    TokenAccount,
    TokenAccountState,
    decode_mint,
    decode_token_account,
)
from core.protocols.whirlpool import (
    DYNAMIC_TICK_ARRAY_DISCRIMINATOR,
    TICK_ARRAY_DISCRIMINATOR,
    TICK_ARRAY_LEN,
    WHIRLPOOL_DISCRIMINATOR,
    WHIRLPOOL_LEN,
    decode_tick_array,
    decode_whirlpool,
    encode_dynamic_tick_array,
    encode_tick_array,
    encode_whirlpool,
    tick_array_address,
)
from tests.protocols.test_raydium_amm import amm_infos
from tests.protocols.test_whirlpool import WHIRLPOOLS, tick_arrays

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

Decoder = Callable[[bytes, object], Any]

# name -> (decoder, exact size or None, discriminator prefix or b"")
DECODERS: dict[str, tuple[Decoder, int | None, bytes]] = {
    "raydium_amm_v4": (decode_amm_info, AMM_INFO_LEN, b""),
    "whirlpool": (decode_whirlpool, WHIRLPOOL_LEN, WHIRLPOOL_DISCRIMINATOR),
    "whirlpool_tick_array": (decode_tick_array, TICK_ARRAY_LEN, TICK_ARRAY_DISCRIMINATOR),
    "whirlpool_dynamic_tick_array": (decode_tick_array, None, DYNAMIC_TICK_ARRAY_DISCRIMINATOR),
    "spl_token_account": (decode_token_account, TOKEN_ACCOUNT_LEN, b""),
    "spl_mint": (decode_mint, MINT_LEN, b""),
    "solend_reserve": (decode_reserve, RESERVE_LEN, b"\x01"),
    "solend_lending_market": (decode_lending_market, LENDING_MARKET_LEN, b"\x01"),
}


def load_fixture(name: str) -> tuple[Pubkey, Pubkey, bytes]:
    """(address, owner, data) of a `solana account --output json` file."""
    doc = json.loads((FIXTURES / name).read_text())
    data, encoding = doc["account"]["data"]
    assert encoding == "base64"
    owner = Pubkey.from_string(doc["account"]["owner"])
    return Pubkey.from_string(doc["pubkey"]), owner, base64.b64decode(data)


def pk(s: str) -> Pubkey:
    return Pubkey.from_string(s)


# -- real accounts ---------------------------------------------------------------------------------


def test_real_raydium_sol_usdc_pool_file_decodes_to_the_listed_values() -> None:
    address, owner, data = load_fixture("raydium_amm_v4_sol_usdc.json")
    assert owner == ids.RAYDIUM_AMM_V4
    info = decode_amm_info(data, address)
    assert (info.status, info.nonce, info.coin_decimals, info.pc_decimals) == (6, 254, 9, 6)
    assert (info.fees.trade_fee_numerator, info.fees.trade_fee_denominator) == (25, 10_000)
    assert (info.fees.swap_fee_numerator, info.fees.swap_fee_denominator) == (25, 10_000)
    assert (info.state_data.need_take_pnl_coin, info.state_data.need_take_pnl_pc) == (183_502_858, 21_928_100)
    assert info.coin_vault == pk("DQyrAcCrDXQ7NeoqGgDCZwBvWDcYmFCjSb9JtteuvPpz")
    assert info.pc_vault == pk("HLmqeL62xR1QoZ1HKKbXRrdN1p3phKpxRMb2VVopvBBz")
    assert (info.coin_vault_mint, info.pc_vault_mint) == (ids.NATIVE_MINT, ids.USDC_MINT)
    assert info.open_orders == pk("HmiHHzq4Fym9e1D4qzLS6LDDM3tNsCTBPDWHTLZ763jY")
    assert info.market == pk("8BnEgHoWFysVcuFFX7QztDmzuH8r5ZFvyP3sYwn1XTh6")
    assert info.market_program == pk("srmqPvymJeFKQ4zGQed1GFppgkRHL9kaELCbyksJtPX")
    assert info.target_orders == pk("CZza3Ej4Mc58MnxWA385itCC9jCo3L1D7zc3LKy1bZMR")
    assert info.lp_mint == pk("8HoQnePLqPj4M7PUDzfw8e3Ymdwgc7NLGnaTUapubyvu")
    assert info.recent_epoch == 1050
    assert encode_amm_info(info) == data


def test_real_whirlpool_sol_usdc_file_decodes_to_the_listed_values() -> None:
    address, owner, data = load_fixture("whirlpool_sol_usdc_ts4.json")
    assert owner == ids.ORCA_WHIRLPOOL
    pool = decode_whirlpool(data, address)
    assert pool.whirlpools_config == pk("2LecshUwdy9xi7meFgHtFJQNSKk4KdTrcpvaB56dP2NQ")
    assert (pool.tick_spacing, pool.fee_rate, pool.protocol_fee_rate) == (4, 400, 1)
    assert (pool.liquidity, pool.sqrt_price) == (834193041532709, 9083581038406259417)
    assert pool.tick_current_index == -14170
    assert pool.token_vault_a == pk("EUuUbDcafPrmVTD5M6qoJAoyyNbihBhugADAxRMn5he9")
    assert pool.token_vault_b == pk("2WLWEuKDgkDUccTpbwYp1GToYktiSB1cXvreHUwiSUVP")
    assert (pool.token_mint_a, pool.token_mint_b) == (ids.NATIVE_MINT, ids.USDC_MINT)
    assert encode_whirlpool(pool) == data


def test_real_whirlpool_tick_array_file_decodes_and_sits_at_its_pda() -> None:
    address, owner, data = load_fixture("whirlpool_tick_array_sol_usdc_ts4_-14432.json")
    assert owner == ids.ORCA_WHIRLPOOL
    array = decode_tick_array(data, address)
    pool = pk("Czfq3xZZDmsdGdUyrNLtRhGc47cXcZtLG4crryfu44zE")
    assert (array.start_tick_index, array.whirlpool, array.is_dynamic) == (-14432, pool, False)
    assert tick_array_address(pool, -14432) == address
    assert [i for i, t in enumerate(array.ticks) if not t.initialized] == [36]
    assert encode_tick_array(array) == data


def test_genesis_solend_reserve_and_market_files_decode_to_the_scenario_values() -> None:
    reserve_key, owner, data = load_fixture("localnet_solend_reserve_usdc.json")
    assert owner == ids.SOLEND
    reserve = decode_reserve(data, reserve_key)
    assert reserve.liquidity_mint_pubkey == ids.USDC_MINT
    assert reserve.liquidity_mint_decimals == 6
    assert reserve.flash_loan_fee_wad == SOLEND_FLASH_LOAN_FEE_WAD
    assert reserve.host_fee_percentage == SOLEND_HOST_FEE_PERCENTAGE
    assert encode_reserve(reserve) == data

    market_key, owner, data = load_fixture("localnet_solend_lending_market.json")
    assert owner == ids.SOLEND and market_key == reserve.lending_market
    market = decode_lending_market(data, market_key)
    assert market.bump_seed == lending_market_authority(market_key)[1]
    assert market.token_program_id == ids.TOKEN_PROGRAM
    assert encode_lending_market(market) == data

    supply_key, owner, data = load_fixture("localnet_spl_token_account_usdc_supply.json")
    assert owner == ids.TOKEN_PROGRAM and supply_key == reserve.liquidity_supply_pubkey
    supply = decode_token_account(data, supply_key)
    assert supply.mint == ids.USDC_MINT
    assert supply.owner == lending_market_authority(market_key)[0]
    assert supply.amount == reserve.available_amount


def test_genesis_usdc_mint_file_decodes() -> None:
    address, owner, data = load_fixture("localnet_spl_mint_usdc.json")
    assert (address, owner) == (ids.USDC_MINT, ids.TOKEN_PROGRAM)
    mint = decode_mint(data, address)
    assert mint.decimals == 6 and mint.is_initialized and mint.supply > 0


def test_decoded_objects_are_immutable() -> None:
    _, _, pool = load_fixture("raydium_amm_v4_sol_usdc.json")
    _, _, whirl = load_fixture("whirlpool_sol_usdc_ts4.json")
    _, _, reserve = load_fixture("localnet_solend_reserve_usdc.json")
    _, _, mint = load_fixture("localnet_spl_mint_usdc.json")
    for obj, field in (
        (decode_amm_info(pool, None), "status"),
        (decode_whirlpool(whirl, None), "liquidity"),
        (decode_reserve(reserve, None), "available_amount"),
        (decode_mint(mint, None), "supply"),
    ):
        with pytest.raises((FrozenInstanceError, AttributeError)):
            setattr(obj, field, 0)


# -- malformed data names the account ----------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(DECODERS))
def test_wrong_size_raises_decode_error_naming_the_account(kind: str) -> None:
    decode, size, prefix = DECODERS[kind]
    data = prefix + bytes((size or 100) - len(prefix) + 1) if size else prefix[:4]
    with pytest.raises(DecodeError) as err:
        decode(data, "Acct1111")
    assert err.value.account == "Acct1111"
    assert "Acct1111" in str(err.value)


@pytest.mark.parametrize("kind", ["whirlpool", "whirlpool_tick_array"])
def test_wrong_discriminator_raises_decode_error(kind: str) -> None:
    decode, size, _ = DECODERS[kind]
    assert size is not None
    with pytest.raises(DecodeError, match="discriminator"):
        decode(b"\xff" * size, "Acct")


@pytest.mark.parametrize(
    ("kind", "offset", "value", "reason"),
    [
        ("raydium_amm_v4", 0, 8, "status"),  # AmmStatus stops at 7
        ("raydium_amm_v4", 177, 0xFF, "swap fee"),  # swap_fee_numerator above its denominator
        ("whirlpool", 45, 0xFF, "fee_rate"),  # fee_rate 65535 > MAX_FEE_RATE
        ("solend_reserve", 0, 0, "uninitialized"),
        ("solend_reserve", 322, 101, "host_fee_percentage"),
        ("solend_lending_market", 0, 2, "version"),
        ("spl_token_account", 108, 3, "invalid"),  # AccountState stops at 2
        ("spl_mint", 45, 0, "(?i)initialized"),
    ],
)
def test_impossible_values_in_a_real_account_raise_decode_error(
    kind: str, offset: int, value: int, reason: str
) -> None:
    files = {
        "raydium_amm_v4": "raydium_amm_v4_sol_usdc.json",
        "whirlpool": "whirlpool_sol_usdc_ts4.json",
        "solend_reserve": "localnet_solend_reserve_usdc.json",
        "solend_lending_market": "localnet_solend_lending_market.json",
        "spl_token_account": "localnet_spl_token_account_usdc_supply.json",
        "spl_mint": "localnet_spl_mint_usdc.json",
    }
    address, _, data = load_fixture(files[kind])
    decode = DECODERS[kind][0]
    decode(data, address)  # the unmodified account decodes
    bad = bytearray(data)
    bad[offset] = value
    if kind == "whirlpool":
        bad[offset + 1] = value
    with pytest.raises(DecodeError, match=reason) as err:
        decode(bytes(bad), address)
    assert err.value.account == str(address)


# -- fuzz: random bytes never raise anything but DecodeError -------------------------------------------


@st.composite
def framed_bytes(draw: st.DrawFn) -> tuple[str, bytes]:
    """Random data for a random decoder: any length, the exact length, or the right prefix too."""
    kind = draw(st.sampled_from(sorted(DECODERS)))
    _, size, prefix = DECODERS[kind]
    framing = draw(st.sampled_from(["raw", "sized", "prefixed"]))
    if framing == "raw" or (size is None and framing == "sized"):
        data = draw(st.binary(max_size=1200))
    else:
        body = draw(st.binary(max_size=min(size or 1200, 1200)))
        data = prefix + body if framing == "prefixed" else body
        if size is not None:
            data = (data + bytes(size))[:size]
    return kind, data


@settings(max_examples=200, deadline=None)
@given(framed_bytes())
def test_random_bytes_never_raise_anything_but_decode_error(case: tuple[str, bytes]) -> None:
    kind, data = case
    decode = DECODERS[kind][0]
    try:
        decode(data, "fuzz")
    except DecodeError as err:
        assert err.account == "fuzz"


# -- round trips -------------------------------------------------------------------------------------

U8 = st.integers(0, 255)
U64 = st.integers(0, 2**64 - 1)
U128 = st.integers(0, 2**128 - 1)
KEYS = st.binary(min_size=32, max_size=32).map(Pubkey)
NONZERO_KEYS = KEYS.filter(lambda k: k != Pubkey.default())
RATE_LIMITERS = st.builds(RateLimiter, U64, U64, U128, U64, U128)

TOKEN_ACCOUNTS = st.builds(
    TokenAccount,
    KEYS,
    KEYS,
    U64,
    st.none() | KEYS,
    st.sampled_from([TokenAccountState.Initialized, TokenAccountState.Frozen]),
    st.none() | U64,
    U64,
    st.none() | KEYS,
)
MINTS = st.builds(Mint, st.none() | KEYS, U64, U8, st.just(True), st.none() | KEYS)
RESERVES = st.builds(
    Reserve,
    lending_market=KEYS,
    liquidity_mint_pubkey=KEYS,
    liquidity_supply_pubkey=KEYS,
    fee_receiver=KEYS,
    last_update_slot=U64,
    last_update_stale=st.booleans(),
    liquidity_mint_decimals=U8,
    available_amount=U64,
    borrowed_amount_wads=U128,
    cumulative_borrow_rate_wads=U128,
    flash_loan_fee_wad=U64,
    host_fee_percentage=st.integers(0, 100),
    rate_limiter=RATE_LIMITERS,
    reserve_type=st.integers(0, 1),
    extra_market_price=st.none() | U128,
    padding=st.binary(min_size=49, max_size=49),
)
LENDING_MARKETS = st.builds(
    LendingMarket,
    bump_seed=U8,
    owner=KEYS,
    rate_limiter=RATE_LIMITERS,
    whitelisted_liquidator=st.none() | NONZERO_KEYS,
    risk_authority=KEYS,
)

ROUND_TRIPS: dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], bytes], Decoder]] = {
    "raydium_amm_v4": (amm_infos(), encode_amm_info, decode_amm_info),
    "whirlpool": (WHIRLPOOLS, encode_whirlpool, decode_whirlpool),
    "whirlpool_tick_array": (tick_arrays(), encode_tick_array, decode_tick_array),
    "spl_token_account": (TOKEN_ACCOUNTS, bytes, decode_token_account),
    "spl_mint": (MINTS, bytes, decode_mint),
    "solend_reserve": (RESERVES, encode_reserve, decode_reserve),
    "solend_lending_market": (LENDING_MARKETS, encode_lending_market, decode_lending_market),
}


@pytest.mark.parametrize("kind", sorted(ROUND_TRIPS))
def test_encode_then_decode_returns_the_same_object(kind: str) -> None:
    strategy, encode, decode = ROUND_TRIPS[kind]

    @settings(max_examples=40, deadline=None)
    @given(strategy)
    def round_trip(obj: Any) -> None:
        raw = encode(obj)
        assert decode(raw, kind) == obj
        assert encode(decode(raw, kind)) == raw

    round_trip()


@settings(max_examples=30, deadline=None)
@given(tick_arrays())
def test_dynamic_tick_array_decodes_like_its_fixed_form(array: Any) -> None:
    fixed = decode_tick_array(encode_tick_array(array), "fixed")
    dynamic = decode_tick_array(encode_dynamic_tick_array(fixed), "dynamic")
    assert dynamic.is_dynamic
    assert [t for t in dynamic.ticks if t.initialized] == [t for t in fixed.ticks if t.initialized]
    assert (dynamic.start_tick_index, dynamic.whirlpool) == (fixed.start_tick_index, fixed.whirlpool)
