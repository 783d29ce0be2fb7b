"""Genesis: the Kamino market and its reserves, funded and usable for flash loans."""

from __future__ import annotations

import json

from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import TransactionMetadata

from core.localnet.accounts import token_amount
from core.localnet.genesis import build_genesis, operator_keypair
from core.localnet.genesis_kamino import FLASH_LOAN_FEE_SF, kamino_reserves
from core.localnet.programs import load_programs
from core.protocols import ids, kamino
from core.protocols.spl_token import decode_mint, decode_token_account


def test_genesis_writes_usdc_and_sol_reserves_with_funded_vaults_under_the_market_pda() -> None:
    svm = LiteSVM()
    sc = build_genesis(svm, 21)
    reserves = {r.symbol: r for r in kamino_reserves(sc)}
    assert set(reserves) == {"USDC", "SOL"}
    for r in reserves.values():
        acc = svm.get_account(r.address)
        assert acc is not None and acc.owner == ids.KAMINO_LEND
        state = kamino.decode_reserve(bytes(acc.data), r.address)
        assert state.lending_market == r.lending_market
        assert state.liquidity_supply_vault == r.supply_vault and state.liquidity_fee_vault == r.fee_vault
        assert state.config_flash_loan_fee_sf == FLASH_LOAN_FEE_SF
        assert state.liquidity_total_available_amount == r.available_amount > 0
        vault = decode_token_account(bytes(svm.get_account(r.supply_vault).data))
        assert vault.amount == r.available_amount
        pda = kamino.lending_market_authority(r.lending_market)[0]
        assert vault.owner == r.lending_market_authority == pda
        assert vault.mint == r.liquidity_mint == sc.token(r.symbol).mint
    usdc_value = reserves["USDC"].available_amount / 10**6
    assert 20_000_000 <= usdc_value <= 30_000_000
    market = kamino.decode_lending_market(bytes(svm.get_account(reserves["USDC"].lending_market).data))
    assert market.bump_seed == kamino.lending_market_authority(reserves["USDC"].lending_market)[1]


def test_mint_supply_counts_the_kamino_vaults() -> None:
    svm = LiteSVM()
    sc = build_genesis(svm, 22)
    usdc = next(r for r in kamino_reserves(sc) if r.symbol == "USDC")
    mint = decode_mint(bytes(svm.get_account(usdc.liquidity_mint).data))
    assert mint.supply >= usdc.available_amount


def test_scenario_json_carries_the_kamino_addresses_and_they_parse_back() -> None:
    sc = build_genesis(LiteSVM(), 23)
    plain = json.loads(sc.to_json())
    assert plain["extra"]["kamino"]["lending_market"] == str(kamino_reserves(sc)[0].lending_market)
    assert kamino_reserves(plain) == kamino_reserves(sc)
    assert kamino_reserves(build_genesis(LiteSVM(), 23)) == kamino_reserves(sc)  # deterministic per seed


def test_a_flash_loan_on_the_genesis_kamino_usdc_reserve_lands_with_the_mainnet_fee() -> None:
    svm = LiteSVM()
    sc = build_genesis(svm, 24)
    load_programs(svm, ["kamino"])
    operator, _ = operator_keypair(24, None)
    usdc_reserve = next(r for r in kamino_reserves(sc) if r.symbol == "USDC")
    state = kamino.decode_reserve(bytes(svm.get_account(usdc_reserve.address).data))
    ata = sc.wallet_token_accounts["USDC"]
    amount = 1_000_000 * 10**6
    borrow, repay = kamino.flash_loan_instructions(
        reserve_address=usdc_reserve.address, reserve=state, liquidity_amount=amount,
        borrow_instruction_index=0, user_token_account=ata, user_transfer_authority=sc.wallet,
    )
    before = token_amount(svm, ata)
    msg = MessageV0.try_compile(sc.wallet, [borrow, repay], [], svm.latest_blockhash())
    result = svm.send_transaction(VersionedTransaction(msg, [operator]))
    assert isinstance(result, TransactionMetadata), result
    fee = kamino.flash_loan_fee(amount, FLASH_LOAN_FEE_SF)
    assert fee == 10_000_000  # 0.001 % of 1,000,000 USDC
    assert token_amount(svm, ata) == before - fee
    assert token_amount(svm, usdc_reserve.fee_vault) == fee
    assert token_amount(svm, usdc_reserve.supply_vault) == usdc_reserve.available_amount
