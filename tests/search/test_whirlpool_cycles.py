"""Cycles with a Whirlpool hop: the linearised start plus the integer search on the exact
concentrated-liquidity quoter (tick crossings included) against brute force, and in the engine."""

from __future__ import annotations

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.localnet.genesis_whirlpool import Position, build_whirlpool_state
from core.protocols.ids import USDC_MINT
from core.quote.whirlpool import quote_exact_in, sqrt_price_from_tick_index, swap
from core.search import FeeModel, Pool, SearchEngine
from core.search.dex_raydium import RAYDIUM_AMM_V4, RAYDIUM_AMM_V4_MODEL, RaydiumState
from core.search.dex_whirlpool import WHIRLPOOL, WHIRLPOOL_MODEL, WhirlpoolState
from core.search.sizing import compose, optimal_input
from tests.search.market import mint, pool_id, zero_fees

X = mint(2)
TS = 8


def whirlpool(
    positions: list[Position], price_tick: int, fee_rate: int = 3000
) -> tuple[WhirlpoolState, bool]:
    """A USDC/X whirlpool; returns its state and the direction that sells X for USDC."""
    a, b = sorted((X, USDC_MINT), key=bytes)
    built = build_whirlpool_state(
        token_mint_a=a, token_mint_b=b, token_vault_a=Pubkey.new_unique(), token_vault_b=Pubkey.new_unique(),
        tick_spacing=TS, fee_rate=fee_rate, sqrt_price=sqrt_price_from_tick_index(price_tick) + 777,
        positions=positions,
    )
    return WhirlpoolState(built.pool, tuple(built.tick_arrays.values())), a == X


def mixed_engine(hops, cap: int, fees):  # type: ignore[no-untyped-def]
    """A search over the cycle's Raydium pool (slot 10) and Whirlpool (slot 11); with the events
    the Whirlpool's upsert published."""
    (_, ray, _), (_, wp, x_to_usdc) = hops
    models = {RAYDIUM_AMM_V4: RAYDIUM_AMM_V4_MODEL, WHIRLPOOL: WHIRLPOOL_MODEL}
    engine = SearchEngine((USDC_MINT,), lambda _m: cap, fees, models)
    engine.upsert_pool(Pool(pool_id(1), RAYDIUM_AMM_V4, USDC_MINT, X, ray, 10))
    mint_a, mint_b = (X, USDC_MINT) if x_to_usdc else (USDC_MINT, X)
    return engine, engine.upsert_pool(Pool(pool_id(2), WHIRLPOOL, mint_a, mint_b, wp, 11))


def mixed_cycle(edge: float, depth: int, l_wide: int, l_narrow: int, fee_rate: int, wall: int = 0):
    """USDC → X on a Raydium pool priced 1:(1+edge), X → USDC on a whirlpool at about 1:1 whose
    liquidity steps at ±80 and ±400 ticks, so the optimum lies across tick crossings. `wall` adds
    liquidity from 96 to 800 ticks away on both sides: the pool gets deeper past a crossing, so
    the linearised start undershoots."""
    positions = [
        Position(-2400, 2400, l_wide), Position(-80, 80, l_narrow), Position(-400, 400, l_narrow // 3)
    ]
    if wall:
        positions += [Position(-800, -96, wall), Position(96, 800, wall)]
    wp, x_to_usdc = whirlpool(positions, 0, fee_rate)
    ray = RaydiumState(depth, int(depth * (1 + edge)), 25, 10_000)  # coin = USDC, pc = X
    hops = [(RAYDIUM_AMM_V4_MODEL, ray, True), (WHIRLPOOL_MODEL, wp, x_to_usdc)]
    return hops


def run(hops, x: int) -> int | None:
    out = x
    try:
        for model, state, d in hops:
            out = model.quote(state, d, out)
    except Exception:
        return None
    return out - x


def size(hops, cap: int, on_pieces: bool = True):
    """The engine's sizing; on_pieces=False forces the golden-section fallback."""
    rates, curvs = [], []
    for model, state, d in hops:
        line = model.linearize(state)
        rates.append(line.rate_ab if d else line.rate_ba)
        curvs.append(line.curv_ab if d else line.curv_ba)
    a, c = compose(rates, curvs)
    bound = [model.bound(state, d) for model, state, d in hops]
    pieces = curvs if on_pieces else None
    return optimal_input(bound, a, c, rates, False, cap, lambda _x: 0, 0.0, pieces), a


def best_of(hops, xs) -> int:
    return max((v for x in xs if (v := run(hops, x)) is not None), default=-(10**30))


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.004, 0.05),
    st.integers(10**11, 10**13),
    st.integers(10**11, 10**13),
    st.integers(10**12, 10**14),
    st.sampled_from([500, 3000, 10_000]),
    st.sampled_from([0, 0, 10**13, 10**14]),
    st.booleans(),
)
def test_mixed_cycle_amount_is_within_0_1_percent_of_brute_force_and_beats_grid_and_ladder(
    edge: float, depth: int, l_wide: int, l_narrow: int, fee_rate: int, wall: int, on_pieces: bool
) -> None:
    hops = mixed_cycle(edge, depth, l_wide, l_narrow, fee_rate, wall)
    cap = 10**13
    sized, _ = size(hops, cap, on_pieces)
    fine = [max(1, cap * k // 4000) for k in range(1, 4001)]
    # Refine the grid where the profit lives: it is concave, so the best grid cell brackets it.
    top = max(fine, key=lambda x: run(hops, x) or -(10**30))
    step = cap // 4000
    fine2 = [max(1, top - step + 2 * step * k // 2000) for k in range(2001)]
    top2 = max(fine2, key=lambda x: run(hops, x) or -(10**30))
    best = best_of(hops, [*fine, *fine2, *range(max(1, top2 - 300), top2 + 301)])
    assume(best > 10**5)
    assert sized is not None
    assert run(hops, sized.amount_in) == sized.objective
    assert sized.objective >= best - best // 1000
    assert sized.objective >= best_of(hops, [max(1, cap * k // 100) for k in range(1, 101)])
    assert sized.objective >= best_of(hops, [cap >> k for k in range(45) if cap >> k])


def test_optimum_of_the_mixed_cycle_crosses_ticks() -> None:
    hops = mixed_cycle(0.03, 10**13, 10**11, 10**12, 3000)
    sized, _ = size(hops, 10**13)
    assert sized is not None and sized.objective > 0
    (_, ray, _), (_, wp, d) = hops
    x_in = RAYDIUM_AMM_V4_MODEL.quote(ray, True, sized.amount_in)
    moved = swap(wp.pool, wp.tick_arrays, x_in, a_to_b=d)
    assert abs(moved.next_tick_index - wp.pool.tick_current_index) > 80  # past the narrow range
    assert quote_exact_in(wp.pool, wp.tick_arrays, x_in, d) == sized.amount_out


def test_engine_publishes_a_whirlpool_cycle_quoted_to_the_unit() -> None:
    hops = mixed_cycle(0.02, 10**12, 10**12, 10**13, 3000)
    engine, events = mixed_engine(hops, 10**13, zero_fees())
    best = engine.top(1)[0]
    assert best in events
    assert best.pools == (pool_id(1), pool_id(2)) and best.state_slots == (10, 11) and best.slot == 11
    assert run(hops, best.amount_in) == best.gross
    sized, _ = size(hops, 10**13)
    assert sized is not None and best.amount_in == sized.amount_in


def test_whirlpool_prefilter_bound_covers_the_true_profit() -> None:
    # A concave chain's profit at x is at most (A − 1)·x, A the product of the marginal rates at
    # zero, so (A − 1)·cap bounds it on [0, cap] — whatever ticks the swap crosses.
    for edge in (0.004, 0.01, 0.05):
        hops = mixed_cycle(edge, 10**13, 10**11, 10**12, 3000)
        _, a = size(hops, 10**13)
        for x in [*range(1, 2000, 7), *(10**k for k in range(4, 14)), *(3 * 10**k for k in range(4, 13))]:
            profit = run(hops, x)
            assert profit is None or profit <= (a - 1.0) * x + 1


@settings(max_examples=100, deadline=None)
@given(
    st.integers(-3000, 3000),
    st.lists(
        st.tuples(st.integers(1, 600), st.integers(1, 600), st.integers(10**8, 10**15)),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([0, 500, 3000, 10_000]),
    st.booleans(),
    st.lists(st.one_of(st.integers(1, 10**6), st.integers(1, 10**13), st.integers(1, 10**18)), max_size=20),
)
def test_whirlpool_envelope_lies_above_the_exact_quote_at_every_amount(
    price_tick: int, raw: list[tuple[int, int, int]], fee_rate: int, a_to_b: bool, amounts: list[int]
) -> None:
    base = price_tick // TS * TS
    positions = [Position(base - lo * TS, base + hi * TS, liq) for lo, hi, liq in raw]
    state, _ = whirlpool(positions, price_tick, fee_rate)
    quote_ab, quote_ba = WHIRLPOOL_MODEL.bound(state, True), WHIRLPOOL_MODEL.bound(state, False)
    line = WHIRLPOOL_MODEL.linearize(state)
    env = WHIRLPOOL_MODEL.envelope_line(state, line, quote_ab, quote_ba)
    rate, curv = (env.rate_ab, env.curv_ab) if a_to_b else (env.rate_ba, env.curv_ba)
    quote = quote_ab if a_to_b else quote_ba
    # Amounts at every step end of the swap too: where liquidity changes, a bad bound would show.
    steps, _ = quote.step_ends()
    for x in [*amounts, *steps, *(t - 1 for t in steps if t > 1)]:
        try:
            out = quote(x)
        except Exception:
            continue
        assert out <= rate * x / (1.0 + curv * x) * (1 + 1e-9) + 1e-6


def _costly() -> FeeModel:
    # Fixed costs of 25,000 units, so the prefilter has something to drop.
    return FeeModel(
        flash_fee=lambda _m, _a: 0, lamports_to_loan=lambda _m, lamports: lamports,
        loan_to_lamports=lambda _m, amount: amount, priority_fee_lamports=20_000, tip_share_bps=0,
    )


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-0.002, 0.02),
    st.integers(10**8, 10**13),
    st.integers(10**9, 10**13),
    st.integers(10**9, 10**14),
    st.sampled_from([500, 3000]),
    st.sampled_from([0, 10**12, 10**14]),
)
def test_engine_prefilter_never_drops_a_whirlpool_cycle_the_full_search_finds_profitable(
    edge: float, depth: int, l_wide: int, l_narrow: int, fee_rate: int, wall: int
) -> None:
    hops = mixed_cycle(edge, depth, l_wide, l_narrow, fee_rate, wall)
    fees = _costly()
    cap = 10**13
    sized, _ = size(hops, cap)
    full_net = -1 if sized is None else sized.objective - fees.fixed_cost(USDC_MINT)
    engine, _ = mixed_engine(hops, cap, fees)
    found = [o for o in engine.top(10) if o.pools == (pool_id(1), pool_id(2))]
    event("profitable" if full_net > 0 else "not profitable")
    if full_net > 0:
        assert found and found[0].amount_in == sized.amount_in
    else:
        assert not found
