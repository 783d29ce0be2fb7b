"""Compute budget: CU limits learned from measured units, priority fees from the cluster's fees."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from solders.keypair import Keypair

from core.config import ComputeConfig
from core.execution.compute import (
    ComputeBudgetPlanner,
    budget_instructions,
    percentile,
    priority_fee,
    priority_fee_lamports,
    route_shape,
)
from core.execution.rpc import JsonRpc
from core.execution.simulation import simulate_bundle
from core.store import StoreReader, StoreWriter
from tests.execution.conftest import Stack
from tests.localnet.rpc_helpers import signed_v0, transfer_ix


async def next_slot(stack: Stack) -> None:
    slot = stack.net.cluster.slot
    while stack.net.cluster.slot == slot:
        await asyncio.sleep(0.005)


SHAPE = route_shape("solend", ["raydium", "whirlpool", "raydium"])


def test_default_before_history_is_per_swap_plus_overhead() -> None:
    planner = ComputeBudgetPlanner(ComputeConfig(default_cu_per_swap=150_000, overhead_cu=50_000))
    assert planner.cu_limit(SHAPE, 3) == 500_000


def test_limit_is_p95_of_history_times_margin_and_never_above_the_max() -> None:
    config = ComputeConfig(history=20, margin=1.1, max_compute_units=400_000)
    planner = ComputeBudgetPlanner(config)
    for units in range(100_000, 120_000, 1_000):  # 20 samples
        planner.record(SHAPE, units)
    assert planner.cu_limit(SHAPE, 3) == round(118_000 * 1.1)  # p95 of 20 = the 19th smallest
    planner.record("other", 399_000)
    assert planner.cu_limit("other", 1) == 400_000


def test_history_keeps_only_the_last_samples() -> None:
    planner = ComputeBudgetPlanner(ComputeConfig(history=3, margin=1.0))
    for units in (900_000, 10, 20, 30):
        planner.record(SHAPE, units)
    assert planner.samples(SHAPE) == [10, 20, 30] and planner.cu_limit(SHAPE, 1) == 30


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=60), st.integers(0, 100))
def test_percentile_is_an_observed_value_with_the_right_rank(values: list[int], p: int) -> None:
    got = percentile(values, p)
    assert got in values
    assert sum(v <= got for v in values) >= p / 100 * len(values)
    assert sum(v < got for v in values) < max(1, p / 100 * len(values))


def test_priority_fee_in_lamports_rounds_up_on_the_requested_limit() -> None:
    assert priority_fee_lamports(200_000, 1) == 1  # 0.2 lamport rounds up
    assert priority_fee_lamports(1_400_000, 1_000_000) == 1_400_000
    ixs = budget_instructions(300_000, 5)
    assert [bytes(ix.data)[0] for ix in ixs] == [2, 3]


async def test_samples_are_persisted_and_reloaded(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path, "live")
    planner = ComputeBudgetPlanner(ComputeConfig(history=2), writer)
    for units in (1_000, 2_000, 3_000):
        planner.record(SHAPE, units, "landed")
    await writer.close()
    restored = ComputeBudgetPlanner(ComputeConfig(history=2))
    with StoreReader(tmp_path, "live") as reader:
        restored.load(reader)
    assert restored.samples(SHAPE) == [2_000, 3_000]


async def test_cu_limit_after_warm_up_is_within_ten_percent_of_measured_units(stack: Stack) -> None:
    payer = stack.funded()
    rpc = JsonRpc(stack.http)
    planner = ComputeBudgetPlanner(ComputeConfig(margin=1.1))
    shape = route_shape("none", ["transfer", "transfer"])
    for _ in range(5):  # warm-up: simulate the transaction as built, budget instructions included
        ixs = [*budget_instructions(planner.cu_limit(shape, 2), 0),
               *(transfer_ix(payer, Keypair().pubkey(), 1_000_000) for _ in range(2))]
        report = await simulate_bundle(rpc, stack.rpc_url, [signed_v0(payer, ixs, stack.blockhash()[0])])
        planner.record(shape, report.total_units)
    limit = planner.cu_limit(shape, 2)
    transfers = [transfer_ix(payer, Keypair().pubkey(), 1_000_000) for _ in range(2)]
    ixs = [*budget_instructions(limit, 0), *transfers]
    record = stack.net.cluster.submit(signed_v0(payer, ixs, stack.blockhash()[0]))
    assert record.err is None
    measured = record.compute_units
    assert measured <= limit <= measured * 1.1 + 1


async def test_priority_fee_is_the_percentile_of_the_clusters_recent_fees(stack: Stack) -> None:
    payer = stack.funded()
    hot = Keypair().pubkey()
    stack.net.cluster.airdrop(hot, 10**9)
    await next_slot(stack)  # the airdrop write-locks `hot` at price 0 in its own slot
    prices = [100, 200, 300, 400, 500]
    for price in prices:  # one fee level per slot, all write-locking `hot`
        ixs = [*budget_instructions(10_000, price), transfer_ix(payer, hot, 1)]
        assert stack.net.cluster.submit(signed_v0(payer, ixs, stack.blockhash()[0])).err is None
        await next_slot(stack)
    rpc = JsonRpc(stack.http)
    raw = [e["prioritizationFee"] for e in await rpc.call(stack.rpc_url, "getRecentPrioritizationFees",
                                                          [[str(hot)]])]
    assert set(prices) <= set(raw)
    assert await priority_fee(rpc, stack.rpc_url, [hot], 100) == 500
    for p in (50, 75, 90, 95):
        assert await priority_fee(rpc, stack.rpc_url, [hot], p) == percentile(raw, p)
