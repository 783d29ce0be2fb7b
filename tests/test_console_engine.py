"""The console over the real engine on the local cluster: flip to live by keys, approve by key, and
watch the trade land in the panes and in `arbtui report` (the README's promise, end to end)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from textual.widgets import Input

from arbtui.app import ArbConsole, Pane, StatusHeader
from arbtui.screens import LiveModal
from core.store import StoreReader
from tests.feed.live import WAIT
from tests.test_pipeline import Stack, open_stack

ROOT = Path(__file__).resolve().parents[1]


async def until(predicate, what: str, pilot) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


async def test_operator_goes_live_approves_by_key_and_sees_it_land(tmp_path: Path) -> None:
    async with open_stack(tmp_path) as stack:
        await run_console(stack)


async def run_console(stack: Stack) -> None:
    runtime = stack.runtime
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        header = app.query_one(StatusHeader)
        await pilot.press("d")
        assert isinstance(app.screen, LiveModal)
        app.screen.query_one("#live-word", Input).focus()
        await pilot.press(*"live", "enter")
        await until(lambda: " LIVE " in header.plain, "the LIVE header", pilot)
        assert runtime.mode == "live"

        before = await stack.usdc()
        await stack.open_gap()
        await until(lambda: app.view.pending_ids(), "a pending trade on screen", pilot)
        await pilot.press("g", "a")
        await until(lambda: "approved" in str(app.query_one("#message").render()), "the approval", pilot)
        await stack.pipeline.drain(timeout=WAIT)
        trades = app.query_one("#trades", Pane).table
        await until(
            lambda: any(str(trades.get_row_at(i)[1]) == "settled" for i in range(trades.row_count)),
            "a settled trade in the Trades pane",
            pilot,
        )
        gain = await stack.usdc() - before
        await pilot.press("d")  # back to dry-run: one key
        await until(lambda: "DRY-RUN" in header.plain, "the DRY-RUN header", pilot)

    with StoreReader(stack.store, "live") as reader:
        (settled,) = [a for a in reader.iter_attempts() if a.state == "settled"]
        assert [a.key for a in reader.approvals() if a.decision == "approved"] == ["a"]
        assert [(c.from_mode, c.to_mode) for c in reader.mode_changes()] == [
            ("dry-run", "live"),
            ("live", "dry-run"),
        ]
    assert settled.realised_profit == gain > 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "arbtui",
        "report",
        "--mode",
        "live",
        "--json",
        "--store-dir",
        str(stack.store),
    ]
    report = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=30, check=True
    )
    (day,) = json.loads(report.stdout)["daily"]
    assert day["successes"] == 1 and day["profit_usd"] > 0
