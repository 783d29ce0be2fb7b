"""The MarginFi provider on the local cluster, over loopback RPC: state, legs, and a landed arbitrage."""

from __future__ import annotations

from dataclasses import replace

import pytest
from solders.compute_budget import set_compute_unit_limit
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from core.flashloan.builder import FlashLoanTxBuilder
from core.flashloan.marginfi import (
    MarginfiProvider,
    MarginfiProviderError,
    end_flashloan_index,
    is_end_flashloan,
)
from core.flashloan.profitability import evaluate_built
from core.flashloan.provider import FlashLoanProvider, select_provider
from core.localnet.accounts import set_data_account
from core.localnet.genesis_marginfi import marginfi_account, marginfi_banks
from core.protocols import ids
from core.protocols import marginfi as mf
from tests.flashloan.conftest import FlashNet, best_amount, gap_route

TIP = 10_000


def provider_for(f: FlashNet, account: Pubkey | None = None) -> MarginfiProvider:
    banks = {b.mint: b.address for b in marginfi_banks(f.scenario)}
    genesis_account = marginfi_account(f.scenario)
    assert genesis_account is not None
    return MarginfiProvider(banks, account or genesis_account)


async def test_provider_loads_the_genesis_banks_and_quotes_a_free_flash_loan(flashnet: FlashNet) -> None:
    f = flashnet
    p = provider_for(f)
    assert isinstance(p, FlashLoanProvider)
    usdc = f.mint("USDC")
    assert p.supports(usdc) and not p.supports(f.mint("BONK"))
    with pytest.raises(MarginfiProviderError):
        p.fee(usdc, 10**6)  # nothing loaded yet
    await p.refresh(f.client, usdc)
    bank = next(b for b in marginfi_banks(f.scenario) if b.symbol == "USDC")
    assert p.available_liquidity(usdc) == bank.deposits
    assert p.fee(usdc, 10**9) == 0
    health = p.health(usdc)
    assert health.healthy and health.utilization_bps == 0
    assert p.setup_instructions(f.wallet.pubkey()) == []  # genesis created the account
    keys = p.accounts(usdc, f.wallet.pubkey())
    assert {bank.address, bank.group, bank.liquidity_vault, bank.liquidity_vault_authority} <= set(keys)


async def test_legs_point_end_index_at_the_end_instruction(flashnet: FlashNet) -> None:
    f = flashnet
    p = provider_for(f)
    usdc = f.mint("USDC")
    await p.refresh(f.client, usdc)
    legs = p.legs(usdc, 10**6, f.wallet.pubkey(), Keypair().pubkey(), before_index=2, after_index=6)
    assert len(legs.before) == p.before_count == 2 and len(legs.after) == p.after_count == 2
    assert end_flashloan_index(bytes(legs.before[0].data)) == 7
    assert is_end_flashloan(bytes(legs.after[1].data))
    assert bytes(legs.after[0].data)[-2:] == b"\x01\x01"  # repay_all = Some(true)
    with pytest.raises(ValueError):
        p.legs(usdc, 10**6, f.wallet.pubkey(), Keypair().pubkey(), before_index=2, after_index=3)


async def test_a_missing_account_is_created_by_the_setup_instruction(flashnet: FlashNet) -> None:
    f = flashnet
    new = Keypair()
    p = provider_for(f, new.pubkey())
    usdc = f.mint("USDC")
    await p.refresh(f.client, usdc)
    setup = p.setup_instructions(f.wallet.pubkey())
    assert len(setup) == 1
    blockhash = (await f.client.get_latest_blockhash()).value.blockhash
    msg = MessageV0.try_compile(f.wallet.pubkey(), setup, [], blockhash)
    tx = VersionedTransaction(msg, [f.wallet, new])
    assert await f.send_unchecked(bytes(tx)) is None
    await p.refresh(f.client, usdc)
    assert p.setup_instructions(f.wallet.pubkey()) == []


async def test_a_paused_bank_is_reported_unhealthy_and_auto_skips_it(flashnet: FlashNet) -> None:
    f = flashnet
    usdc = f.mint("USDC")
    bank = next(b for b in marginfi_banks(f.scenario) if b.symbol == "USDC")
    state = mf.decode_bank(bytes(f.net.cluster.svm.get_account(bank.address).data))  # type: ignore[union-attr]
    paused = replace(state, config=replace(state.config, operational_state=mf.OperationalState.PAUSED))
    set_data_account(f.net.cluster.svm, bank.address, ids.MARGINFI_V2, mf.encode_bank(paused))
    p = provider_for(f)
    await p.refresh(f.client, usdc)
    health = p.health(usdc)
    assert not health.healthy and "operational_state 0" in health.reason
    solend = f.solend()
    await solend.refresh(f.client, usdc)
    assert select_provider([p, solend], usdc, 10**6) is solend


async def test_auto_prefers_free_marginfi_over_solend(flashnet: FlashNet) -> None:
    f = flashnet
    usdc = f.mint("USDC")
    p, solend = provider_for(f), f.solend()
    await p.refresh(f.client, usdc)
    await solend.refresh(f.client, usdc)
    assert select_provider([solend, p], usdc, 10**9) is p


async def test_marginfi_flash_loan_arbitrage_lands_and_usdc_rises_by_exactly_the_predicted_net(
    flashnet: FlashNet,
) -> None:
    f = flashnet
    route = await gap_route(f, 50_000 * 10**6)
    venues = await f.venues(route)
    p = provider_for(f)
    usdc = f.mint("USDC")
    await p.refresh(f.client, usdc)
    amount, _ = best_amount(route, venues, lambda a: p.fee(usdc, a), 10**6, 50_000 * 10**6)
    builder = FlashLoanTxBuilder(f.wallet, slippage_bps=0)
    legs = builder.quote(route, venues, amount)
    ata = builder.token_account(usdc)
    before = await f.token_balance(ata)
    blockhash = (await f.client.get_latest_blockhash()).value.blockhash
    built = builder.build(
        provider=p,
        loan_mint=usdc,
        amount=amount,
        legs=legs,
        recent_blockhash=blockhash,
        tip_lamports=TIP,
        loan_balance_before=before,
        cu_limit=400_000,
        cu_price_micro_lamports=1_000,
    )
    assert built.provider == "marginfi" and built.provider_fee == 0
    # end_index names the end_flashloan, wherever the builder placed it.
    ixs = built.instructions
    start = next(i for i, ix in enumerate(ixs) if end_flashloan_index(bytes(ix.data)) is not None)
    assert is_end_flashloan(bytes(ixs[end_flashloan_index(bytes(ixs[start].data))].data))  # type: ignore[index]
    prices = await f.pricer().prices(f.client, usdc)
    assert evaluate_built(built, prices, min_profit_usd=1.0).accepted
    vault = next(b for b in marginfi_banks(f.scenario) if b.symbol == "USDC").liquidity_vault
    vault_before = await f.token_balance(vault)

    assert await f.send_unchecked(bytes(built.tx)) is None

    assert await f.token_balance(ata) - before == built.expected_out - built.amount == built.expected_gain
    assert await f.token_balance(vault) == vault_before
    await p.refresh(f.client, usdc)
    assert p.health(usdc).healthy  # the account's flash-loan flag is cleared again


def test_budget_instruction_in_front_is_counted_in_end_index() -> None:
    # Pure index arithmetic on legs built from a decoded bank, no cluster needed.
    mint, bank_key = Pubkey(bytes([1]) * 32), Pubkey(bytes([2]) * 32)
    p = MarginfiProvider({mint: bank_key}, Pubkey(bytes([3]) * 32))
    p.set_bank(
        mint, mf.Bank(mint=mint, group=Pubkey(bytes([4]) * 32), liquidity_vault=Pubkey(bytes([5]) * 32)), 10
    )
    p.set_account(mf.MarginfiAccount(group=Pubkey(bytes([4]) * 32), authority=Pubkey(bytes([6]) * 32)))
    for n_budget in (0, 1, 2):
        prefix = [set_compute_unit_limit(1)] * n_budget
        legs = p.legs(mint, 5, Pubkey(bytes([6]) * 32), Pubkey(bytes([7]) * 32), n_budget, n_budget + 3)
        swap = Instruction(ids.MEMO_PROGRAM, b"swap", [])
        message = [*prefix, *legs.before, swap, *legs.after]
        assert end_flashloan_index(bytes(legs.before[0].data)) == len(message) - 1
