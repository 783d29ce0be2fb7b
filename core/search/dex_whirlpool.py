"""Orca Whirlpool for the search: pool + tick arrays as one state, and its local linearisation.

Within the active tick range a concentrated-liquidity pool is a constant-product pool on virtual
reserves x = L/√P (token A) and y = L·√P (token B), so the Möbius line at the current price and
liquidity is exact until the next initialized tick and only a starting point beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.protocols.whirlpool import TickArray, Whirlpool
from core.quote.whirlpool import quote_exact_in
from core.search.dex_models import DEAD_LINE, U64_MAX, DexModel, HopLine

WHIRLPOOL = "whirlpool"
_Q64 = float(1 << 64)
_FEE_RATE_MUL = 1_000_000


@dataclass(frozen=True, slots=True)
class WhirlpoolState:
    pool: Whirlpool
    tick_arrays: tuple[TickArray, ...]


def quote(state: WhirlpoolState, a_to_b: bool, amount_in: int) -> int:
    return quote_exact_in(state.pool, state.tick_arrays, amount_in, a_to_b)


def linearize(state: WhirlpoolState) -> HopLine:
    pool = state.pool
    if pool.liquidity <= 0 or pool.sqrt_price <= 0 or pool.is_initialized_with_adaptive_fee_tier:
        return DEAD_LINE
    gamma = (_FEE_RATE_MUL - pool.fee_rate) / _FEE_RATE_MUL
    sp = pool.sqrt_price / _Q64
    liquidity = float(pool.liquidity)
    # a→b: x = L/sp, y = L·sp → rate γ·sp², curvature γ·sp/L; b→a mirrors with 1/sp.
    return HopLine(gamma * sp * sp, gamma * sp / liquidity, gamma / (sp * sp), gamma / (sp * liquidity))


def max_input(_state: WhirlpoolState, _a_to_b: bool) -> int:
    # Running out of initialized tick arrays makes the quoter raise; the search treats that as
    # infeasible, so only the u64 bound of the amount argument is a hard cap here.
    return U64_MAX


WHIRLPOOL_MODEL = DexModel(WHIRLPOOL, quote, linearize, max_input, mobius_exact=False)  # type: ignore[arg-type]
