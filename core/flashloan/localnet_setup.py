"""Providers and prices for the local cluster's genesis: what the engine needs to run the flash-loan
executor against `arbtui localnet` (mainnet deployments configure reserves/banks instead)."""

from __future__ import annotations

from typing import Any

from solders.pubkey import Pubkey

from core.flashloan.kamino import KaminoProvider
from core.flashloan.marginfi import MarginfiProvider
from core.flashloan.profitability import PoolPricer
from core.flashloan.provider import FlashLoanProvider
from core.flashloan.solend import SolendProvider
from core.localnet.genesis_kamino import kamino_reserves
from core.localnet.genesis_marginfi import marginfi_account, marginfi_banks
from core.protocols import ids
from core.search.dex_raydium import RAYDIUM_AMM_V4


def providers_from_scenario(scenario: Any) -> list[FlashLoanProvider]:
    """Every provider the genesis funded, in config order (solend, marginfi, kamino)."""
    providers: list[FlashLoanProvider] = [
        SolendProvider({r.liquidity_mint: r.address for r in scenario.solend_reserves})
    ]
    banks = marginfi_banks(scenario)
    account = marginfi_account(scenario)
    if banks and account is not None:
        providers.append(MarginfiProvider({b.mint: b.address for b in banks}, account))
    reserves = kamino_reserves(scenario)
    if reserves:
        providers.append(KaminoProvider({r.liquidity_mint: r.address for r in reserves}))
    return providers


def pricer_from_scenario(scenario: Any) -> PoolPricer:
    """Prices from the deepest Raydium SOL/USDC pool and, per other mint, its deepest SOL pool
    (genesis lists each pair's pools deepest first)."""
    sol_usdc: Pubkey | None = None
    sol_pools: dict[Pubkey, tuple[Pubkey, str]] = {}
    for pool in scenario.raydium_pools:
        mints = {pool.coin_mint, pool.pc_mint}
        if ids.NATIVE_MINT not in mints:
            continue
        other = (mints - {ids.NATIVE_MINT}).pop()
        if other == ids.USDC_MINT and sol_usdc is None:
            sol_usdc = pool.address
        sol_pools.setdefault(other, (pool.address, RAYDIUM_AMM_V4))
    if sol_usdc is None:
        raise ValueError("the scenario has no Raydium SOL/USDC pool to price lamports with")
    return PoolPricer((sol_usdc, RAYDIUM_AMM_V4), sol_pools)
