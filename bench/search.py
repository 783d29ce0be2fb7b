"""Benchmark: incremental cycle search vs networkx Bellman-Ford on the same stream of pool updates.

One run: a synthetic market of 1,000 Raydium-like constant-product pools over 60 tokens (USDC and
SOL as loan tokens and hubs, several pools per pair), then a stream of pool updates (each pool's
price jitters around its token reference prices, liquidity drifts). Measures update → re-ranked
opportunities latency of `SearchEngine.upsert_pool` + `top(10)`; then the same stream through the
usual Python approach (a networkx DiGraph of −log(best rate) per direction, negative-cycle search
from each loan token per update) on a prefix of the stream, in rounds alternating with the engine's
so that a load elsewhere on the machine weighs on both alike. A third, Whirlpool-heavy stream replaces a
share of the pools by Orca Whirlpools (tick spacing 8, a wide position plus narrow ones and walls a
few dozen ticks away, so 1 % moves cross initialized ticks); their updates are real swaps from the
reference state on the exact quoter, shocks undone by the next update as above. Last line: one
JSON object.

    .venv/bin/python bench/search.py [--updates N] [--seed S] [--sigma 0.003] [--whirlpool-share 0.4]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

import networkx as nx
from solders.pubkey import Pubkey

from core.localnet.genesis_whirlpool import Position, build_whirlpool_state
from core.protocols.ids import NATIVE_MINT, USDC_MINT
from core.protocols.whirlpool import MAX_TICK_INDEX, MIN_TICK_INDEX
from core.quote.whirlpool import WhirlpoolSwapError, swap, tick_index_from_sqrt_price
from core.search import FeeModel, Pool, SearchEngine
from core.search.dex_raydium import RAYDIUM_AMM_V4, RAYDIUM_AMM_V4_MODEL, RaydiumState
from core.search.dex_whirlpool import WHIRLPOOL, WHIRLPOOL_MODEL, WhirlpoolState
from core.search.fees import solend_flash_fee

MODELS = {RAYDIUM_AMM_V4: RAYDIUM_AMM_V4_MODEL, WHIRLPOOL: WHIRLPOOL_MODEL}
WHIRLPOOL_TICK_SPACING = 8

SOL_USD = 150.0


def make_tokens(rng: random.Random, n: int) -> list[tuple[Pubkey, float, int]]:
    """(mint, usd price, decimals); USDC and SOL first."""
    tokens = [(USDC_MINT, 1.0, 6), (NATIVE_MINT, SOL_USD, 9)]
    for i in range(n - 2):
        price = math.exp(rng.uniform(math.log(1e-5), math.log(5e4)))
        tokens.append((Pubkey(bytes([7, i + 1]) + bytes(30)), price, rng.choice((5, 6, 8, 9))))
    return tokens


def make_pairs(rng: random.Random, n_tokens: int, n_pools: int) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = [(0, 1)] * 6
    for t in range(2, n_tokens):
        pairs += [(t, 0)] * rng.randint(1, 4)
        pairs += [(t, 1)] * rng.randint(1, 4)
    while len(pairs) < n_pools:
        a, b = rng.sample(range(2, n_tokens), 2)
        pairs.append((a, b))
    return pairs[:n_pools]


def reserves(tokens, a: int, b: int, tvl_usd: float, jitter: float) -> tuple[int, int]:
    _, pa, da = tokens[a]
    _, pb, db = tokens[b]
    half = tvl_usd / 2
    ra = half / pa * 10**da
    rb = half / pb * 10**db * math.exp(jitter)
    return max(1000, int(ra)), max(1000, int(rb))


class WhirlpoolRef:
    """A Whirlpool at its reference price; `moved(jitter)` is the state after a real swap that moves
    its price by about `jitter` (relative), computed by the exact quoter."""

    def __init__(self, rng: random.Random, tokens, a: int, b: int, tvl_usd: float, pool_id: Pubkey) -> None:
        if bytes(tokens[a][0]) > bytes(tokens[b][0]):
            a, b = b, a
        self.id, self.mint_a, self.mint_b = pool_id, tokens[a][0], tokens[b][0]
        ra, rb = reserves(tokens, a, b, tvl_usd, 0.0)
        sqrt_price = int(math.sqrt(rb / ra) * 2**64)
        liquidity = int(math.sqrt(ra * rb))
        ts = WHIRLPOOL_TICK_SPACING
        base = tick_index_from_sqrt_price(sqrt_price) // ts * ts
        lo, hi = MIN_TICK_INDEX // ts * ts + ts, MAX_TICK_INDEX // ts * ts

        def span(low: int, high: int, share: float) -> Position:
            amount = max(1, int(liquidity * share))
            return Position(max(lo, base - low * ts), min(hi, base + high * ts), amount)

        positions = [span(300, 300, 0.4), span(rng.randint(3, 20), rng.randint(3, 20), 0.6)]
        positions += [span(rng.randint(30, 60), rng.randint(30, 60), 0.3)]  # walls past 1–2 % moves
        built = build_whirlpool_state(
            token_mint_a=self.mint_a, token_mint_b=self.mint_b, token_vault_a=Pubkey.new_unique(),
            token_vault_b=Pubkey.new_unique(), tick_spacing=ts, fee_rate=rng.choice((500, 3000, 3000, 1000)),
            sqrt_price=sqrt_price, positions=positions,
        )
        self.pool = built.pool
        self.arrays = tuple(built.tick_arrays.values())

    def moved(self, jitter: float) -> WhirlpoolState:
        pool = self.pool
        sp = pool.sqrt_price / 2**64
        a_to_b = jitter < 0
        # A move of the price by j is one of j/2 in its square root: that much of the virtual reserve.
        virtual = pool.liquidity / sp if a_to_b else pool.liquidity * sp
        amount = int(virtual * abs(jitter) / 2)
        if amount <= 0:
            return WhirlpoolState(pool, self.arrays)
        try:
            result = swap(pool, self.arrays, amount, a_to_b=a_to_b)
        except WhirlpoolSwapError:
            return WhirlpoolState(pool, self.arrays)
        arrays = tuple(result.apply_to_tick_array(t) for t in self.arrays)
        return WhirlpoolState(result.apply(pool), arrays)


def build_market(
    seed: int, n_tokens: int, n_pools: int, sigma: float, n_updates: int, shock_p: float, shock: float,
    whirlpool_share: float = 0.0,
):
    rng = random.Random(seed)
    tokens = make_tokens(rng, n_tokens)
    pairs = make_pairs(rng, n_tokens, n_pools)
    tvls = [math.exp(rng.uniform(math.log(5e4), math.log(5e6))) for _ in pairs]
    fees = [rng.choice(((25, 10_000), (25, 10_000), (30, 10_000), (20, 10_000))) for _ in pairs]
    ids = [Pubkey(bytes([9]) + i.to_bytes(4, "little") + bytes(27)) for i in range(len(pairs))]
    # Its own random stream: the Raydium market of a seed stays what it was.
    wrng = random.Random(f"{seed}:whirlpool")
    whirlpools = {
        i: WhirlpoolRef(wrng, tokens, *pairs[i], tvls[i], ids[i])
        for i in range(len(pairs))
        if whirlpool_share > 0 and wrng.random() < whirlpool_share
    }

    def pool(i: int, slot: int, jitter: float, tvl_scale: float) -> Pool:
        ref = whirlpools.get(i)
        if ref is not None:
            return Pool(ref.id, WHIRLPOOL, ref.mint_a, ref.mint_b, ref.moved(jitter), slot)
        a, b = pairs[i]
        ra, rb = reserves(tokens, a, b, tvls[i] * tvl_scale, jitter)
        return Pool(ids[i], RAYDIUM_AMM_V4, tokens[a][0], tokens[b][0], RaydiumState(ra, rb, *fees[i]), slot)

    initial = [pool(i, 1, rng.gauss(0.0, sigma), 1.0) for i in range(len(pairs))]
    # Most updates jitter a pool's price by sigma around the reference (small trades, liquidity
    # drift). With probability `shock_p` a large trade moves it by `shock` instead; the next update
    # is the back-run that restores it, as on a market where arbitrage is taken within a slot.
    stream = []
    k = 0
    while len(stream) < n_updates:
        i = rng.randrange(len(pairs))
        slot = 2 + k // 400
        if rng.random() < shock_p:
            stream.append(pool(i, slot, rng.gauss(0.0, shock), 1.0))
            k += 1
        stream.append(pool(i, 2 + k // 400, rng.gauss(0.0, sigma), math.exp(rng.gauss(0.0, 0.02))))
        k += 1
    return tokens, initial, stream[:n_updates]


def make_engine(tokens) -> SearchEngine:
    usdc_per_lamport = tokens[1][1] / 1e9 * 1e6

    def lamports_to_loan(mint: Pubkey, lamports: int) -> int:
        return lamports if mint == NATIVE_MINT else math.ceil(lamports * usdc_per_lamport)

    def loan_to_lamports(mint: Pubkey, amount: int) -> int:
        return amount if mint == NATIVE_MINT else int(amount / usdc_per_lamport)

    fee_model = FeeModel(
        flash_fee=solend_flash_fee(500_000_000_000_000, 20),
        lamports_to_loan=lamports_to_loan,
        loan_to_lamports=loan_to_lamports,
        signatures=1,
        priority_fee_lamports=20_000,
        flash_rate_floor=0.0005,
    )
    caps = {USDC_MINT: 5_000_000 * 10**6, NATIVE_MINT: 30_000 * 10**9}
    return SearchEngine((USDC_MINT, NATIVE_MINT), caps.__getitem__, fee_model, MODELS)


class NetworkxSearch:
    """The usual approach: best −log(rate) per token pair direction, Bellman-Ford per update."""

    def __init__(self, loan_mints) -> None:
        self.graph = nx.DiGraph()
        self.pools: dict[tuple, dict[Pubkey, float]] = {}
        self.loans = loan_mints

    def _rate(self, pool: Pool, a_to_b: bool) -> float:
        # The marginal rate at zero size, fee included (γ·y/x for a constant product, γ·P for a CLMM).
        line = MODELS[pool.dex].linearize(pool.state)
        return max(line.rate_ab if a_to_b else line.rate_ba, 1e-300)

    def upsert(self, pool: Pool) -> list[list]:
        for src, dst, a_to_b in ((pool.mint_a, pool.mint_b, True), (pool.mint_b, pool.mint_a, False)):
            per_pool = self.pools.setdefault((src, dst), {})
            per_pool[pool.id] = self._rate(pool, a_to_b)
            self.graph.add_edge(src, dst, weight=-math.log(max(per_pool.values())))
        found = []
        for loan in self.loans:
            with contextlib.suppress(nx.NetworkXError):
                found.append(nx.find_negative_cycle(self.graph, loan))
        return found


def load_networkx(initial: list[Pool]) -> NetworkxSearch:
    nxs = NetworkxSearch((USDC_MINT, NATIVE_MINT))
    for p in initial:
        for src, dst, a_to_b in ((p.mint_a, p.mint_b, True), (p.mint_b, p.mint_a, False)):
            per_pool = nxs.pools.setdefault((src, dst), {})
            per_pool[p.id] = nxs._rate(p, a_to_b)
            nxs.graph.add_edge(src, dst, weight=-math.log(max(per_pool.values())))
    return nxs


def run_engine(tokens, initial: list[Pool], stream: list[Pool], nx_updates: int, rounds: int = 10) -> dict:
    """Load the market, then time update → re-ranked opportunities (`upsert_pool` + `top(10)`), and
    networkx on the stream's first `nx_updates`, in alternating rounds: a load elsewhere on the
    machine then weighs on both alike, and the ratio stays what the code makes it."""
    engine = make_engine(tokens)
    t0 = time.perf_counter()
    for p in initial:
        engine.upsert_pool(p)
    engine.warm()
    build_s = time.perf_counter() - t0
    standing = len(engine.top(10**9))
    engine.stats.update(updates=0, candidates=0, searches=0, evaluations=0)
    nxs = load_networkx(initial)
    nx_stream = stream[:nx_updates]
    gc.collect()
    gc.freeze()  # the market's objects are long-lived; keep the collector off them
    latencies = []
    changed = 0
    nx_s, nx_found = 0.0, 0
    perf = time.perf_counter_ns
    upsert, top = engine.upsert_pool, engine.top
    for r in range(rounds):
        for p in stream[r * len(stream) // rounds : (r + 1) * len(stream) // rounds]:
            t = perf()
            changed += len(upsert(p))
            top(10)
            latencies.append(perf() - t)
        t = perf()
        for p in nx_stream[r * len(nx_stream) // rounds : (r + 1) * len(nx_stream) // rounds]:
            nx_found += len(nxs.upsert(p))
        nx_s += (perf() - t) / 1e9
    gc.unfreeze()
    n = len(stream)
    lat_us = sorted(x / 1000 for x in latencies)
    st = engine.stats
    return {
        "engine": engine,
        "build_s": build_s,
        "standing": standing,
        "updates_per_s": n / (sum(latencies) / 1e9),
        "p50_us": statistics.median(lat_us),
        "p99_us": lat_us[int(0.99 * (n - 1))],
        "p999_us": lat_us[int(0.999 * (n - 1))],
        "max_us": lat_us[-1],
        "candidates": st["candidates"] / n,
        "searches": st["searches"] / n,
        "quotes_per_search": st["evaluations"] / max(1, st["searches"]),
        "events": changed / n,
        "whirlpool_updates": sum(p.dex == WHIRLPOOL for p in stream),
        "nx_updates_per_s": len(nx_stream) / nx_s,
        "nx_found": nx_found,
    }


def report(label: str, r: dict, nx_ups: float, nx_found: int, nx_n: int) -> None:
    print(
        f"{label}: {r['updates_per_s']:,.0f} updates/s; p50 {r['p50_us']:.1f} µs, p99 {r['p99_us']:.1f} µs, "
        f"p99.9 {r['p999_us']:.0f} µs, max {r['max_us']:.0f} µs"
    )
    print(
        f"    per update: {r['candidates']:.2f} cycles past the rate filter, {r['searches']:.3f} integer "
        f"searches ({r['quotes_per_search']:.1f} chain quotes each), {r['events']:.2f} opportunity events"
    )
    print(
        f"    networkx: {nx_ups:,.0f} updates/s over {nx_n} updates ({nx_found} negative cycles found, "
        f"at most one per loan token, unsized) → speedup {r['updates_per_s'] / nx_ups:,.0f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=60)
    parser.add_argument("--updates", type=int, default=50_000)
    parser.add_argument("--nx-updates", type=int, default=400)
    parser.add_argument("--sigma", type=float, default=0.001, help="price jitter of a pool around reference")
    parser.add_argument("--shock-p", type=float, default=0.05, help="share of updates that are large trades")
    parser.add_argument("--shock", type=float, default=0.01, help="price move of a large trade (sd)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--whirlpool-share", type=float, default=0.4, help="Whirlpool share, third stream")
    parser.add_argument("--whirlpool-updates", type=int, default=20_000)
    args = parser.parse_args()

    tokens, initial, stream = build_market(
        args.seed, args.tokens, args.pools, args.sigma, args.updates, args.shock_p, args.shock
    )
    _, _, calm = build_market(args.seed, args.tokens, args.pools, args.sigma, args.updates, 0.0, 0.0)
    main_run = run_engine(tokens, initial, stream, args.nx_updates)
    engine = main_run["engine"]
    print(
        f"market: {engine.pool_count} pools, {args.tokens} tokens, {engine.cycle_count} cycles, "
        f"built in {main_run['build_s']:.2f} s, {main_run['standing']} opportunities standing; "
        f"{len(stream)} updates, {args.shock_p:.0%} of them {args.shock:.1%} price shocks undone by the next"
    )
    best = engine.top(1)
    nx_ups, nx_found = main_run["nx_updates_per_s"], main_run["nx_found"]
    report("with shocks", main_run, nx_ups, nx_found, args.nx_updates)
    if best:
        o = best[0]
        print(f"    best at the end: net {o.net}, gross {o.gross}, in {o.amount_in}, {len(o.route)} hops")
    calm_run = run_engine(tokens, initial, calm, args.nx_updates)
    calm_nx_ups, calm_found = calm_run["nx_updates_per_s"], calm_run["nx_found"]
    report(f"calm (jitter {args.sigma:.1%} only)", calm_run, calm_nx_ups, calm_found, args.nx_updates)

    w_tokens, w_initial, w_stream = build_market(
        args.seed, args.tokens, args.pools, args.sigma, args.whirlpool_updates, args.shock_p, args.shock,
        args.whirlpool_share,
    )
    w_run = run_engine(w_tokens, w_initial, w_stream, args.nx_updates)
    w_engine = w_run["engine"]
    w_pools = sum(p.dex == WHIRLPOOL for p in w_initial)
    w_nx_ups, w_found = w_run["nx_updates_per_s"], w_run["nx_found"]
    print(
        f"whirlpool-heavy market: {w_pools} of {w_engine.pool_count} pools are Whirlpools, "
        f"{w_engine.cycle_count} cycles, built in {w_run['build_s']:.2f} s, {w_run['standing']} standing; "
        f"{len(w_stream)} updates ({w_run['whirlpool_updates']} Whirlpool swaps), same shocks"
    )
    report("whirlpool-heavy with shocks", w_run, w_nx_ups, w_found, args.nx_updates)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "updates_per_s": round(main_run["updates_per_s"], 1),
        "p50_us": round(main_run["p50_us"], 2),
        "p99_us": round(main_run["p99_us"], 2),
        "networkx_updates_per_s": round(nx_ups, 2),
        "speedup_x": round(main_run["updates_per_s"] / nx_ups, 1),
        "pools": engine.pool_count,
        "cycles": engine.cycle_count,
        "peak_rss_mb": round(peak_mb, 1),
        "calm_updates_per_s": round(calm_run["updates_per_s"], 1),
        "calm_p99_us": round(calm_run["p99_us"], 2),
        "calm_networkx_updates_per_s": round(calm_nx_ups, 2),
        "calm_speedup_x": round(calm_run["updates_per_s"] / calm_nx_ups, 1),
        "whirlpool_pools": w_pools,
        "whirlpool_cycles": w_engine.cycle_count,
        "whirlpool_updates_per_s": round(w_run["updates_per_s"], 1),
        "whirlpool_p50_us": round(w_run["p50_us"], 2),
        "whirlpool_p99_us": round(w_run["p99_us"], 2),
        "whirlpool_max_us": round(w_run["max_us"], 2),
        "whirlpool_networkx_updates_per_s": round(w_nx_ups, 2),
        "whirlpool_speedup_x": round(w_run["updates_per_s"] / w_nx_ups, 1),
    }))


if __name__ == "__main__":
    main()
