"""Optimal input of one cycle: a closed-form start, then an exact search on the integer quote.

A hop's float model is `out = r·x/(1 + c·x)`. Composing Möbius maps keeps the shape, so a whole
chain is `f(x) = A·x/(1 + C·x)` with A = ∏r_i and C = Σ c_i·∏_{j<i} r_j. Against a flash fee of
rate φ the real objective g(x) = f(x) − (1+φ)·x peaks at x* = (√(A/(1+φ)) − 1)/C with
g* = (√A − √(1+φ))²/C.

For constant-product hops f is the exact real curve, and the integer chain never exceeds it and
falls short by at most N = Σ_i (r_i + 1)·∏_{j>i} r_j (a fee ceiling and an output floor per hop,
each carried through the later hops, whose slopes are at most their rates at zero). So every
integer maximiser lies where g ≥ g* − N − 2; the two roots of that quadratic bracket it. Inside
the bracket the integer profit is the real curve plus rounding noise, unimodal only up to N, so:
- N ≤ 0.1 % of g*: the closed-form amount x0 already has f(x0) ≥ g* − N ≥ optimum − N, i.e. it is
  within 0.1 % of the optimum, and it is all that is quoted (its NEAR_SCAN neighbours only if
  the quoter refuses it);
- else, a bracket of at most EXHAUSTIVE_SMALL_PROFIT amounts is scanned whole: the exact optimum;
- else the same x0: within N base units of the optimum. (A golden section there
  only chased the rounding noise: it promised no more than N either, for ~16 quotes.)

For concentrated-liquidity hops the real curve is piecewise Möbius: between two tick crossings a
pool is a constant product on its virtual reserves, and the marginal rate is continuous across a
crossing, so the chain's profit is concave and C¹. Given each hop's piece (`piece(amount)` on its
bound quoter, see ExactInQuoter), the pieces an amount goes through compose into one Möbius map,
whose closed-form optimum is the next amount (a Newton step on pieces); when that amount goes
through the same pieces it is the real optimum, and the local scan takes it to the integers. A few
chain quotes instead of a golden section. When it does not settle (the optimum sits on a crossing,
or a hop has no pieces), the golden section runs on a bracket around x0 that widens toward
whichever end the maximum keeps landing on, then the local scan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

from core.search.dex_models import BoundQuote

# A bracket this short is scanned exhaustively; golden section stops at SCAN_WIDTH (or where the
# real curve is flat to one unit), then LOCAL_SCAN amounts either side of the best are tried.
# When the rounding noise is not negligible against the profit (NOISE_SHARE), brackets up to
# EXHAUSTIVE_SMALL_PROFIT wide are scanned whole: the only way to be exact inside the noise.
EXHAUSTIVE_WIDTH = 64
EXHAUSTIVE_SMALL_PROFIT = 4096
NOISE_SHARE = 1e-3
SCAN_WIDTH = 16
LOCAL_SCAN = 2
_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0
_REL = 1e-9  # float safety margin, far above double rounding on these few operations
_NEG = -(1 << 200)
NEAR_SCAN = 1  # either side of a closed-form amount already within the noise of the optimum
PIECE_STEPS = 6  # Newton steps on pieces before falling back to the golden section



class Sized(NamedTuple):
    amount_in: int
    amount_out: int
    objective: int  # amount_out − amount_in − flash_fee(amount_in)
    evaluations: int


def compose(rates: Sequence[float], curvs: Sequence[float]) -> tuple[float, float]:
    """(A, C) of the chain `A·x/(1 + C·x)` of hops given in trade order."""
    a_acc, c_acc = 1.0, 0.0
    for r, c in zip(rates, curvs, strict=True):
        c_acc += c * a_acc
        a_acc *= r
    return a_acc, c_acc


def rounding_noise(rates: Sequence[float]) -> float:
    """Upper bound of (real chain − integer chain) in output units, for constant-product hops."""
    noise, suffix = 0.0, 1.0
    for r in reversed(rates):
        noise += (r + 1.0) * suffix
        suffix *= r
    return noise


def gross_upper_bound(a: float, c: float, flash_rate: float = 0.0) -> float:
    """max_x f(x) − (1 + flash_rate)·x for a Möbius chain.

    No integer profit of a constant-product cycle net of a flash fee ≥ flash_rate·x exceeds it.
    """
    k1 = 1.0 + flash_rate
    if a <= k1 or c <= 0.0:
        return 0.0
    root = math.sqrt(a) - math.sqrt(k1)
    return root * root / c


def chain_out(hops: Sequence[BoundQuote], amount: int) -> int:
    for quote in hops:
        amount = quote(amount)
    return amount


class _Objective:
    """Memoised integer objective; infeasible amounts (the quoter refused) score as very negative."""

    __slots__ = ("best", "cache", "flash", "hops")

    def __init__(self, hops: Sequence[BoundQuote], flash: Callable[[int], int]) -> None:
        self.hops = hops
        self.flash = flash
        self.cache: dict[int, int] = {}
        self.best: tuple[int, int, int] = (_NEG, 0, 0)  # (objective, amount_in, amount_out)

    def record(self, x: int, out: int) -> None:
        """Score x from a chain output computed elsewhere."""
        if x in self.cache:
            return
        value = out - x - self.flash(x)
        self.cache[x] = value
        if value > self.best[0] or (value == self.best[0] and x < self.best[1]):
            self.best = (value, x, out)

    def __call__(self, x: int) -> int:
        value = self.cache.get(x)
        if value is not None:
            return value
        try:
            out = x
            for quote in self.hops:
                out = quote(out)
        except Exception:
            value = _NEG
        else:
            value = out - x - self.flash(x)
            if value > self.best[0] or (value == self.best[0] and x < self.best[1]):
                self.best = (value, x, out)
        self.cache[x] = value
        return value


def _golden(f: _Objective, lo: int, hi: int, stop: int = SCAN_WIDTH) -> tuple[int, int]:
    """Shrink [lo, hi] around a maximum of f to at most `stop` wide, golden-section on integers."""
    a, b = lo, hi
    if b - a <= stop:
        return a, b
    c = b - int((b - a) * _INV_PHI)
    d = a + int((b - a) * _INV_PHI)
    if c >= d:
        c, d = (a + b) // 2, (a + b) // 2 + 1
    fc, fd = f(c), f(d)
    while b - a > stop:
        if fc >= fd:
            b, d, fd = d, c, fc
            c = b - int((b - a) * _INV_PHI)
            if c >= d:
                c = (a + d) // 2
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + int((b - a) * _INV_PHI)
            if d <= c:
                d = (c + b + 1) // 2
            fd = f(d)
    return a, b


def _scan(f: _Objective, lo: int, hi: int) -> None:
    """Every amount in [lo, hi]; the objective's call inlined, as this is the innermost loop."""
    hops, flash, cache = f.hops, f.flash, f.cache
    best = f.best
    for x in range(lo, hi + 1):
        if x in cache:
            continue
        try:
            out = x
            for quote in hops:
                out = quote(out)
        except Exception:
            cache[x] = _NEG
            continue
        value = out - x - flash(x)
        cache[x] = value
        if value > best[0] or (value == best[0] and x < best[1]):
            best = (value, x, out)
    f.best = best


def _near(hops: Sequence[BoundQuote], flash: Callable[[int], int], x0: int, lo: int, hi: int) -> Sized | None:
    """x0, or the best of the few amounts in [lo, hi] if the quoter refuses x0 (the hot path of
    constant-product cycles: x0 is already within the noise bound of the optimum)."""
    try:
        out = x0
        for quote in hops:
            out = quote(out)
    except Exception:
        pass
    else:
        return Sized(x0, out, out - x0 - flash(x0), 1)
    best: tuple[int, int, int] | None = None
    for x in range(lo, hi + 1):
        try:
            out = x
            for quote in hops:
                out = quote(out)
        except Exception:
            continue
        value = out - x - flash(x)
        if best is None or value > best[0]:
            best = (value, x, out)
    if best is None:
        return None
    return Sized(best[1], best[2], best[0], hi - lo + 1)


def _search(f: _Objective, lo: int, hi: int, flat: int = 0) -> None:
    """Golden section on [lo, hi], then a local scan around the best amount seen.

    `flat` > 0 says the integer profit in [lo, hi] is within rounding noise of the real maximum
    and that noise is negligible: golden section then stops where the real curve is flat to one
    unit (narrowing further could only chase the noise).
    """
    if hi - lo + 1 <= EXHAUSTIVE_WIDTH:
        _scan(f, lo, hi)
        return
    if flat > SCAN_WIDTH:
        _golden(f, lo, hi, flat)
    else:
        a, b = _golden(f, lo, hi)
        _scan(f, a, b)
    x = f.best[1]
    _scan(f, max(lo, x - LOCAL_SCAN), min(hi, x + LOCAL_SCAN))


def optimal_input(
    hops: Sequence[BoundQuote],
    a: float,
    c: float,
    rates: Sequence[float],
    mobius_exact: bool,
    cap: int,
    flash: Callable[[int], int],
    phi: float = 0.0,
    curvs: Sequence[float] | None = None,
) -> Sized | None:
    """The amount in [1, cap] that maximises out − in − flash(in) on the integer quoter.

    `a`, `c` are the composed float coefficients, `rates` / `curvs` the hops' marginal rates and
    curvatures (trade order; curvs lets a non-Möbius chain be sized on pieces), `phi` the flash
    fee rate used only for the closed-form start. None when nothing is feasible.
    """
    if cap < 1 or not (0.0 < a < math.inf and 0.0 < c < math.inf):
        return None
    k1 = 1.0 + phi
    x_star = (math.sqrt(a / k1) - 1.0) / c if a > k1 else 0.0
    x0 = min(max(1, round(x_star)), cap)
    if mobius_exact:
        x_c = min(x_star, float(cap))
        g_c = a * x_c / (1.0 + c * x_c) - k1 * x_c
        noise, suffix = 2.0, 1.0  # rounding_noise(rates) + 2, inlined: this is the hot path
        for r in reversed(rates):
            noise += (r + 1.0) * suffix
            suffix *= r
        if noise <= NOISE_SHARE * g_c:
            # f(x0) ≥ g* − noise ≥ best − noise already, and inside the bracket the integer profit
            # is the real curve plus rounding noise: narrowing it cannot gain more than the noise,
            # so a golden section would only chase it. x0 and its neighbours are all that is taken.
            return _near(hops, flash, x0, max(1, x0 - NEAR_SCAN), min(cap, x0 + NEAR_SCAN))
        f = _Objective(hops, flash)
        lo, hi = exact_bracket(a, c, k1, noise, g_c)
        lo, hi = max(1, lo), min(cap, hi)
        if not lo <= x0 <= hi:
            f(x0)
        if lo > hi:
            lo = hi = x0
        if hi - lo + 1 > EXHAUSTIVE_SMALL_PROFIT:
            # Too wide to scan: x0 is within N of the optimum, as anything narrowing the bracket
            # on the noisy integer curve would be.
            return _near(hops, flash, x0, max(1, x0 - NEAR_SCAN), min(cap, x0 + NEAR_SCAN))
        _scan(f, lo, hi)
    else:
        f = _Objective(hops, flash)
        settled = _on_pieces(f, rates, curvs, x0, k1, cap) if curvs is not None else None
        if settled is not None:
            _scan(f, max(1, settled - NEAR_SCAN), min(cap, settled + NEAR_SCAN))
            value, x, out = f.best
            return None if value == _NEG else Sized(x, out, value, len(f.cache))
        # The linearisation holds until the next initialized tick; past it liquidity can thin or
        # deepen, so bracket around x0 and widen the side the best amount keeps landing on. The
        # golden section stops at a quarter of the width where the local curve is flat to a unit.
        if f(x0) == _NEG and x0 > 1:
            # x0 is past what the pools can take (a swap ran out of liquidity): amounts fail from
            # some point on, so step down to a feasible one, bisect to where they start failing, and
            # search below it (a concave profit peaks inside or at that end).
            end = _feasible_end(f, x0)
            if end:
                cap = x0 = end
        curvature = 2.0 * a * c / (1.0 + c * x0) ** 3
        flat = int(0.5 * math.sqrt(2.0 / curvature)) if curvature > 0.0 else 0
        lo, hi = max(1, x0 // 4), min(cap, 4 * x0 + 64)
        for _ in range(12):
            _search(f, lo, hi, flat)
            # A maximum beyond the bracket pulls the golden section to within its stop width of the end.
            x, edge = f.best[1], max(flat, SCAN_WIDTH) + LOCAL_SCAN + 1
            if x >= hi - edge and hi < cap:
                lo, hi = max(lo, x // 2), min(cap, 4 * hi)
            elif x <= lo + edge and lo > 1:
                lo, hi = max(1, lo // 4), min(hi, 2 * x + 64)
            else:
                break
    value, x, out = f.best
    if value == _NEG:
        return None
    return Sized(x, out, value, len(f.cache))


def _feasible_end(f: _Objective, x: int) -> int:
    """The largest amount below the infeasible x that the chain takes (feasible amounts below it
    forming an interval), found by steps down by 4 then bisection; 0 if none is found."""
    bad, ok = x, x // 4
    while ok >= 1 and f(ok) == _NEG:
        bad, ok = ok, ok // 4
    if ok < 1:
        return 0
    while bad - ok > 1:
        mid = (ok + bad) // 2
        if f(mid) == _NEG:
            bad = mid
        else:
            ok = mid
    return ok


def _on_pieces(
    f: _Objective, rates: Sequence[float], curvs: Sequence[float], x: int, k1: float, cap: int
) -> int | None:
    """Newton steps on the chain's pieces from x; the amount where they settle, or None.

    Each hop maps its input by `O + R·(u − C)/(1 + K·(u − C))` on the piece the current amount
    reaches, i.e. the matrix [[R + O·K, O − C·(R + O·K)], [K, 1 − K·C]]; the chain is their
    product [[a, b], [c, d]] and f − k1·x peaks where (c·x + d)² = (a·d − b·c)/k1.
    """
    pieces = [getattr(q, "piece", None) for q in f.hops]
    walked = _walk(f, pieces, rates, curvs, x)
    seen = {x}
    for _ in range(PIECE_STEPS):
        if walked is None:
            return None
        key, (ma, mb, mc, md) = walked
        det = ma * md - mb * mc
        if not (mc > 0.0 and det > 0.0 and math.isfinite(det)):
            return None
        target = (math.sqrt(det / k1) - md) / mc
        if not math.isfinite(target):
            return None
        nxt = min(max(1, round(target)), cap)
        if nxt == x:
            return x
        if nxt in seen:
            return None  # bouncing between pieces: the optimum sits on a crossing
        seen.add(nxt)
        after = _walk(f, pieces, rates, curvs, nxt)
        if after is not None and after[0] == key:
            return nxt
        x, walked = nxt, after
    return None


def _walk(
    f: _Objective, pieces: list, rates: Sequence[float], curvs: Sequence[float], x: int
) -> tuple[list[int], tuple[float, float, float, float]] | None:
    """Quote x through the chain (scored in f) and compose the pieces it goes through."""
    ma, mb, mc, md = 1.0, 0.0, 0.0, 1.0
    amount = x
    key: list[int] = []
    try:
        for i, quote in enumerate(f.hops):
            piece = pieces[i]
            if piece is None:
                cc, oo, rr, kk = 0.0, 0.0, rates[i], curvs[i]
            else:
                got = piece(amount)
                if got is None:
                    f(x)
                    return None
                step, cc, oo, rr, kk = got
                key.append(step)
            ha = rr + oo * kk
            hb = oo - cc * ha
            hd = 1.0 - kk * cc
            ma, mb, mc, md = ha * ma + hb * mc, ha * mb + hb * md, kk * ma + hd * mc, kk * mb + hd * md
            amount = quote(amount)
    except Exception:
        f.cache[x] = _NEG
        return None
    f.record(x, amount)
    return key, (ma, mb, mc, md)


def exact_bracket(a: float, c: float, k1: float, noise: float, g_c: float) -> tuple[int, int]:
    """Roots of g(x) = g_c − noise, widened by the float margin (g = a·x/(1+c·x) − k1·x)."""
    k = g_c - noise * (1.0 + 1e-6)
    # k1·c·x² − (a − k1 − k·c)·x + k = 0
    qa = k1 * c
    qb = a - k1 - k * c
    disc = qb * qb - 4.0 * qa * k
    root = math.sqrt(max(disc, 0.0))
    hi = (qb + root) / (2.0 * qa) if qb + root > 0 else 0.0
    lo = 2.0 * k / (qb + root) if k > 0 and qb + root > 0 else 0.0
    return int(lo * (1.0 - _REL)) - 2, math.ceil(hi * (1.0 + _REL)) + 2
