"""`arbtui status` / `arbtui stop`, and an engine killed with SIGKILL: stale lock and socket handled."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.config import AppConfig
from core.daemon import socket_path
from core.daemon.lock import holder
from core.daemon.process import ensure_engine
from core.events import PendingApproval
from core.logs import ENGINE_LOG_FILE_NAME
from tests.daemon.conftest import SCRIPTED

ROOT = Path(__file__).resolve().parents[2]


def arbtui(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    return subprocess.run([sys.executable, "-m", "arbtui", *args, "--store-dir", str(store)],
                          cwd=ROOT, env=env, text=True, capture_output=True, timeout=60)


async def test_status_and_stop_without_a_console(config: AppConfig) -> None:
    store = config.store.dir
    idle = await asyncio.to_thread(arbtui, store, "status", "--json")
    assert idle.returncode == 3 and json.loads(idle.stdout)["running"] is False
    client = await ensure_engine(config, factory=SCRIPTED, start_cluster=False, timeout=30)
    pid = client.engine_pid
    await client.close()
    shown = await asyncio.to_thread(arbtui, store, "status", "--json")
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["running"] is True and status["pid"] == pid
    assert status["state"] == "running" and status["mode"] == "dry-run" and status["cluster"] == "localnet"
    text = await asyncio.to_thread(arbtui, store, "status")
    assert f"pid {pid}" in text.stdout and "DRY-RUN" in text.stdout
    stopped = await asyncio.to_thread(arbtui, store, "stop")
    assert stopped.returncode == 0 and f"pid {pid}" in stopped.stdout
    assert holder(store) is None and not socket_path(store).exists()
    again = await asyncio.to_thread(arbtui, store, "stop")
    assert again.returncode == 0 and "no engine running" in again.stdout


async def test_sigkilled_engine_leaves_a_stale_lock_and_socket_that_the_next_start_cleans(
    config: AppConfig,
) -> None:
    store = config.store.dir
    client = await ensure_engine(config, factory=SCRIPTED, start_cluster=False, timeout=30)
    crashed = client.engine_pid
    assert crashed is not None
    await client.close()
    os.kill(crashed, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while holder(store) is not None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert holder(store) is None and socket_path(store).exists()  # what a crash leaves behind
    status = json.loads((await asyncio.to_thread(arbtui, store, "status", "--json")).stdout)
    assert status["running"] is False and "stale socket" in status["note"]
    client = await ensure_engine(config, factory=SCRIPTED, start_cluster=False, timeout=30)
    try:
        assert client.engine_pid not in (None, crashed)
        async with asyncio.timeout(10):  # the new engine works: its state arrives over the new socket
            while not any(isinstance(e, PendingApproval) for e in client.snapshot()):
                await asyncio.sleep(0.05)
    finally:
        await client.close()
    log = (store / ENGINE_LOG_FILE_NAME).read_text()
    assert f"took over the store dir from engine pid {crashed}" in log
    assert "removed a stale engine socket" in log


async def test_engine_whose_store_dir_is_deleted_stops_itself(config: AppConfig) -> None:
    client = await ensure_engine(config, factory=SCRIPTED, start_cluster=False, timeout=30)
    pid = client.engine_pid
    assert pid is not None
    await client.close()
    shutil.rmtree(config.store.dir)
    async with asyncio.timeout(15):  # nothing could ever attach to it again
        while _alive(pid):
            await asyncio.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie until its parent (this test's process tree) reaps it: finished all the same.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
