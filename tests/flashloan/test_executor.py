"""The executor on the local cluster: dry-run never sends, every attempt is one row with every
validation result, caps come from the persisted live successes, metrics and report agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from solana.rpc.models import TxOpts
from solders.transaction import VersionedTransaction

from core.config import LEGACY_ENV_NAMES, AppConfig
from core.events import AttemptUpdate, EventBus, ValidationResult
from core.flashloan.builder import BuiltFlashLoan, quote_route
from core.flashloan.caps import successful_flash_loans
from core.flashloan.executor import FlashLoanExecutor, SubmitResult
from core.flashloan.validator import CHECK_NAMES
from core.localnet.accounts import set_data_account, set_token_account
from core.metrics import Metrics
from core.protocols import ids, solend
from core.report import build_report
from core.search.fees import FeeBreakdown
from core.search.opportunities import Opportunity
from core.store import BundleAttempt, LifecycleEvent, StoreReader, StoreWriter
from tests.flashloan.conftest import FlashNet, best_amount, gap_route

SENDS = {"sendTransaction", "sendBundle", "sendRawTransaction"}


def config(*, dry_run: bool = True, enabled: bool = True, min_profit_usd: float = 1.0,
           caps: list[dict[str, int]] | None = None, provider: str = "solend") -> AppConfig:
    flash: dict[str, object] = {"enabled": enabled, "min_profit_usd": min_profit_usd, "provider": provider}
    if caps is not None:
        flash["caps"] = caps
    return AppConfig(flash_loan=flash, mode={"dry_run": dry_run})


NO_CAPS = [{"max_amount_usdc": 10_000}]


async def opportunity(f: FlashNet, usdc_in: int = 50_000 * 10**6) -> Opportunity:
    route = await gap_route(f, usdc_in)
    venues = await f.venues(route)
    usdc = f.mint("USDC")
    solend = f.solend()
    await solend.refresh(f.client, usdc)
    amount, legs = best_amount(route, venues, lambda a: solend.fee(usdc, a), 10**6, 50_000 * 10**6)
    out = legs[-1].expected_out
    fee = solend.fee(usdc, amount)
    fees = FeeBreakdown(flash_fee=fee, network_fee=1, network_fee_lamports=5000, tip=2, tip_lamports=10_000)
    return Opportunity(id=1, cycle_id=7, loan_mint=usdc, route=route, amount_in=amount, expected_out=out,
                       gross=out - amount, fees=fees, net=out - amount - fees.total, slot=1,
                       state_slots=(1, 1), detected_at_ns=time.monotonic_ns())


def executor(
    f: FlashNet, cfg: AppConfig, store: StoreWriter, store_dir: Path, **kw: object
) -> FlashLoanExecutor:
    return FlashLoanExecutor(config=cfg, client=f.client, payer=f.wallet, providers=[f.solend()],
                             pricer=f.pricer(), store=store, store_dir=store_dir, **kw)  # type: ignore[arg-type]


def arbtui_report(store_dir: Path, mode: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_") and k not in LEGACY_ENV_NAMES}
    env["HOME"] = str(store_dir / "home")
    result = subprocess.run(
        [sys.executable, "-m", "arbtui", "report", "--mode", mode, "--json", "--store-dir", str(store_dir)],
        cwd=store_dir, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def counter(metrics: Metrics, name: str) -> float:
    return metrics.registry.get_sample_value(name) or 0.0


async def test_dry_run_simulates_records_every_check_and_never_sends(
    flashnet: FlashNet, tmp_path: Path
) -> None:
    f = flashnet
    opp = await opportunity(f)
    bus, metrics = EventBus(), Metrics()
    sub = bus.subscribe()
    usdc_ata = f.scenario.wallet_token_accounts["USDC"]
    usdc_before = await f.token_balance(usdc_ata)
    sol_before = await f.lamports(f.wallet.pubkey())
    f.net.rpc.request_log.clear()
    async with await StoreWriter.open(tmp_path, "dry-run") as store:
        run = executor(f, config(caps=NO_CAPS), store, tmp_path, bus=bus, metrics=metrics)
        outcome = await run.handle(opp)
    assert outcome.state == "simulated", outcome.reason
    log = list(f.net.rpc.request_log)
    assert "simulateTransaction" in log
    assert SENDS.isdisjoint(log), log
    assert await f.token_balance(usdc_ata) == usdc_before
    assert await f.lamports(f.wallet.pubkey()) == sol_before

    event = sub.queue.get_nowait()
    assert isinstance(event, ValidationResult) and event.passed and event.attempt_id == outcome.attempt_id
    with StoreReader(tmp_path, "dry-run") as reader:
        rows = reader.recent_attempts()
    assert len(rows) == 1
    row = rows[0]
    assert (row.id, row.state, row.provider, row.flash_amount) == (outcome.attempt_id, "simulated", "solend",
                                                                    opp.amount_in)
    assert row.validation_results is not None and row.validation_results["passed"] is True
    assert [c["name"] for c in row.validation_results["checks"]] == list(CHECK_NAMES)
    assert row.expected_profit == outcome.profitability.net  # type: ignore[union-attr]

    report = build_report(tmp_path, "dry-run")
    assert counter(metrics, "arb_flash_loans_attempted_total") == sum(d.attempts for d in report.daily) == 1
    assert counter(metrics, "arb_flash_loans_successful_total") == sum(d.successes for d in report.daily) == 0
    assert counter(metrics, "arb_flash_loan_amount_usd_count") == 1
    assert report.daily[0].volume_usd == pytest.approx(metrics.registry.get_sample_value(
        "arb_flash_loan_amount_usd_sum"))


async def test_disabled_flash_loans_do_nothing_at_all(flashnet: FlashNet, tmp_path: Path) -> None:
    f = flashnet
    opp = await opportunity(f)
    f.net.rpc.request_log.clear()
    async with await StoreWriter.open(tmp_path, "dry-run") as store:
        outcome = await executor(f, config(enabled=False), store, tmp_path).handle(opp)
    assert outcome.state == "disabled"
    assert list(f.net.rpc.request_log) == []
    with StoreReader(tmp_path, "dry-run") as reader:
        assert reader.count("bundle_attempts") == 0


async def test_a_failed_check_is_recorded_with_its_reason_and_counts_as_no_attempt(
    flashnet: FlashNet, tmp_path: Path
) -> None:
    f = flashnet
    opp = await opportunity(f)
    metrics = Metrics()
    async with await StoreWriter.open(tmp_path, "dry-run") as store:
        outcome = await executor(f, config(min_profit_usd=1e9, caps=NO_CAPS), store, tmp_path,
                                 metrics=metrics).handle(opp)
    assert outcome.state == "rejected" and outcome.reason.startswith("net_profit: measured")
    with StoreReader(tmp_path, "dry-run") as reader:
        row = reader.recent_attempts()[0]
    assert row.state == "rejected" and row.error_class == "validation:net_profit"
    assert row.validation_results is not None and row.validation_results["passed"] is False
    report = build_report(tmp_path, "dry-run")
    assert counter(metrics, "arb_flash_loans_attempted_total") == sum(d.attempts for d in report.daily) == 0


async def test_unknown_provider_is_refused_and_recorded(flashnet: FlashNet, tmp_path: Path) -> None:
    f = flashnet
    opp = await opportunity(f)
    async with await StoreWriter.open(tmp_path, "dry-run") as store:
        outcome = await executor(f, config(provider="kamino", caps=NO_CAPS), store, tmp_path).handle(opp)
    assert outcome.state == "rejected" and "kamino" in outcome.reason
    with StoreReader(tmp_path, "dry-run") as reader:
        assert reader.recent_attempts()[0].error_class == "provider"


def seed_live_successes(store_dir: Path, n: int) -> None:
    writer = StoreWriter(store_dir, "live")
    now = time.time()
    for i in range(n):
        writer.save_attempt(BundleAttempt(id=f"ok{i}", opportunity_id=f"o{i}", mode="live", created_at=now,
                                          state="landed", provider="solend", landed_at=now))
    # Neither a failed live flash loan nor a landed non-flash bundle counts.
    writer.save_attempt(BundleAttempt(id="bad", opportunity_id="x", mode="live", created_at=now,
                                      state="failed", provider="solend"))
    writer.save_attempt(BundleAttempt(id="plain", opportunity_id="y", mode="live", created_at=now,
                                      state="landed", landed_at=now))
    writer.close_sync()


@pytest.mark.parametrize(("successes", "cap_usdc"), [(0, 100), (9, 100), (10, 1000), (49, 1000), (50, 5000),
                                                    (99, 5000), (100, 10_000)])
def test_graduated_caps_follow_the_persisted_success_count(
    tmp_path: Path, successes: int, cap_usdc: int
) -> None:
    seed_live_successes(tmp_path, successes)
    assert successful_flash_loans(tmp_path) == successes
    assert config().flash_loan.cap_for(successful_flash_loans(tmp_path)) == cap_usdc


@pytest.mark.parametrize(("successes", "cap_usdc"), [(0, 100), (10, 1000)])
async def test_executor_borrows_no_more_than_the_cap_of_the_persisted_successes(
    flashnet: FlashNet, tmp_path: Path, successes: int, cap_usdc: int
) -> None:
    f = flashnet
    seed_live_successes(tmp_path, successes)
    opp = await opportunity(f)
    assert opp.amount_in > cap_usdc * 10**6
    async with await StoreWriter.open(tmp_path, "dry-run") as store:
        outcome = await executor(f, config(min_profit_usd=0.0), store, tmp_path).handle(opp)
    assert outcome.amount == cap_usdc * 10**6
    assert outcome.built is not None and outcome.built.amount == cap_usdc * 10**6
    # Re-quoted at the capped amount, not scaled: the chain of exact quotes for that input.
    venues = await f.venues(opp.route)
    assert outcome.built.expected_out == quote_route(opp.route, venues, cap_usdc * 10**6)[-1].expected_out
    with StoreReader(tmp_path, "dry-run") as reader:
        assert reader.recent_attempts()[0].flash_amount == cap_usdc * 10**6


async def test_live_mode_submits_the_validated_transaction_and_records_the_landing(
    flashnet: FlashNet, tmp_path: Path
) -> None:
    f = flashnet
    opp = await opportunity(f)
    sent: list[VersionedTransaction] = []

    async def submit(tx: VersionedTransaction, built: BuiltFlashLoan) -> SubmitResult:
        sent.append(tx)
        sig = (await f.client.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True))).value
        status = (await f.client.get_signature_statuses([sig])).value[0]
        return SubmitResult(landed=status is not None and status.err is None, signature=str(sig))

    metrics = Metrics()
    usdc_ata = f.scenario.wallet_token_accounts["USDC"]
    before = await f.token_balance(usdc_ata)
    async with await StoreWriter.open(tmp_path, "live") as store:
        outcome = await executor(f, config(dry_run=False, caps=NO_CAPS), store, tmp_path, metrics=metrics,
                                 submit=submit).handle(opp)
    assert outcome.state == "landed", outcome.reason
    assert len(sent) == 1 and outcome.built is not None
    assert await f.token_balance(usdc_ata) - before == outcome.built.expected_gain
    assert successful_flash_loans(tmp_path) == 1
    report = build_report(tmp_path, "live")
    assert counter(metrics, "arb_flash_loans_attempted_total") == sum(d.attempts for d in report.daily) == 1
    assert counter(metrics, "arb_flash_loans_successful_total") == sum(d.successes for d in report.daily) == 1
    assert report.daily[0].profit_usd == pytest.approx(metrics.registry.get_sample_value(
        "arb_flash_loan_profit_usd_sum"))
    # The command the operator runs says the same.
    cli = arbtui_report(tmp_path, "live")
    assert [(d["attempts"], d["successes"]) for d in cli["daily"]] == [(1, 1)]
    assert cli["daily"][0]["profit_usd"] == pytest.approx(report.daily[0].profit_usd)
    bucket = next(b for b in cli["by_size"] if b["attempts"])
    assert bucket["bucket"] == ("<1k" if outcome.built.amount < 1000 * 10**6 else
                                "1k-10k" if outcome.built.amount <= 10_000 * 10**6 else ">10k")


async def test_engine_handler_signature(flashnet: FlashNet, tmp_path: Path) -> None:
    f = flashnet
    opp = await opportunity(f)
    async with await StoreWriter.open(tmp_path, "dry-run") as store:
        handler = executor(f, config(caps=NO_CAPS), store, tmp_path)
        assert await handler(opp) is None
    with StoreReader(tmp_path, "dry-run") as reader:
        assert reader.recent_attempts()[0].state == "simulated"


async def test_a_disabled_reserve_is_refused_by_the_reserve_health_check_before_building(
    flashnet: FlashNet, tmp_path: Path
) -> None:
    f = flashnet
    opp = await opportunity(f)
    usdc = f.mint("USDC")
    r = next(r for r in f.scenario.solend_reserves if r.liquidity_mint == usdc)
    p = f.solend()
    await p.refresh(f.client, usdc)
    set_data_account(f.net.cluster.svm, r.address, ids.SOLEND, solend.encode_reserve(
        replace(p.reserve(usdc), flash_loan_fee_wad=solend.U64_MAX)))
    f.net.rpc.request_log.clear()
    async with await StoreWriter.open(tmp_path, "dry-run") as store:
        outcome = await executor(f, config(caps=NO_CAPS), store, tmp_path).handle(opp)
    assert outcome.state == "rejected" and outcome.reason.startswith("reserve_health:")
    assert "simulateTransaction" not in f.net.rpc.request_log
    with StoreReader(tmp_path, "dry-run") as reader:
        row = reader.recent_attempts()[0]
    assert row.error_class == "validation:reserve_health"
    assert row.validation_results is not None
    assert [c["name"] for c in row.validation_results["checks"]] == ["liquidity", "reserve_health"]


async def test_a_pool_whose_vault_no_longer_matches_is_refused_and_recorded(
    flashnet: FlashNet, tmp_path: Path
) -> None:
    f = flashnet
    opp = await opportunity(f)
    pool = f.raydium("SOL", "USDC", 0)
    # The vault now holds another mint: the pool is not what the opportunity was priced on.
    set_token_account(f.net.cluster.svm, pool.pc_vault, f.mint("USDT"), pool.authority, 10**12)
    bus = EventBus()
    sub = bus.subscribe()
    async with await StoreWriter.open(tmp_path, "dry-run") as store:
        outcome = await executor(f, config(caps=NO_CAPS), store, tmp_path, bus=bus).handle(opp)
    assert outcome.state == "rejected"
    assert "VenueError" in outcome.reason and str(pool.pc_vault) in outcome.reason
    update = sub.queue.get_nowait()
    assert isinstance(update, AttemptUpdate) and update.state == "rejected"
    with StoreReader(tmp_path, "dry-run") as reader:
        row = reader.recent_attempts()[0]
    assert row.state == "rejected" and row.error_class == "error"


async def test_min_outs_come_from_the_opportunitys_state_and_the_move_since_fails_slippage(
    flashnet: FlashNet, tmp_path: Path
) -> None:
    f = flashnet
    opp = await opportunity(f)
    seen = {k: v.state for k, v in (await f.venues(opp.route)).items()}  # what the search quoted on
    await f.big_swap(f.raydium("SOL", "USDC", 0), 20 * 10**9, coin_to_pc=True, trader=1)
    async with await StoreWriter.open(tmp_path, "dry-run") as store:
        stale = await executor(f, config(caps=NO_CAPS), store, tmp_path, states=seen.get).handle(opp)
        fresh = await executor(f, config(caps=NO_CAPS), store, tmp_path).handle(opp)
    assert stale.state == "rejected" and stale.reason.startswith("slippage:")
    assert stale.built is not None and stale.built.legs[-1].min_out == opp.expected_out
    # Quoted on the current state instead, the same opportunity is still worth taking.
    assert fresh.state == "simulated", fresh.reason
    assert fresh.built is not None and fresh.built.expected_out < opp.expected_out


async def test_a_submit_that_raises_is_a_failed_attempt_counted_once(
    flashnet: FlashNet, tmp_path: Path
) -> None:
    f = flashnet
    opp = await opportunity(f)

    async def submit(tx: VersionedTransaction, built: BuiltFlashLoan) -> SubmitResult:
        raise ConnectionError("block engine unreachable")

    metrics = Metrics()
    async with await StoreWriter.open(tmp_path, "live") as store:
        outcome = await executor(f, config(dry_run=False, caps=NO_CAPS), store, tmp_path, metrics=metrics,
                                 submit=submit).handle(opp)
    assert outcome.state == "failed" and "block engine unreachable" in outcome.reason
    report = build_report(tmp_path, "live")
    assert counter(metrics, "arb_flash_loans_attempted_total") == sum(d.attempts for d in report.daily) == 1
    assert successful_flash_loans(tmp_path) == 0


async def test_live_mode_never_sends_what_failed_validation(flashnet: FlashNet, tmp_path: Path) -> None:
    f = flashnet
    opp = await opportunity(f)
    sent: list[VersionedTransaction] = []

    async def submit(tx: VersionedTransaction, built: BuiltFlashLoan) -> SubmitResult:
        sent.append(tx)
        return SubmitResult(landed=True)

    async with await StoreWriter.open(tmp_path, "live") as store:
        outcome = await executor(f, config(dry_run=False, min_profit_usd=1e9, caps=NO_CAPS), store, tmp_path,
                                 submit=submit).handle(opp)
    assert outcome.state == "rejected" and sent == []


async def test_a_submit_that_takes_the_attempt_continues_the_executors_row(
    flashnet: FlashNet, tmp_path: Path
) -> None:
    f = flashnet
    opp = await opportunity(f)
    seen: list[BundleAttempt] = []

    async with await StoreWriter.open(tmp_path, "live") as store:

        async def submit(
            tx: VersionedTransaction, built: BuiltFlashLoan, *, attempt: BundleAttempt
        ) -> SubmitResult:
            # What the execution layer's submitter does with a row an earlier stage made.
            with StoreReader(tmp_path, "live") as reader:
                stored = reader.attempt(attempt.id)
            assert stored is not None and stored.state == "approved" and stored.validation_results
            seen.append(attempt)
            sig = (await f.client.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True))).value
            now = time.time()
            store.record_transition(LifecycleEvent(attempt.id, attempt.opportunity_id, "submitted", now))
            store.record_transition(LifecycleEvent(attempt.id, attempt.opportunity_id, "landed", now))
            return SubmitResult(landed=True, signature=str(sig))

        outcome = await executor(f, config(dry_run=False, caps=NO_CAPS), store, tmp_path,
                                 submit=submit).handle(opp)
    assert outcome.state == "landed" and [a.id for a in seen] == [outcome.attempt_id]
    with StoreReader(tmp_path, "live") as reader:
        rows = reader.recent_attempts()
    assert len(rows) == 1
    row = rows[0]
    assert (row.state, row.provider) == ("landed", "solend") and row.landed_at is not None
    assert row.validation_results is not None and row.validation_results["passed"]
    assert successful_flash_loans(tmp_path) == 1


async def test_live_config_with_the_dry_run_store_still_only_rehearses(
    flashnet: FlashNet, tmp_path: Path
) -> None:
    f = flashnet
    opp = await opportunity(f)
    sent: list[VersionedTransaction] = []

    async def submit(tx: VersionedTransaction, built: BuiltFlashLoan) -> SubmitResult:
        sent.append(tx)
        return SubmitResult(landed=True)

    f.net.rpc.request_log.clear()
    async with await StoreWriter.open(tmp_path, "dry-run") as store:
        outcome = await executor(f, config(dry_run=False, caps=NO_CAPS), store, tmp_path,
                                 submit=submit).handle(opp)
    assert outcome.state == "simulated" and sent == []
    assert SENDS.isdisjoint(f.net.rpc.request_log)
