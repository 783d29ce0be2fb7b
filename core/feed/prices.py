"""Exchange rates to lamports, read off the market itself: what fee conversions and flash caps need.

A mint's rate is the marginal price of the deepest Raydium pool pairing it with SOL (by SOL
reserve), or failing that of the most liquid Whirlpool; exact fractions of base units, so a
conversion rounds exactly once, in the direction the caller asks for.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from solders.pubkey import Pubkey

from core.protocols.ids import NATIVE_MINT
from core.search.dex_raydium import RaydiumState
from core.search.dex_whirlpool import WhirlpoolState
from core.search.pools import Pool

# Stands in for "no price": a cost this large makes any opportunity in that mint unprofitable,
# which is the safe way to be wrong.
UNPRICED = 1 << 64
_Q128 = 1 << 128


class MintPrices:
    def __init__(self) -> None:
        self._rates: dict[Pubkey, Fraction] = {NATIVE_MINT: Fraction(1)}  # lamports per base unit

    def lamports_per_unit(self, mint: Pubkey) -> Fraction | None:
        return self._rates.get(mint)

    def refresh(self, pools: Iterable[Pool]) -> None:
        """Re-read every rate from these pools (mints with no SOL pool keep no rate)."""
        best_cp: dict[Pubkey, tuple[int, Fraction]] = {}
        best_cl: dict[Pubkey, tuple[int, Fraction]] = {}
        for pool in pools:
            if NATIVE_MINT not in (pool.mint_a, pool.mint_b):
                continue
            sol_is_a = pool.mint_a == NATIVE_MINT
            other = pool.mint_b if sol_is_a else pool.mint_a
            state = pool.state
            if isinstance(state, RaydiumState):
                sol, tok = state.coin_reserve, state.pc_reserve
                if not sol_is_a:
                    sol, tok = tok, sol
                if sol > 0 and tok > 0 and sol > best_cp.get(other, (0, Fraction(0)))[0]:
                    best_cp[other] = (sol, Fraction(sol, tok))
            elif isinstance(state, WhirlpoolState):
                sp, liquidity = state.pool.sqrt_price, state.pool.liquidity
                if sp <= 0 or liquidity <= 0 or liquidity <= best_cl.get(other, (0, Fraction(0)))[0]:
                    continue
                b_per_a = Fraction(sp * sp, _Q128)
                best_cl[other] = (liquidity, 1 / b_per_a if sol_is_a else b_per_a)
        rates: dict[Pubkey, Fraction] = {NATIVE_MINT: Fraction(1)}
        for mint, (_, rate) in best_cl.items():
            rates[mint] = rate
        for mint, (_, rate) in best_cp.items():
            rates[mint] = rate
        self._rates = rates

    def usd_per_unit(self, usdc_mint: Pubkey, usdc_decimals: int = 6) -> dict[Pubkey, float]:
        """USD per base unit of every priced mint, via USDC's rate (floats: display only)."""
        usdc = self._rates.get(usdc_mint)
        if not usdc:
            return {}
        scale = 10**usdc_decimals
        return {mint: float(rate / usdc) / scale for mint, rate in self._rates.items()}

    def from_lamports(self, mint: Pubkey, lamports: int, *, round_up: bool) -> int:
        """`lamports` expressed in `mint` base units."""
        rate = self._rates.get(mint)
        if rate is None or rate == 0:
            return UNPRICED if round_up else 0
        value = lamports / rate
        return -(-value.numerator // value.denominator) if round_up else value.numerator // value.denominator

    def to_lamports(self, mint: Pubkey, amount: int, *, round_up: bool) -> int:
        rate = self._rates.get(mint)
        if rate is None:
            return UNPRICED if round_up else 0
        value = amount * rate
        return -(-value.numerator // value.denominator) if round_up else value.numerator // value.denominator

    def convert(self, amount: int, from_mint: Pubkey, to_mint: Pubkey) -> int | None:
        """`amount` of one mint in the other's base units, rounded down; None if either is unpriced."""
        a, b = self._rates.get(from_mint), self._rates.get(to_mint)
        if a is None or b is None or b == 0:
            return None
        value = amount * a / b
        return value.numerator // value.denominator
