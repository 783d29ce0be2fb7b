"""The live path's execution policy: kill switch across restarts, dynamic tips at the first
submission, learned compute budget and priority fees, and lookup tables — on the local cluster with
its block engine where anything is built or sent."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import load_config
from core.daemon.server import EngineServer
from core.runtime import KillSwitchEngaged, Runtime
from core.store import StoreReader

pytestmark = pytest.mark.timeout(90)

REPO = Path(__file__).resolve().parents[1]


def _arbtui(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "arbtui", *args, "--store-dir", str(store)],
                          capture_output=True, text=True, env=env, timeout=60)


# -- kill switch across restarts ------------------------------------------------------------------


async def test_a_killed_engine_comes_back_killed_and_resumes_only_on_an_explicit_reset(
    tmp_path: Path,
) -> None:
    config = load_config(None, {"store.dir": str(tmp_path)}, search_default_paths=False)
    first = Runtime(config, with_engine=False)
    await first.start()
    await first.kill("drawdown 120 USD ≥ max_drawdown_usd 100")
    await first.close()

    again = Runtime(config, with_engine=False)
    await again.start()
    try:
        assert again.state == "killed"
        assert "drawdown 120 USD" in again.snapshot()[0].reason  # the header shows why
        refused = await again.approve(1)
        assert refused.decision is None and "kill switch" in refused.reason
        with pytest.raises(KillSwitchEngaged, match="explicit reset"):
            await again.resume()  # what a stray `p` would do
        with pytest.raises(KillSwitchEngaged, match="who"):
            await again.resume(reset=True, by="", reason="reviewed")
        assert again.state == "killed"

        await again.resume(reset=True, by="alice", reason="drawdown reviewed, limits raised")
        assert again.state == "running"
    finally:
        await again.close()
    with StoreReader(tmp_path, "dry-run") as reader:
        last = reader.kill_switch_events()[-1]
    assert last.state == "running" and last.reason == "reset by alice: drawdown reviewed, limits raised"

    third = Runtime(config, with_engine=False)
    await third.start()
    try:
        assert third.state == "running"  # the reset is what the next start reads
    finally:
        await third.close()


async def test_a_pause_does_not_outlive_a_restart(tmp_path: Path) -> None:
    config = load_config(None, {"store.dir": str(tmp_path)}, search_default_paths=False)
    first = Runtime(config, with_engine=False)
    await first.start()
    await first.pause()
    await first.close()
    again = Runtime(config, with_engine=False)
    await again.start()
    try:
        assert again.state == "running"
    finally:
        await again.close()


async def test_arbtui_resume_reset_clears_the_kill_switch_through_the_engine_socket(tmp_path: Path) -> None:
    store = tmp_path / "store"
    config = load_config(None, {"store.dir": str(store)}, search_default_paths=False)
    runtime = Runtime(config, with_engine=False)
    await runtime.start()
    server = EngineServer(runtime, store)
    await server.start()
    try:
        await runtime.kill("5 consecutive failures ≥ max_consecutive_failures 5")

        plain = await asyncio.to_thread(_arbtui, store, "resume")
        assert plain.returncode == 1 and "explicit reset" in plain.stderr
        no_reason = await asyncio.to_thread(_arbtui, store, "resume", "--reset")
        assert no_reason.returncode == 1 and "--reason" in no_reason.stderr
        assert runtime.state == "killed"

        reset = await asyncio.to_thread(_arbtui, store, "resume", "--reset", "--by", "bob",
                                        "--reason", "failures were a stale RPC")
        assert reset.returncode == 0, reset.stderr
        assert "killed → running" in reset.stdout
        assert runtime.state == "running"
    finally:
        await server.stop()
        await runtime.close()
    with StoreReader(store, "dry-run") as reader:
        last = reader.kill_switch_events()[-1]
    assert (last.state, last.reason) == ("running", "reset by bob: failures were a stale RPC")
