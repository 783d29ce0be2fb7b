"""The whole path on the local cluster: Engine → FlashLoanPipeline → approval queue → Runtime.approve.

The Runtime is built exactly as the console builds it (`Runtime(config)`: the default engine and the
default pipeline, which reads the running cluster's genesis over `arbtui_getScenario`); the market
moves through a real swap, the engine finds the gap, the pipeline validates it into a pending
candidate, and the test approves it as the `a` key does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from solana.rpc.commitment import Processed
from solders.pubkey import Pubkey

from core.approvals import Candidate
from core.config import load_config
from core.events import AttemptUpdate
from core.keypair import localnet_keypair_path
from core.localnet.genesis import operator_keypair
from core.pipeline import FlashLoanPipeline
from core.protocols import ids
from core.runtime import Runtime
from core.store import BundleAttempt, StoreReader
from tests.feed.live import WAIT, Live, pool_by, start_live, stop_live, swap, units
from tests.localnet.conftest import LocalBlockEngine, start_block_engine, stop_block_engine

pytestmark = pytest.mark.timeout(60)

GAP_USDC = 400_000  # bought on SOL/USDC pool 0: SOL dear there, cheap on the other pools
SEND_METHODS = {"sendTransaction", "sendBundle"}


@dataclass
class Stack:
    live: Live
    be: LocalBlockEngine
    runtime: Runtime
    store: Path

    @property
    def pipeline(self) -> FlashLoanPipeline:
        assert isinstance(self.runtime.pipeline, FlashLoanPipeline)
        return self.runtime.pipeline

    @property
    def wallet(self) -> Pubkey:
        return self.live.scenario.wallet

    def request_log(self) -> list[str]:
        return list(self.live.local.rpc.request_log)

    async def usdc(self) -> int:
        ata = self.live.scenario.wallet_token_accounts["USDC"]
        async with self.live.local.client("processed") as client:
            return int((await client.get_token_account_balance(ata, Processed)).value.amount)

    async def open_gap(self) -> None:
        scenario = self.live.scenario
        await swap(self.live, pool_by(scenario, "SOL", "USDC", 0), units(scenario, "USDC", GAP_USDC),
                   coin_to_pc=False)

    async def close_gap(self) -> None:
        """Trade pool 0 back: sell the SOL the gap trade bought, so SOL is no longer dear there."""
        scenario = self.live.scenario
        await swap(self.live, pool_by(scenario, "SOL", "USDC", 0), units(scenario, "SOL", GAP_USDC / 100),
                   coin_to_pc=True, trader=1)

    async def pending(self) -> Candidate:
        """The first candidate the pipeline put in the approval queue (USDC loans only)."""
        deadline = time.monotonic() + WAIT
        while True:
            for p in self.runtime.queue.pending():
                if p.candidate.opportunity.loan_mint == ids.USDC_MINT:
                    return p.candidate
            if time.monotonic() > deadline:
                with StoreReader(self.store, self.runtime.mode) as reader:
                    refusals = [a.error_detail for a in reader.iter_attempts()][:5]
                raise AssertionError(f"no candidate reached the approval queue; refusals: {refusals}")
            await asyncio.sleep(0.02)


def operator_store(tmp_path: Path, live: Live) -> Path:
    """A store dir holding the cluster's operator keypair, where the launcher's cluster writes it (0600)."""
    store = tmp_path / "store"
    store.mkdir()
    wallet, _ = operator_keypair(live.local.cluster.seed, None)
    key = localnet_keypair_path(store)
    key.write_text(json.dumps(list(bytes(wallet))))
    key.chmod(0o600)
    return store


@contextlib.asynccontextmanager
async def open_stack(tmp_path: Path, *, before_start: Callable[[Path], Awaitable[None]] | None = None,
                     settings: Callable[[Live, Path], dict[str, object]] | None = None,
                     **overrides: object) -> AsyncIterator[Stack]:
    """The console's Runtime (engine + default pipeline) on the local cluster with its block engine;
    `before_start(store_dir)` may leave what an earlier run would have left there, and
    `settings(live, store_dir)` adds configuration that depends on the running cluster."""
    live = await start_live()
    be = await start_block_engine(live.local)
    store = operator_store(tmp_path, live)
    if before_start is not None:
        await before_start(store)
    if settings is not None:
        overrides = {**overrides, **settings(live, store)}
    config = load_config(None, {
        "store.dir": str(store),
        "cluster.name": "localnet",
        "cluster.rpc_url": live.rpc_url,
        "cluster.ws_url": live.ws_url,
        "jito.regions": {name: be.url(name) for name in ("ny", "frankfurt")},
        "flash_loan.enabled": True,
        "flash_loan.provider": "solend",
        "flash_loan.min_profit_usd": 1.0,
        "search.loan_mints": ["USDC"],
        "mode.approval": "manual",
        "mode.approval_ttl_slots": 1000,
        **overrides,
    }, search_default_paths=False)
    stack = Stack(live, be, Runtime(config), store)
    try:
        await start_runtime(stack)
        yield stack
    finally:
        await stack.runtime.close()
        await stop_block_engine(be)
        await stop_live(live)


async def start_runtime(stack: Stack) -> None:
    await stack.runtime.start()
    assert isinstance(stack.runtime.pipeline, FlashLoanPipeline), "the default pipeline was not built"
    stack.runtime.pipeline.poll_interval_s = 0.02
    await stack.runtime.engine.feed.wait_synced(WAIT)  # type: ignore[union-attr]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with open_stack(tmp_path) as opened:
        yield opened


def attempt_row(store: Path, mode: str, attempt_id: str):  # type: ignore[no-untyped-def]
    with StoreReader(store, mode) as reader:  # type: ignore[arg-type]
        return reader.attempt(attempt_id)


async def rehearse(stack: Stack) -> BundleAttempt:
    """Open a gap and approve its candidate in dry-run: validated, re-checked, simulated, nothing
    sent. Returns the row; the RPC request log holds what the approval asked the cluster."""
    await stack.open_gap()
    candidate = await stack.pending()
    row = attempt_row(stack.store, "dry-run", candidate.attempt_id)
    assert row.state == "awaiting_approval" and row.validation_results["passed"]
    stack.live.local.rpc.request_log.clear()

    outcome = await stack.runtime.approve(candidate.opportunity_id)

    assert outcome.accepted, outcome.reason
    row = attempt_row(stack.store, "dry-run", candidate.attempt_id)
    assert row.state == "simulated" and row.validation_results["simulation"]["err"] is None
    log = stack.request_log()
    assert "simulateTransaction" in log  # the re-check simulated the rebuilt transaction
    assert SEND_METHODS.isdisjoint(log) and stack.be.engine.book.records() == []
    return row


async def test_dry_run_approval_simulates_and_records_and_sends_nothing(stack: Stack) -> None:
    row = await rehearse(stack)
    assert row.approved_at is not None and row.simulated_at is not None


async def trade(stack: Stack) -> tuple[Candidate, int]:
    """Open a gap and approve its candidate (the stack is live); returns it and the wallet's USDC
    change once the bundle is decided."""
    await stack.open_gap()
    candidate = await stack.pending()
    before = await stack.usdc()
    outcome = await stack.runtime.approve(candidate.opportunity_id)
    assert outcome.accepted, outcome.reason
    await stack.pipeline.drain(timeout=WAIT)
    return candidate, await stack.usdc() - before


async def test_live_approval_lands_and_settles_one_row_with_the_wallet_gain(stack: Stack) -> None:
    await stack.runtime.switch_to_live("live")
    candidate, gain = await trade(stack)
    with StoreReader(stack.store, "live") as reader:
        rows = [a for a in reader.iter_attempts() if a.opportunity_id == str(candidate.opportunity_id)]
        # Region answers are noted under the state they arrived in: the transitions are the distinct states.
        events = list(dict.fromkeys(e.state for e in reader.events_for(candidate.attempt_id)))
    (row,) = rows
    assert row.id == candidate.attempt_id and row.state == "settled", (row.state, row.error_detail)
    assert events == ["validated", "awaiting_approval", "approved", "simulated", "submitted", "landed",
                      "settled"]
    assert row.realised_profit == gain > 0
    assert row.realised_profit_usd is not None and row.realised_profit_usd > 0
    assert len(stack.be.engine.book.records()) == 1
    # The engine's metrics saw it: the runtime's registry is the pipeline's.
    sample = stack.runtime.metrics.registry.get_sample_value
    assert sample("arb_flash_loans_successful_total") == 1
    assert sum(sample("arb_bundles_landed_total", {"region": r}) or 0 for r in ("ny", "frankfurt")) == 1

    await stack.runtime.engine.stop()  # type: ignore[union-attr]  # no new rows while counting
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    report = subprocess.run(
        [sys.executable, "-m", "arbtui", "report", "--mode", "live", "--json",
         "--store-dir", str(stack.store)],
        capture_output=True, text=True, env=env, timeout=30, check=True,
    )
    (day,) = json.loads(report.stdout)["daily"]
    with StoreReader(stack.store, "live") as reader:
        # Only what was sent or simulated for sending counts: candidates still waiting for the
        # operator, refusals and rows dropped before submission do not.
        counted = [a for a in reader.iter_attempts()
                   if a.state in ("simulated", "submitted", "landed", "settled", "failed")
                   or (a.state == "dropped" and a.submitted_at is not None)]
    assert day["attempts"] == len(counted) and day["successes"] == 1
    assert day["profit_usd"] == pytest.approx(row.realised_profit_usd)


async def test_kill_switch_stops_the_engine_sending_even_after_approval(stack: Stack) -> None:
    await stack.runtime.switch_to_live("live")
    await stack.open_gap()
    candidate = await stack.pending()
    stack.live.local.rpc.request_log.clear()

    # Tripped inside the engine (as a [risk] threshold does), not through the console's key:
    # the approval goes through the queue, the pipeline refuses to send.
    stack.runtime.kill_switch.stop("test: engine-level stop")
    outcome = await stack.runtime.approve(candidate.opportunity_id)
    await stack.pipeline.drain(timeout=WAIT)

    assert outcome.accepted
    row = attempt_row(stack.store, "live", candidate.attempt_id)
    assert row.state == "dropped" and row.error_class == "kill_switch"
    assert SEND_METHODS.isdisjoint(stack.request_log())
    assert stack.be.engine.book.records() == []

    # The operator's kill (K) refuses at the door and closes whatever waits.
    await stack.runtime.kill("test: operator kill")
    refused = await stack.runtime.approve(candidate.opportunity_id)
    assert refused.decision is None and "kill switch" in refused.reason
    assert stack.be.engine.book.records() == []


async def test_recheck_refuses_when_the_gap_closed_before_approval(stack: Stack) -> None:
    await stack.open_gap()
    candidate = await stack.pending()
    await stack.close_gap()
    stack.live.local.rpc.request_log.clear()

    outcome = await stack.runtime.approve(candidate.opportunity_id)

    assert outcome.decision == "rejected"
    row = attempt_row(stack.store, "dry-run", candidate.attempt_id)
    assert row.state == "rejected" and row.error_class.startswith("validation:")
    assert outcome.reason in row.error_detail
    assert SEND_METHODS.isdisjoint(stack.request_log())


async def test_a_risk_trip_inside_the_engine_kills_the_runtime_and_is_persisted(tmp_path: Path) -> None:
    config = load_config(None, {"store.dir": str(tmp_path)}, search_default_paths=False)
    runtime = Runtime(config, with_engine=False)
    await runtime.start()
    try:
        # What the Submitter does on the failure that crosses a [risk] threshold.
        runtime.kill_switch.trip("3 consecutive failures ≥ max_consecutive_failures 3")
        runtime.bus.publish(AttemptUpdate("att", 1, "failed"))
        deadline = time.monotonic() + WAIT
        while runtime.state != "killed":
            assert time.monotonic() < deadline, f"runtime still {runtime.state}"
            await asyncio.sleep(0.01)
        refused = await runtime.approve(1)
        assert refused.decision is None and "consecutive failures" in refused.reason
    finally:
        await runtime.close()
    with StoreReader(tmp_path, "dry-run") as reader:
        (event,) = reader.kill_switch_events()
    assert event.state == "killed" and "consecutive failures" in event.reason
