"""Genesis: the MarginFi group, its USDC and SOL banks and the operator's account, usable for flash loans."""

from __future__ import annotations

import json

from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import TransactionMetadata

from core.localnet.accounts import token_amount
from core.localnet.genesis import build_genesis, operator_keypair
from core.localnet.genesis_marginfi import marginfi_account, marginfi_banks
from core.localnet.programs import load_programs
from core.protocols import ids
from core.protocols import marginfi as mf
from core.protocols.spl_token import decode_token_account


def test_genesis_writes_usdc_and_sol_banks_with_vaults_at_the_real_pdas() -> None:
    svm = LiteSVM()
    sc = build_genesis(svm, 31)
    banks = {b.symbol: b for b in marginfi_banks(sc)}
    assert set(banks) == {"USDC", "SOL"}
    for b in banks.values():
        acc = svm.get_account(b.address)
        assert acc is not None and acc.owner == ids.MARGINFI_V2
        state = mf.decode_bank(bytes(acc.data), b.address)
        assert state.group == b.group and state.mint == b.mint == sc.token(b.symbol).mint
        assert state.liquidity_vault == b.liquidity_vault == mf.liquidity_vault(b.address)[0]
        assert state.liquidity_vault_authority_bump == mf.liquidity_vault_authority(b.address)[1]
        assert state.config.oracle_keys[0] == b.oracle
        assert state.config.interest_rate_config.protocol_origination_fee == 0
        assert state.asset_amount() >> 48 == b.deposits > 0
        vault = decode_token_account(bytes(svm.get_account(b.liquidity_vault).data))  # type: ignore[union-attr]
        assert vault.amount == b.deposits and vault.owner == b.liquidity_vault_authority
        oracle = svm.get_account(b.oracle)
        assert oracle is not None and oracle.owner == mf.PYTH_RECEIVER_PROGRAM
        price = mf.decode_price_update_v2(bytes(oracle.data))
        assert abs(price.price * 10**price.exponent - sc.token(b.symbol).usd_price) < 1e-6
    group = mf.decode_marginfi_group(bytes(svm.get_account(banks["USDC"].group).data))  # type: ignore[union-attr]
    assert group.admin != banks["USDC"].group


def test_the_operator_has_an_empty_marginfi_account_in_the_group() -> None:
    svm = LiteSVM()
    sc = build_genesis(svm, 32)
    address = marginfi_account(sc)
    assert address is not None
    state = mf.decode_marginfi_account(bytes(svm.get_account(address).data))  # type: ignore[union-attr]
    assert state == mf.MarginfiAccount(group=marginfi_banks(sc)[0].group, authority=sc.wallet)


def test_scenario_json_carries_the_marginfi_addresses_and_they_parse_back() -> None:
    sc = build_genesis(LiteSVM(), 33)
    plain = json.loads(sc.to_json())
    assert plain["extra"]["marginfi"]["marginfi_account"] == str(marginfi_account(sc))
    assert marginfi_banks(plain) == marginfi_banks(sc)
    assert marginfi_account(plain) == marginfi_account(sc)
    assert marginfi_banks(build_genesis(LiteSVM(), 33)) == marginfi_banks(sc)  # deterministic per seed


def test_a_flash_loan_from_the_genesis_usdc_bank_is_free_and_lands() -> None:
    svm = LiteSVM()
    load_programs(svm, ["marginfi"])
    sc = build_genesis(svm, 34)
    operator, _ = operator_keypair(34, None)
    usdc = next(b for b in marginfi_banks(sc) if b.symbol == "USDC")
    account = marginfi_account(sc)
    assert account is not None
    ata = sc.wallet_token_accounts["USDC"]
    amount = 2_500_000 * 10**6
    before = token_amount(svm, ata), token_amount(svm, usdc.liquidity_vault)
    common = dict(group=usdc.group, marginfi_account=account, authority=operator.pubkey(), bank=usdc.address)
    ixs = [
        mf.lending_account_start_flashloan(
            marginfi_account=account, authority=operator.pubkey(), end_index=3
        ),
        mf.lending_account_borrow(**common, destination_token_account=ata, amount=amount),  # type: ignore[arg-type]
        mf.lending_account_repay(**common, signer_token_account=ata, amount=0, repay_all=True),  # type: ignore[arg-type]
        mf.lending_account_end_flashloan(marginfi_account=account, authority=operator.pubkey()),
    ]
    msg = MessageV0.try_compile(operator.pubkey(), ixs, [], svm.latest_blockhash())
    result = svm.send_transaction(VersionedTransaction(msg, [operator]))
    assert isinstance(result, TransactionMetadata), result
    assert (token_amount(svm, ata), token_amount(svm, usdc.liquidity_vault)) == before
