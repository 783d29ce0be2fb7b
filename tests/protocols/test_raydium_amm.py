"""Raydium AMM v4 pool layout and swap instruction builders."""

from __future__ import annotations

import base64
import dataclasses
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.errors import DecodeError
from core.protocols.raydium_amm import (
    AMM_INFO_LEN,
    AmmError,
    AmmInfo,
    Fees,
    MarketKeys,
    StateData,
    amm_authority,
    decode_amm_info,
    encode_amm_info,
    swap_base_in,
    swap_base_in_v2,
    swap_base_out,
    swap_base_out_v2,
)

# protocols.md Appendix A: mainnet SOL/USDC 58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2, slot 453868631.
SOL_USDC_POOL_B64 = (
    "BgAAAAAAAAD+AAAAAAAAAAcAAAAAAAAAAwAAAAAAAAAJAAAAAAAAAAYAAAAAAAAAAgAAAAAAAAAAAAAAAAAAAEBCDwAAAAAA9AEA"
    "AAAAAAAAAAAAAAAAAEBCDwAAAAAAQEIPAAAAAAABAAAAAAAAAADKmjsAAAAAAMqaOwAAAAAFAAAAAAAAABAnAAAAAAAAGQAAAAAA"
    "AAAQJwAAAAAAAAwAAAAAAAAAZAAAAAAAAAAZAAAAAAAAABAnAAAAAAAACgjwCgAAAACkmE4BAAAAAE64FyutAwAALkI4/Jo0AAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACzqVos/TzgAAAAAAAAAAABzVLPxIFgFAAAAAAAAAAAAMWNjiHMDAACZN03S"
    "hGQFAAAAAAAAAAAAQEusDaXyOAAAAAAAAAAAAEiYZsIJJAAAuHDhLdN5iRVh0un6jyZDGDTrc28vJPwqKk3/H9XcpN/yy7m3YO3b"
    "GFcGMDBjrTPXtXKW6gLU4DNeMc6vpMxC3QabiFf+q4GE+2h/Y0YYwDXaxDncGus7VZig8AAAAAABxvp6877brTo9ZfNqq8l0MbG7"
    "5MLS9uDkfKYCA0UvXWFsT5PYWOiP+v6gjENnRJfo5qkywMgxSCYqGuPMx4KexvkvOQ/5YJ6K1De7jkwfGqQ6wF0kMIzKd96FEsVQ"
    "kpLTasTDzvqfGb9UyNwPXk0c7uUyfSZIKynSsTy6pDRHIY0NB1GoKC2mEwX+KZw3uZjlhHHbETUDcxD4vhBFpgr27qvkPHweIeqm"
    "+XyL01XiG9EnlnR1bByOEGxucSuhFtlwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAOW2K2XLO72m9WiI5m/ujmTcVWAZnA+IsR/ic70FnoqhVubWvz9dAABO2XAAAAAAABoEAAAAAAAAAAAAAAAA"
    "AAA="
)
SOL_USDC_POOL = base64.b64decode(SOL_USDC_POOL_B64)


def pk(s: str) -> Pubkey:
    return Pubkey.from_string(s)


def test_real_sol_usdc_pool_decodes_to_the_listed_values() -> None:
    info = decode_amm_info(SOL_USDC_POOL, "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2")
    assert (info.status, info.nonce, info.coin_decimals, info.pc_decimals) == (6, 254, 9, 6)
    assert (info.fees.trade_fee_numerator, info.fees.trade_fee_denominator) == (25, 10_000)
    assert (info.fees.swap_fee_numerator, info.fees.swap_fee_denominator) == (25, 10_000)
    assert info.state_data.need_take_pnl_coin == 183_502_858
    assert info.state_data.need_take_pnl_pc == 21_928_100
    assert info.coin_vault == pk("DQyrAcCrDXQ7NeoqGgDCZwBvWDcYmFCjSb9JtteuvPpz")
    assert info.pc_vault == pk("HLmqeL62xR1QoZ1HKKbXRrdN1p3phKpxRMb2VVopvBBz")
    assert info.coin_vault_mint == ids.NATIVE_MINT
    assert info.pc_vault_mint == ids.USDC_MINT
    assert info.open_orders == pk("HmiHHzq4Fym9e1D4qzLS6LDDM3tNsCTBPDWHTLZ763jY")
    assert info.market == pk("8BnEgHoWFysVcuFFX7QztDmzuH8r5ZFvyP3sYwn1XTh6")
    assert info.market_program == pk("srmqPvymJeFKQ4zGQed1GFppgkRHL9kaELCbyksJtPX")
    assert info.target_orders == pk("CZza3Ej4Mc58MnxWA385itCC9jCo3L1D7zc3LKy1bZMR")
    assert info.lp_mint == pk("8HoQnePLqPj4M7PUDzfw8e3Ymdwgc7NLGnaTUapubyvu")
    assert info.amm_owner == pk("GThUX1Atko4tqhN2NaiTazWSeFWMuiUvfFnyJyUghFMJ")
    assert info.recent_epoch == 1050


def test_real_sol_usdc_pool_reencodes_to_the_same_bytes() -> None:
    assert encode_amm_info(decode_amm_info(SOL_USDC_POOL)) == SOL_USDC_POOL


def test_amm_authority_of_nonce_254_is_the_mainnet_authority() -> None:
    assert amm_authority(254) == pk("5Q544fKrFoe6tsEbD7S8EmxGTJYAKtTVhAW5Q5pge4j1")


def test_swap_fee_and_pnl_fields_sit_at_the_documented_offsets() -> None:
    # protocols.md §4.1: swap fee 176/184, need_take_pnl 192/200, pool_open_time 224, vaults 336/368.
    info = decode_amm_info(SOL_USDC_POOL)
    raw = encode_amm_info(
        dataclasses.replace(
            info,
            fees=dataclasses.replace(info.fees, swap_fee_numerator=11, swap_fee_denominator=12345),
            state_data=dataclasses.replace(
                info.state_data, need_take_pnl_coin=77, need_take_pnl_pc=88, pool_open_time=99
            ),
        )
    )
    assert struct.unpack_from("<4Q", raw, 176) == (11, 12345, 77, 88)
    assert struct.unpack_from("<Q", raw, 224)[0] == 99
    assert raw[336:368] == bytes(info.coin_vault)
    assert raw[368:400] == bytes(info.pc_vault)


u64 = st.integers(0, 2**64 - 1)
u128 = st.integers(0, 2**128 - 1)
pubkeys = st.binary(min_size=32, max_size=32).map(Pubkey.from_bytes)


@st.composite
def amm_infos(draw: st.DrawFn) -> AmmInfo:
    den = draw(st.integers(1, 2**64 - 1))
    fees = Fees(
        *draw(st.tuples(u64, u64, u64, u64, u64, u64)),
        swap_fee_numerator=draw(st.integers(0, den - 1)),
        swap_fee_denominator=den,
    )
    state_data = StateData(
        *draw(st.tuples(u64, u64, u64, u64, u64)),
        padding=draw(st.tuples(u64, u64)),
        orderbook_to_init_time=draw(u64),
        swap_coin_in_amount=draw(u128),
        swap_pc_out_amount=draw(u128),
        swap_acc_pc_fee=draw(u64),
        swap_pc_in_amount=draw(u128),
        swap_coin_out_amount=draw(u128),
        swap_acc_coin_fee=draw(u64),
    )
    return AmmInfo(
        draw(st.integers(0, 7)),
        draw(st.integers(0, 255)),
        *draw(st.tuples(*[u64] * 14)),
        fees=fees,
        state_data=state_data,
        coin_vault=draw(pubkeys),
        pc_vault=draw(pubkeys),
        coin_vault_mint=draw(pubkeys),
        pc_vault_mint=draw(pubkeys),
        lp_mint=draw(pubkeys),
        open_orders=draw(pubkeys),
        market=draw(pubkeys),
        market_program=draw(pubkeys),
        target_orders=draw(pubkeys),
        padding1=draw(st.tuples(*[u64] * 8)),
        amm_owner=draw(pubkeys),
        lp_amount=draw(u64),
        client_order_id=draw(u64),
        recent_epoch=draw(u64),
        padding2=draw(u64),
    )


@settings(max_examples=200)
@given(amm_infos())
def test_encode_then_decode_returns_the_same_pool(info: AmmInfo) -> None:
    raw = encode_amm_info(info)
    assert len(raw) == AMM_INFO_LEN
    assert decode_amm_info(raw) == info


@settings(max_examples=300)
@given(st.one_of(st.binary(min_size=AMM_INFO_LEN, max_size=AMM_INFO_LEN), st.binary(max_size=900)))
def test_random_bytes_decode_or_raise_decode_error_only(data: bytes) -> None:
    try:
        info = decode_amm_info(data, "random")
    except DecodeError as exc:
        assert exc.account == "random"
        return
    assert encode_amm_info(info) == data


def _patched(offset: int, value: int) -> bytes:
    raw = bytearray(SOL_USDC_POOL)
    struct.pack_into("<Q", raw, offset, value)
    return bytes(raw)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (SOL_USDC_POOL[:-1], "751 bytes"),
        (SOL_USDC_POOL + b"\0", "753 bytes"),
        (_patched(0, 8), "status 8"),
        (_patched(8, 256), "nonce 256"),
        (_patched(184, 0), "zero swap fee denominator"),
        (_patched(176, 10_000), "swap fee numerator equal to denominator"),
    ],
)
def test_decode_rejects_impossible_pools(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError):
        decode_amm_info(data, reason)


def test_encode_rejects_a_field_that_overflows_u64() -> None:
    info = decode_amm_info(SOL_USDC_POOL)
    with pytest.raises(ValueError):
        encode_amm_info(dataclasses.replace(info, lp_amount=2**64))


def test_error_numbers_follow_the_amm_error_enum_positions() -> None:
    assert AmmError.INVALID_PROGRAM_ADDRESS == 1
    assert AmmError.INVALID_STATUS == 22
    assert AmmError.WRONG_ACCOUNTS_NUMBER == 24
    assert AmmError.INVALID_AMM_ACCOUNT_OWNER == 27
    assert AmmError.INVALID_INPUT == 29
    assert AmmError.EXCEEDED_SLIPPAGE == 30  # the well-known 0x1e
    assert AmmError.INVALID_SPL_TOKEN_PROGRAM == 38
    assert AmmError.INSUFFICIENT_FUNDS == 40
    assert AmmError.INVALID_USER_TOKEN == 42
    assert AmmError.NOT_ALLOWED == 59


MARKET = MarketKeys(*(Pubkey.new_unique() for _ in range(6)))
SRC, DST, OWNER = Pubkey.new_unique(), Pubkey.new_unique(), Pubkey.new_unique()
AMM = pk("58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2")


def test_swap_base_in_has_the_17_account_list_in_program_order() -> None:
    info = decode_amm_info(SOL_USDC_POOL)
    ix = swap_base_in(AMM, info, MARKET, SRC, DST, OWNER, 1_000, 900)
    assert ix.program_id == ids.RAYDIUM_AMM_V4
    assert ix.data == bytes([9]) + (1_000).to_bytes(8, "little") + (900).to_bytes(8, "little")
    expected = [
        (ids.TOKEN_PROGRAM, False, False),
        (AMM, False, True),
        (pk("5Q544fKrFoe6tsEbD7S8EmxGTJYAKtTVhAW5Q5pge4j1"), False, False),
        (info.open_orders, False, True),
        (info.coin_vault, False, True),
        (info.pc_vault, False, True),
        (info.market_program, False, False),
        (info.market, False, True),
        (MARKET.bids, False, True),
        (MARKET.asks, False, True),
        (MARKET.event_queue, False, True),
        (MARKET.coin_vault, False, True),
        (MARKET.pc_vault, False, True),
        (MARKET.vault_signer, False, False),
        (SRC, False, True),
        (DST, False, True),
        (OWNER, True, False),
    ]
    assert [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts] == expected


def test_swap_base_out_18_account_form_puts_target_orders_after_open_orders() -> None:
    info = decode_amm_info(SOL_USDC_POOL)
    ix = swap_base_out(AMM, info, MARKET, SRC, DST, OWNER, 5_000, 4_000, with_target_orders=True)
    assert ix.data[0] == 11
    assert struct.unpack("<QQ", ix.data[1:]) == (5_000, 4_000)
    assert len(ix.accounts) == 18
    assert ix.accounts[4].pubkey == info.target_orders and ix.accounts[4].is_writable
    assert ix.accounts[5].pubkey == info.coin_vault


@pytest.mark.parametrize(("builder", "tag"), [(swap_base_in_v2, 16), (swap_base_out_v2, 17)])
def test_v2_swaps_carry_the_8_accounts_without_market(builder, tag: int) -> None:  # type: ignore[no-untyped-def]
    info = decode_amm_info(SOL_USDC_POOL)
    ix = builder(AMM, info, SRC, DST, OWNER, 7, 3)
    assert ix.data == struct.pack("<BQQ", tag, 7, 3)
    assert [m.pubkey for m in ix.accounts] == [
        ids.TOKEN_PROGRAM, AMM, amm_authority(254), info.coin_vault, info.pc_vault, SRC, DST, OWNER
    ]
    assert [m.is_writable for m in ix.accounts] == [False, True, False, True, True, True, True, False]
    assert [m.is_signer for m in ix.accounts] == [False] * 7 + [True]


def test_builders_reject_amounts_outside_u64() -> None:
    info = decode_amm_info(SOL_USDC_POOL)
    with pytest.raises(ValueError):
        swap_base_in_v2(AMM, info, SRC, DST, OWNER, 2**64, 0)
