"""One v0 transaction: flash borrow USDC → Raydium USDC→SOL → SOL→USDC on a dearer pool → repay →
profit guard. It lands with the wallet up by exactly the quoted net, or fails leaving every
account as it was but for the fee payer's signature fee."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from solders.account import Account
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import TransactionMetadata

from core.localnet.accounts import set_token_account, token_amount
from core.localnet.flash_route import FlashRoute, RouteQuote, genesis_route, quote_route, route_instructions
from core.localnet.genesis import RaydiumPool, Scenario, build_genesis, operator_keypair
from core.localnet.programs import load_programs
from core.protocols import ids
from core.protocols.profit_guard import ProfitGuardError
from core.protocols.raydium_amm import AmmError
from core.protocols.solend import flash_loan_fees
from tests.localnet.programs.tx_results import custom_error

SEED = 11
LAMPORTS_PER_SIGNATURE = 5_000
SOL = 10**9
USD = 10**6
BORROW = 20_000 * USD
DEPTH_SOL = 100_000  # per pool: 20M USDC a side, so the loan moves each price ~0.1 %


@dataclass
class World:
    svm: LiteSVM
    scenario: Scenario
    wallet: Keypair
    route: FlashRoute

    def set_price(self, pool: RaydiumPool, sol: int, usdc_per_sol: int) -> None:
        """Vault balances for `sol` SOL at `usdc_per_sol`: the pool's price, exactly."""
        set_token_account(self.svm, pool.coin_vault, pool.coin_mint, pool.authority, sol * SOL)
        set_token_account(self.svm, pool.pc_vault, pool.pc_mint, pool.authority, sol * usdc_per_sol * USD)

    def accounts(self, keys: list[Pubkey]) -> dict[Pubkey, Account | None]:
        return {k: self.svm.get_account(k) for k in keys}

    def transaction(self, ixs: list[Instruction]) -> VersionedTransaction:
        message = MessageV0.try_compile(self.wallet.pubkey(), ixs, [], self.svm.latest_blockhash())
        return VersionedTransaction(message, [self.wallet])


@pytest.fixture
def world() -> World:
    svm = LiteSVM()
    load_programs(svm)
    scenario = build_genesis(svm, SEED)
    wallet, _ = operator_keypair(SEED, None)
    assert wallet.pubkey() == scenario.wallet
    host = Pubkey.new_unique()  # a third party's host-fee account, so the wallet pays the whole fee
    set_token_account(svm, host, ids.USDC_MINT, Pubkey.new_unique(), 0)
    route = genesis_route(scenario, "USDC", "SOL", host_fee_receiver=host)
    assert (route.first.coin_mint, route.first.pc_mint) == (ids.NATIVE_MINT, ids.USDC_MINT)
    w = World(svm, scenario, wallet, route)
    w.set_price(route.first, DEPTH_SOL, 200)  # SOL is cheap here ...
    w.set_price(route.second, DEPTH_SOL, 204)  # ... and dear here: 2 % apart, far above 2 × 0.25 % fees
    return w


def restated_net(world: World) -> int:
    """The route's outcome from the vault balances with the formula written out again."""

    def base_in(amount: int, reserve_in: int, reserve_out: int) -> int:
        after_fee = amount - -(-amount * 25 // 10_000)  # ceiling fee, 25/10000
        return reserve_out * after_fee // (reserve_in + after_fee)

    r, amount = world.route, lambda key: token_amount(world.svm, key)
    sol = base_in(BORROW, amount(r.first.pc_vault), amount(r.first.coin_vault))
    usdc = base_in(sol, amount(r.second.coin_vault), amount(r.second.pc_vault))
    fee, _ = flash_loan_fees(BORROW, r.reserve.flash_loan_fee_wad, r.reserve.host_fee_percentage)
    return usdc - BORROW - fee


def involved(ixs: list[Instruction], world: World) -> list[Pubkey]:
    keys = {m.pubkey for ix in ixs for m in ix.accounts} | {world.wallet.pubkey()}
    return sorted(keys, key=bytes)


def test_profitable_route_lands_and_the_wallet_gains_exactly_the_quoted_net(world: World) -> None:
    quote = quote_route(world.svm, world.route, BORROW)
    assert quote.profitable and quote.net == restated_net(world)
    r = world.route
    watched = (r.loan_account, r.other_account, r.reserve.liquidity_supply, r.reserve.fee_receiver,
               r.host_fee_receiver)
    before = {k: token_amount(world.svm, k) for k in watched}
    payer_before = world.svm.get_balance(world.wallet.pubkey())
    ixs = route_instructions(world.svm, r, quote)

    result = world.svm.send_transaction(world.transaction(ixs))

    assert isinstance(result, TransactionMetadata), (result.err(), result.meta().logs())  # type: ignore[union-attr]
    assert token_amount(world.svm, r.loan_account) == before[r.loan_account] + quote.net
    assert token_amount(world.svm, r.other_account) == before[r.other_account]  # SOL in, SOL out
    # The loan comes back to the supply; the fee goes to the reserve's and the host's receivers.
    assert token_amount(world.svm, r.reserve.liquidity_supply) == before[r.reserve.liquidity_supply]
    assert token_amount(world.svm, r.reserve.fee_receiver) == (
        before[r.reserve.fee_receiver] + quote.fee - quote.host_fee
    )
    assert token_amount(world.svm, r.host_fee_receiver) == before[r.host_fee_receiver] + quote.host_fee
    assert world.svm.get_balance(world.wallet.pubkey()) == payer_before - LAMPORTS_PER_SIGNATURE
    assert token_amount(world.svm, r.first.coin_vault) == DEPTH_SOL * SOL - quote.middle_out
    assert token_amount(world.svm, r.second.pc_vault) == DEPTH_SOL * 204 * USD - quote.out


def test_route_with_a_compute_budget_shifted_borrow_index_is_one_v0_transaction(world: World) -> None:
    quote = quote_route(world.svm, world.route, BORROW)
    ixs = route_instructions(world.svm, world.route, quote)
    tx = world.transaction(ixs)
    raydium, solend = ids.RAYDIUM_AMM_V4, ids.SOLEND
    assert [ix.program_id for ix in ixs] == [
        ids.COMPUTE_BUDGET_PROGRAM, solend, raydium, raydium, solend, ids.PROFIT_GUARD
    ]
    assert ixs[4].data[-1] == 1  # repay names the borrow at absolute index 1
    assert len(bytes(tx)) <= 1232
    assert isinstance(tx.message, MessageV0)


def unprofitable_after_quoting(world: World) -> tuple[RouteQuote, list[Instruction], list[Pubkey]]:
    """The transaction built on the profitable state; then the dear pool falls below the cheap one."""
    quote = quote_route(world.svm, world.route, BORROW)
    assert quote.profitable
    # Swaps accept any output: only the guard stands between this route and a loss.
    ixs = route_instructions(world.svm, world.route, quote, min_outs=(1, 1))
    world.set_price(world.route.second, DEPTH_SOL, 196)
    now = quote_route(world.svm, world.route, BORROW)
    assert now.net < 0
    return now, ixs, involved(ixs, world)


def test_same_route_after_the_price_moved_fails_atomically_at_the_profit_guard(world: World) -> None:
    now, ixs, keys = unprofitable_after_quoting(world)
    # The wallet holds enough USDC to repay the loss, so repay passes and the guard refuses.
    assert token_amount(world.svm, world.route.loan_account) + now.net >= 0
    before = world.accounts(keys)

    result = world.svm.send_transaction(world.transaction(ixs))

    assert custom_error(result) == (5, int(ProfitGuardError.TokenBelowFloor))
    after = world.accounts(keys)
    payer = world.wallet.pubkey()
    for key in keys:
        if key != payer:
            assert after[key] == before[key], key
    payer_before, payer_after = before[payer], after[payer]
    assert payer_before is not None and payer_after is not None
    assert payer_after.lamports == payer_before.lamports - LAMPORTS_PER_SIGNATURE
    assert payer_after.data == payer_before.data


def test_same_route_with_exact_minimum_outputs_fails_atomically_at_the_second_swap(world: World) -> None:
    quote = quote_route(world.svm, world.route, BORROW)
    ixs = route_instructions(world.svm, world.route, quote)  # min outs = the quoted outputs
    world.set_price(world.route.second, DEPTH_SOL, 196)
    keys = involved(ixs, world)
    before = world.accounts(keys)

    result = world.svm.send_transaction(world.transaction(ixs))

    assert custom_error(result) == (3, int(AmmError.EXCEEDED_SLIPPAGE))
    after = world.accounts(keys)
    assert {k for k in keys if after[k] != before[k]} == {world.wallet.pubkey()}
    payer_after, payer_before = after[world.wallet.pubkey()], before[world.wallet.pubkey()]
    assert payer_after is not None and payer_before is not None
    assert payer_after.lamports == payer_before.lamports - LAMPORTS_PER_SIGNATURE
