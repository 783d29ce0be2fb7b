"""Plan 7.3 in integer base units: runtime rounding of the priority fee, costs never understated."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.flashloan.profitability import LoanPrices, evaluate, loan_prices, priority_fee_lamports
from core.flashloan.venues import Venue
from core.protocols import ids
from core.search.dex_raydium import RAYDIUM_AMM_V4, RaydiumState

USDC_PER_LAMPORT = Fraction(150 * 10**6, 10**9)  # 150 USDC per SOL
PRICES = LoanPrices(ids.USDC_MINT, USDC_PER_LAMPORT, Fraction(1, 10**6))


@settings(max_examples=200)
@given(price=st.integers(min_value=0, max_value=10**9), limit=st.integers(min_value=0, max_value=1_400_000))
def test_priority_fee_rounds_up_as_the_runtime(price: int, limit: int) -> None:
    fee = priority_fee_lamports(price, limit)
    assert fee * 10**6 >= price * limit > (fee - 1) * 10**6


@settings(max_examples=200)
@given(lamports=st.integers(min_value=0, max_value=10**12))
def test_lamport_costs_convert_rounding_up(lamports: int) -> None:
    units = PRICES.lamports_to_loan(lamports)
    assert units >= lamports * USDC_PER_LAMPORT > units - 1


def test_net_subtracts_every_cost_and_accepts_at_the_threshold() -> None:
    p = evaluate(amount=10**9, expected_out=10**9 + 5_000_000, provider_fee=500_000, prices=PRICES,
                 min_profit_usd=0.0, signatures=1, cu_limit=400_000, cu_price_micro_lamports=1_001,
                 tip_lamports=10_000, rent_lamports=2_039_280)
    lamports = 5000 + 401 + 10_000 + 2_039_280
    assert p.lamport_costs == lamports
    assert p.lamport_costs_in_loan == -(-lamports * 150 // 1000)
    assert p.net == 5_000_000 - 500_000 - p.lamport_costs_in_loan
    assert p.net_usd == p.net / 10**6
    at = evaluate(amount=10**9, expected_out=10**9 + 5_000_000, provider_fee=500_000, prices=PRICES,
                  min_profit_usd=p.net_usd, cu_limit=400_000, cu_price_micro_lamports=1_001,
                  tip_lamports=10_000, rent_lamports=2_039_280)
    assert at.accepted
    above = evaluate(amount=10**9, expected_out=10**9 + 5_000_000, provider_fee=500_000, prices=PRICES,
                     min_profit_usd=p.net_usd + 1e-6, cu_limit=400_000, cu_price_micro_lamports=1_001,
                     tip_lamports=10_000, rent_lamports=2_039_280)
    assert not above.accepted


def test_a_loss_is_never_accepted_even_with_a_zero_threshold() -> None:
    p = evaluate(amount=10**9, expected_out=10**9, provider_fee=0, prices=PRICES, min_profit_usd=0.0)
    assert p.net < 0 and not p.accepted


def test_prices_come_from_the_pool() -> None:
    pool = Venue(Pubkey.new_unique(), RAYDIUM_AMM_V4, ids.NATIVE_MINT, ids.USDC_MINT, None,
                 RaydiumState(1_000 * 10**9, 150_000 * 10**6, 25, 10_000))
    usdc = loan_prices(ids.USDC_MINT, pool)
    assert usdc.loan_per_lamport == USDC_PER_LAMPORT and usdc.to_usd(10**6) == 1.0
    sol = loan_prices(ids.NATIVE_MINT, pool)
    assert sol.lamports_to_loan(123) == 123 and sol.to_usd(10**9) == 150.0
