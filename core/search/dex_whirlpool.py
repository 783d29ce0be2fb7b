"""Orca Whirlpool for the search: pool + tick arrays as one state, and its local linearisation.

Within the active tick range a concentrated-liquidity pool is a constant-product pool on virtual
reserves x = L/√P (token A) and y = L·√P (token B), so the Möbius line at the current price and
liquidity is exact until the next initialized tick and only a starting point beyond it.

Envelope: the marginal output per unit of (post-fee) input is the current price P² (a→b) whatever
the liquidity, and more liquidity moves the price less per unit, so at every input the real curve
of the pool is at most that of a constant-product pool at the current price with the largest
liquidity the swap can reach (`ExactInQuoter.max_liquidity`). The integer swap rounds input and
price against the trader and output down, so it stays under its real curve: the Möbius line with
that liquidity bounds the exact quote at every amount.

A pool with no liquidity at its price is not dead: its swaps cross to the next initialized tick
for free and trade from there (`ExactInQuoter.liquid_start`), so its line and envelope are taken
at that tick's price, per direction, and its cycles are checked like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.protocols.whirlpool import TickArray, Whirlpool
from core.quote.whirlpool import ExactInQuoter, quote_exact_in
from core.search.dex_models import DEAD_LINE, U64_MAX, BoundQuote, DexModel, HopLine

WHIRLPOOL = "whirlpool"
_Q64 = float(1 << 64)
_FEE_RATE_MUL = 1_000_000
_SHRINK = 1.0 - 1e-12


@dataclass(frozen=True, slots=True)
class WhirlpoolState:
    pool: Whirlpool
    tick_arrays: tuple[TickArray, ...]


def quote(state: WhirlpoolState, a_to_b: bool, amount_in: int) -> int:
    return quote_exact_in(state.pool, state.tick_arrays, amount_in, a_to_b)


def bind(state: WhirlpoolState, a_to_b: bool) -> ExactInQuoter:
    return ExactInQuoter(state.pool, state.tick_arrays, a_to_b)


def _line(pool: Whirlpool, liquidity_ab: int, liquidity_ba: int) -> HopLine:
    return _start_line(pool, (pool.sqrt_price, liquidity_ab), (pool.sqrt_price, liquidity_ba))


_Start = tuple[int, int] | None  # (sqrt price x64, liquidity) where a direction starts trading


def _start_line(pool: Whirlpool, start_ab: _Start, start_ba: _Start) -> HopLine:
    """Per direction, the constant product on the virtual reserves at a (sqrt price, liquidity)
    the swap trades from; a direction without one gets rate 0 (no cycle through it is checked)."""
    if pool.is_initialized_with_adaptive_fee_tier or not 0 <= pool.fee_rate < _FEE_RATE_MUL:
        return DEAD_LINE
    gamma = (_FEE_RATE_MUL - pool.fee_rate) / _FEE_RATE_MUL
    rate_ab = curv_ab = rate_ba = curv_ba = 0.0
    if start_ab is not None and start_ab[0] > 0 and start_ab[1] > 0:
        # a→b: x = L/sp, y = L·sp → rate γ·sp², curvature γ·sp/L.
        sp = start_ab[0] / _Q64
        rate_ab, curv_ab = gamma * sp * sp, gamma * sp / start_ab[1]
    if start_ba is not None and start_ba[0] > 0 and start_ba[1] > 0:
        # b→a mirrors with 1/sp.
        sp = start_ba[0] / _Q64
        rate_ba, curv_ba = gamma / (sp * sp), gamma / (sp * start_ba[1])
    if rate_ab == 0.0 and rate_ba == 0.0:
        return DEAD_LINE
    return HopLine(rate_ab, curv_ab, rate_ba, curv_ba)


def linearize(state: WhirlpoolState) -> HopLine:
    pool = state.pool
    if pool.liquidity > 0 or pool.is_initialized_with_adaptive_fee_tier:
        return _line(pool, pool.liquidity, pool.liquidity)
    # No liquidity at the price: the swap moves for free to the next initialized tick that leaves
    # some (as the program does), so each direction is linearised where it starts trading.
    return _start_line(
        pool,
        ExactInQuoter(pool, state.tick_arrays, True).liquid_start,
        ExactInQuoter(pool, state.tick_arrays, False).liquid_start,
    )


def envelope(state: WhirlpoolState, line: HopLine, quote_ab: BoundQuote, quote_ba: BoundQuote) -> HopLine:
    if line == DEAD_LINE:
        return DEAD_LINE
    starts: list[_Start] = []
    for quote, a_to_b in ((quote_ab, True), (quote_ba, False)):
        if not isinstance(quote, ExactInQuoter):
            quote = bind(state, a_to_b)
        start = quote.liquid_start
        # From where it starts trading, the deepest liquidity the swap reaches, at that price.
        starts.append(None if start is None else (start[0], quote.max_liquidity))
    # The float curvature is shrunk by a margin far above its rounding, so it stays a lower bound.
    env = _start_line(state.pool, *starts)
    return HopLine(line.rate_ab, env.curv_ab * _SHRINK, line.rate_ba, env.curv_ba * _SHRINK)


def max_input(_state: WhirlpoolState, _a_to_b: bool) -> int:
    # Running out of initialized tick arrays makes the quoter raise; the search treats that as
    # infeasible, so only the u64 bound of the amount argument is a hard cap here.
    return U64_MAX


WHIRLPOOL_MODEL = DexModel(
    WHIRLPOOL, quote, linearize, max_input, mobius_exact=False, bind=bind, envelope=envelope  # type: ignore[arg-type]
)
