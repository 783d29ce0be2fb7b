"""A built flash-loan arbitrage on the local cluster, over loopback RPC, with the Solend provider."""

from __future__ import annotations

import pytest
from solana.rpc.commitment import Processed
from solana.rpc.core import RPCException
from solana.rpc.models import TxOpts
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

from core.flashloan.builder import BuiltFlashLoan, FlashLoanTxBuilder
from core.flashloan.profitability import evaluate_built
from core.flashloan.solend import SolendProvider
from core.protocols import ids
from core.protocols.profit_guard import ProfitGuardError
from tests.flashloan.conftest import FlashNet, best_amount, gap_route

TIP = 10_000


async def build_arb(
    f: FlashNet, *, cu_limit: int | None = 400_000, cu_price: int | None = 1_000, slippage_bps: int = 0,
    usdc_in: int = 50_000 * 10**6,
) -> tuple[BuiltFlashLoan, SolendProvider]:
    route = await gap_route(f, usdc_in)
    venues = await f.venues(route)
    solend = f.solend()
    usdc = f.mint("USDC")
    await solend.refresh(f.client, usdc)
    amount, _ = best_amount(route, venues, lambda a: solend.fee(usdc, a), 10**6, 50_000 * 10**6)
    builder = FlashLoanTxBuilder(f.wallet, slippage_bps=slippage_bps)
    legs = builder.quote(route, venues, amount)
    before = await f.token_balance(builder.token_account(usdc))
    blockhash = (await f.client.get_latest_blockhash()).value.blockhash
    built = builder.build(
        provider=solend, loan_mint=usdc, amount=amount, legs=legs, recent_blockhash=blockhash,
        tip_lamports=TIP, loan_balance_before=before, cu_limit=cu_limit, cu_price_micro_lamports=cu_price,
    )
    return built, solend


async def test_flash_loan_arbitrage_lands_and_usdc_rises_by_exactly_the_predicted_net(
    flashnet: FlashNet,
) -> None:
    f = flashnet
    built, _ = await build_arb(f)
    usdc_ata = built.loan_token_account
    prices = await f.pricer().prices(f.client, built.loan_mint)
    profit = evaluate_built(built, prices, min_profit_usd=1.0)
    assert profit.accepted
    usdc_before = await f.token_balance(usdc_ata)
    sol_before = await f.lamports(f.wallet.pubkey())
    tip_before = await f.lamports(built.tip_account)

    assert await f.send_unchecked(bytes(built.tx)) is None

    usdc_gain = await f.token_balance(usdc_ata) - usdc_before
    sol_spent = sol_before - await f.lamports(f.wallet.pubkey())
    # The token side is exactly the quote net of the Solend fee; the lamport side exactly the
    # signature fee, the priority fee (price × requested limit, rounded up) and the tip.
    assert usdc_gain == built.expected_out - built.amount - built.provider_fee == built.expected_gain
    assert sol_spent == profit.lamport_costs == 5000 + -(-1_000 * 400_000 // 10**6) + TIP
    assert await f.lamports(built.tip_account) - tip_before == TIP
    # Net in the loan token: the USDC gain less the lamports at the on-cluster price.
    assert profit.net == usdc_gain - prices.lamports_to_loan(sol_spent)


async def test_unprofitable_transaction_fails_atomically_at_the_profit_guard(flashnet: FlashNet) -> None:
    f = flashnet
    # Min-outs of zero: the swaps go through whatever the price, so only the guard stands between
    # a loss and the wallet (the wallet's own USDC is enough to repay the loan).
    built, _ = await build_arb(f, slippage_bps=10_000)
    last_pool = f.raydium("SOL", "USDC", 0)
    # Someone sells SOL into the pool our last hop sells SOL into: the cycle now loses.
    await f.big_swap(last_pool, 400 * 10**9, coin_to_pc=True, trader=1)
    usdc_before = await f.token_balance(built.loan_token_account)
    sol_before = await f.lamports(f.wallet.pubkey())
    tip_before = await f.lamports(built.tip_account)
    reserve = f.scenario.solend_reserves[0]
    supply_before = await f.token_balance(reserve.liquidity_supply)

    err = await f.send_unchecked(bytes(built.tx))

    assert err is not None
    assert err == TransactionErrorInstructionError(
        built.layout.guard_index, InstructionErrorCustom(ProfitGuardError.TokenBelowFloor)
    )
    assert await f.token_balance(built.loan_token_account) == usdc_before
    assert await f.token_balance(reserve.liquidity_supply) == supply_before
    assert await f.lamports(built.tip_account) == tip_before
    # Only the fee: the signature and the priority fee (charged even when the transaction fails).
    assert sol_before - await f.lamports(f.wallet.pubkey()) == 5000 + 400


async def test_same_transaction_fails_in_a_swap_when_min_out_is_exact(flashnet: FlashNet) -> None:
    f = flashnet
    built, _ = await build_arb(f, slippage_bps=0)
    await f.big_swap(f.raydium("SOL", "USDC", 0), 400 * 10**9, coin_to_pc=True, trader=1)
    usdc_before = await f.token_balance(built.loan_token_account)
    with pytest.raises(RPCException):
        # Preflight simulation refuses it: nothing is even sent.
        await f.client.send_raw_transaction(bytes(built.tx), TxOpts(preflight_commitment=Processed))
    err = await f.send_unchecked(bytes(built.tx))
    assert err is not None
    assert await f.token_balance(built.loan_token_account) == usdc_before


@pytest.mark.parametrize(
    ("cu_limit", "cu_price"), [(None, None), (400_000, None), (None, 5_000), (400_000, 5_000)]
)
async def test_flash_indexes_hold_with_zero_one_or_two_compute_budget_instructions(
    flashnet: FlashNet, cu_limit: int | None, cu_price: int | None
) -> None:
    f = flashnet
    built, _ = await build_arb(f, cu_limit=cu_limit, cu_price=cu_price)
    n_budget = (cu_limit is not None) + (cu_price is not None)
    assert built.layout.compute_budget == n_budget
    assert built.layout.before_index == n_budget
    ixs = built.tx.message.instructions
    keys = built.tx.message.account_keys
    assert keys[ixs[n_budget].program_id_index] == ids.SOLEND
    repay = ixs[built.layout.after_index]
    assert keys[repay.program_id_index] == ids.SOLEND
    assert bytes(repay.data)[9] == n_budget  # borrow_instruction_index
    before = await f.token_balance(built.loan_token_account)
    assert await f.send_unchecked(bytes(built.tx)) is None
    assert await f.token_balance(built.loan_token_account) - before == built.expected_gain
