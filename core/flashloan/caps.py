"""Graduated flash-loan size caps, from the live store's count of successful flash loans.

100 USDC until 10 successes, 1,000 until 50, 5,000 until 100, then `max_amount_usdc` (the rungs
are `flash_loan.caps`; `FlashLoanConfig.cap_for` never exceeds `max_amount_usdc`). Only *live*
landings count: a dry-run success proves nothing about real money.
"""

from __future__ import annotations

from pathlib import Path

from core.config import FlashLoanConfig
from core.flashloan.profitability import LoanPrices
from core.store import StoreReader, store_exists

SUCCESS_SQL = (
    "select count(*) as n from bundle_attempts "
    "where mode = 'live' and provider is not null and landed_at is not null"
)


def successful_flash_loans(store_dir: Path) -> int:
    """Successful live flash loans persisted in `store_dir` (0 when no live store exists yet)."""
    if not store_exists(store_dir, "live"):
        return 0
    with StoreReader(store_dir, "live") as reader:
        return int(reader.query(SUCCESS_SQL)[0]["n"])


def cap_usdc(config: FlashLoanConfig, successes: int) -> int:
    if successes < 0:
        raise ValueError(f"successes must be >= 0, got {successes}")
    return config.cap_for(successes)


def cap_amount(config: FlashLoanConfig, successes: int, prices: LoanPrices) -> int:
    """The cap in loan base units (floor), from the USDC cap at the on-cluster price."""
    return prices.from_usd(cap_usdc(config, successes))
