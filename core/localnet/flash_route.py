"""The reference flash-loan arbitrage on the local cluster's programs, quoted and built exactly.

One transaction: [compute budget] → Solend flash borrow (loan token) → Raydium swap loan→other on
the first pool → Raydium swap other→loan on the second pool → flash repay → profit guard. Quotes
come from the same integer math the programs run (core/quote, solend.flash_loan_fees), read from
the accounts in a LiteSVM, so the guard floor can be the exact expected balance. Used by the
atomicity test (tests/localnet/programs/test_flash_arbitrage_atomic.py) and bench/programs.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.compute_budget import set_compute_unit_limit
from solders.instruction import Instruction
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey

from core.localnet.accounts import token_amount
from core.localnet.genesis import RaydiumPool, Scenario, SolendReserve
from core.protocols import profit_guard, raydium_amm, solend
from core.quote.raydium_amm import quote_pool_base_in

DEFAULT_COMPUTE_UNIT_LIMIT = 400_000


@dataclass(frozen=True, slots=True)
class FlashRoute:
    """Borrow `reserve`'s token, sell it on `first` for the pool's other token, buy it back on
    `second`. Both pools pair the loan token with the same other token."""

    reserve: SolendReserve
    first: RaydiumPool
    second: RaydiumPool
    wallet: Pubkey
    loan_account: Pubkey  # the wallet's token account of the loan token
    other_account: Pubkey  # the wallet's token account of the middle token
    host_fee_receiver: Pubkey


@dataclass(frozen=True, slots=True)
class RouteQuote:
    amount: int  # borrowed
    middle_out: int  # first swap output
    out: int  # second swap output, in the loan token
    fee: int  # total flash-loan fee
    host_fee: int
    net: int  # change of the wallet's loan-token balance: out - amount - fee (+ host fee if ours)

    @property
    def profitable(self) -> bool:
        return self.net > 0


def _pool_state(svm: LiteSVM, pool: RaydiumPool) -> tuple[raydium_amm.AmmInfo, int, int]:
    acc = svm.get_account(pool.address)
    if acc is None:
        raise KeyError(f"no pool account {pool.address}")
    info = raydium_amm.decode_amm_info(bytes(acc.data), pool.address)
    return info, token_amount(svm, pool.coin_vault), token_amount(svm, pool.pc_vault)


def _reserve_state(svm: LiteSVM, reserve: SolendReserve) -> solend.Reserve:
    acc = svm.get_account(reserve.address)
    if acc is None:
        raise KeyError(f"no reserve account {reserve.address}")
    return solend.decode_reserve(bytes(acc.data), reserve.address)


def _sells_coin(pool: RaydiumPool, mint_in: Pubkey) -> bool:
    if mint_in == pool.coin_mint:
        return True
    if mint_in == pool.pc_mint:
        return False
    raise ValueError(f"pool {pool.address} does not trade {mint_in}")


def quote_route(svm: LiteSVM, route: FlashRoute, amount: int) -> RouteQuote:
    """The exact outcome of the route for `amount` on the state now in `svm`.

    Raises RaydiumSwapError / SolendError where the programs would refuse."""
    loan_mint = route.reserve.liquidity_mint
    info1, coin1, pc1 = _pool_state(svm, route.first)
    first_sells_coin = _sells_coin(route.first, loan_mint)
    middle = quote_pool_base_in(info1, coin1, pc1, amount, first_sells_coin)
    middle_mint = route.first.pc_mint if first_sells_coin else route.first.coin_mint
    info2, coin2, pc2 = _pool_state(svm, route.second)
    out = quote_pool_base_in(info2, coin2, pc2, middle, _sells_coin(route.second, middle_mint))
    fee, host = solend.flash_loan_cost(_reserve_state(svm, route.reserve), amount)
    refund = host if route.host_fee_receiver == route.loan_account else 0
    return RouteQuote(amount, middle, out, fee, host, out - amount - fee + refund)


def _swap(
    svm: LiteSVM,
    pool: RaydiumPool,
    source: Pubkey,
    destination: Pubkey,
    owner: Pubkey,
    amount: int,
    min_out: int,
) -> Instruction:
    info, _, _ = _pool_state(svm, pool)
    return raydium_amm.swap_base_in_v2(pool.address, info, source, destination, owner, amount, min_out)


def route_instructions(
    svm: LiteSVM,
    route: FlashRoute,
    quote: RouteQuote,
    *,
    min_outs: tuple[int, int] | None = None,
    guard_floor: int | None = None,
    compute_unit_limit: int = DEFAULT_COMPUTE_UNIT_LIMIT,
) -> list[Instruction]:
    """[limit, borrow, swap, swap, repay, guard] for `quote`.

    `min_outs` defaults to the quoted outputs (no slippage allowed); `guard_floor` defaults to the
    wallet's loan-token balance now plus the quoted net, the exact balance the route must leave."""
    reserve_state = _reserve_state(svm, route.reserve)
    borrow, repay = solend.flash_loan_instructions(
        reserve_address=route.reserve.address,
        reserve=reserve_state,
        liquidity_amount=quote.amount,
        borrow_instruction_index=1,  # after the compute-budget instruction
        user_token_account=route.loan_account,
        user_transfer_authority=route.wallet,
        host_fee_receiver=route.host_fee_receiver,
    )
    first_min, second_min = min_outs if min_outs is not None else (quote.middle_out, quote.out)
    floor = token_amount(svm, route.loan_account) + quote.net if guard_floor is None else guard_floor
    loan, other, wallet = route.loan_account, route.other_account, route.wallet
    return [
        set_compute_unit_limit(compute_unit_limit),
        borrow,
        _swap(svm, route.first, loan, other, wallet, quote.amount, first_min),
        _swap(svm, route.second, other, loan, wallet, quote.middle_out, second_min),
        repay,
        profit_guard.check_floor(route.loan_account, floor),
    ]


def genesis_route(
    scenario: Scenario, loan: str = "USDC", other: str = "SOL", *, host_fee_receiver: Pubkey | None = None
) -> FlashRoute:
    """The first two genesis pools pairing `loan` with `other`, the `loan` reserve, the wallet."""
    loan_mint, other_mint = scenario.token(loan).mint, scenario.token(other).mint
    pools = [p for p in scenario.raydium_pools if {p.coin_mint, p.pc_mint} == {loan_mint, other_mint}]
    if len(pools) < 2:
        raise ValueError(f"genesis has {len(pools)} {other}/{loan} pools; a route needs two")
    reserve = next(r for r in scenario.solend_reserves if r.symbol == loan)
    return FlashRoute(
        reserve=reserve,
        first=pools[0],
        second=pools[1],
        wallet=scenario.wallet,
        loan_account=scenario.wallet_token_accounts[loan],
        other_account=scenario.wallet_token_accounts[other],
        # The wallet's own account as host receiver: allowed, and it refunds the host share.
        host_fee_receiver=host_fee_receiver or scenario.wallet_token_accounts[loan],
    )
