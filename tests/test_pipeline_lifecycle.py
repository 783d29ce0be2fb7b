"""The engine's own bookkeeping around the pipeline, on the local cluster with its block engine: a
clean stop closes the candidate it catches half-way, a restart follows an earlier run's leftovers
at once (not at the first live opportunity), and live bundles that write the same pool are sent one
at a time instead of racing each other to the same gap."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from pathlib import Path

from core.approvals import Candidate
from core.execution.lifecycle import Lifecycle
from core.search.opportunities import Opportunity
from core.store import FINAL_STATES, BundleAttempt, StoreReader, StoreWriter
from tests.feed.live import WAIT
from tests.test_pipeline import SEND_METHODS, attempt_row, open_stack

AUTO_LIVE = {
    "mode.approval": "auto",
    "mode.auto_min_profit_usd": 1.0,
    "mode.auto_max_amount_usdc": 10_000,
}


def live_rows(store: Path) -> list[BundleAttempt]:
    with StoreReader(store, "live") as reader:
        return list(reader.iter_attempts())


async def until(condition: object, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_a_clean_stop_closes_the_candidate_caught_between_its_row_and_the_queue(tmp_path: Path) -> None:
    async with open_stack(tmp_path) as stack:
        original = stack.pipeline.prepare
        made: list[Candidate] = []

        async def prepare_then_linger(opportunity: Opportunity, mode: str) -> Candidate | None:
            candidate = await original(opportunity, mode)  # type: ignore[arg-type]
            if candidate is not None:
                made.append(candidate)
                await asyncio.sleep(0.3)  # the stop arrives while the row waits for the queue
            return candidate

        stack.pipeline.prepare = prepare_then_linger  # type: ignore[method-assign]
        await stack.open_gap()
        await until(lambda: made)

        await stack.runtime.close()

        row = attempt_row(stack.store, "dry-run", made[0].attempt_id)
        assert row.state == "expired", (row.state, row.error_detail)
        assert "stopping" in (row.error_detail or "")
        with StoreReader(stack.store, "dry-run") as reader:
            assert not [a.id for a in reader.iter_attempts() if a.state not in FINAL_STATES]


async def test_a_restart_settles_an_earlier_runs_leftovers_without_waiting_for_an_opportunity(
    tmp_path: Path,
) -> None:
    async def leave_rows(store: Path) -> None:
        writer = StoreWriter(store, "live")
        lifecycle = Lifecycle(writer)
        now = time.time()
        await lifecycle.create(BundleAttempt("left-pending", "1", "live", now, state="awaiting_approval"))
        await lifecycle.create(BundleAttempt("left-approved", "2", "live", now, state="approved",
                                             signatures=["1" * 64]))
        await writer.close()

    async with open_stack(tmp_path, before_start=leave_rows) as stack:
        # No gap is opened: nothing makes an opportunity, and the runtime stays in dry-run.
        await until(lambda: all(a.state in FINAL_STATES for a in live_rows(stack.store)))
        states = {a.id: (a.state, a.error_class) for a in live_rows(stack.store)}
        assert states == {"left-pending": ("expired", "interrupted"),
                          "left-approved": ("dropped", "interrupted")}
        assert SEND_METHODS.isdisjoint(stack.request_log())


async def test_live_bundles_writing_the_same_pool_go_out_one_at_a_time_and_all_land(tmp_path: Path) -> None:
    async with open_stack(tmp_path, **AUTO_LIVE) as stack:
        await stack.runtime.switch_to_live("live")
        original = stack.pipeline.prepare
        seen: dict[int, Opportunity] = {}

        async def recording(opportunity: Opportunity, mode: str) -> Candidate | None:
            seen[opportunity.id] = opportunity
            return await original(opportunity, mode)  # type: ignore[arg-type]

        stack.pipeline.prepare = recording  # type: ignore[method-assign]
        await stack.open_gap()
        # The gap makes several cycles through pool 0 profitable at once; each one the engine
        # hands over while a bundle of ours on pool 0 is out is passed over, and quoted afresh
        # once that bundle has landed.
        await until(lambda: stack.pipeline.passed["pool_busy"] > 0 and any(
            a.state == "settled" for a in live_rows(stack.store)))
        await stack.pipeline.drain(timeout=WAIT)
        await stack.runtime.engine.stop()  # type: ignore[union-attr]
        await stack.pipeline.drain(timeout=WAIT)

        sent = [a for a in live_rows(stack.store) if a.submitted_at is not None]
        assert sent
        # Nobody else trades here: with no bundle of ours racing another, every one lands.
        assert all(a.state == "settled" for a in sent), [(a.state, a.error_class) for a in sent]
        for first, second in itertools.combinations(sorted(sent, key=lambda a: a.approved_at or 0), 2):
            if set(first.route or []) & set(second.route or []):
                assert first.settled_at is not None and second.approved_at is not None
                assert first.settled_at <= second.approved_at, (first.id, second.id)
        assert len(stack.be.engine.book.records()) == len({a.bundle_id for a in sent})

        # What is not worth a build (no row): a quote of a pool state from before our landing on
        # it, and a quote whose best net is under the minimum profit.
        traded = seen[int(sent[0].opportunity_id)]
        rows = len(live_rows(stack.store))
        stale = dataclasses.replace(traded, id=10**9, state_slots=(0,) * len(traded.route))
        assert await original(stale, "live") is None and stack.pipeline.passed["stale"] == 1
        small = dataclasses.replace(traded, id=10**9 + 1, net=1)
        assert await original(small, "live") is None and stack.pipeline.passed["small"] >= 1
        # Exactly the minimum, no tip of its own: no room for even the minimum tip (tip_cap).
        prices = stack.pipeline._prices[traded.loan_mint]
        bare = prices.from_usd(stack.pipeline.config.flash_loan.min_profit_usd)
        no_room = dataclasses.replace(traded, id=10**9 + 2, net=bare,
                                      fees=dataclasses.replace(traded.fees, tip=0))
        assert await original(no_room, "live") is None and stack.pipeline.passed["tip_floor"] == 1
        assert len(live_rows(stack.store)) == rows

