"""The live path's execution policy: kill switch across restarts, dynamic tips at the first
submission, learned compute budget and priority fees, and lookup tables — on the local cluster with
its block engine where anything is built or sent."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from solana.rpc.commitment import Processed
from solders.compute_budget import set_compute_unit_price
from solders.pubkey import Pubkey

from core.approvals import Candidate
from core.config import load_config
from core.daemon.server import EngineServer
from core.events import TipPolicy
from core.execution.compute import route_shape
from core.pipeline import FlashLoanPipeline
from core.protocols import ids
from core.runtime import KillSwitchEngaged, Runtime
from core.store import BundleAttempt, StoreReader
from tests.feed.live import WAIT, pool_by, swap, units
from tests.localnet.rpc_helpers import signed_v0, transfer_ix
from tests.test_pipeline import GAP_USDC, SEND_METHODS, Stack, attempt_row, open_stack, start_runtime

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


# -- on the local cluster with its block engine ---------------------------------------------------


async def fresh_candidate(stack: Stack, trader: int = 0) -> Candidate:
    """Let go of whatever waits, move the market (one noise trader's USDC buys SOL on pool 0), and
    return the candidate that move made."""
    for waiting in stack.runtime.queue.pending():
        await stack.runtime.reject(waiting.candidate.opportunity_id)
    scenario = stack.live.scenario
    await swap(stack.live, pool_by(scenario, "SOL", "USDC", 0), units(scenario, "USDC", GAP_USDC),
               coin_to_pc=False, trader=trader)
    return await stack.pending()


async def trade_live(stack: Stack, trader: int) -> BundleAttempt:
    candidate = await fresh_candidate(stack, trader)
    outcome = await stack.runtime.approve(candidate.opportunity_id)
    assert outcome.accepted, outcome.reason
    await stack.pipeline.drain(timeout=WAIT)
    row = attempt_row(stack.store, "live", candidate.attempt_id)
    assert row.state == "settled", (row.state, row.error_detail)
    return row


async def mark_pool_fees(stack: Stack, micro_lamports: int) -> None:
    """Land transactions paying `micro_lamports` per CU that write every Raydium pool's vaults, so
    the cluster's recent prioritization fees over those accounts say so."""
    scenario = stack.live.scenario
    payer = scenario.traders[-1].keypair
    vaults = [v for pool in scenario.raydium_pools for v in (pool.coin_vault, pool.pc_vault)]
    async with stack.live.local.client("processed") as client:
        for i in range(0, len(vaults), 8):
            blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
            credits = [transfer_ix(payer, v, 1) for v in vaults[i:i + 8]]
            ixs = [set_compute_unit_price(micro_lamports), *credits]
            await client.send_raw_transaction(bytes(signed_v0(payer, ixs, blockhash)))


def refusals(store: Path, mode: str, error_class: str) -> list[BundleAttempt]:
    with StoreReader(store, mode) as reader:  # type: ignore[arg-type]
        return [a for a in reader.iter_attempts() if a.error_class == error_class]


async def test_the_first_tip_is_the_policy_decision_capped_by_profit_and_dry_run_publishes_its_inputs(
    tmp_path: Path,
) -> None:
    async with open_stack(tmp_path) as stack:
        sub = stack.runtime.bus.subscribe()
        candidate = await fresh_candidate(stack)
        row = attempt_row(stack.store, "dry-run", candidate.attempt_id)
        tip = row.validation_results["tip"]
        cfg = stack.runtime.config.jito
        # The policy's own arithmetic on the profit left after every other cost.
        assert tip["base_lamports"] == round(tip["profit_lamports"] * cfg.tip_percent / 100)
        wanted = round(tip["base_lamports"] * tip["inclusion_multiplier"] * tip["time_of_day_multiplier"])
        assert tip["cap_lamports"] == tip["profit_lamports"] - tip["min_profit_lamports"]
        assert row.tip_lamports == tip["tip_lamports"] == min(max(wanted, tip["floor_lamports"]),
                                                              tip["cap_lamports"])
        assert tip["floor_lamports"] >= cfg.min_tip_lamports
        assert row.validation_results["profitability"]["tip_lamports"] == row.tip_lamports
        assert row.expected_profit_usd >= stack.runtime.config.flash_loan.min_profit_usd

        outcome = await stack.runtime.approve(candidate.opportunity_id)
        assert outcome.accepted, outcome.reason
        approved = attempt_row(stack.store, "dry-run", candidate.attempt_id)
        again = approved.validation_results["tip"]  # the re-check decided afresh, on current state
        policies = [e for e in sub.drain() if isinstance(e, TipPolicy)]
        sub.close()
        # Published once, for the tip the rehearsed transaction carries, with its decision's inputs.
        assert [(p.inclusion_multiplier, p.time_of_day_multiplier, p.tip_floor_lamports, p.last_tip_lamports)
                for p in policies] == [(again["inclusion_multiplier"], again["time_of_day_multiplier"],
                                        again["floor_lamports"], approved.tip_lamports)]
        assert approved.tip_lamports == again["tip_lamports"] and approved.state == "simulated"


async def test_a_tip_floor_above_the_profit_cap_refuses_the_candidate_with_the_reason(tmp_path: Path) -> None:
    async with open_stack(tmp_path) as stack:
        # The tip policy's floor only (the search still finds the gap with the configured tips).
        tips = stack.pipeline.tips
        tips.config = tips.config.model_copy(update={"min_tip_lamports": 50 * 10**9})
        # Before the pipeline knows the loan mint's price, candidates are built and the tip policy
        # refuses them with the reason in their row; after, they are refused unbuilt (counted).
        stack.pipeline._refused_unbuilt = lambda opportunity: False  # type: ignore[method-assign]
        await stack.open_gap()
        deadline = time.monotonic() + WAIT
        while not (refused := refusals(stack.store, "dry-run", "tip_cap")):
            assert time.monotonic() < deadline, "no candidate was refused for its tip"
            await asyncio.sleep(0.05)
        row = refused[0]
        assert row.state == "rejected"
        assert "tip floor 50000000000 lamports exceeds the profit cap" in row.error_detail
        assert not stack.runtime.queue.pending()


async def test_a_tip_floor_above_every_quotes_room_refuses_them_unbuilt_and_counts_them(
    tmp_path: Path,
) -> None:
    async with open_stack(tmp_path) as stack:
        tips = stack.pipeline.tips
        tips.config = tips.config.model_copy(update={"min_tip_lamports": 50 * 10**9})
        await stack.open_gap()
        deadline = time.monotonic() + WAIT
        while stack.pipeline.passed["tip_floor"] == 0:
            assert time.monotonic() < deadline, stack.pipeline.passed
            await asyncio.sleep(0.05)
        with StoreReader(stack.store, "dry-run") as reader:
            rows = list(reader.iter_attempts())
        assert all(a.state == "rejected" for a in rows)  # the few built before the price was known
        assert not stack.runtime.queue.pending()


async def test_cu_limit_is_learned_per_route_shape_and_the_priority_fee_comes_from_the_fee_market(
    tmp_path: Path,
) -> None:
    # Percentile 100 of the recent fees: the highest fee any recent slot paid on those accounts.
    every = {f"compute.fee_percentile.{u}": 100 for u in ("low", "medium", "high", "critical")}
    async with open_stack(tmp_path, **every) as stack:
        price = 777
        await mark_pool_fees(stack, price)
        candidate = await fresh_candidate(stack)
        first = attempt_row(stack.store, "dry-run", candidate.attempt_id)
        compute = stack.runtime.config.compute
        hops = len(candidate.opportunity.route)
        assert first.cu_limit == compute.default_cu_per_swap * hops + compute.overhead_cu  # no history yet
        measured = first.validation_results["simulation"]["units_consumed"]
        assert first.cu_price_micro_lamports == price
        profitability = first.validation_results["profitability"]
        assert profitability["priority_fee_lamports"] == -(-price * first.cu_limit // 1_000_000)

        outcome = await stack.runtime.approve(candidate.opportunity_id)  # re-check: built again
        assert outcome.accepted, outcome.reason
        second = attempt_row(stack.store, "dry-run", candidate.attempt_id)
        assert measured <= second.cu_limit <= measured * compute.margin + 1
        shape = route_shape("solend", [h.dex for h in candidate.opportunity.route])
        with StoreReader(stack.store, "dry-run") as reader:
            samples = reader.compute_samples(shape, 10)
        assert [s.units for s in samples][:1] == [measured] and samples[0].source == "simulation"


async def test_live_trades_create_lookup_tables_that_shrink_the_transaction_and_survive_a_restart(
    tmp_path: Path,
) -> None:
    async with open_stack(tmp_path) as stack:
        # The size without tables: a dry-run rehearsal (dry-run makes none, and none exist yet).
        rehearsal = await fresh_candidate(stack, trader=3)
        legacy = attempt_row(stack.store, "dry-run", rehearsal.attempt_id).validation_results["transaction"]
        assert legacy["lookup_tables"] == []
        await stack.runtime.switch_to_live("live")
        await trade_live(stack, trader=0)
        with StoreReader(stack.store, "live") as reader:
            tables = reader.lookup_tables()
        assert tables, "the first live trade made no lookup table"
        stored = {a for t in tables for a in t.addresses}
        assert stored.isdisjoint(str(k) for k in ids.JITO_TIP_ACCOUNTS)
        assert str(stack.wallet) not in stored

        second = await trade_live(stack, trader=1)
        used = second.validation_results["transaction"]
        assert set(used["lookup_tables"]) <= {t.address for t in tables} and used["lookup_tables"]
        legacy_size = legacy["size"]
        assert used["size"] < legacy_size
        assert len(stack.be.engine.book.records()) == 2
        with StoreReader(stack.store, "live") as reader:
            sources = {s.source for k in reader.compute_shapes() for s in reader.compute_samples(k, 50)}
        assert {"simulation", "landed"} <= sources  # the Submitter's measurements feed the planner too

        # A restart (dry-run, as the console starts) reuses the stored tables and creates none.
        await stack.runtime.close()
        stack.runtime = Runtime(stack.runtime.config)
        await start_runtime(stack)
        candidate = await fresh_candidate(stack, trader=2)
        stack.live.local.rpc.request_log.clear()  # the market's own swap went before this
        outcome = await stack.runtime.approve(candidate.opportunity_id)  # re-checked and rehearsed
        assert outcome.accepted, outcome.reason
        row = attempt_row(stack.store, "dry-run", candidate.attempt_id)
        assert row.state == "simulated"
        assert row.validation_results["transaction"]["lookup_tables"]
        assert row.validation_results["transaction"]["size"] < legacy_size
        assert SEND_METHODS.isdisjoint(stack.request_log())
        with StoreReader(stack.store, "live") as reader:
            assert [t.address for t in reader.lookup_tables()] == [t.address for t in tables]


@pytest.mark.parametrize(("profit", "minimum", "urgency"), [
    (1_000, 100, "critical"), (999, 100, "high"), (400, 100, "high"), (399, 100, "medium"),
    (200, 100, "medium"), (199, 100, "low"), (0, 0, "low"),
])
def test_urgency_grows_with_how_far_the_profit_clears_the_minimum(
    profit: int, minimum: int, urgency: str
) -> None:
    assert FlashLoanPipeline.urgency(profit, minimum) == urgency


async def test_lookup_tables_left_unused_past_the_idle_limit_are_deactivated_by_the_live_path(
    tmp_path: Path,
) -> None:
    # An idle limit of ~4 ms: a table is stale as soon as it is warm, before any build used it.
    async with open_stack(tmp_path, **{"compute.lookup_table_idle_hours": 1e-6}) as stack:
        await stack.runtime.switch_to_live("live")
        await trade_live(stack, trader=0)
        await stack.pipeline.drain(timeout=WAIT)  # the table maintenance after the dispatch
        with StoreReader(stack.store, "live") as reader:
            made = reader.lookup_tables()
        assert made and all(t.deactivated_slot is not None and t.closed_at is None for t in made)
        async with stack.live.local.client("processed") as client:
            for table in made:  # deactivated on chain too: its deactivation slot is no longer u64::MAX
                info = await client.get_account_info(Pubkey.from_string(table.address), Processed)
                assert info.value is not None
                assert int.from_bytes(bytes(info.value.data)[4:12], "little") == table.deactivated_slot

        second = await trade_live(stack, trader=1)  # compiles without the deactivated tables
        used = set(second.validation_results["transaction"]["lookup_tables"])
        assert used.isdisjoint(t.address for t in made)


async def test_live_mode_makes_lookup_tables_from_the_first_candidate_before_anything_is_approved(
    tmp_path: Path,
) -> None:
    # Without tables a 3-hop route does not fit 1,232 bytes: waiting for a dispatch to make them
    # would leave such routes refused for ever.
    async with open_stack(tmp_path) as stack:
        await stack.runtime.switch_to_live("live")
        await stack.open_gap()
        await stack.pending()  # waits for the operator (manual approval): nothing is dispatched
        deadline = time.monotonic() + WAIT
        while True:
            with StoreReader(stack.store, "live") as reader:
                tables = reader.lookup_tables()
            if tables:
                break
            assert time.monotonic() < deadline, "no lookup table was made in live mode"
            await asyncio.sleep(0.05)
        assert stack.be.engine.book.records() == []  # tables are plain transactions, not bundles
        with StoreReader(stack.store, "live") as reader:
            assert all(a.state != "approved" for a in reader.iter_attempts())


async def test_dry_run_makes_no_lookup_table(tmp_path: Path) -> None:
    async with open_stack(tmp_path) as stack:
        await stack.open_gap()
        stack.live.local.rpc.request_log.clear()  # the market's own swap went before this
        await stack.pending()
        await asyncio.sleep(0.5)  # what a live engine would have sent by now
        assert "sendTransaction" not in stack.request_log()
        assert stack.pipeline.tables.tables == []
