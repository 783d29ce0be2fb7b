"""Optimal sizing on the true Raydium quoter: exact against brute force, never worse than the
grid searches and halving ladders bots use, caps respected, and the float prefilter never drops a
cycle that has integer profit."""

from __future__ import annotations

import math
from collections.abc import Callable

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from core.search.dex_raydium import RAYDIUM_AMM_V4_MODEL, RaydiumState
from core.search.dex_raydium import quote as raydium_quote
from core.search.sizing import compose, gross_upper_bound, optimal_input, rounding_noise
from tests.search.market import chain_profit, real_zero_root

FEES = st.sampled_from([(25, 10_000), (30, 10_000), (4, 10_000), (1, 100), (0, 1)])
Hops = list[tuple[RaydiumState, bool]]


@st.composite
def cycles(draw: st.DrawFn, lo: int, hi: int, edge_max: float) -> Hops:
    """2 or 3 constant-product hops whose marginal rates multiply to about e^edge (edge may be < 0)."""
    n = draw(st.integers(2, 3))
    edge = draw(st.floats(-0.01, edge_max))
    ratios = [math.exp(draw(st.floats(-1.5, 1.5))) for _ in range(n - 1)]
    ratios.append(math.exp(edge) / math.prod(ratios))
    hops: Hops = []
    for ratio in ratios:
        x = draw(st.integers(lo, hi))
        y = max(lo, round(x * ratio))
        num, den = draw(FEES)
        a_to_b = draw(st.booleans())
        state = RaydiumState(x, y, num, den) if a_to_b else RaydiumState(y, x, num, den)
        hops.append((state, a_to_b))
    return hops


def float_chain(hops: Hops) -> tuple[float, float, list[float]]:
    rates: list[float] = []
    curvs: list[float] = []
    for state, a_to_b in hops:
        line = RAYDIUM_AMM_V4_MODEL.linearize(state)
        rates.append(line.rate_ab if a_to_b else line.rate_ba)
        curvs.append(line.curv_ab if a_to_b else line.curv_ba)
    a, c = compose(rates, curvs)
    return a, c, rates


def size(hops: Hops, cap: int, flash: Callable[[int], int] = lambda _x: 0, phi: float = 0.0):
    a, c, rates = float_chain(hops)
    bound = [RAYDIUM_AMM_V4_MODEL.bound(s, d) for s, d in hops]
    return optimal_input(bound, a, c, rates, True, cap, flash, phi)


def best_of(hops: Hops, xs, flash: Callable[[int], int] = lambda _x: 0) -> int:
    values = [v for x in xs if (v := chain_profit(hops, x, flash)) is not None]
    return max(values, default=-(10**30))


def exhaustive(hops: Hops, cap: int, flash: Callable[[int], int] = lambda _x: 0) -> int:
    top = min(cap, math.ceil(real_zero_root(hops)) + 2)
    return best_of(hops, range(1, top + 1), flash)


def grid(cap: int, points: int = 100) -> list[int]:
    return sorted({max(1, cap * k // points) for k in range(1, points + 1)})


def ladder(cap: int) -> list[int]:
    xs = []
    while cap >= 1:
        xs.append(cap)
        cap //= 2
    return xs


def ours(hops: Hops, cap: int, flash: Callable[[int], int] = lambda _x: 0, phi: float = 0.0) -> int:
    sized = size(hops, cap, flash, phi)
    if sized is None:
        return -(10**30)
    assert 1 <= sized.amount_in <= cap
    # The reported numbers are the quoter's own.
    assert chain_profit(hops, sized.amount_in, flash) == sized.objective
    out = sized.amount_in
    for state, a_to_b in hops:
        out = raydium_quote(state, a_to_b, out)
    assert out == sized.amount_out
    return sized.objective


@settings(max_examples=150, deadline=None)
@given(cycles(1_000, 60_000, 0.15), st.integers(1, 10**7))
def test_small_pools_amount_is_within_0_1_percent_of_exhaustive_optimum(hops: Hops, cap: int) -> None:
    best = exhaustive(hops, cap)
    assume(best > 0)
    got = ours(hops, cap)
    assert got >= best - best // 1000


@settings(max_examples=150, deadline=None)
@given(cycles(1_000, 60_000, 0.15), st.integers(1, 10**7))
def test_small_pools_amount_beats_grid_search_and_halving_ladder(hops: Hops, cap: int) -> None:
    got = ours(hops, cap)
    assert got >= best_of(hops, grid(cap))
    assert got >= best_of(hops, ladder(cap))


@settings(max_examples=80, deadline=None)
@given(cycles(10**9, 10**13, 0.03), st.integers(10**6, 10**14))
def test_deep_pools_amount_is_within_0_1_percent_or_the_noise_bound_of_fine_grid_optimum(
    hops: Hops, cap: int
) -> None:
    root = min(cap, math.ceil(real_zero_root(hops)) + 2)
    assume(root > 10)
    fine = grid(root, 2000)
    best_x = max(fine, key=lambda x: chain_profit(hops, x, lambda _x: 0) or -(10**30))
    best = best_of(hops, [*fine, *range(max(1, best_x - 300), min(cap, best_x + 300) + 1)])
    assume(best > 0)
    got = ours(hops, cap)
    # Deep pools make the integer profit flat for ~10^5 units around the peak, where only rounding
    # noise (at most N units, see sizing.rounding_noise) separates amounts; the guarantee there is
    # 0.1 % or N, whichever is larger — N is a few base units, far below any executable profit.
    noise = math.ceil(rounding_noise(float_chain(hops)[2])) + 2
    assert got >= best - max(best // 1000, noise)
    # A grid point is never above the optimum, so the guarantee carries over: ours is at least
    # the grid's and the ladder's best minus N. Less cannot be promised on this plateau: a grid
    # point can land on a luckier rounding than the closed-form amount (found by hypothesis at
    # 1,766× the noise: 14,133 vs a grid's 14,134), and only scanning the plateau would find it.
    event("profit above 1000x noise" if best >= 1000 * noise else "profit within noise range")
    assert got >= best_of(hops, grid(cap, 50)) - noise
    assert got >= best_of(hops, ladder(cap)) - noise


@settings(max_examples=80, deadline=None)
@given(cycles(1_000, 40_000, 0.15), st.integers(1, 10**7))
def test_sizing_maximises_profit_net_of_a_solend_flash_fee(hops: Hops, cap: int) -> None:
    wad = 3_000_000_000_000_000  # 0.3 %, so the fee visibly moves the optimum

    def flash(x: int) -> int:
        return max(2, (x * wad + 10**18 // 2) // 10**18)

    best = exhaustive(hops, cap, flash)
    assume(best > 0)
    got = ours(hops, cap, flash, phi=0.003)
    assert got >= best - best // 1000


@settings(max_examples=200, deadline=None)
@given(cycles(1_000, 60_000, 0.1), st.integers(1, 10**7))
def test_float_bound_is_never_below_the_integer_gross_profit(hops: Hops, cap: int) -> None:
    # The prefilter drops a cycle only when this bound is below the fixed costs, so a cycle with
    # integer profit above the costs can never be dropped.
    a, c, _ = float_chain(hops)
    best = exhaustive(hops, cap)
    if a <= 1.0:
        assert best <= 0
    else:
        assert best <= gross_upper_bound(a, c) * (1 + 1e-9) + 1e-6


@given(st.integers(1, 10**6), cycles(1_000, 60_000, 0.15))
def test_amount_never_exceeds_the_cap(cap: int, hops: Hops) -> None:
    sized = size(hops, cap)
    assert sized is None or 1 <= sized.amount_in <= cap


def test_cap_binds_when_the_unconstrained_optimum_is_larger() -> None:
    hops = [
        (RaydiumState(10**12, 2 * 10**12, 25, 10_000), True),
        (RaydiumState(10**12, 10**12, 25, 10_000), True),
    ]
    free = size(hops, 10**15)
    assert free is not None and free.amount_in > 10**9
    capped = size(hops, 10**9)
    assert capped is not None and capped.amount_in == 10**9
