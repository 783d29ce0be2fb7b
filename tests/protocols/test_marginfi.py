"""MarginFi v2 encodings: discriminators, layouts (round trips, sizes, offsets), decoders, builders."""

from __future__ import annotations

import base64
import contextlib
import json
import struct
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols import marginfi as mf
from core.protocols.errors import DecodeError

# protocols.md §3.1 (computed there with sha256 and cross-checked with type-crate constants.rs).
DOC_DISCRIMINATORS = {
    "lending_account_start_flashloan": "0e8321dc51bab46b",
    "lending_account_end_flashloan": "697cc96a9902089c",
    "lending_account_borrow": "047e74353005d41f",
    "lending_account_repay": "4fd1acb1de33ad97",
    "lending_account_deposit": "ab5eeb675240d48c",
}


@pytest.mark.parametrize(("name", "hex_disc"), sorted(DOC_DISCRIMINATORS.items()))
def test_instruction_discriminators_match_protocols_md(name: str, hex_disc: str) -> None:
    assert mf.anchor_discriminator("global", name).hex() == hex_disc


def test_module_discriminator_constants_are_the_anchor_hashes() -> None:
    assert mf.START_FLASHLOAN_DISCRIMINATOR.hex() == DOC_DISCRIMINATORS["lending_account_start_flashloan"]
    assert mf.END_FLASHLOAN_DISCRIMINATOR.hex() == DOC_DISCRIMINATORS["lending_account_end_flashloan"]
    assert mf.BORROW_DISCRIMINATOR.hex() == DOC_DISCRIMINATORS["lending_account_borrow"]
    assert mf.REPAY_DISCRIMINATOR.hex() == DOC_DISCRIMINATORS["lending_account_repay"]
    assert bytes([142, 49, 166, 242, 50, 66, 97, 188]) == mf.BANK_DISCRIMINATOR
    assert bytes([67, 178, 130, 109, 126, 114, 28, 42]) == mf.MARGINFI_ACCOUNT_DISCRIMINATOR


def test_account_sizes_are_the_type_crate_sizes_plus_discriminator() -> None:
    g = mf.Pubkey.default()
    assert len(mf.encode_bank(mf.Bank(mint=g, group=g, liquidity_vault=g))) == 1864
    assert len(mf.encode_marginfi_account(mf.MarginfiAccount(group=g, authority=g))) == 2312
    assert len(mf.encode_marginfi_group(mf.MarginfiGroup(admin=g))) == 1064


def _key(i: int) -> Pubkey:
    return Pubkey(bytes([i]) * 32)


def _bank() -> mf.Bank:
    return mf.Bank(
        mint=_key(1),
        group=_key(2),
        liquidity_vault=_key(3),
        mint_decimals=9,
        asset_share_value=mf.i80f48(1.05),
        liability_share_value=mf.i80f48(1.2),
        liquidity_vault_bump=254,
        liquidity_vault_authority_bump=253,
        insurance_vault=_key(4),
        collected_insurance_fees_outstanding=-7,
        total_asset_shares=123 << 48,
        total_liability_shares=45 << 48,
        last_update=-5,
        config=mf.BankConfig(
            asset_weight_init=mf.i80f48(0.8),
            liability_weight_init=mf.i80f48(1.25),
            interest_rate_config=mf.InterestRateConfig(protocol_origination_fee=mf.i80f48(0.001)),
            operational_state=mf.OperationalState.REDUCE_ONLY,
            oracle_keys=(_key(9), _key(10), _key(11), _key(12), _key(13)),
            borrow_limit=77,
            risk_tier=1,
            asset_tag=2,
            oracle_max_age=300,
        ),
        flags=5,
        emode=bytes(range(256)) + bytes(168),
        fees_destination_account=_key(14),
        rest=b"\x01" * 488,
    )


def test_bank_round_trips_and_fields_sit_at_their_offsets() -> None:
    bank = _bank()
    raw = mf.encode_bank(bank)
    assert mf.decode_bank(raw) == bank
    assert raw[mf.BANK_MINT : mf.BANK_MINT + 32] == bytes(_key(1))
    assert raw[mf.BANK_MINT_DECIMALS] == 9
    assert raw[mf.BANK_GROUP : mf.BANK_GROUP + 32] == bytes(_key(2))
    assert raw[mf.BANK_LIQUIDITY_VAULT : mf.BANK_LIQUIDITY_VAULT + 32] == bytes(_key(3))
    assert raw[mf.BANK_LIQUIDITY_VAULT_AUTHORITY_BUMP] == 253
    assert (
        int.from_bytes(raw[mf.BANK_TOTAL_ASSET_SHARES : mf.BANK_TOTAL_ASSET_SHARES + 16], "little")
        == 123 << 48
    )
    fee = mf.BANK_PROTOCOL_ORIGINATION_FEE
    assert int.from_bytes(raw[fee : fee + 16], "little") == mf.i80f48(0.001)
    assert raw[mf.BANK_OPERATIONAL_STATE] == 2
    assert raw[mf.BANK_ORACLE_KEYS : mf.BANK_ORACLE_KEYS + 32] == bytes(_key(9))
    assert struct.unpack_from("<Q", raw, mf.BANK_BORROW_LIMIT)[0] == 77
    assert struct.unpack_from("<Q", raw, mf.BANK_FLAGS)[0] == 5


def test_marginfi_account_round_trips_with_balances_and_flags() -> None:
    balances = list(mf.MarginfiAccount(group=_key(1), authority=_key(2)).balances)
    balances[0] = mf.Balance(bank_pk=_key(3), asset_shares=5 << 48, liability_shares=0, last_update=9, tag=4)
    balances[1] = mf.Balance(bank_pk=_key(4), liability_shares=(7 << 48) + 1, bank_asset_tag=1)
    account = mf.MarginfiAccount(
        group=_key(1),
        authority=_key(2),
        balances=tuple(balances),
        account_flags=mf.ACCOUNT_IN_FLASHLOAN,
        health_cache=b"\x02" * 304,
        last_update=11,
        account_index=3,
        bump=250,
        liquidation_record=_key(8),
    )
    raw = mf.encode_marginfi_account(account)
    decoded = mf.decode_marginfi_account(raw)
    assert decoded == account
    assert decoded.in_flashloan and not decoded.disabled
    assert [b.bank_pk for b in decoded.active_balances()] == [_key(3), _key(4)]
    assert struct.unpack_from("<Q", raw, mf.MARGINFI_ACCOUNT_FLAGS)[0] == mf.ACCOUNT_IN_FLASHLOAN
    assert raw[mf.MARGINFI_ACCOUNT_BALANCES] == 1
    assert raw[mf.MARGINFI_ACCOUNT_BALANCES + 1 : mf.MARGINFI_ACCOUNT_BALANCES + 33] == bytes(_key(3))


def test_group_and_price_update_round_trip() -> None:
    group = mf.MarginfiGroup(
        admin=_key(1), group_flags=1, program_fee_rate=mf.i80f48(0.1), banks=3, rest=b"\x05" * 808
    )
    assert mf.decode_marginfi_group(mf.encode_marginfi_group(group)) == group
    price = mf.PriceUpdateV2(
        feed_id=bytes(range(32)), price=-5, conf=3, exponent=-8, publish_time=99, posted_slot=4
    )
    raw = mf.encode_price_update_v2(price)
    assert len(raw) == mf.PRICE_UPDATE_V2_LEN
    assert mf.decode_price_update_v2(raw) == price


@pytest.mark.parametrize(
    ("decode", "good"),
    [
        (mf.decode_bank, lambda: mf.encode_bank(_bank())),
        (
            mf.decode_marginfi_account,
            lambda: mf.encode_marginfi_account(mf.MarginfiAccount(_key(1), _key(2))),
        ),
        (mf.decode_marginfi_group, lambda: mf.encode_marginfi_group(mf.MarginfiGroup(admin=_key(1)))),
    ],
)
def test_wrong_length_or_discriminator_is_a_decode_error(decode: object, good: object) -> None:
    raw = good()  # type: ignore[operator]
    for bad in (raw[:-1], raw + b"\0", bytes(8) + raw[8:], b""):
        with pytest.raises(DecodeError):
            decode(bad, "acct")  # type: ignore[operator]


def test_a_non_bool_balance_flag_is_a_decode_error() -> None:
    raw = bytearray(mf.encode_marginfi_account(mf.MarginfiAccount(_key(1), _key(2))))
    raw[mf.MARGINFI_ACCOUNT_BALANCES + mf.BALANCE_LEN] = 2
    with pytest.raises(DecodeError, match="balance 1"):
        mf.decode_marginfi_account(bytes(raw))


@settings(max_examples=150, deadline=None)
@given(
    which=st.sampled_from(["bank", "account", "group", "price"]),
    data=st.data(),
)
def test_random_bytes_decode_or_raise_decode_error_only(which: str, data: st.DataObject) -> None:
    decode, disc, size = {
        "bank": (mf.decode_bank, mf.BANK_DISCRIMINATOR, mf.BANK_LEN),
        "account": (mf.decode_marginfi_account, mf.MARGINFI_ACCOUNT_DISCRIMINATOR, mf.MARGINFI_ACCOUNT_LEN),
        "group": (mf.decode_marginfi_group, mf.MARGINFI_GROUP_DISCRIMINATOR, mf.MARGINFI_GROUP_LEN),
        "price": (mf.decode_price_update_v2, mf.PRICE_UPDATE_V2_DISCRIMINATOR, mf.PRICE_UPDATE_V2_LEN),
    }[which]
    # Mostly the right size with the right discriminator, so decoding gets past the first checks.
    length = data.draw(st.one_of(st.just(size), st.integers(0, size + 16)))
    body = data.draw(st.binary(min_size=length, max_size=length))
    raw = (disc + body[8:]) if length >= 8 and data.draw(st.booleans()) else body
    with contextlib.suppress(DecodeError):
        decode(raw, "fuzz")  # type: ignore[operator]


# --- instructions -------------------------------------------------------------------------------


def test_start_flashloan_data_and_accounts() -> None:
    ix = mf.lending_account_start_flashloan(marginfi_account=_key(1), authority=_key(2), end_index=7)
    assert bytes(ix.data) == bytes.fromhex("0e8321dc51bab46b") + (7).to_bytes(8, "little")
    assert ix.program_id == ids.MARGINFI_V2
    assert [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts] == [
        (_key(1), False, True),
        (_key(2), True, False),
        (ids.SYSVAR_INSTRUCTIONS, False, False),
    ]
    with pytest.raises(ValueError):
        mf.lending_account_start_flashloan(marginfi_account=_key(1), authority=_key(2), end_index=-1)


def test_end_flashloan_carries_the_health_accounts_read_only() -> None:
    ix = mf.lending_account_end_flashloan(
        marginfi_account=_key(1), authority=_key(2), health_accounts=[_key(3), _key(4)]
    )
    assert bytes(ix.data) == bytes.fromhex("697cc96a9902089c")
    assert [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts] == [
        (_key(1), False, True),
        (_key(2), True, False),
        (_key(3), False, False),
        (_key(4), False, False),
    ]


def test_borrow_accounts_are_in_anchor_struct_order_with_the_vault_pdas() -> None:
    bank = _key(5)
    ix = mf.lending_account_borrow(
        group=_key(1),
        marginfi_account=_key(2),
        authority=_key(3),
        bank=bank,
        destination_token_account=_key(4),
        amount=9,
    )
    vault_auth = Pubkey.find_program_address([b"liquidity_vault_auth", bytes(bank)], ids.MARGINFI_V2)[0]
    vault = Pubkey.find_program_address([b"liquidity_vault", bytes(bank)], ids.MARGINFI_V2)[0]
    assert bytes(ix.data) == bytes.fromhex("047e74353005d41f") + (9).to_bytes(8, "little")
    assert [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts] == [
        (_key(1), False, False),
        (_key(2), False, True),
        (_key(3), True, False),
        (bank, False, True),
        (_key(4), False, True),
        (vault_auth, False, False),
        (vault, False, True),
        (ids.TOKEN_PROGRAM, False, False),
    ]


@pytest.mark.parametrize(("repay_all", "tail"), [(None, "00"), (True, "0101"), (False, "0100")])
def test_repay_encodes_the_option_bool(repay_all: bool | None, tail: str) -> None:
    ix = mf.lending_account_repay(
        group=_key(1),
        marginfi_account=_key(2),
        authority=_key(3),
        bank=_key(5),
        signer_token_account=_key(4),
        amount=3,
        repay_all=repay_all,
    )
    assert bytes(ix.data).hex() == "4fd1acb1de33ad97" + (3).to_bytes(8, "little").hex() + tail
    assert len(ix.accounts) == 7 and ix.accounts[2].is_signer and ix.accounts[5].is_writable


def test_health_accounts_pair_each_active_balance_with_its_oracle() -> None:
    banks = {
        _key(3): replace(_bank(), config=replace(_bank().config, oracle_keys=(_key(30),) + (_key(0),) * 4)),
        _key(4): replace(_bank(), config=replace(_bank().config, oracle_keys=(_key(40),) + (_key(0),) * 4)),
    }
    balances = list(mf.MarginfiAccount(_key(1), _key(2)).balances)
    balances[0] = mf.Balance(bank_pk=_key(4))
    balances[2] = mf.Balance(bank_pk=_key(3))
    account = mf.MarginfiAccount(_key(1), _key(2), balances=tuple(balances))
    assert mf.health_accounts(account, banks) == [_key(4), _key(40), _key(3), _key(30)]


# --- fee math -----------------------------------------------------------------------------------


def test_flash_loan_fee_is_zero_without_an_origination_fee() -> None:
    bank = mf.Bank(mint=_key(1), group=_key(2), liquidity_vault=_key(3))
    assert mf.flash_loan_fee(bank, 10**12) == 0
    assert mf.flash_loan_repay_amount(bank, 10**12) == 10**12


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(0, 2**64 - 1), rate=st.integers(0, mf.i80f48(0.05)))
def test_flash_loan_fee_at_unit_share_value_is_the_ceiled_origination_fee(amount: int, rate: int) -> None:
    bank = mf.Bank(
        mint=_key(1),
        group=_key(2),
        liquidity_vault=_key(3),
        config=mf.BankConfig(interest_rate_config=mf.InterestRateConfig(protocol_origination_fee=rate)),
    )
    assert mf.flash_loan_fee(bank, amount) == -((-amount * rate) >> 48)


def test_available_liquidity_is_bounded_by_vault_deposits_and_cap() -> None:
    bank = mf.Bank(
        mint=_key(1),
        group=_key(2),
        liquidity_vault=_key(3),
        total_asset_shares=1000 << 48,
        total_liability_shares=300 << 48,
    )
    assert mf.available_liquidity(bank, 5000) == 700
    assert mf.available_liquidity(bank, 500) == 500
    capped = replace(bank, config=replace(bank.config, borrow_limit=350))
    assert mf.available_liquidity(capped, 5000) == 49


# --- real mainnet accounts (protocols.md §5 V9) ---------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MAINNET_GROUP = Pubkey.from_string("4qp6Fx6tnZkY5Wropq9wUYgtFxXKwE6viZxFHg3rdAG8")


def _fixture(name: str) -> tuple[Pubkey, bytes, int]:
    raw = json.loads((FIXTURES / name).read_text())
    account = raw["account"]
    return Pubkey.from_string(raw["pubkey"]), base64.b64decode(account["data"][0]), account["lamports"]


def test_real_usdt_bank_decodes_to_its_mainnet_values() -> None:
    address, data, _ = _fixture("marginfi_bank_usdt_sample3.json")
    bank = mf.decode_bank(data, address)
    assert bank.mint == ids.USDT_MINT and bank.mint_decimals == 6 and bank.group == MAINNET_GROUP
    # The vaults sit at the program's PDAs with the bumps the bank stores.
    assert (bank.liquidity_vault, bank.liquidity_vault_bump) == mf.liquidity_vault(address)
    assert bank.liquidity_vault_authority_bump == mf.liquidity_vault_authority(address)[1]
    assert (bank.insurance_vault, bank.insurance_vault_bump) == mf.bank_vault_pda(
        address, mf.INSURANCE_VAULT_SEED
    )
    assert (bank.fee_vault, bank.fee_vault_bump) == mf.bank_vault_pda(address, mf.FEE_VAULT_SEED)
    assert 1.0 < bank.asset_share_value / mf.I80F48_ONE < bank.liability_share_value / mf.I80F48_ONE < 1.2
    assert bank.total_asset_shares > bank.total_liability_shares > 0
    config = bank.config
    assert (config.asset_weight_init, config.liability_weight_init) == (mf.I80F48_ONE, mf.i80f48(1.25))
    assert config.operational_state == mf.OperationalState.OPERATIONAL
    assert config.deposit_limit == 100_000_000_000_000 and config.risk_tier == 0
    irc = config.interest_rate_config
    assert round(irc.optimal_utilization_rate / mf.I80F48_ONE, 6) == 0.8
    assert irc.max_interest_rate == mf.i80f48(4) and irc.protocol_origination_fee == 0
    assert mf.encode_bank(bank)[:904] == data[:904]  # every field up to the emode block re-encodes


def test_real_empty_marginfi_account_decodes_and_its_rent_is_what_initialize_pays() -> None:
    address, data, lamports = _fixture("marginfi_account_sample3.json")
    account = mf.decode_marginfi_account(data, address)
    assert account.group == MAINNET_GROUP and account.active_balances() == [] and account.account_flags == 0
    assert mf.encode_marginfi_account(account) == data
    assert lamports == (128 + mf.MARGINFI_ACCOUNT_LEN) * 3480 * 2  # Rent::default(), as marginfi.c pays
