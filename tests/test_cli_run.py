"""`arbtui run --headless`: the engine's events on stdout, one JSON object per line with --json."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from solders.pubkey import Pubkey

from arbtui.cli_run import human_line
from core.events import EngineState, FeedHealth, SlotTick
from core.localnet.launcher import is_listening
from core.search.dex_raydium import RAYDIUM_AMM_V4
from core.search.fees import FeeBreakdown
from core.search.opportunities import Hop, Opportunity, OpportunityWithdrawn
from core.store import FINAL_STATES, StoreReader

WAIT = 30.0


def _free_port_pair(rng: random.Random) -> int:
    """A port p with p and p + 1 both free (RPC and PubSub, as the localnet convention has it).

    Drawn below Linux's ephemeral range (32768+), where other tests' port-0 sockets land.
    """
    for _ in range(100):
        port = rng.randrange(20_000, 32_000)
        if not is_listening("127.0.0.1", port) and not is_listening("127.0.0.1", port + 1):
            return port
    raise RuntimeError("no free port pair")


def _headless(tmp_path: Path, store: Path, port: int, *extra: str) -> tuple[list[str], dict[str, str]]:
    """`arbtui run --headless --json` on a localnet at `port`, auto-approving, with a clean env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    env.update(HOME=str(tmp_path), PYTHONUNBUFFERED="1")
    cmd = [
        sys.executable,
        "-m",
        "arbtui",
        "run",
        "--headless",
        "--json",
        *extra,
        "--store-dir",
        str(store),
        "--set",
        f'cluster.rpc_url="http://127.0.0.1:{port}"',
        "--set",
        "mode.approval=auto",
    ]
    return cmd, env


def _run_until_events(tmp_path: Path, port: int) -> tuple[subprocess.Popen[str], list[str]] | None:
    """Start `arbtui run --headless --json`; None if its cluster lost a race for the ports."""
    cmd, env = _headless(tmp_path, tmp_path / "store", port)
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + WAIT
    seen: set[str] = set()
    try:
        # Until the engine has shown what it is made of: running, a current feed, slots, opportunities.
        while not {"EngineState", "FeedHealth", "SlotTick", "Opportunity"} <= seen:
            assert time.monotonic() < deadline, f"saw only {seen}"
            line = proc.stdout.readline()
            if not line:
                err = proc.stderr.read()
                proc.wait()
                assert "address already in use" in err, f"stdout closed early; stderr: {err}"
                return None
            lines.append(line)
            seen.add(json.loads(line)["type"])
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, lines


def test_run_headless_json_prints_parseable_events_until_sigint(tmp_path: Path) -> None:
    rng = random.Random()
    for _ in range(3):
        port = _free_port_pair(rng)
        started = _run_until_events(tmp_path, port)
        if started is not None:
            break
    else:
        raise AssertionError("three port pairs taken between the check and the bind")
    proc, lines = started
    try:
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    lines += rest.splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    assert all(isinstance(e, dict) and isinstance(e.get("type"), str) for e in events)
    first_state = next(e for e in events if e["type"] == "EngineState")
    assert first_state["state"] == "running"
    assert events[-1]["type"] == "Summary"
    assert events[-2] == {**events[-2], "type": "EngineState", "state": "stopped"}
    opportunity = next(e for e in events if e["type"] == "Opportunity")
    assert isinstance(opportunity["net"], int) and opportunity["net"] > 0
    Pubkey.from_string(opportunity["loan_mint"])
    assert not is_listening("127.0.0.1", port), "the localnet it started is stopped with it"


def test_human_lines_are_one_per_event_and_skip_slot_ticks() -> None:
    mint = Pubkey.new_unique()
    hop = Hop(Pubkey.new_unique(), RAYDIUM_AMM_V4, True, mint, mint)
    opp = Opportunity(7, 3, mint, (hop,), 100, 130, 30, FeeBreakdown(1, 2, 2, 3, 3), 24, 55, (55,), 0)
    assert human_line(SlotTick(5)) == ""
    assert "opportunity #7 cycle 3" in human_line(opp) and "net 24" in human_line(opp)
    assert "withdrawn #7" in human_line(OpportunityWithdrawn(8, 3, 7, "no longer profitable", 56, 0))
    assert "feed STALE" in human_line(FeedHealth(False, 60, 9, 30, "websocket closed", stale=True))
    state = EngineState("running", "dry-run", cluster="localnet")
    assert human_line(state) == "engine running (dry-run) on localnet"
    assert all("\n" not in human_line(e) for e in (opp, SlotTick(1)))


def test_headless_refuses_manual_approval_naming_the_keys(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    env.update(HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "arbtui", "run", "--headless", "--store-dir", str(tmp_path / "store")],
        cwd=tmp_path,
        env=env,
        text=True,
        capture_output=True,
        timeout=WAIT,
    )
    assert done.returncode == 2
    assert "mode.approval=auto" in done.stderr and "Traceback" not in done.stderr


def test_for_duration_stops_by_itself_and_prints_a_summary(tmp_path: Path) -> None:
    rng = random.Random(os.getpid() + 1)
    for _ in range(3):
        port = _free_port_pair(rng)
        cmd, env = _headless(tmp_path, tmp_path / f"store{port}", port, "--for", "8s")
        done = subprocess.run(
            cmd,
            cwd=tmp_path,
            env=env,
            text=True,
            capture_output=True,
            timeout=WAIT * 3,
        )
        if done.returncode != 0 and "address already in use" in done.stderr:
            continue
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout.splitlines()[-1])
        assert summary["type"] == "Summary" and summary["mode"] == "dry-run"
        assert summary["opportunity_cycles"] > 0 and summary["seconds"] >= 8
        assert summary["submitted"] == 0  # dry-run sends nothing
        return
    raise AssertionError("three port pairs taken")


def test_live_headless_run_lands_profitable_bundles_and_stores_every_attempt(tmp_path: Path) -> None:
    """The issue's "done when": on the embedded cluster (its block engine runs competing searchers),
    auto approval and dry-run off, the run lands profitable flash-loan bundles and the store holds
    every attempt, each in a final state, its settled profit the summary's."""
    rng = random.Random(os.getpid() + 2)
    for _ in range(3):
        port = _free_port_pair(rng)
        store = tmp_path / f"store{port}"
        cmd, env = _headless(tmp_path, store, port, "--for", "30s", "--set", "mode.dry_run=false")
        done = subprocess.run(cmd, cwd=tmp_path, env=env, text=True, capture_output=True, timeout=WAIT * 4)
        if done.returncode != 0 and "address already in use" in done.stderr:
            continue
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout.splitlines()[-1])
        assert summary["type"] == "Summary" and summary["mode"] == "live"
        assert summary["landed"] >= 1 and summary["realised_profit"] > 0, summary
        with StoreReader(store, "live") as reader:
            attempts = list(reader.iter_attempts())
        assert attempts and all(a.state in FINAL_STATES for a in attempts), \
            Counter(a.state for a in attempts if a.state not in FINAL_STATES)
        settled = [a for a in attempts if a.state == "settled"]
        assert len(settled) == summary["landed"]
        assert sum(a.realised_profit or 0 for a in settled) == summary["realised_profit"]
        return
    raise AssertionError("three port pairs taken")


def test_parse_duration() -> None:
    import argparse

    import pytest

    from arbtui.cli_run import parse_duration

    assert [parse_duration(t) for t in ("90", "60s", "5m", "1h", "0.5")] == [90, 60, 300, 3600, 0.5]
    for bad in ("", "x", "-1", "0", "5d"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_duration(bad)
