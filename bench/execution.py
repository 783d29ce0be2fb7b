"""Execution benchmark: flash-arbitrage bundles through the Submitter vs a naive sender, same run.

Everything runs in this process over loopback, as the engine sees it: the local cluster (genesis
market) and its JSON-RPC, and the local Jito block engine with its real per-region rate limit
(1 request/s per region per client, Jito's default) and, with `--competitors N`, simulated
searchers racing the bot for the same gaps.
For each of N opportunities a noise trader pushes SOL/USDC pool 0 away from pool 1 (alternately
up and down), and the bot back-runs the gap with one flash-arbitrage transaction (Solend flash
borrow USDC → Raydium swap → Raydium swap → repay → profit guard) plus a Jito tip of
`--tip-share` of the expected profit. Opportunities come one at a time; each is taken to a final
state before the next appears.

  * submitter: `core.execution.Submitter` as the engine wires it — every region at once
    (ny, frankfurt, tokyo), a token bucket per region at `jito.rate_limit_per_s`, simulateBundle
    before every (re)submission, retries with a re-quoted, re-signed replacement;
  * naive: one region (frankfurt, the fastest), no token bucket, no simulation: sendBundle
    retried every 50 ms while it answers 429, then getBundleStatuses polled every 50 ms.

Printed per strategy: bundles/s accepted, p50/p99 opportunity → landed (ms and slots),
inclusion rate, HTTP 429 answers, and the last line is one JSON object with unit-suffixed keys.
With the 1 request/s limit one bundle per second is the ceiling for any client; the submitter
reaches it without a single 429, the naive sender spends its budget on refused requests.
With competitors, a lost gap keeps the naive sender polling until the blockhash expires
(150 slots), so such runs take minutes.

    .venv/bin/python bench/execution.py [--opportunities 12] [--competitors 0] [--slot-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import logging
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from solders.hash import Hash
from solders.message import MessageV0
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import JitoConfig, RetryConfig, RiskConfig  # noqa: E402
from core.execution.jito_client import JitoClient  # noqa: E402
from core.execution.kill_switch import KillSwitch  # noqa: E402
from core.execution.lifecycle import Lifecycle  # noqa: E402
from core.execution.rpc import JsonRpc  # noqa: E402
from core.execution.submitter import Replacement, Submitter  # noqa: E402
from core.localnet.accounts import token_amount  # noqa: E402
from core.localnet.block_engine import (  # noqa: E402
    DEFAULT_REGIONS,
    BlockEngine,
    BlockEngineConfig,
    BlockEngineServer,
    CompetitorConfig,
)
from core.localnet.cluster import Cluster  # noqa: E402
from core.localnet.faults import Faults  # noqa: E402
from core.localnet.flash_route import (  # noqa: E402
    DEFAULT_COMPUTE_UNIT_LIMIT,
    FlashRoute,
    RouteQuote,
    genesis_route,
    quote_route,
    route_instructions,
)
from core.localnet.genesis import operator_keypair, trader_keypair  # noqa: E402
from core.localnet.rpc_server import RpcServer  # noqa: E402
from core.metrics import Metrics  # noqa: E402
from core.protocols import ids, raydium_amm  # noqa: E402
from core.store import StoreReader, StoreWriter  # noqa: E402

SUBMITTER_REGIONS = ("ny", "frankfurt", "tokyo")
NAIVE_REGION = "frankfurt"
NAIVE_RETRY_S = 0.05
USDC_UNIT = 10**6
LAMPORTS_PER_SOL = 10**9
# The benchmark measures execution, not risk control: no threshold may stop it half-way.
RISK = RiskConfig(max_failure_rate=1.0, max_consecutive_failures=10_000, max_tip_spend_sol_per_hour=1e9,
                  max_drawdown_usd=1e12)
RETRY = RetryConfig(max_attempts=3, base_delay_ms=50, max_delay_ms=400, fee_bump=1.25)


# -- the market: gaps opened by a noise trader, flash arbitrages that close them ----------------


class Market:
    def __init__(self, cluster: Cluster, gap_usdc: int, tip_share: float) -> None:
        self.cluster = cluster
        scenario = cluster.scenario
        self.wallet = operator_keypair(cluster.seed, None)[0]
        self.trader = trader_keypair(cluster.seed, 0)
        self.trader_accounts = scenario.traders[0].token_accounts
        base = genesis_route(scenario, "USDC", "SOL")
        self.pool0, self.pool1 = base.first, base.second
        # Pool 0 pushed up: buy SOL on pool 1, sell on pool 0; pushed down: the other way round.
        self.routes = {True: dataclasses.replace(base, first=self.pool1, second=self.pool0), False: base}
        self.gap_usdc = gap_usdc
        self.tip_share = tip_share
        self.sol_usd = scenario.token("SOL").usd_price
        self.cu_limit = DEFAULT_COMPUTE_UNIT_LIMIT  # until measured: the auction ranks tip per requested CU

    def open_gap(self, index: int) -> FlashRoute:
        """The noise trader moves pool 0 (alternately up and down); returns the route that closes it."""
        up = index % 2 == 0
        svm = self.cluster.svm
        account = svm.get_account(self.pool0.address)
        info = raydium_amm.decode_amm_info(bytes(account.data), self.pool0.address)
        usdc, sol = self.trader_accounts["USDC"], self.trader_accounts["SOL"]
        if up:
            source, destination, amount = usdc, sol, self.gap_usdc * USDC_UNIT
        else:
            source, destination, amount = sol, usdc, int(self.gap_usdc / self.sol_usd * LAMPORTS_PER_SOL)
        ix = raydium_amm.swap_base_in_v2(self.pool0.address, info, source, destination, self.trader.pubkey(),
                                         amount, 0)
        blockhash = self.cluster.latest_blockhash("processed")[0]
        message = MessageV0.try_compile(self.trader.pubkey(), [ix], [], blockhash)
        self.cluster.submit(VersionedTransaction(message, [self.trader]))
        return self.routes[up]

    def best_quote(self, route: FlashRoute) -> RouteQuote | None:
        """The most profitable loan size now (the net is concave in it: golden-section search)."""
        svm = self.cluster.svm

        def net(amount: int) -> int:
            try:
                return quote_route(svm, route, amount).net
            except Exception:  # a size the programs would refuse
                return -amount

        lo, hi = USDC_UNIT, 4 * self.gap_usdc * USDC_UNIT
        while hi - lo > USDC_UNIT:
            a, b = lo + (hi - lo) * 382 // 1000, hi - (hi - lo) * 382 // 1000
            if net(a) < net(b):
                lo = a
            else:
                hi = b
        quote = quote_route(svm, route, lo)
        return quote if quote.profitable else None

    def profit_lamports(self, quote: RouteQuote) -> int:
        return int(quote.net / USDC_UNIT / self.sol_usd * LAMPORTS_PER_SOL)

    def tip_for(self, quote: RouteQuote) -> int:
        return max(1_000, int(self.profit_lamports(quote) * self.tip_share))

    def bundle(self, route: FlashRoute, quote: RouteQuote, tip: int, blockhash: Hash,
               tip_index: int) -> VersionedTransaction:
        owner = self.wallet.pubkey()
        ixs = route_instructions(self.cluster.svm, route, quote, compute_unit_limit=self.cu_limit)
        ixs.append(transfer(TransferParams(from_pubkey=owner, to_pubkey=ids.JITO_TIP_ACCOUNTS[tip_index % 8],
                                           lamports=tip)))
        tx = VersionedTransaction(MessageV0.try_compile(owner, ixs, [], blockhash), [self.wallet])
        if self.cu_limit == DEFAULT_COMPUTE_UNIT_LIMIT:
            # Size the limit once from a simulation, as the engine's compute planner does (+15 %).
            measured = self.cluster.simulate(tx)
            if measured.err is None and measured.units_consumed:
                self.cu_limit = math.ceil(measured.units_consumed * 1.15)
                return self.bundle(route, quote, tip, blockhash, tip_index)
        return tx

    def usdc_balance(self) -> int:
        return token_amount(self.cluster.svm, self.routes[True].loan_account)


@dataclass
class Result:
    name: str
    opportunities: int = 0
    accepted: int = 0  # bundles at least one region accepted
    landed_ms: list[float] = field(default_factory=list)
    landed_slots: list[int] = field(default_factory=list)
    http_429: int = 0
    errors: int = 0
    seconds: float = 0.0
    usdc_gain: int = 0

    @property
    def inclusion(self) -> float:
        return len(self.landed_ms) / self.opportunities if self.opportunities else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            f"{self.name}_bundles_per_s": round(self.accepted / self.seconds, 3) if self.seconds else 0.0,
            f"{self.name}_landed_p50_ms": round(_pct(self.landed_ms, 50), 1),
            f"{self.name}_landed_p99_ms": round(_pct(self.landed_ms, 99), 1),
            f"{self.name}_landed_p50_slots": _pct([float(s) for s in self.landed_slots], 50),
            f"{self.name}_inclusion_pct": round(100 * self.inclusion, 1),
            f"{self.name}_http_429_count": self.http_429,
            f"{self.name}_errors_count": self.errors,
            f"{self.name}_usdc_gain_units": self.usdc_gain,
        }


def _pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# -- the two strategies --------------------------------------------------------------------------


async def run_submitter(market: Market, rpc_url: str, be_url: str, http: httpx.AsyncClient, n: int,
                        store_dir: Path, rate_limit_per_s: float) -> Result:
    result = Result("submitter", opportunities=n)
    metrics = Metrics()
    writer = await StoreWriter.open(store_dir, "live")
    landed_at: dict[str, float] = {}
    # `jito.rate_limit_per_s` set to the block engine's limit, as an operator configures it.
    regions = {r: f"{be_url}/{r}" for r in SUBMITTER_REGIONS}
    config = JitoConfig(regions=regions, rate_limit_per_s=rate_limit_per_s)
    jito = JitoClient.from_config(config, http, metrics=metrics)
    submitter = Submitter(
        jito=jito, rpc=JsonRpc(http), rpc_url=rpc_url,
        lifecycle=Lifecycle(writer, hook=lambda aid, state: state == "landed" and landed_at.setdefault(
            aid, time.perf_counter()) and None),
        kill_switch=KillSwitch(RISK, mode="live"),
        retry=RETRY, wallet=market.wallet.pubkey(), poll_interval_s=0.02,
    )
    await submitter.start()
    started: dict[str, tuple[float, int]] = {}
    before = market.usdc_balance()
    t0 = time.perf_counter()
    for i in range(n):
        route = market.open_gap(i)
        started[str(i)] = (time.perf_counter(), market.cluster.slot)
        quote = market.best_quote(route)
        if quote is None:
            continue
        tip = market.tip_for(quote)
        blockhash, lvbh = market.cluster.latest_blockhash("confirmed")

        async def rebuild(r: Replacement, route: FlashRoute = route, i: int = i) -> VersionedTransaction:
            fresh = market.best_quote(route)
            if fresh is None:
                raise RuntimeError("the gap is gone")
            return market.bundle(route, fresh, r.tip_lamports, r.blockhash, i)

        await submitter.submit(market.bundle(route, quote, tip, blockhash, i), opportunity_id=str(i),
                               expected_profit_lamports=market.profit_lamports(quote), tip_lamports=tip,
                               last_valid_block_height=lvbh, rebuild=rebuild)
    await submitter.drain()
    result.seconds = time.perf_counter() - t0
    await submitter.close()
    await writer.close()
    result.usdc_gain = market.usdc_balance() - before
    with StoreReader(store_dir, "live") as reader:
        attempts = list(reader.iter_attempts())
    # Accepted by a region: it landed, or the block engine followed it until it failed or expired.
    followed = ("bundle_failed", "blockhash_expired", "outbid")
    result.accepted = sum(1 for a in attempts if a.state in ("settled", "landed") or (
        a.state in ("failed", "dropped") and a.error_class in followed))
    for attempt in attempts:
        if attempt.state != "settled" or attempt.id not in landed_at:
            continue
        start, slot = started[attempt.opportunity_id]
        result.landed_ms.append((landed_at[attempt.id] - start) * 1000)
        record = market.cluster.transaction(_signature(attempt.signatures[0]))
        if record is not None:
            result.landed_slots.append(record.slot - slot)
    result.http_429 = int(sum(s.value for m in metrics.jito_rate_limited.collect() for s in m.samples
                              if s.name.endswith("_total")))
    result.errors = int(sum(s.value for m in metrics.jito_errors.collect() for s in m.samples
                            if s.name.endswith("_total")))
    return result


async def run_naive(market: Market, rpc_url: str, be_url: str, http: httpx.AsyncClient, n: int,
                    offset: int) -> Result:
    result = Result("naive", opportunities=n)
    url = f"{be_url}/{NAIVE_REGION}/api/v1/bundles"
    before = market.usdc_balance()
    t0 = time.perf_counter()
    for k in range(n):
        i = offset + k
        route = market.open_gap(i)
        start, start_slot = time.perf_counter(), market.cluster.slot
        quote = market.best_quote(route)
        if quote is None:
            continue
        blockhash, lvbh = market.cluster.latest_blockhash("confirmed")
        tx = market.bundle(route, quote, market.tip_for(quote), blockhash, i)
        body = {"jsonrpc": "2.0", "id": 1, "method": "sendBundle",
                "params": [[base64.b64encode(bytes(tx)).decode()], {"encoding": "base64"}]}
        bundle_id = None
        while bundle_id is None and market.cluster.block_height_at(market.cluster.slot) <= lvbh:
            reply = await http.post(url, json=body)
            if reply.status_code == 429:
                result.http_429 += 1
                await asyncio.sleep(NAIVE_RETRY_S)
                continue
            answer = reply.json()
            if "result" not in answer:
                result.errors += 1
                break
            bundle_id = answer["result"]
        if bundle_id is None:
            continue
        result.accepted += 1
        status = {"jsonrpc": "2.0", "id": 2, "method": "getBundleStatuses", "params": [[bundle_id]]}
        while market.cluster.block_height_at(market.cluster.slot) <= lvbh + 2:
            reply = await http.post(url, json=status)
            if reply.status_code == 429:
                result.http_429 += 1
            else:
                value = (reply.json().get("result") or {}).get("value") or [None]
                if value[0] is not None:
                    result.landed_ms.append((time.perf_counter() - start) * 1000)
                    result.landed_slots.append(int(value[0]["slot"]) - start_slot)
                    break
            await asyncio.sleep(NAIVE_RETRY_S)
    result.seconds = time.perf_counter() - t0
    result.usdc_gain = market.usdc_balance() - before
    return result


def _signature(text: str) -> Any:
    from solders.signature import Signature

    return Signature.from_string(text)


# -- main ----------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> dict[str, Any]:
    faults = Faults(seed=args.seed)
    cluster = Cluster(seed=args.seed, slot_ms=args.slot_ms, faults=faults)
    await cluster.start()
    rpc = RpcServer(cluster, "127.0.0.1", 0, faults)
    await rpc.start()
    competitors = CompetitorConfig(count=args.competitors, seed=args.seed) if args.competitors else None
    engine = BlockEngine(cluster, BlockEngineConfig(regions=DEFAULT_REGIONS, rate_limit_per_s=args.rate_limit,
                                                    competitors=competitors, seed=args.seed), faults)
    await engine.start()
    server = BlockEngineServer(engine, "127.0.0.1", 0)
    await server.start()
    market = Market(cluster, args.gap_usdc, args.tip_share)
    out: dict[str, Any] = {"opportunities": args.opportunities, "competitors": args.competitors,
                           "slot_ms": args.slot_ms, "rate_limit_per_s": args.rate_limit,
                           "tip_share_pct": round(100 * args.tip_share, 1)}
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            with tempfile.TemporaryDirectory() as tmp:
                smart = await run_submitter(market, rpc.url, server.url, http, args.opportunities, Path(tmp),
                                            args.rate_limit)
            await asyncio.sleep(1.1)  # the rate limiter's buckets refill between the two runs
            naive = await run_naive(market, rpc.url, server.url, http, args.opportunities, args.opportunities)
    finally:
        await server.stop()
        await engine.stop()
        await rpc.stop()
        await cluster.stop()
    for r in (smart, naive):
        slots = _pct([float(s) for s in r.landed_slots], 50)
        print(f"{r.name:>9}: {r.accepted / r.seconds:5.2f} bundles/s accepted, "
              f"opportunity → landed p50 {_pct(r.landed_ms, 50):7.1f} ms p99 {_pct(r.landed_ms, 99):7.1f} ms "
              f"(p50 {slots} slots), inclusion {100 * r.inclusion:5.1f} %, {r.http_429} × HTTP 429, "
              f"{r.errors} other errors, USDC gained {r.usdc_gain / USDC_UNIT:,.2f}", flush=True)
        out |= r.summary()
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["cpus"] = os.cpu_count()
    return out


if __name__ == "__main__":
    # A replacement whose gap a competitor already closed fails its rebuild: expected here, and the
    # submitter logs it with a traceback. The counts below say how often it happened.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("core.execution.submitter").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opportunities", type=int, default=12, help="per strategy")
    parser.add_argument("--competitors", type=int, default=0, help="competing searchers (0 = none)")
    parser.add_argument("--slot-ms", type=float, default=50.0)
    parser.add_argument("--rate-limit", type=float, default=1.0,
                        help="block engine requests/s per region per client (also the submitter's "
                        "jito.rate_limit_per_s)")
    parser.add_argument("--gap-usdc", type=int, default=50_000, help="the trader's swap opening a gap (USDC)")
    parser.add_argument("--tip-share", type=float, default=0.3, help="tip as a share of the expected profit")
    parser.add_argument("--seed", type=int, default=0)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
