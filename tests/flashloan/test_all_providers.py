"""The same builder, validator and executor with each of the three providers on the local cluster:
the arbitrage lands with exactly the predicted gain, an unprofitable one fails atomically paying
only the fee, every check passes, and `auto` picks the cheapest provider."""

from __future__ import annotations

from pathlib import Path

import pytest
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

from core.flashloan.builder import BuiltFlashLoan, FlashLoanTxBuilder
from core.flashloan.kamino import KaminoProvider
from core.flashloan.marginfi import MarginfiProvider
from core.flashloan.profitability import evaluate_built
from core.flashloan.provider import FlashLoanProvider
from core.flashloan.validator import CHECK_NAMES, FlashLoanValidator
from core.localnet.genesis_kamino import kamino_reserves
from core.localnet.genesis_marginfi import marginfi_account, marginfi_banks
from core.protocols.profit_guard import ProfitGuardError
from core.store import StoreReader, StoreWriter
from tests.flashloan.conftest import FlashNet, best_amount, gap_route
from tests.flashloan.test_executor import config, executor, opportunity

PROVIDERS = ("solend", "marginfi", "kamino")
TIP = 10_000


def make_provider(f: FlashNet, name: str) -> FlashLoanProvider:
    if name == "solend":
        return f.solend()
    if name == "marginfi":
        account = marginfi_account(f.scenario)
        assert account is not None
        return MarginfiProvider({b.mint: b.address for b in marginfi_banks(f.scenario)}, account)
    return KaminoProvider({r.liquidity_mint: r.address for r in kamino_reserves(f.scenario)})


async def build(f: FlashNet, name: str, slippage_bps: int = 0) -> tuple[BuiltFlashLoan, FlashLoanProvider]:
    route = await gap_route(f, 50_000 * 10**6)
    venues = await f.venues(route)
    usdc = f.mint("USDC")
    provider = make_provider(f, name)
    await provider.refresh(f.client, usdc)
    cap = min(provider.available_liquidity(usdc), 50_000 * 10**6)
    amount, _ = best_amount(route, venues, lambda a: provider.fee(usdc, a), 10**6, cap)
    builder = FlashLoanTxBuilder(f.wallet, slippage_bps=slippage_bps)
    legs = builder.quote(route, venues, amount)
    blockhash = (await f.client.get_latest_blockhash()).value.blockhash
    built = builder.build(
        provider=provider, loan_mint=usdc, amount=amount, legs=legs, recent_blockhash=blockhash,
        tip_lamports=TIP, loan_balance_before=await f.token_balance(builder.token_account(usdc)),
        cu_limit=600_000, cu_price_micro_lamports=1_000,
    )
    return built, provider


@pytest.mark.parametrize("name", PROVIDERS)
async def test_validated_arbitrage_lands_with_the_exact_predicted_net(flashnet: FlashNet, name: str) -> None:
    f = flashnet
    built, provider = await build(f, name)
    prices = await f.pricer().prices(f.client, built.loan_mint)
    profit = evaluate_built(built, prices, 1.0)
    validator = FlashLoanValidator(f.client, min_profit_usd=1.0, max_compute_units=1_400_000, slippage_bps=0)
    result, sim = await validator.validate(built, provider, profit, opportunity_id=1, attempt_id=name)
    assert [c.name for c in result.checks] == list(CHECK_NAMES)
    assert result.passed, result.first_failure
    usdc_before = await f.token_balance(built.loan_token_account)
    sol_before = await f.lamports(f.wallet.pubkey())
    assert await f.send_unchecked(bytes(built.tx)) is None
    usdc_gain = await f.token_balance(built.loan_token_account) - usdc_before
    sol_spent = sol_before - await f.lamports(f.wallet.pubkey())
    assert usdc_gain == built.expected_gain == sim.loan_balance_after - usdc_before  # type: ignore[operator]
    assert sol_spent == profit.lamport_costs
    assert profit.net == usdc_gain - prices.lamports_to_loan(sol_spent)


@pytest.mark.parametrize("name", PROVIDERS)
async def test_unprofitable_arbitrage_fails_atomically_paying_only_the_fee(
    flashnet: FlashNet, name: str
) -> None:
    f = flashnet
    built, _ = await build(f, name, slippage_bps=10_000)
    await f.big_swap(f.raydium("SOL", "USDC", 0), 400 * 10**9, coin_to_pc=True, trader=1)
    usdc_before = await f.token_balance(built.loan_token_account)
    sol_before = await f.lamports(f.wallet.pubkey())
    err = await f.send_unchecked(bytes(built.tx))
    assert err == TransactionErrorInstructionError(
        built.layout.guard_index, InstructionErrorCustom(ProfitGuardError.TokenBelowFloor)
    )
    assert await f.token_balance(built.loan_token_account) == usdc_before
    assert sol_before - await f.lamports(f.wallet.pubkey()) == 5000 + 600  # signature + priority fee


async def test_auto_dry_run_picks_the_cheapest_provider(flashnet: FlashNet, tmp_path: Path) -> None:
    f = flashnet
    opp = await opportunity(f)
    providers = [make_provider(f, n) for n in PROVIDERS]
    usdc = f.mint("USDC")
    for p in providers:
        await p.refresh(f.client, usdc)
    able = [p for p in providers if p.available_liquidity(usdc) >= opp.amount_in]
    assert able
    cheapest = min(able, key=lambda p: p.fee(usdc, opp.amount_in))
    async with await StoreWriter.open(tmp_path, "dry-run") as store:
        run = executor(f, config(provider="auto", caps=[{"max_amount_usdc": 10_000}]), store, tmp_path)
        run.providers = providers
        outcome = await run.handle(opp)
    assert outcome.state == "simulated", outcome.reason
    assert outcome.provider == cheapest.name
    with StoreReader(tmp_path, "dry-run") as reader:
        assert reader.recent_attempts()[0].provider == cheapest.name
