"""Genesis: a deterministic, realistic market written into LiteSVM."""

from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction
from spl.token.instructions import sync_native
from spl.token.models import SyncNativeParams

from core.localnet.accounts import token_amount
from core.localnet.genesis import Scenario, associated_token_address, build_genesis, operator_keypair
from core.localnet.programs import load_programs
from core.protocols import ids, raydium_amm, solend
from core.protocols.spl_token import decode_mint, decode_token_account


def _genesis(seed: int, store_dir: Path | None = None) -> tuple[LiteSVM, Scenario]:
    svm = LiteSVM()
    return svm, build_genesis(svm, seed, store_dir)


def _scenario_accounts(sc: Scenario) -> list[Pubkey]:
    keys: list[Pubkey] = [t.mint for t in sc.tokens]
    for p in sc.raydium_pools:
        keys += [p.address, p.coin_vault, p.pc_vault, p.lp_mint, p.open_orders, p.market, p.target_orders]
    for r in sc.solend_reserves:
        keys += [r.address, r.lending_market, r.liquidity_supply, r.fee_receiver, r.collateral_mint]
    for t in sc.traders:
        keys += [t.pubkey, *t.token_accounts.values()]
    return keys


def _snapshot(svm: LiteSVM, keys: list[Pubkey]) -> dict[Pubkey, tuple[int, bytes, Pubkey]]:
    out = {}
    for k in keys:
        acc = svm.get_account(k)
        assert acc is not None, f"genesis did not create {k}"
        out[k] = (acc.lamports, bytes(acc.data), acc.owner)
    return out


def test_same_seed_gives_identical_accounts_byte_for_byte() -> None:
    svm_a, sc_a = _genesis(11)
    svm_b, sc_b = _genesis(11)
    assert sc_a.to_json() == sc_b.to_json()
    keys = [*_scenario_accounts(sc_a), sc_a.wallet, *sc_a.wallet_token_accounts.values()]
    assert _snapshot(svm_a, keys) == _snapshot(svm_b, keys)


def test_another_seed_gives_other_addresses_and_prices() -> None:
    _, sc_a = _genesis(11)
    _, sc_b = _genesis(12)
    pools_a = {p.address for p in sc_a.raydium_pools}
    assert not pools_a & {p.address for p in sc_b.raydium_pools}
    assert sc_a.token("SOL").usd_price != sc_b.token("SOL").usd_price
    assert sc_a.wallet != sc_b.wallet
    # Fixed mainnet mints stay where mainnet has them.
    assert sc_a.token("USDC").mint == sc_b.token("USDC").mint == ids.USDC_MINT


def test_native_usdc_usdt_mints_are_at_mainnet_addresses_with_real_decimals() -> None:
    svm, sc = _genesis(1)
    expected = {"SOL": (ids.NATIVE_MINT, 9), "USDC": (ids.USDC_MINT, 6), "USDT": (ids.USDT_MINT, 6)}
    for symbol, (mint, decimals) in expected.items():
        assert sc.token(symbol).mint == mint
        acc = svm.get_account(mint)
        assert acc is not None and acc.owner == ids.TOKEN_PROGRAM
        assert decode_mint(bytes(acc.data)).decimals == decimals
    assert len(sc.tokens) >= 7
    decimals = {t.symbol: t.decimals for t in sc.tokens}
    assert decimals["mSOL"] == 9 and decimals["BONK"] == 5 and decimals["JUP"] == 6


def test_each_mint_supply_equals_what_its_holders_hold() -> None:
    svm, sc = _genesis(3)
    held: dict[Pubkey, int] = {}
    for _, acc in svm.get_program_accounts(ids.TOKEN_PROGRAM):
        if len(acc.data) == 165:
            ta = decode_token_account(bytes(acc.data))
            held[ta.mint] = held.get(ta.mint, 0) + ta.amount
    for t in sc.tokens:
        mint = decode_mint(bytes(svm.get_account(t.mint).data))
        if t.mint == ids.NATIVE_MINT:
            assert mint.supply == 0 and mint.mint_authority is None
        else:
            assert mint.supply == held[t.mint], t.symbol


def test_raydium_pools_are_live_swap_only_pools_with_vaults_under_the_amm_authority() -> None:
    svm, sc = _genesis(5)
    assert len(sc.raydium_pools) >= 20
    for p in sc.raydium_pools:
        acc = svm.get_account(p.address)
        assert acc.owner == ids.RAYDIUM_AMM_V4 and len(acc.data) == raydium_amm.AMM_INFO_LEN
        info = raydium_amm.decode_amm_info(bytes(acc.data))
        assert info.status == raydium_amm.AmmStatus.SWAP_ONLY
        assert (info.fees.swap_fee_numerator, info.fees.swap_fee_denominator) == (25, 10_000)
        assert raydium_amm.amm_authority(info.nonce) == p.authority
        assert (info.coin_vault, info.pc_vault) == (p.coin_vault, p.pc_vault)
        assert (info.coin_vault_mint, info.pc_vault_mint) == (p.coin_mint, p.pc_mint)
        for vault, mint in ((p.coin_vault, p.coin_mint), (p.pc_vault, p.pc_mint)):
            ta = decode_token_account(bytes(svm.get_account(vault).data))
            assert ta.owner == p.authority and ta.mint == mint
        for placeholder in (p.open_orders, p.market, p.target_orders, p.lp_mint):
            assert svm.get_account(placeholder) is not None


def test_pools_have_realistic_depth_and_prices_close_to_the_token_prices() -> None:
    svm, sc = _genesis(9)
    for p in sc.raydium_pools:
        coin, pc = sc.token(p.coin_symbol), sc.token(p.pc_symbol)
        coin_usd = token_amount(svm, p.coin_vault) / 10**coin.decimals * coin.usd_price
        pc_usd = token_amount(svm, p.pc_vault) / 10**pc.decimals * pc.usd_price
        assert 100_000 <= coin_usd <= 10_000_000
        assert abs(pc_usd / coin_usd - 1) < 0.01


def test_pools_sharing_pairs_form_two_and_three_hop_cycles() -> None:
    _, sc = _genesis(2)
    pairs: dict[frozenset[str], int] = {}
    for p in sc.raydium_pools:
        key = frozenset((p.coin_symbol, p.pc_symbol))
        pairs[key] = pairs.get(key, 0) + 1
    assert pairs[frozenset(("SOL", "USDC"))] >= 2
    assert pairs[frozenset(("USDT", "USDC"))] >= 2
    assert sum(1 for n in pairs.values() if n >= 2) >= 5
    symbols = {s for pair in pairs for s in pair}
    triangles = [t for t in itertools.combinations(sorted(symbols), 3)
                 if all(frozenset(e) in pairs for e in itertools.combinations(t, 2))]
    assert len(triangles) >= 5


def test_solend_reserves_hold_their_liquidity_with_mainnet_fees() -> None:
    svm, sc = _genesis(4)
    assert {r.symbol for r in sc.solend_reserves} >= {"USDC", "SOL", "USDT"}
    for r in sc.solend_reserves:
        reserve = solend.decode_reserve(bytes(svm.get_account(r.address).data))
        assert reserve.flash_loan_fee_wad == 500_000_000_000_000
        assert reserve.host_fee_percentage == 20
        assert reserve.lending_market == r.lending_market
        assert reserve.liquidity_supply_pubkey == r.liquidity_supply
        assert reserve.available_amount == token_amount(svm, r.liquidity_supply) > 0
        supply = decode_token_account(bytes(svm.get_account(r.liquidity_supply).data))
        assert supply.owner == solend.lending_market_authority(r.lending_market)[0]
        market = solend.decode_lending_market(bytes(svm.get_account(r.lending_market).data))
        assert market.bump_seed == solend.lending_market_authority(r.lending_market)[1]


def test_operator_wallet_keypair_is_created_0600_in_the_store_dir_and_reused(tmp_path: Path) -> None:
    svm, sc = _genesis(6, tmp_path)
    assert sc.wallet_keypair_path is not None and sc.wallet_keypair_path.parent == tmp_path
    assert stat.S_IMODE(os.stat(sc.wallet_keypair_path).st_mode) == 0o600
    assert svm.get_balance(sc.wallet) >= 10 * 10**9
    usdc_ata = associated_token_address(sc.wallet, ids.USDC_MINT)
    assert sc.wallet_token_accounts["USDC"] == usdc_ata and token_amount(svm, usdc_ata) > 0
    assert set(sc.wallet_token_accounts) == {t.symbol for t in sc.tokens}
    assert token_amount(svm, sc.wallet_token_accounts["SOL"]) > 0
    _, again = _genesis(6, tmp_path)
    assert again.wallet == sc.wallet


def test_wrapping_sol_and_sync_native_work_on_the_genesis_native_mint() -> None:
    svm, sc = _genesis(8)
    trader: Keypair = sc.traders[0].keypair
    wsol = sc.traders[0].token_accounts["SOL"]
    before = token_amount(svm, wsol)
    ixs = [
        transfer(TransferParams(from_pubkey=trader.pubkey(), to_pubkey=wsol, lamports=1_000_000)),
        sync_native(SyncNativeParams(program_id=ids.TOKEN_PROGRAM, account=wsol)),
    ]
    tx = Transaction([trader], Message(ixs, trader.pubkey()), svm.latest_blockhash())
    result = svm.send_transaction(tx)
    assert not hasattr(result, "err"), result
    assert token_amount(svm, wsol) == before + 1_000_000


def test_noise_traders_are_funded_in_every_token() -> None:
    svm, sc = _genesis(10)
    assert len(sc.traders) >= 4
    for t in sc.traders:
        assert svm.get_balance(t.pubkey) > 0
        assert set(t.token_accounts) == {tok.symbol for tok in sc.tokens}
        for ata in t.token_accounts.values():
            assert token_amount(svm, ata) > 0


@pytest.mark.parametrize("seed", [0, 2**32 + 5])
def test_scenario_json_names_every_pool_and_no_secret(seed: int) -> None:
    _, sc = _genesis(seed)
    text = sc.to_json()
    assert all(str(p.address) in text for p in sc.raydium_pools)
    assert str(list(bytes(sc.traders[0].keypair))[:8])[1:-1] not in text


def test_whirlpools_join_genesis_with_vaults_the_supply_counts() -> None:
    svm, sc = _genesis(12)
    assert len(sc.whirlpools) >= 4
    for w in sc.whirlpools:
        acc = svm.get_account(w.address)
        assert acc is not None and acc.owner == ids.ORCA_WHIRLPOOL
        for vault, mint in ((w.token_vault_a, w.token_mint_a), (w.token_vault_b, w.token_mint_b)):
            ta = decode_token_account(bytes(svm.get_account(vault).data))
            assert ta.mint == mint and ta.amount > 0
        assert all(svm.get_account(t) is not None for t in w.tick_arrays)
    assert str(sc.whirlpools[0].address) in sc.to_json()


def test_a_flash_loan_on_the_genesis_usdc_reserve_lands_with_the_mainnet_fee() -> None:
    svm, sc = _genesis(13)
    load_programs(svm, ["solend"])
    operator, _ = operator_keypair(13, None)
    assert operator.pubkey() == sc.wallet
    usdc = next(r for r in sc.solend_reserves if r.symbol == "USDC")
    ata = sc.wallet_token_accounts["USDC"]
    amount = 1_000 * 10**6
    borrow = solend.flash_borrow_reserve_liquidity(
        liquidity_amount=amount, source_liquidity=usdc.liquidity_supply, destination_liquidity=ata,
        reserve=usdc.address, lending_market=usdc.lending_market,
    )
    repay = solend.flash_repay_reserve_liquidity(
        liquidity_amount=amount, borrow_instruction_index=0, source_liquidity=ata,
        destination_liquidity=usdc.liquidity_supply, reserve_liquidity_fee_receiver=usdc.fee_receiver,
        host_fee_receiver=ata, reserve=usdc.address, lending_market=usdc.lending_market,
        user_transfer_authority=sc.wallet,
    )
    before = token_amount(svm, ata)
    tx = Transaction([operator], Message([borrow, repay], sc.wallet), svm.latest_blockhash())
    result = svm.send_transaction(tx)
    assert not hasattr(result, "err"), result
    total, host = solend.flash_loan_fees(amount, usdc.flash_loan_fee_wad, usdc.host_fee_percentage)
    assert total == 500_000  # 0.05 % of 1,000 USDC
    assert token_amount(svm, ata) == before - total + host  # the host share came back to us
    assert token_amount(svm, usdc.fee_receiver) == total - host
