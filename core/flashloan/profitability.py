"""Plan 7.3: is this flash loan worth sending? Integer base units end to end.

net (loan units) = gross from the exact quote − provider fee − lamport costs converted to the
loan token, where lamport costs = signature fees + priority fee (price × *requested* CU limit,
rounded up as the runtime does) + tip + rent of every account created and not closed. Lamports
convert to the loan token at an on-cluster pool price, rounded up so a cost is never understated.
Accept iff net in USD ≥ `flash_loan.min_profit_usd`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

from solana.rpc.async_api import AsyncClient
from solders.message import MessageV0
from solders.pubkey import Pubkey

from core.flashloan.builder import BuiltFlashLoan
from core.flashloan.venues import Venue, load_venues
from core.localnet.tx_inspect import compute_budget
from core.protocols import ids
from core.search.dex_raydium import RaydiumState
from core.search.dex_whirlpool import WhirlpoolState

LAMPORTS_PER_SIGNATURE = 5000
MICRO_LAMPORTS_PER_LAMPORT = 1_000_000
# Rent-exempt minimum of a 165-byte SPL token account: (128 + 165) × 3480 × 2.
TOKEN_ACCOUNT_RENT_LAMPORTS = 2_039_280
USD_DECIMALS = 6  # USDC is the USD numeraire on the cluster


class PriceError(Exception):
    """No on-cluster price links the loan mint to SOL (or to USD)."""


def priority_fee_lamports(cu_price_micro_lamports: int, cu_limit: int) -> int:
    """ceil(price × limit / 10⁶): the runtime charges the requested limit, not the CU consumed."""
    return -(-cu_price_micro_lamports * cu_limit // MICRO_LAMPORTS_PER_LAMPORT)


@dataclass(frozen=True)
class LoanPrices:
    """On-cluster prices of one loan mint: loan units per lamport and USD per loan unit."""

    mint: Pubkey
    loan_per_lamport: Fraction
    usd_per_unit: Fraction

    def lamports_to_loan(self, lamports: int) -> int:
        value = lamports * self.loan_per_lamport
        return -(-value.numerator // value.denominator)

    def loan_to_lamports(self, units: int) -> int:
        if self.loan_per_lamport == 0:
            raise PriceError(f"{self.mint}: zero price")
        return int(units / self.loan_per_lamport)

    def to_usd(self, units: int) -> float:
        return float(units * self.usd_per_unit)

    def from_usd(self, usd: float) -> int:
        """Loan units worth `usd` (floor)."""
        if self.usd_per_unit == 0:
            raise PriceError(f"{self.mint}: zero USD price")
        return int(Fraction(usd) / self.usd_per_unit)


def pool_rate(venue: Venue, mint_in: Pubkey) -> Fraction:
    """Units of the other mint per unit of `mint_in` at the pool's current (fee-less) price."""
    state = venue.state
    if isinstance(state, RaydiumState):
        a, b = state.coin_reserve, state.pc_reserve
        if a <= 0 or b <= 0:
            raise PriceError(f"pool {venue.address} is empty")
        rate = Fraction(b, a)  # b per a
    elif isinstance(state, WhirlpoolState):
        sp = state.pool.sqrt_price
        if sp <= 0:
            raise PriceError(f"pool {venue.address} has no price")
        rate = Fraction(sp * sp, 1 << 128)
    else:
        raise PriceError(f"pool {venue.address}: no price for {venue.dex}")
    if mint_in == venue.mint_a:
        return rate
    if mint_in == venue.mint_b:
        return 1 / rate
    raise PriceError(f"pool {venue.address} does not trade {mint_in}")


def loan_prices(loan_mint: Pubkey, sol_usd: Venue, sol_loan: Venue | None = None) -> LoanPrices:
    """Prices from a SOL/USDC pool and (for a loan mint other than SOL or USDC) a SOL/loan pool."""
    usdc_per_lamport = pool_rate(sol_usd, ids.NATIVE_MINT)
    usd_per_usdc_unit = Fraction(1, 10**USD_DECIMALS)
    if loan_mint == ids.NATIVE_MINT:
        return LoanPrices(loan_mint, Fraction(1), usdc_per_lamport * usd_per_usdc_unit)
    if loan_mint == ids.USDC_MINT:
        return LoanPrices(loan_mint, usdc_per_lamport, usd_per_usdc_unit)
    if sol_loan is None:
        raise PriceError(f"no SOL pool to price {loan_mint}")
    loan_per_lamport = pool_rate(sol_loan, ids.NATIVE_MINT)
    return LoanPrices(loan_mint, loan_per_lamport, usdc_per_lamport * usd_per_usdc_unit / loan_per_lamport)


class PoolPricer:
    """Reads `LoanPrices` from on-cluster pools: `sol_usdc_pool` plus one SOL/mint pool per mint."""

    def __init__(
        self, sol_usdc_pool: tuple[Pubkey, str], sol_pools: Mapping[Pubkey, tuple[Pubkey, str]] | None = None
    ) -> None:
        self.sol_usdc_pool = sol_usdc_pool
        self.sol_pools = dict(sol_pools or {})

    async def prices(self, client: AsyncClient, loan_mint: Pubkey) -> LoanPrices:
        wanted = [self.sol_usdc_pool]
        other = self.sol_pools.get(loan_mint)
        if other is not None:
            wanted.append(other)
        venues = await load_venues(client, wanted)
        return loan_prices(loan_mint, venues[self.sol_usdc_pool[0]],
                           venues[other[0]] if other is not None else None)


@dataclass(frozen=True)
class Profitability:
    amount: int
    expected_out: int
    gross: int
    provider_fee: int
    signature_fee_lamports: int
    priority_fee_lamports: int
    tip_lamports: int
    rent_lamports: int
    lamport_costs: int
    lamport_costs_in_loan: int
    net: int
    net_usd: float
    min_profit_usd: float

    @property
    def accepted(self) -> bool:
        return self.net > 0 and self.net_usd >= self.min_profit_usd

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "accepted": self.accepted}


def evaluate(
    *,
    amount: int,
    expected_out: int,
    provider_fee: int,
    prices: LoanPrices,
    min_profit_usd: float,
    signatures: int = 1,
    cu_limit: int = 0,
    cu_price_micro_lamports: int = 0,
    tip_lamports: int = 0,
    rent_lamports: int = 0,
    lamports_per_signature: int = LAMPORTS_PER_SIGNATURE,
) -> Profitability:
    gross = expected_out - amount
    signature_fee = signatures * lamports_per_signature
    priority = priority_fee_lamports(cu_price_micro_lamports, cu_limit)
    lamport_costs = signature_fee + priority + tip_lamports + rent_lamports
    in_loan = prices.lamports_to_loan(lamport_costs)
    net = gross - provider_fee - in_loan
    return Profitability(
        amount=amount, expected_out=expected_out, gross=gross, provider_fee=provider_fee,
        signature_fee_lamports=signature_fee, priority_fee_lamports=priority, tip_lamports=tip_lamports,
        rent_lamports=rent_lamports, lamport_costs=lamport_costs, lamport_costs_in_loan=in_loan, net=net,
        net_usd=prices.to_usd(net), min_profit_usd=min_profit_usd,
    )


def evaluate_built(built: BuiltFlashLoan, prices: LoanPrices, min_profit_usd: float) -> Profitability:
    """Profitability of exactly this transaction: its signatures, its requested CU and price
    (the runtime's default limit when none is set), its tip and the ATAs it creates."""
    message = built.tx.message
    assert isinstance(message, MessageV0)
    budget = compute_budget(message)
    return evaluate(
        amount=built.amount, expected_out=built.expected_out, provider_fee=built.provider_fee, prices=prices,
        min_profit_usd=min_profit_usd, signatures=message.header.num_required_signatures,
        cu_limit=budget.unit_limit, cu_price_micro_lamports=budget.unit_price,
        tip_lamports=built.tip_lamports,
        rent_lamports=TOKEN_ACCOUNT_RENT_LAMPORTS * len(built.created_token_accounts),
    )
