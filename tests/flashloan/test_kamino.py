"""The Kamino provider: legs at the builder's indexes, fee, health, and a flash-loan arbitrage that
lands on the local cluster (loopback RPC) against the genesis Kamino USDC reserve."""

from __future__ import annotations

from dataclasses import replace

import pytest
from solders.pubkey import Pubkey
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

from core.flashloan.builder import BuiltFlashLoan, FlashLoanTxBuilder
from core.flashloan.kamino import KaminoProvider, KaminoProviderError, is_flash_borrow, repay_borrow_index
from core.flashloan.profitability import evaluate_built
from core.flashloan.provider import FlashLoanProvider, select_provider
from core.flashloan.validator import FlashLoanValidator, ValidationResult
from core.localnet.accounts import set_data_account
from core.localnet.genesis_kamino import kamino_reserves
from core.protocols import ids, kamino
from core.protocols.profit_guard import ProfitGuardError
from tests.flashloan.conftest import FlashNet, best_amount, gap_route

USDC_FEE_SF = 11_529_215_046_068
TIP = 10_000


def _state(mint: Pubkey, **kw: object) -> kamino.Reserve:
    base = kamino.Reserve(
        lending_market=Pubkey.new_unique(), liquidity_mint_pubkey=mint,
        liquidity_supply_vault=Pubkey.new_unique(),
        liquidity_fee_vault=Pubkey.new_unique(), liquidity_total_available_amount=10**12,
        config_flash_loan_fee_sf=USDC_FEE_SF,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def _provider(**kw: object) -> tuple[KaminoProvider, Pubkey, Pubkey]:
    mint, reserve = Pubkey.new_unique(), Pubkey.new_unique()
    p = KaminoProvider({mint: reserve})
    p.set_reserve(mint, _state(mint, **kw))
    return p, mint, reserve


def test_provider_fits_the_interface_with_one_leg_each_side() -> None:
    p, _, _ = _provider()
    assert isinstance(p, FlashLoanProvider)
    assert (p.name, p.program_id, p.before_count, p.after_count) == ("kamino", ids.KAMINO_LEND, 1, 1)
    assert p.setup_instructions(Pubkey.new_unique()) == []


@pytest.mark.parametrize(("before", "after"), [(0, 3), (2, 5), (1, 2)])
def test_repay_names_the_absolute_index_the_builder_gives_for_the_borrow(before: int, after: int) -> None:
    p, mint, reserve = _provider()
    owner, token = Pubkey.new_unique(), Pubkey.new_unique()
    legs = p.legs(mint, 1_000_000, owner, token, before, after)
    (borrow,), (repay,) = legs.before, legs.after
    assert is_flash_borrow(bytes(borrow.data)) and repay_borrow_index(bytes(repay.data)) == before
    assert [m.pubkey for m in borrow.accounts] == [m.pubkey for m in repay.accounts]  # klend demands it
    assert borrow.accounts[3].pubkey == reserve and borrow.accounts[6].pubkey == token
    assert set(p.accounts(mint, owner)) == {m.pubkey for m in borrow.accounts} - {owner, token}


def test_legs_refuse_a_repay_that_does_not_follow_the_borrow() -> None:
    p, mint, _ = _provider()
    with pytest.raises(ValueError, match="must follow"):
        p.legs(mint, 1, Pubkey.new_unique(), Pubkey.new_unique(), 3, 3)


def test_fee_and_liquidity_come_from_the_reserve() -> None:
    p, mint, _ = _provider()
    assert p.fee(mint, 1_000_000) == 10
    assert p.available_liquidity(mint) == 10**12
    with pytest.raises(kamino.KaminoError):
        p.fee(mint, 10**12 + 1)


@pytest.mark.parametrize(
    ("changes", "emergency", "reason"),
    [
        ({"config_flash_loan_fee_sf": kamino.U64_MAX}, False, "flash loans disabled"),
        ({"config_status": kamino.ReserveStatus.OBSOLETE}, False, "obsolete"),
        ({"version": 2}, False, "deprecated"),
        ({"liquidity_total_available_amount": 0}, False, "no available liquidity"),
        ({}, True, "emergency mode"),
    ],
)
def test_health_says_why_a_reserve_cannot_lend(
    changes: dict[str, object], emergency: bool, reason: str
) -> None:
    p, mint, _ = _provider()
    p.set_reserve(mint, _state(mint, **changes), emergency_mode=emergency)
    health = p.health(mint)
    assert not health.healthy and reason in health.reason


def test_unknown_or_unloaded_mints_are_refused_with_a_reason() -> None:
    mint = Pubkey.new_unique()
    p = KaminoProvider({mint: Pubkey.new_unique()})
    assert not p.health(mint).enabled and "not loaded" in p.health(mint).reason
    with pytest.raises(KaminoProviderError, match="refresh"):
        p.fee(mint, 1)
    assert not p.supports(Pubkey.new_unique())
    with pytest.raises(KaminoProviderError):
        p.legs(Pubkey.new_unique(), 1, Pubkey.new_unique(), Pubkey.new_unique(), 0, 1)


# --- on the local cluster -----------------------------------------------------------------------


def _kamino(f: FlashNet) -> KaminoProvider:
    return KaminoProvider({r.liquidity_mint: r.address for r in kamino_reserves(f.scenario)})


async def test_refresh_loads_the_genesis_reserves_and_auto_prefers_the_cheaper_kamino(
    flashnet: FlashNet,
) -> None:
    f = flashnet
    usdc = f.mint("USDC")
    k, s = _kamino(f), f.solend()
    await k.refresh(f.client, usdc)
    await s.refresh(f.client, usdc)
    assert k.health(usdc).healthy
    assert k.available_liquidity(usdc) == next(r for r in kamino_reserves(f.scenario)
                                               if r.symbol == "USDC").available_amount
    amount = 10_000 * 10**6
    assert k.fee(usdc, amount) == 100_000 < s.fee(usdc, amount)  # 0.001 % vs Solend's 0.05 %
    assert select_provider([s, k], usdc, amount) is k


async def test_refresh_reports_a_reserve_that_is_not_klends(flashnet: FlashNet) -> None:
    f = flashnet
    usdc = f.mint("USDC")
    wrong = KaminoProvider({usdc: f.scenario.solend_reserves[0].address})
    await wrong.refresh(f.client, usdc)
    assert not wrong.health(usdc).enabled and "owned by" in wrong.health(usdc).reason


async def _build(f: FlashNet, *, slippage_bps: int = 0) -> BuiltFlashLoan:
    route = await gap_route(f, 50_000 * 10**6)
    venues = await f.venues(route)
    provider = _kamino(f)
    usdc = f.mint("USDC")
    await provider.refresh(f.client, usdc)
    amount, _ = best_amount(route, venues, lambda a: provider.fee(usdc, a), 10**6, 50_000 * 10**6)
    builder = FlashLoanTxBuilder(f.wallet, slippage_bps=slippage_bps)
    legs = builder.quote(route, venues, amount)
    before = await f.token_balance(builder.token_account(usdc))
    blockhash = (await f.client.get_latest_blockhash()).value.blockhash
    return builder.build(
        provider=provider, loan_mint=usdc, amount=amount, legs=legs, recent_blockhash=blockhash,
        tip_lamports=TIP, loan_balance_before=before, cu_limit=400_000, cu_price_micro_lamports=1_000,
    )


async def test_kamino_flash_loan_arbitrage_lands_and_usdc_rises_by_exactly_the_predicted_net(
    flashnet: FlashNet,
) -> None:
    f = flashnet
    built = await _build(f)
    assert built.provider == "kamino"
    keys = built.tx.message.account_keys
    ixs = built.tx.message.instructions
    assert keys[ixs[built.layout.before_index].program_id_index] == ids.KAMINO_LEND
    assert repay_borrow_index(bytes(ixs[built.layout.after_index].data)) == built.layout.before_index == 2
    reserve = next(r for r in kamino_reserves(f.scenario) if r.symbol == "USDC")
    fee_vault_before = await f.token_balance(reserve.fee_vault)
    usdc_before = await f.token_balance(built.loan_token_account)
    prices = await f.pricer().prices(f.client, built.loan_mint)
    assert evaluate_built(built, prices, min_profit_usd=1.0).accepted

    assert await f.send_unchecked(bytes(built.tx)) is None

    gain = await f.token_balance(built.loan_token_account) - usdc_before
    assert gain == built.expected_out - built.amount - built.provider_fee == built.expected_gain
    assert built.provider_fee == kamino.flash_loan_fee(built.amount, USDC_FEE_SF) > 0
    assert await f.token_balance(reserve.fee_vault) - fee_vault_before == built.provider_fee
    assert await f.token_balance(reserve.supply_vault) == reserve.available_amount


async def test_unprofitable_kamino_transaction_fails_atomically_at_the_profit_guard(
    flashnet: FlashNet,
) -> None:
    f = flashnet
    built = await _build(f, slippage_bps=10_000)
    await f.big_swap(f.raydium("SOL", "USDC", 0), 400 * 10**9, coin_to_pc=True, trader=1)
    reserve = next(r for r in kamino_reserves(f.scenario) if r.symbol == "USDC")
    usdc_before = await f.token_balance(built.loan_token_account)
    supply_before = await f.token_balance(reserve.supply_vault)
    fee_vault_before = await f.token_balance(reserve.fee_vault)

    err = await f.send_unchecked(bytes(built.tx))

    assert err == TransactionErrorInstructionError(
        built.layout.guard_index, InstructionErrorCustom(ProfitGuardError.TokenBelowFloor)
    )
    assert await f.token_balance(built.loan_token_account) == usdc_before
    assert await f.token_balance(reserve.supply_vault) == supply_before
    assert await f.token_balance(reserve.fee_vault) == fee_vault_before


async def _validate(f: FlashNet, built: BuiltFlashLoan, provider: KaminoProvider) -> ValidationResult:
    prices = await f.pricer().prices(f.client, built.loan_mint)
    profit = evaluate_built(built, prices, 1.0)
    validator = FlashLoanValidator(f.client, min_profit_usd=1.0, max_compute_units=1_400_000, slippage_bps=50)
    result, _ = await validator.validate(built, provider, profit, opportunity_id=1, attempt_id="k")
    return result


async def test_a_sound_kamino_transaction_passes_every_validator_check(flashnet: FlashNet) -> None:
    f = flashnet
    built = await _build(f)
    provider = _kamino(f)
    await provider.refresh(f.client, built.loan_mint)
    result = await _validate(f, built, provider)
    assert result.passed, result.first_failure


async def test_a_kamino_reserve_disabled_on_chain_fails_reserve_health_and_the_send(
    flashnet: FlashNet,
) -> None:
    f = flashnet
    built = await _build(f)
    provider = _kamino(f)
    reserve = next(r for r in kamino_reserves(f.scenario) if r.symbol == "USDC")
    svm = f.net.cluster.svm
    state = kamino.decode_reserve(bytes(svm.get_account(reserve.address).data))
    disabled = replace(state, config_flash_loan_fee_sf=kamino.FLASH_LOANS_DISABLED_FEE_SF)
    set_data_account(svm, reserve.address, ids.KAMINO_LEND, kamino.encode_reserve(disabled))
    await provider.refresh(f.client, built.loan_mint)
    result = await _validate(f, built, provider)
    assert {c.name for c in result.checks if not c.passed} >= {"reserve_health"}
    err = await f.send_unchecked(bytes(built.tx))
    assert err == TransactionErrorInstructionError(
        built.layout.before_index, InstructionErrorCustom(kamino.LendingError.FLASH_LOANS_DISABLED)
    )
