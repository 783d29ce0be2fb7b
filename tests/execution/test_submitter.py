"""The submitter end to end on the local cluster and block engine, with a real store file."""

from __future__ import annotations

from pathlib import Path

import httpx
from solders.hash import Hash
from solders.keypair import Keypair
from solders.transaction import VersionedTransaction

from core.config import ComputeConfig, RetryConfig, RiskConfig
from core.events import AttemptUpdate, EngineState
from core.execution.compute import ComputeBudgetPlanner
from core.execution.jito_client import bundle_id_of
from core.execution.submitter import Replacement
from core.localnet.faults import RegionFaults
from core.store import StoreReader
from tests.execution.conftest import REGIONS, Stack, start_stack, stop_stack, tipped_transfer
from tests.execution.harness import wire

FEE = 5_000
SENT = 1_000_000


def balance(stack: Stack, keypair: Keypair) -> int:
    account = stack.net.cluster.get_account(keypair.pubkey())
    return account.lamports if account is not None else 0


async def test_bundle_lands_and_settles_with_the_wallets_balance_change(stack: Stack, tmp_path: Path) -> None:
    payer = stack.funded()
    before = balance(stack, payer)
    wired = await wire(stack, tmp_path, payer.pubkey())
    sub = wired.bus.subscribe()
    await wired.submitter.start()
    tx = tipped_transfer(payer, stack.blockhash()[0], tip=20_000)
    outcome = await wired.submitter.submit(tx, opportunity_id="1", expected_profit_lamports=1_000_000,
                                           tip_lamports=20_000)
    await wired.shutdown()
    assert outcome.landed and outcome.state == "settled" and outcome.attempts == 1
    assert outcome.realised_profit == -(SENT + 20_000 + FEE) == balance(stack, payer) - before
    assert outcome.bundle_id == bundle_id_of([tx])
    assert all(stack.sends[(outcome.bundle_id, region)] == 1 for region in REGIONS)
    with StoreReader(tmp_path, "live") as reader:
        attempt = reader.attempt(outcome.attempt_id)
        events = reader.events_for(outcome.attempt_id)
    assert attempt is not None and attempt.state == "settled"
    assert attempt.signatures == [str(tx.signatures[0])] and attempt.landed_region in REGIONS
    assert attempt.fee_lamports == FEE and attempt.tip_lamports == 20_000
    transitions = [e.state for e in events if e.detail is None or "answer" not in e.detail]
    assert transitions == ["approved", "simulated", "submitted", "landed", "settled"]
    answers = {e.region for e in events if e.detail and "answer" in e.detail}
    assert answers == set(REGIONS)  # the slower regions' answers are recorded too
    states = [e.state for e in sub.drain() if isinstance(e, AttemptUpdate)]
    assert states == ["approved", "simulated", "submitted", "landed", "settled"]


async def test_simulation_failure_stops_the_submission_before_any_send(stack: Stack, tmp_path: Path) -> None:
    payer = stack.funded()
    wired = await wire(stack, tmp_path, payer.pubkey())
    await wired.submitter.start()
    overdrawn = tipped_transfer(payer, stack.blockhash()[0], lamports=10**15)
    outcome = await wired.submitter.submit(overdrawn, opportunity_id="2", expected_profit_lamports=10**6,
                                           tip_lamports=10_000, rebuild=None)
    await wired.shutdown()
    assert not outcome.landed and outcome.state == "failed"
    assert outcome.error_class == "simulation:insufficient_funds"
    assert not stack.sends


async def test_expired_blockhash_is_replaced_with_a_fresh_one_and_a_bumped_tip(
    stack: Stack, tmp_path: Path
) -> None:
    payer = stack.funded()
    wired = await wire(stack, tmp_path, payer.pubkey())
    await wired.submitter.start()
    rebuilt: list[Replacement] = []

    async def rebuild(replacement: Replacement) -> VersionedTransaction:
        rebuilt.append(replacement)
        return tipped_transfer(payer, replacement.blockhash, tip=replacement.tip_lamports)

    stale = tipped_transfer(payer, Hash.new_unique(), tip=10_000)
    outcome = await wired.submitter.submit(stale, opportunity_id="3", expected_profit_lamports=10**6,
                                           tip_lamports=10_000, cu_price_micro_lamports=100, rebuild=rebuild)
    await wired.shutdown()
    assert outcome.landed and outcome.attempts == 2
    (replacement,) = rebuilt
    assert replacement.tip_lamports == 15_000 and replacement.cu_price_micro_lamports == 150
    assert stack.net.cluster.is_blockhash_valid(replacement.blockhash, "processed")
    assert stack.sends_of(bundle_id_of([stale])) == 0  # refused before sending, not by the engine
    with StoreReader(tmp_path, "live") as reader:
        first, second = reader.attempts_for("3")
    assert (first.state, first.error_class) == ("failed", "blockhash")
    assert second.replaces_attempt_id == first.id and second.state == "settled"


async def test_unlanded_bundle_is_replaced_and_the_old_one_tracked(tmp_path: Path) -> None:
    stack = await start_stack(slot_ms=20)
    try:
        for region in REGIONS:  # every region accepts, none forwards: the bundle can never land
            stack.net.faults.regions[region] = RegionFaults(drop_bundle_rate=1.0)
        payer = stack.funded()
        wired = await wire(stack, tmp_path, payer.pubkey())
        await wired.submitter.start()

        async def rebuild(replacement: Replacement) -> VersionedTransaction:
            stack.net.faults.regions.clear()
            return tipped_transfer(payer, replacement.blockhash, tip=replacement.tip_lamports)

        first = tipped_transfer(payer, stack.blockhash()[0], tip=10_000)
        outcome = await wired.submitter.submit(first, opportunity_id="4", expected_profit_lamports=10**6,
                                               tip_lamports=10_000, rebuild=rebuild)
        assert outcome.landed and outcome.attempts == 2 and outcome.tip_lamports == 15_000
        await wired.submitter.drain()  # the outbid bundle is followed until its blockhash expires
        await wired.shutdown()
        with StoreReader(tmp_path, "live") as reader:
            old, new = reader.attempts_for("4")
        assert (old.state, old.error_class) == ("dropped", "blockhash_expired")
        assert new.state == "settled" and new.replaces_attempt_id == old.id
        assert all(stack.sends[(bundle_id_of([first]), r)] == 1 for r in REGIONS)
    finally:
        await stop_stack(stack)


async def test_rate_limited_bundle_is_retried_not_lost(tmp_path: Path) -> None:
    stack = await start_stack(rate_limit_per_s=1.0)
    try:
        payer = stack.funded()
        retry = RetryConfig(max_attempts=8, base_delay_ms=200, max_delay_ms=1000)
        wired = await wire(stack, tmp_path, payer.pubkey(), retry=retry)
        await wired.submitter.start()
        # Another client behind the same IP spends every region's tokens first.
        for region in REGIONS:
            for _ in range(2):
                await stack.http.post(f"{stack.regions[region]}/api/v1/bundles",
                                      json={"jsonrpc": "2.0", "id": 1, "method": "getTipAccounts"})
        tx = tipped_transfer(payer, stack.blockhash()[0])
        outcome = await wired.submitter.submit(tx, opportunity_id="5", expected_profit_lamports=10**6,
                                               tip_lamports=10_000)
        await wired.shutdown()
        assert outcome.landed and outcome.attempts > 1
        with StoreReader(tmp_path, "live") as reader:
            attempts = reader.attempts_for("5")
        assert [a.error_class for a in attempts[:-1]] == ["rate_limited"] * (len(attempts) - 1)
        assert attempts[-1].state == "settled"
        # the same signed bundle was re-sent (nothing had accepted it): one acceptance per region
        assert all(stack.sends[(outcome.bundle_id, region)] == 1 for region in REGIONS)
    finally:
        await stop_stack(stack)


async def test_killed_engine_sends_nothing_new(stack: Stack, tmp_path: Path) -> None:
    payer = stack.funded()
    wired = await wire(stack, tmp_path, payer.pubkey())
    await wired.submitter.start()
    wired.kill.trip("operator test")
    outcome = await wired.submitter.submit(tipped_transfer(payer, stack.blockhash()[0]), opportunity_id="6",
                                           expected_profit_lamports=10**6, tip_lamports=10_000)
    await wired.shutdown()
    assert (outcome.state, outcome.error_class) == ("dropped", "kill_switch")
    assert not stack.sends


async def test_consecutive_failures_trip_the_kill_switch_in_the_engine(stack: Stack, tmp_path: Path) -> None:
    payer = stack.funded()
    risk = RiskConfig(max_consecutive_failures=2, max_failure_rate=1.0)
    wired = await wire(stack, tmp_path, payer.pubkey(), risk=risk)
    states = wired.bus.subscribe()
    await wired.submitter.start()
    for i in range(2):
        overdrawn = tipped_transfer(payer, stack.blockhash()[0], lamports=10**15 + i)
        await wired.submitter.submit(overdrawn, opportunity_id=f"9{i}", expected_profit_lamports=10**6,
                                     tip_lamports=10_000)
    assert wired.kill.state == "killed"
    good = tipped_transfer(payer, stack.blockhash()[0])
    outcome = await wired.submitter.submit(good, opportunity_id="92", expected_profit_lamports=10**6,
                                           tip_lamports=10_000)
    await wired.shutdown()
    assert (outcome.state, outcome.error_class) == ("dropped", "kill_switch")
    assert not stack.sends
    killed = [e for e in states.drain() if isinstance(e, EngineState)]
    assert [e.state for e in killed] == ["killed"] and "consecutive failures" in killed[0].reason


async def test_unanswered_bundle_is_only_replaced_once_its_blockhash_expired(tmp_path: Path) -> None:
    stack = await start_stack(slot_ms=10)  # blockhash validity ≈ 1.5 s
    try:
        for region in REGIONS:  # slower than the client's patience: no answer, maybe accepted
            stack.net.faults.regions[region] = RegionFaults(latency_ms=300)
        payer = stack.funded()
        before = balance(stack, payer)
        impatient = httpx.AsyncClient(timeout=0.05)
        wired = await wire(stack, tmp_path, payer.pubkey(), jito_http=impatient, outbid_after_slots=None)
        await wired.submitter.start()
        first = tipped_transfer(payer, stack.blockhash()[0])
        expired_when_rebuilt: list[bool] = []

        async def rebuild(replacement: Replacement) -> VersionedTransaction:
            expired_when_rebuilt.append(
                not stack.net.cluster.is_blockhash_valid(first.message.recent_blockhash, "processed")
            )
            stack.net.faults.regions.clear()
            return tipped_transfer(payer, replacement.blockhash, tip=replacement.tip_lamports)

        outcome = await wired.submitter.submit(first, opportunity_id="10", expected_profit_lamports=10**6,
                                               tip_lamports=10_000, rebuild=rebuild)
        await wired.shutdown()
        await impatient.aclose()
        assert outcome.landed and outcome.attempts == 2
        assert expired_when_rebuilt == [True]
        assert outcome.realised_profit == balance(stack, payer) - before
        with StoreReader(tmp_path, "live") as reader:
            old, new = reader.attempts_for("10")
        assert (old.state, old.error_class) == ("dropped", "blockhash_expired")
        assert new.state == "settled"
    finally:
        await stop_stack(stack)


async def test_lost_auction_is_retried_with_a_higher_tip_and_a_fresh_blockhash(tmp_path: Path) -> None:
    stack = await start_stack(slot_ms=10)
    try:
        hot = stack.funded(10**9).pubkey()  # every bundle below write-locks it: one auction
        rival = stack.funded(1_000 * 10**9)
        blockhash = stack.blockhash()[0]
        for i in range(200):  # a rival with 14_000 per bundle, one pending for every slot ahead
            rival_tx = tipped_transfer(rival, blockhash, tip=14_000, to=hot, lamports=SENT + i)
            stack.engine.submit([rival_tx], "default", source="rival")
        payer = stack.funded()
        wired = await wire(stack, tmp_path, payer.pubkey())
        await wired.submitter.start()
        fresh: list[Hash] = []

        async def rebuild(replacement: Replacement) -> VersionedTransaction:
            fresh.append(replacement.blockhash)
            return tipped_transfer(payer, replacement.blockhash, tip=replacement.tip_lamports, to=hot)

        first = tipped_transfer(payer, blockhash, tip=10_000, to=hot)
        outcome = await wired.submitter.submit(first, opportunity_id="11", expected_profit_lamports=10**6,
                                               tip_lamports=10_000, rebuild=rebuild)
        assert outcome.landed and outcome.attempts == 2 and outcome.tip_lamports == 15_000
        assert fresh and fresh[0] != blockhash
        assert stack.engine.book.get(bundle_id_of([first])).auctions_lost >= 3
        await wired.submitter.drain()  # the outbid bundle keeps losing until its blockhash expires
        await wired.shutdown()
        with StoreReader(tmp_path, "live") as reader:
            old, new = reader.attempts_for("11")
        assert (old.state, old.error_class) in (("failed", "bundle_failed"), ("dropped", "blockhash_expired"))
        assert new.state == "settled" and new.replaces_attempt_id == old.id
    finally:
        await stop_stack(stack)


async def test_measured_units_from_simulation_and_landing_feed_the_cu_planner(
    stack: Stack, tmp_path: Path
) -> None:
    payer = stack.funded()
    planner = ComputeBudgetPlanner(ComputeConfig())
    wired = await wire(stack, tmp_path, payer.pubkey(), compute=planner)
    await wired.submitter.start()
    outcome = await wired.submitter.submit(tipped_transfer(payer, stack.blockhash()[0]), opportunity_id="12",
                                           expected_profit_lamports=10**6, tip_lamports=10_000,
                                           route_shape="none:transfer")
    await wired.shutdown()
    assert outcome.landed
    simulated, landed = planner.samples("none:transfer")
    assert simulated == landed > 0  # the same transaction measured twice


async def test_replacement_tip_bump_is_capped_by_the_profit(stack: Stack, tmp_path: Path) -> None:
    payer = stack.funded()
    wired = await wire(stack, tmp_path, payer.pubkey())
    await wired.submitter.start()
    tips: list[int] = []

    async def rebuild(replacement: Replacement) -> VersionedTransaction:
        tips.append(replacement.tip_lamports)
        return tipped_transfer(payer, replacement.blockhash, tip=replacement.tip_lamports)

    stale = tipped_transfer(payer, Hash.new_unique(), tip=10_000)
    outcome = await wired.submitter.submit(stale, opportunity_id="13", expected_profit_lamports=20_000,
                                           min_profit_lamports=8_000, tip_lamports=10_000, rebuild=rebuild)
    await wired.shutdown()
    assert outcome.landed and tips == [12_000]  # 1.5 × 10_000 would leave less than 8_000
