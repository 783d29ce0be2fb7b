"""Lamport rates from SOL pools: exact fractions, rounding in the direction asked, unpriced is safe."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.feed.prices import UNPRICED, MintPrices
from core.protocols.ids import NATIVE_MINT, USDC_MINT
from core.search.dex_raydium import RAYDIUM_AMM_V4, RaydiumState
from core.search.pools import Pool


def _pool(coin: Pubkey, pc: Pubkey, coin_reserve: int, pc_reserve: int) -> Pool:
    state = RaydiumState(coin_reserve, pc_reserve, 25, 10_000)
    return Pool(Pubkey.new_unique(), RAYDIUM_AMM_V4, coin, pc, state, 1)


@given(st.integers(10**6, 10**15), st.integers(10**6, 10**15), st.integers(0, 10**12))
def test_conversions_round_as_asked_and_bracket_the_exact_value(sol: int, usdc: int, lamports: int) -> None:
    prices = MintPrices()
    prices.refresh([_pool(NATIVE_MINT, USDC_MINT, sol, usdc)])
    up = prices.from_lamports(USDC_MINT, lamports, round_up=True)
    down = prices.from_lamports(USDC_MINT, lamports, round_up=False)
    assert down * sol <= lamports * usdc <= up * sol and up - down <= 1
    back_up = prices.to_lamports(USDC_MINT, up, round_up=True)
    back_down = prices.to_lamports(USDC_MINT, down, round_up=False)
    assert back_down <= lamports <= back_up


def test_the_deepest_sol_pool_sets_the_rate_and_unpriced_mints_cost_everything() -> None:
    prices = MintPrices()
    shallow = _pool(NATIVE_MINT, USDC_MINT, 10**9, 300 * 10**6)
    deep = _pool(USDC_MINT, NATIVE_MINT, 2_000_000 * 10**6, 10_000 * 10**9)  # SOL as pc, 200 USDC/SOL
    prices.refresh([shallow, deep])
    assert prices.from_lamports(USDC_MINT, 10**9, round_up=False) == 200 * 10**6
    assert prices.convert(100 * 10**6, USDC_MINT, NATIVE_MINT) == 5 * 10**8
    unknown = Pubkey.new_unique()
    assert prices.from_lamports(unknown, 5000, round_up=True) == UNPRICED
    assert prices.convert(1, unknown, NATIVE_MINT) is None
