"""Crash safety with a real process kill: the Submitter runs in a child process (crash_child.py)
against this test's local cluster and block engine over loopback; the test SIGKILLs it at seeded
random moments, restarts it on the same SQLite store each time, and checks at the end that no
attempt is lost, nothing reached the block engine twice, and the store's realised P&L is exactly
the wallet's on-chain balance change."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from solders.keypair import Keypair

from core.store import FINAL_STATES, StoreReader
from tests.execution.conftest import Stack, start_stack, stop_stack

ROOT = Path(__file__).resolve().parents[2]
TRADES = 200  # the issue asks for a run of at least 200 live local trades
KILLS = 6
SEED = 20261126


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    s = await start_stack(slot_ms=10)  # 150 blocks of blockhash validity ≈ 1.5 s
    try:
        yield s
    finally:
        await stop_stack(s)


async def spawn(stack: Stack, store: Path, keypair: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.execution.crash_child", "--rpc", stack.rpc_url,
        "--regions", json.dumps(stack.regions), "--store", str(store), "--keypair", str(keypair),
        "--trades", str(TRADES), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def read_until(proc: asyncio.subprocess.Process, marker: str | None, lines: list[str]) -> bool:
    """Collect stdout lines until `marker` (any line: None) → True, or end of output → False."""
    assert proc.stdout is not None
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not raw:
            return False
        line = raw.decode().strip()
        lines.append(line)
        if marker is None or line == marker:
            return True


def wallet_lamports(stack: Stack, keypair_path: Path) -> int:
    pubkey = Keypair.from_bytes(bytes(json.loads(keypair_path.read_text()))).pubkey()
    account = stack.net.cluster.get_account(pubkey)
    return account.lamports if account is not None else 0


async def test_sigkilled_submitter_restarts_on_its_store_without_losing_or_resending_anything(
    stack: Stack, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    wallet = stack.funded(1_000 * 10**9)
    keypair = tmp_path / "wallet.json"
    keypair.write_text(json.dumps(list(bytes(wallet))))
    keypair.chmod(0o600)
    store = tmp_path / "store"
    before = wallet_lamports(stack, keypair)

    kills = 0
    progress: list[int] = []  # trades finished before each kill: the kills land mid-run
    for _ in range(KILLS):
        lines: list[str] = []
        proc = await spawn(stack, store, keypair)
        assert await read_until(proc, "ready", lines), await proc.stderr.read() if proc.stderr else b""
        # A random moment inside a random trade: wait for a few trades to finish, then a fraction
        # of one trade's time (tens of ms), so kills land between and inside state transitions.
        for _ in range(rng.randint(0, 6)):
            await read_until(proc, None, lines)
        await asyncio.sleep(rng.uniform(0.0, 0.06))
        if proc.returncode is None:
            proc.kill()  # SIGKILL: no cleanup, no flush, no finally
            kills += 1
        await proc.wait()
        assert proc.stdout is not None
        lines += (await proc.stdout.read()).decode().splitlines()
        progress.append(sum('"trade"' in line for line in lines))

    lines = []
    proc = await spawn(stack, store, keypair)
    finished = await read_until(proc, "done", lines)
    stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
    assert finished and await proc.wait() == 0, stderr[-3000:]
    assert kills == KILLS and any(progress), progress

    with StoreReader(store, "live") as reader:
        attempts = list(reader.iter_attempts())
    # Every trade has its attempts, and every attempt reached a final state.
    assert {a.opportunity_id for a in attempts} == {str(i) for i in range(TRADES)}
    assert all(a.state in FINAL_STATES for a in attempts), Counter(a.state for a in attempts)
    # No trade executed twice (a replacement and the bundle it replaced never both land).
    settled = Counter(a.opportunity_id for a in attempts if a.state == "settled")
    assert all(n == 1 for n in settled.values()), settled.most_common(3)
    # Nothing sent twice: each bundle reached each region once (counted by the block engine itself)
    # and no signature rode in two different bundles.
    assert stack.sends and all(n == 1 for n in stack.sends.values()), stack.sends.most_common(3)
    ours = {bid for bid, _ in stack.sends}
    signatures = Counter(sig for record in stack.engine.book.records() if record.bundle_id in ours
                         for sig in record.signatures)
    assert all(n == 1 for n in signatures.values()), signatures.most_common(3)
    # Every bundle the block engine saw from the wallet is recorded in the store, and every landed
    # attempt's bundle is one the block engine saw.
    assert ours <= {a.bundle_id for a in attempts}
    assert {a.bundle_id for a in attempts if a.state == "settled"} <= ours
    # The money: what the store says was realised is what the wallet's balance did.
    realised = sum(a.realised_profit or 0 for a in attempts if a.state == "settled")
    assert sum(a.state == "settled" for a in attempts) > 0
    assert realised == wallet_lamports(stack, keypair) - before
