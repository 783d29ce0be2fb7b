"""Local block engine benchmark: bundles/s accepted and executed, and sendBundle → Landed latency.

Runs `arbtui localnet` in a child process (no noise traders, no competing searchers, no rate
limit), funds payers through `requestAirdrop`, then for 1 and for 3 regions:
  * throughput: pre-signed 1-transaction bundles (a transfer plus a tip, distinct payers so
    they do not compete) sent with `sendBundle` from concurrent clients, spread round-robin over
    the regions; "accepted" is sendBundle answers per second, "executed" is bundles landed
    (seen by getSignatureStatuses) per second from the first send to the last landing;
  * latency: bundles sent at a steady rate, each to every region at once (as a multi-region
    sender does); time from the first send to the first getInflightBundleStatuses "Landed".
The last line is one JSON object with units in its key names.

    .venv/bin/python bench/block_engine.py [--bundles 2000] [--concurrency 32] [--slot-ms 400]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
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
from core.protocols import ids  # noqa: E402

REGION_SETS = {1: ("ny",), 3: ("ny", "frankfurt", "tokyo")}
PAYER_LAMPORTS = 10 * 1_000_000_000


async def fund_payers(rpc: str, count: int) -> list[Keypair]:
    payers = [Keypair() for _ in range(count)]
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(connector=connector) as session:
        replies = await asyncio.gather(
            *(post(session, rpc, "requestAirdrop", [str(p.pubkey()), PAYER_LAMPORTS]) for p in payers)
        )
    failed = [r for r in replies if "error" in r]
    if failed:
        raise RuntimeError(f"airdrop failed: {failed[0]}")
    return payers


def bundles_for(payers: list[Keypair], blockhash: Hash, count: int, salt: int) -> list[VersionedTransaction]:
    """1-transaction bundles: a transfer to a fresh account and a tip; payer i % len(payers)."""
    out = []
    for i in range(count):
        payer = payers[i % len(payers)]
        ixs = [
            transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(),
                                    lamports=1_000_000 + salt)),
            transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=ids.JITO_TIP_ACCOUNTS[i % 8],
                                    lamports=1_000 + i)),
        ]
        message = MessageV0.try_compile(payer.pubkey(), ixs, [], blockhash)
        out.append(VersionedTransaction(message, [payer]))
    return out


def _send_body(tx: VersionedTransaction) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sendBundle",
                       "params": [[base64.b64encode(bytes(tx)).decode()], {"encoding": "base64"}]}).encode()


async def throughput(be: str, rpc: str, regions: tuple[str, ...], txs: list[VersionedTransaction],
                     concurrency: int) -> dict[str, float]:
    bodies = [_send_body(tx) for tx in txs]
    requests = [(f"{be}/{regions[i % len(regions)]}/api/v1/bundles", body) for i, body in enumerate(bodies)]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        accepted_s, errors = await post_concurrently(session, requests, concurrency)
        pending = [str(tx.signatures[0]) for tx in txs]
        while pending:
            still = []
            for i in range(0, len(pending), 256):
                chunk = pending[i:i + 256]
                reply = await post(session, rpc, "getSignatureStatuses", [chunk])
                still += [s for s, v in zip(chunk, reply["result"]["value"], strict=True) if v is None]
            if len(still) == len(pending) and time.perf_counter() - start > 120:
                break
            pending = still
            if pending:
                await asyncio.sleep(0.01)
        executed_s = time.perf_counter() - start
    return {
        "accepted_bundles_per_s": len(bodies) / accepted_s,
        "executed_bundles_per_s": (len(bodies) - len(pending)) / executed_s,
        "errors": errors,
        "not_landed": len(pending),
    }


async def latency(be: str, regions: tuple[str, ...], txs: list[VersionedTransaction],
                  rate_per_s: float) -> list[float]:
    sent: dict[str, float] = {}
    landed: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:

        async def send(tx: VersionedTransaction) -> None:
            body = _send_body(tx)
            headers = {"Content-Type": "application/json"}
            answers = await asyncio.gather(*(
                session.post(f"{be}/{r}/api/v1/bundles", data=body, headers=headers) for r in regions
            ))
            for answer in answers:
                reply = await answer.json()
                answer.release()
                if "result" in reply:
                    sent.setdefault(reply["result"], 0.0)

        async def poll() -> None:
            status_url = f"{be}/api/v1/getInflightBundleStatuses"
            while len(landed) < len(txs):
                waiting = [b for b in sent if b not in landed]
                for i in range(0, len(waiting), 5):
                    reply = await post(session, status_url, "getInflightBundleStatuses", [waiting[i:i + 5]])
                    now = time.perf_counter()
                    for status in reply["result"]["value"]:
                        if status["status"] in ("Landed", "Failed"):
                            landed.setdefault(status["bundle_id"], now)
                await asyncio.sleep(0.005)

        poller = asyncio.create_task(poll())
        starts: dict[str, float] = {}
        for tx in txs:
            bid = _bundle_id(tx)
            starts[bid] = time.perf_counter()
            await send(tx)
            await asyncio.sleep(1.0 / rate_per_s)
        await asyncio.wait_for(poller, 60)
    return [(landed[b] - starts[b]) * 1000 for b in starts if b in landed]


def _bundle_id(tx: VersionedTransaction) -> str:
    return hashlib.sha256(str(tx.signatures[0]).encode()).hexdigest()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    rpc_port, ws_port, be_port = free_port(), free_port(), free_port()
    rpc, be = f"http://127.0.0.1:{rpc_port}", f"http://127.0.0.1:{be_port}"
    child = start_localnet(rpc_port, ws_port, args.seed, args.slot_ms, "--block-engine-port", str(be_port),
                           "--no-traders", "--competitors", "0", "--be-rate-limit", "0")
    result: dict[str, Any] = {"bundles": args.bundles, "concurrency": args.concurrency,
                              "slot_ms": args.slot_ms}
    try:
        await wait_healthy(rpc)
        payers = await fund_payers(rpc, args.payers)
        for k, regions in REGION_SETS.items():
            blockhash = await latest_blockhash(rpc)
            txs = bundles_for(payers, blockhash, args.bundles, salt=k)
            tp = await throughput(be, rpc, regions, txs, args.concurrency)
            print(f"{k} region(s): sendBundle accepted {tp['accepted_bundles_per_s']:,.0f} bundles/s, "
                  f"executed {tp['executed_bundles_per_s']:,.0f} bundles/s "
                  f"({tp['errors']} errors, {tp['not_landed']} not landed)", flush=True)
            blockhash = await latest_blockhash(rpc)
            sample = bundles_for(payers, blockhash, args.latency_bundles, salt=10 + k)
            values = await latency(be, regions, sample, args.latency_rate)
            p50, p99 = percentile(values, 50), percentile(values, 99)
            print(f"{k} region(s): sendBundle → Landed p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(values)}",
                  flush=True)
            result |= {
                f"accepted_{k}r_bundles_per_s": round(tp["accepted_bundles_per_s"], 1),
                f"executed_{k}r_bundles_per_s": round(tp["executed_bundles_per_s"], 1),
                f"errors_{k}r": tp["errors"] + tp["not_landed"],
                f"landed_{k}r_p50_ms": round(p50, 2),
                f"landed_{k}r_p99_ms": round(p99, 2),
            }
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(10)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    result["bench_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["cpus"] = os.cpu_count()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundles", type=int, default=2000)
    parser.add_argument("--payers", type=int, default=2000,
                        help="distinct payers (bundles sharing one compete)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slot-ms", type=float, default=400.0)
    parser.add_argument("--latency-bundles", type=int, default=200)
    parser.add_argument("--latency-rate", type=float, default=20.0, help="bundles per second for latency")
    result = asyncio.run(main(parser.parse_args()))
    print(json.dumps(result))
