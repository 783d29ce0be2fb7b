"""Local cluster benchmark: sendTransaction throughput over HTTP vs LiteSVM in-process, and latency.

Runs `arbtui localnet` in a child process (as the console does), pre-signs swap transactions on the
genesis Raydium pools (transfers when the scenario has no pools), and prints:
  * transactions per second through `sendTransaction` over HTTP (concurrent aiohttp clients,
    preflight simulation on, as solana-py sends by default), beside the same transactions sent
    straight to a LiteSVM in this process (the ceiling);
  * p50/p99 latency from send to the `signatureSubscribe` notification (processed and confirmed).
The last line is one JSON object with units in its key names.

    .venv/bin/python bench/localnet.py [--txs 6000] [--concurrency 64] [--seed 0] [--slot-ms 400]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import websockets
from solders.compute_budget import set_compute_unit_limit
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    free_port,
    latest_blockhash,
    percentile,
    post,
    post_concurrently,
    start_localnet,
    wait_healthy,
)
from core.localnet.cluster import Cluster  # noqa: E402
from core.protocols import raydium_amm  # noqa: E402

SWAP_COMPUTE_UNITS = 60_000


@dataclass
class Workload:
    kind: str  # "raydium-swap" or "transfer"
    txs: list[VersionedTransaction]


def build_workload(cluster: Cluster, blockhash: Hash, count: int, salt: int) -> Workload:
    """Signed transactions that all succeed on the genesis state; `salt` keeps batches distinct."""
    scenario = cluster.scenario
    pools = list(getattr(scenario, "raydium_pools", ()) or ())
    traders = list(getattr(scenario, "traders", ()) or ())
    if pools and traders:
        infos = {}
        for pool in pools:
            account = cluster.svm.get_account(pool.address)
            infos[pool.address] = raydium_amm.decode_amm_info(bytes(account.data), pool.address)
        txs = []
        for i in range(count):
            pool = pools[i % len(pools)]
            trader = traders[(i // len(pools)) % len(traders)]
            coin_to_pc = (i // (len(pools) * len(traders))) % 2 == 0
            src, dst = (
                (pool.coin_symbol, pool.pc_symbol) if coin_to_pc else (pool.pc_symbol, pool.coin_symbol)
            )
            decimals = scenario.token(src).decimals
            amount_in = 10 ** max(decimals - 3, 0) + salt * 100_000 + i  # a milli-token, unique per tx
            swap = raydium_amm.swap_base_in(
                pool.address,
                infos[pool.address],
                pool.market_keys,
                trader.token_accounts[src],
                trader.token_accounts[dst],
                trader.pubkey,
                amount_in,
                0,
                program_id=pool.program,
            )
            message = Message([set_compute_unit_limit(SWAP_COMPUTE_UNITS), swap], trader.pubkey)
            txs.append(VersionedTransaction(_with_blockhash(message, blockhash), [trader.keypair]))
        return Workload("raydium-swap", txs)
    payer = cluster.faucet
    txs = [
        VersionedTransaction(
            Message.new_with_blockhash(
                [
                    transfer(
                        TransferParams(
                            from_pubkey=payer.pubkey(),
                            to_pubkey=Keypair().pubkey(),
                            lamports=1_000_000_000 + salt * 100_000 + i,
                        )
                    )
                ],
                payer.pubkey(),
                blockhash,
            ),
            [payer],
        )
        for i in range(count)
    ]
    return Workload("transfer", txs)


def _with_blockhash(message: Message, blockhash: Hash) -> Message:
    header = message.header
    return Message.new_with_compiled_instructions(
        header.num_required_signatures,
        header.num_readonly_signed_accounts,
        header.num_readonly_unsigned_accounts,
        list(message.account_keys),
        blockhash,
        list(message.instructions),
    )


async def http_throughput(url: str, txs: list[VersionedTransaction], concurrency: int) -> tuple[float, int]:
    bodies = [
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "sendTransaction",
                "params": [
                    base64.b64encode(bytes(tx)).decode(),
                    {"encoding": "base64", "preflightCommitment": "processed"},
                ],
            }
        ).encode()
        for i, tx in enumerate(txs)
    ]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        elapsed, errors = await post_concurrently(session, [(url, body) for body in bodies], concurrency)
    return len(bodies) / elapsed, errors


def inproc_throughput(cluster: Cluster, txs: list[VersionedTransaction]) -> tuple[float, int]:
    svm = cluster.svm
    errors = 0
    start = time.perf_counter()
    for tx in txs:
        result = svm.send_transaction(tx)
        if hasattr(result, "err"):
            errors += 1
    return len(txs) / (time.perf_counter() - start), errors


async def confirmation_latency(
    url: str, ws_url: str, txs: list[VersionedTransaction], rate_per_s: float
) -> dict[str, list[float]]:
    """Send at a steady rate; time each signature's processed and confirmed notifications."""
    sent: dict[str, float] = {}
    got: dict[str, dict[str, float]] = {"processed": {}, "confirmed": {}}
    sub_kind: dict[int, tuple[str, str]] = {}
    async with websockets.connect(ws_url, max_size=None) as ws:
        pending: dict[int, tuple[str, str]] = {}
        for i, tx in enumerate(txs):
            sig = str(tx.signatures[0])
            for j, level in enumerate(("processed", "confirmed")):
                req_id = 2 * i + j
                pending[req_id] = (sig, level)
                await ws.send(
                    json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "id": req_id,
                            "method": "signatureSubscribe",
                            "params": [sig, {"commitment": level}],
                        }
                    )
                )
        while pending:
            msg = json.loads(await ws.recv())
            if "id" in msg and msg["id"] in pending:
                sub_kind[msg["result"]] = pending.pop(msg["id"])

        async def reader() -> None:
            while len(got["confirmed"]) < len(txs):
                msg = json.loads(await ws.recv())
                if msg.get("method") == "signatureNotification":
                    sig, level = sub_kind[msg["params"]["subscription"]]
                    got[level].setdefault(sig, time.perf_counter())

        read_task = asyncio.create_task(reader())
        async with aiohttp.ClientSession() as session:
            for tx in txs:
                sig = str(tx.signatures[0])
                sent[sig] = time.perf_counter()
                await post(
                    session,
                    url,
                    "sendTransaction",
                    [
                        base64.b64encode(bytes(tx)).decode(),
                        {"encoding": "base64", "preflightCommitment": "processed"},
                    ],
                )
                await asyncio.sleep(1.0 / rate_per_s)
        await asyncio.wait_for(read_task, 30)
    return {level: [(t - sent[s]) * 1000 for s, t in times.items()] for level, times in got.items()}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    rpc_port, ws_port = free_port(), free_port()
    url, ws_url = f"http://127.0.0.1:{rpc_port}", f"ws://127.0.0.1:{ws_port}"
    child = start_localnet(rpc_port, ws_port, args.seed, args.slot_ms, "--no-traders")
    try:
        await wait_healthy(url)
        # The same genesis in this process: it names the pools/traders and is the in-process ceiling.
        local = Cluster(seed=args.seed, slot_ms=3_600_000)
        await local.start()
        blockhash = await latest_blockhash(url)
        workload = build_workload(local, blockhash, args.txs, salt=1)
        print(f"workload: {len(workload.txs)} signed {workload.kind} transactions", flush=True)
        http_tps, http_errors = await http_throughput(url, workload.txs, args.concurrency)
        print(
            f"HTTP sendTransaction: {http_tps:,.0f} tx/s ({http_errors} errors, "
            f"concurrency {args.concurrency}, preflight on)",
            flush=True,
        )
        inproc_tps, inproc_errors = inproc_throughput(local, workload.txs)
        print(f"LiteSVM in-process:   {inproc_tps:,.0f} tx/s ({inproc_errors} errors)", flush=True)
        await local.stop()
        blockhash = await latest_blockhash(url)
        sample = build_workload(local, blockhash, args.latency_txs, salt=2).txs
        latency = await confirmation_latency(url, ws_url, sample, args.latency_rate)
        for level in ("processed", "confirmed"):
            values = latency[level]
            print(
                f"send → signatureNotification ({level}): p50 {percentile(values, 50):.1f} ms, "
                f"p99 {percentile(values, 99):.1f} ms over {len(values)}",
                flush=True,
            )
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(10)
    server_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    bench_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "workload": workload.kind,
        "txs": len(workload.txs),
        "concurrency": args.concurrency,
        "http_tx_per_s": round(http_tps, 1),
        "http_errors": http_errors,
        "inproc_tx_per_s": round(inproc_tps, 1),
        "processed_p50_ms": round(percentile(latency["processed"], 50), 2),
        "processed_p99_ms": round(percentile(latency["processed"], 99), 2),
        "confirm_p50_ms": round(percentile(latency["confirmed"], 50), 2),
        "confirm_p99_ms": round(percentile(latency["confirmed"], 99), 2),
        "slot_ms": args.slot_ms,
        "peak_rss_mb": round(server_rss, 1),
        "bench_peak_rss_mb": round(bench_rss, 1),
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--txs", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slot-ms", type=float, default=400.0)
    parser.add_argument("--latency-txs", type=int, default=200)
    parser.add_argument("--latency-rate", type=float, default=100.0, help="sends per second for latency")
    result = asyncio.run(main(parser.parse_args()))
    print(json.dumps(result))
