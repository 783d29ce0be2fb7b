"""A console killed mid-approval, and `run --headless --json` attached to a running engine."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from core.config import AppConfig
from core.daemon import socket_path
from core.daemon.lock import holder
from core.daemon.process import ensure_engine, stop_engine
from core.events import ApprovalDecision, PendingApproval
from core.store import StoreReader
from tests.daemon.conftest import SCRIPTED

ROOT = Path(__file__).resolve().parents[2]

# Attach, ask for approval of opportunity 1, and die by SIGKILL before reading any answer.
DYING_CONSOLE = """
import os, signal, socket, sys
from core.daemon.protocol import PROTOCOL_VERSION, encode
sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
sock.sendall(encode({"kind": "hello", "version": PROTOCOL_VERSION}))
lines = sock.makefile("rb")
lines.readline(); lines.readline()  # hello, snapshot
sock.sendall(encode({"kind": "command", "id": 1, "command": "approve", "args": {"opportunity_id": 1}}))
os.kill(os.getpid(), signal.SIGKILL)
"""


async def test_console_killed_mid_approval_leaves_the_engine_running_and_the_decision_recorded_once(
    config: AppConfig,
) -> None:
    watcher = await ensure_engine(config, factory=SCRIPTED, start_cluster=False, timeout=30)
    async with asyncio.timeout(10):
        while len([e for e in watcher.snapshot() if isinstance(e, PendingApproval)]) < 3:
            await asyncio.sleep(0.05)
    seen = watcher.subscribe()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DYING_CONSOLE, str(socket_path(config.store.dir)), cwd=ROOT
    )
    assert await child.wait() == -signal.SIGKILL
    async with asyncio.timeout(10):
        decision = await seen.get()
        while not isinstance(decision, ApprovalDecision):
            decision = await seen.get()
    assert decision.opportunity_id == 1 and decision.decision == "approved"
    again = await watcher.approve(1)
    assert again.decision is None and "not pending" in again.reason
    assert watcher.state == "running" and holder(config.store.dir) == watcher.engine_pid
    await watcher.close()
    await stop_engine(config.store.dir)
    with StoreReader(config.store.dir, "dry-run") as reader:
        ones = reader.approvals("1")
    assert [(a.decision, a.key) for a in ones] == [("approved", "a")]


async def test_headless_json_attaches_to_a_running_engine_and_ctrl_c_only_detaches(config: AppConfig) -> None:
    client = await ensure_engine(config, factory=SCRIPTED, start_cluster=False, timeout=30)
    engine_pid = client.engine_pid
    await client.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "arbtui", "run", "--headless", "--json", "--store-dir", str(config.store.dir),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    types: list[str] = []
    try:
        async with asyncio.timeout(20):
            while "SlotTick" not in types or "PendingApproval" not in types:
                line = await proc.stdout.readline()
                assert line, (await proc.stderr.read()).decode()  # type: ignore[union-attr]
                types.append(json.loads(line)["type"])
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(20):
            await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert types[0] == "EngineState"  # the snapshot comes first
    assert holder(config.store.dir) == engine_pid  # detached: the engine is still there
