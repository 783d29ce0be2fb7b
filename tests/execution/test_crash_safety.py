"""Crash safety: the engine dies right after each durable transition (and mid-flight), restarts on
the same store file, and reconciliation neither loses an attempt nor sends anything twice; the
store's realised P&L equals the wallet's on-chain balance change."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import pytest
from solders.keypair import Keypair

from core.store import FINAL_STATES, StoreReader
from tests.execution.conftest import Stack, start_stack, stop_stack, tipped_transfer
from tests.execution.harness import SimulatedCrash, wire

CRASH_POINTS = ("approved", "simulated", "submitted", "landed", "settled")
EXPECTED_AFTER_RESTART = {
    "approved": ("dropped", "interrupted"),
    "simulated": ("dropped", "interrupted"),
    "submitted": ("dropped", "blockhash_expired"),  # written before the send, so never sent
    "landed": ("settled", None),
    "settled": ("settled", None),
}


def lamports(stack: Stack, keypair: Keypair) -> int:
    account = stack.net.cluster.get_account(keypair.pubkey())
    return account.lamports if account is not None else 0


def crash_at(state: str, *, times: int = 1) -> object:
    remaining = [times]

    def hook(attempt_id: str, reached: str) -> None:
        if reached == state and remaining[0] > 0:
            remaining[0] -= 1
            raise SimulatedCrash(f"{attempt_id} died after {reached}")

    return hook


def assert_store_consistent(stack: Stack, store_dir: Path, payer: Keypair, before: int) -> list:
    with StoreReader(store_dir, "live") as reader:
        attempts = list(reader.iter_attempts())
    assert attempts and all(a.state in FINAL_STATES for a in attempts), [(a.id, a.state) for a in attempts]
    # never submitted twice: every bundle reached each region at most once
    assert all(n == 1 for n in stack.sends.values()), stack.sends
    realised = sum(a.realised_profit or 0 for a in attempts if a.state == "settled")
    assert realised == lamports(stack, payer) - before
    return attempts


@pytest.fixture
async def fast_stack() -> Stack:
    stack = await start_stack(slot_ms=10)  # 150 blocks of blockhash validity ≈ 1.5 s
    yield stack
    await stop_stack(stack)


@pytest.mark.parametrize("point", CRASH_POINTS)
async def test_crash_after_each_transition_is_reconciled_without_resending(
    fast_stack: Stack, tmp_path: Path, point: str
) -> None:
    stack = fast_stack
    payer = stack.funded()
    before = lamports(stack, payer)
    wired = await wire(stack, tmp_path, payer.pubkey(), hook=crash_at(point))
    await wired.submitter.start()
    tx = tipped_transfer(payer, stack.blockhash()[0])
    with pytest.raises(SimulatedCrash):
        await wired.submitter.submit(tx, opportunity_id="7", expected_profit_lamports=10**6,
                                     tip_lamports=10_000)
    await wired.shutdown()
    sent_before_restart = Counter(stack.sends)

    restarted = await wire(stack, tmp_path, payer.pubkey())
    outcomes = await restarted.submitter.start()
    await restarted.shutdown()

    assert stack.sends == sent_before_restart  # reconciliation sends nothing
    (attempt,) = assert_store_consistent(stack, tmp_path, payer, before)
    assert (attempt.state, attempt.error_class) == EXPECTED_AFTER_RESTART[point]
    assert [o.attempt_id for o in outcomes] == ([] if point == "settled" else [attempt.id])
    if point in ("approved", "simulated", "submitted"):
        assert not stack.sends


async def test_crash_while_the_bundle_is_in_flight_is_followed_to_settlement(
    fast_stack: Stack, tmp_path: Path
) -> None:
    stack = fast_stack
    payer = stack.funded()
    before = lamports(stack, payer)
    wired = await wire(stack, tmp_path, payer.pubkey())
    await wired.submitter.start()
    tx = tipped_transfer(payer, stack.blockhash()[0])
    task = asyncio.create_task(
        wired.submitter.submit(tx, opportunity_id="8", expected_profit_lamports=10**6, tip_lamports=10_000)
    )
    while not stack.sends:  # the engine dies the moment a region has the bundle
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wired.shutdown()

    restarted = await wire(stack, tmp_path, payer.pubkey())
    await restarted.submitter.start()
    await restarted.shutdown()
    (attempt,) = assert_store_consistent(stack, tmp_path, payer, before)
    assert attempt.state == "settled" and attempt.realised_profit == -(1_000_000 + 10_000 + 5_000)


async def test_random_crashes_over_a_run_of_trades_lose_nothing_and_send_nothing_twice(
    fast_stack: Stack, tmp_path: Path
) -> None:
    stack = fast_stack
    rng = random.Random(20261126)
    payer = stack.funded(100 * 10**9)
    before = lamports(stack, payer)
    trades, crashes = 16, 0
    wired = await wire(stack, tmp_path, payer.pubkey())
    await wired.submitter.start()
    for i in range(trades):
        point = rng.choice((*CRASH_POINTS, None, None, None))
        wired.submitter.lifecycle.hook = crash_at(point) if point else None
        tx = tipped_transfer(payer, stack.blockhash()[0], lamports=1_000_000 + i, tip=10_000 + i)
        try:
            await wired.submitter.submit(tx, opportunity_id=str(100 + i), expected_profit_lamports=10**6,
                                         tip_lamports=10_000 + i)
        except SimulatedCrash:
            crashes += 1
            await wired.shutdown()
            wired = await wire(stack, tmp_path, payer.pubkey())
            await wired.submitter.start()  # reconcile before anything new is sent
    await wired.shutdown()
    attempts = assert_store_consistent(stack, tmp_path, payer, before)
    assert crashes >= 3
    assert {a.opportunity_id for a in attempts} == {str(100 + i) for i in range(trades)}
    assert sum(a.state == "settled" for a in attempts) >= trades - crashes
