"""What the search needs from each dex: its exact quoter and a float line through the current state.

A hop's float model is the Möbius map `out ≈ rate·x / (1 + curv·x)` (fee folded in). For a
constant-product pool it is exact up to integer rounding (rate = γ·y/x, curv = γ/x); for a
concentrated-liquidity pool it is the local linearisation at the current price and liquidity (the
virtual reserves of the active range), exact only until the next initialized tick. `rate` is
always the marginal output per unit input at zero size, which is what makes the prefilter safe.

The envelope is a second Möbius line per direction that lies above the real output curve for every
input the pool can take (same rate, curvature at most the true one): chained, it bounds a cycle's
profit in closed form, so cycles that cannot beat the fixed costs are never sized.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

U64_MAX = (1 << 64) - 1

QuoteFn = Callable[[Any, bool, int], int]
BoundQuote = Callable[[int], int]


class HopLine(NamedTuple):
    """Float Möbius coefficients for both directions of one pool state."""

    rate_ab: float
    curv_ab: float
    rate_ba: float
    curv_ba: float


DEAD_LINE = HopLine(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class DexModel:
    """A dex as the search sees it.

    quote(state, a_to_b, amount_in) -> amount_out: the exact integer quoter; raises on impossible
    input (zero output, overflow, out of liquidity).
    linearize(state) -> HopLine: float model of both directions; DEAD_LINE for an unusable pool.
    max_input(state, a_to_b) -> int: the largest input the pool can take (u64 and vault bounds).
    mobius_exact: True when `linearize` is the exact real-valued curve (constant product), which
    lets the sizing bound the integer optimum in closed form.
    bind(state, a_to_b) -> amount_in -> amount_out: the same quoter with the state bound, so the
    search calls one function per hop; it must equal `quote` exactly (tests hold it to that).
    envelope(state, line, quote_ab, quote_ba) -> HopLine: a line whose real curve is ≥ the integer
    quote at every input (the bound quoters are passed in case they already know the depth);
    mobius_exact models are their own envelope, others without one get curvature 0 (no bound).
    cp_params(state, a_to_b) -> (reserve_in, reserve_out, fee_num, fee_den): set only when `quote`
    is exactly Raydium's `swap_base_in` on these (ceil fee, floored constant product, refusing a
    zero or draining output), so the search can run that arithmetic inline on its hot path.
    """

    name: str
    quote: QuoteFn
    linearize: Callable[[Any], HopLine]
    max_input: Callable[[Any, bool], int]
    mobius_exact: bool
    bind: Callable[[Any, bool], BoundQuote] | None = None
    envelope: Callable[[Any, HopLine, BoundQuote, BoundQuote], HopLine] | None = None
    cp_params: Callable[[Any, bool], tuple[int, int, int, int]] | None = None

    def envelope_line(self, state: Any, line: HopLine, quote_ab: BoundQuote, quote_ba: BoundQuote) -> HopLine:
        if self.mobius_exact:
            return line
        if self.envelope is not None:
            return self.envelope(state, line, quote_ab, quote_ba)
        return HopLine(line.rate_ab, 0.0, line.rate_ba, 0.0)

    def bound(self, state: Any, a_to_b: bool) -> BoundQuote:
        if self.bind is not None:
            return self.bind(state, a_to_b)
        quote = self.quote
        return lambda amount_in: quote(state, a_to_b, amount_in)


def constant_product_line(reserve_a: int, reserve_b: int, fee_num: int, fee_den: int) -> HopLine:
    """Möbius coefficients of `out = floor(y·a_in/(x + a_in))`, `a_in = a − ceil(a·num/den)`."""
    if reserve_a <= 0 or reserve_b <= 0 or fee_den <= 0 or not 0 <= fee_num < fee_den:
        return DEAD_LINE
    gamma = (fee_den - fee_num) / fee_den
    ga = gamma / reserve_a
    gb = gamma / reserve_b
    return HopLine(ga * reserve_b, ga, gb * reserve_a, gb)


def default_models() -> dict[str, DexModel]:
    """The models of the dexes whose quoters are importable (by dex name)."""
    models: dict[str, DexModel] = {}
    try:
        from core.search.dex_raydium import RAYDIUM_AMM_V4_MODEL
    except ImportError:
        pass
    else:
        models[RAYDIUM_AMM_V4_MODEL.name] = RAYDIUM_AMM_V4_MODEL
    try:
        from core.search.dex_whirlpool import WHIRLPOOL_MODEL
    except ImportError:
        pass
    else:
        models[WHIRLPOOL_MODEL.name] = WHIRLPOOL_MODEL
    return models
