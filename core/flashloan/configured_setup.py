"""Providers and prices from the configuration: how the engine trades on any cluster but localnet.

On mainnet-beta (or a `custom` cluster) nothing describes the lending markets to the engine, so the
operator names them: `flash_loan.solend_reserves`, `kamino_reserves`, `marginfi_banks` (with the
existing `marginfi_account`), the Raydium `sol_usdc_pool` that prices lamports, optional `sol_pools`
for other loan mints, the deployed `profit_guard_program` every transaction ends with, and
`wallet.pubkey`, the owner every transaction is built for (dry-run never
reads the keypair). Localnet reads the same things from its genesis (`localnet_setup`).
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

from core.config import AppConfig, mint_table_keys
from core.flashloan.kamino import KaminoProvider
from core.flashloan.marginfi import MarginfiProvider
from core.flashloan.profitability import PoolPricer
from core.flashloan.provider import FlashLoanProvider
from core.flashloan.solend import SolendProvider
from core.search.dex_raydium import RAYDIUM_AMM_V4

RESERVE_KEYS = ("flash_loan.solend_reserves", "flash_loan.kamino_reserves", "flash_loan.marginfi_banks")


class ConfiguredSetupError(Exception):
    """The configuration does not name enough to trade; `missing` lists the keys to set."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__("set " + "; ".join(missing))


@dataclass(frozen=True)
class ConfiguredSetup:
    owner: Pubkey
    providers: list[FlashLoanProvider]
    pricer: PoolPricer


def missing_keys(config: AppConfig) -> list[str]:
    """What the configuration lacks to trade off localnet, as key names with what they need."""
    fl = config.flash_loan
    missing = []
    if not config.wallet.pubkey:
        missing.append("wallet.pubkey (the operator wallet's public key)")
    if not fl.profit_guard_program:
        missing.append("flash_loan.profit_guard_program (the profit guard you deployed: "
                       "core/localnet/programs/profit_guard.c)")
    marginfi_usable = bool(fl.marginfi_banks) and bool(fl.marginfi_account)
    if not (fl.solend_reserves or fl.kamino_reserves or marginfi_usable):
        if fl.marginfi_banks and not fl.marginfi_account:
            missing.append("flash_loan.marginfi_account (for flash_loan.marginfi_banks), or at least one "
                           "of flash_loan.solend_reserves / flash_loan.kamino_reserves")
        else:
            missing.append("at least one of " + " / ".join(RESERVE_KEYS))
    return missing


def providers_from_config(config: AppConfig) -> list[FlashLoanProvider]:
    """Every provider the configuration names, in config order (solend, marginfi, kamino)."""
    fl = config.flash_loan
    providers: list[FlashLoanProvider] = []
    if fl.solend_reserves:
        providers.append(SolendProvider(mint_table_keys(fl.solend_reserves)))
    if fl.marginfi_banks and fl.marginfi_account:
        providers.append(MarginfiProvider(mint_table_keys(fl.marginfi_banks),
                                          Pubkey.from_string(fl.marginfi_account)))
    if fl.kamino_reserves:
        providers.append(KaminoProvider(mint_table_keys(fl.kamino_reserves)))
    return providers


def pricer_from_config(config: AppConfig) -> PoolPricer:
    """Lamports priced by `sol_usdc_pool`; another loan mint by its `sol_pools` entry (all Raydium v4)."""
    fl = config.flash_loan
    sol_pools = {mint: (pool, RAYDIUM_AMM_V4) for mint, pool in mint_table_keys(fl.sol_pools).items()}
    return PoolPricer((Pubkey.from_string(fl.sol_usdc_pool), RAYDIUM_AMM_V4), sol_pools)


def configured_setup(config: AppConfig) -> ConfiguredSetup:
    """Owner, providers and pricer from the configuration; ConfiguredSetupError names what is missing."""
    missing = missing_keys(config)
    if missing:
        raise ConfiguredSetupError(missing)
    owner = Pubkey.from_string(config.wallet.pubkey)
    return ConfiguredSetup(owner, providers_from_config(config), pricer_from_config(config))
