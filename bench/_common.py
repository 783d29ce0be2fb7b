"""What the benchmarks that run `arbtui localnet` in a child process share: ports, JSON-RPC, the child."""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from solders.hash import Hash

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def post(session: aiohttp.ClientSession, url: str, method: str, params: list[Any]) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    async with session.post(url, json=body) as reply:
        return await reply.json()


async def wait_healthy(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                if (await post(session, url, "getHealth", [])).get("result") == "ok":
                    return
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("localnet child did not become healthy")


async def latest_blockhash(rpc: str) -> Hash:
    async with aiohttp.ClientSession() as session:
        reply = await post(session, rpc, "getLatestBlockhash", [{"commitment": "processed"}])
    return Hash.from_string(reply["result"]["value"]["blockhash"])


async def post_concurrently(
    session: aiohttp.ClientSession, requests: list[tuple[str, bytes]], concurrency: int
) -> tuple[float, int]:
    """POST each (url, JSON body) from `concurrency` workers in order; (seconds taken, error replies)."""
    errors = 0
    next_index = 0
    headers = {"Content-Type": "application/json"}

    async def worker() -> None:
        nonlocal next_index, errors
        while next_index < len(requests):
            url, body = requests[next_index]
            next_index += 1
            async with session.post(url, data=body, headers=headers) as reply:
                answer = await reply.json()
            if "error" in answer:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, errors


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def start_localnet(
    rpc_port: int, ws_port: int, seed: int, slot_ms: float, *extra: str
) -> subprocess.Popen[bytes]:
    """`python -m core.localnet` as the console runs it, quiet; stop it with `child.send_signal(SIGTERM)`."""
    return subprocess.Popen(
        [sys.executable, "-m", "core.localnet", "--rpc-port", str(rpc_port), "--ws-port", str(ws_port),
         "--seed", str(seed), "--slot-ms", str(slot_ms), *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
