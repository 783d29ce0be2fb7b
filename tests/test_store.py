"""Trade store: round trips, per-mode files, readers during writes, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from core.store import (
    SCHEMA_VERSION,
    STATES,
    Approval,
    BundleAttempt,
    LifecycleEvent,
    ModeChange,
    Opportunity,
    StoreError,
    StoreReader,
    StoreWriter,
    open_store,
    store_path,
)


def make_attempt(i: int, mode: str = "dry-run", **extra: object) -> BundleAttempt:
    return BundleAttempt(
        id=f"att-{i}",
        opportunity_id=f"opp-{i}",
        mode=mode,  # type: ignore[arg-type]
        created_at=1_700_000_000.0 + i,
        provider="solend",
        flash_mint="EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        flash_amount=1_000_000_000 + i,
        flash_amount_usd=1000.0 + i,
        route=["USDC", "SOL", "USDC"],
        expected_profit=5_000_000,
        expected_profit_usd=5.0,
        tip_lamports=10_000,
        cu_limit=350_000,
        cu_price_micro_lamports=1_000,
        regions=["ny", "tokyo"],
        signatures=["5" * 88],
        validation_results={"min_profit": {"passed": True, "value": 5.0, "threshold": 1.0}},
        **extra,  # type: ignore[arg-type]
    )


async def test_round_trip_of_every_record(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path, "dry-run")
    opportunity = Opportunity(
        id="opp-1",
        detected_at=1.5,
        route=["USDC", "SOL", "USDC"],
        input_mint="EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        amount_in=10**9,
        expected_profit=12_345,
        expected_profit_usd=0.012345,
        slot=42,
        details={"pools": ["a", "b"]},
    )
    attempt = make_attempt(1)
    approval = Approval(opportunity_id="opp-1", decision="approved", key="a", at=2.0)
    change = ModeChange(at=3.0, from_mode="dry-run", to_mode="live", cluster="localnet", wallet="Abc1")
    writer.add_opportunity(opportunity)
    writer.save_attempt(attempt)
    writer.add_approval(approval)
    writer.add_mode_change(change)
    await writer.close()

    with StoreReader(tmp_path, "dry-run") as reader:
        assert reader.opportunity("opp-1") == opportunity
        stored = reader.attempt("att-1")
        assert stored is not None
        assert stored.updated_at is not None
        stored.updated_at = None
        assert stored == attempt
        assert isinstance(stored.flash_amount, int)
        assert [(a.decision, a.key, a.at) for a in reader.approvals("opp-1")] == [("approved", "a", 2.0)]
        assert [(m.from_mode, m.to_mode, m.cluster) for m in reader.mode_changes()] == [
            ("dry-run", "live", "localnet")
        ]


async def test_transition_appends_event_and_stamps_state_time(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path, "dry-run")
    writer.save_attempt(make_attempt(7))
    for n, state in enumerate(("validated", "simulated", "submitted", "landed")):
        writer.record_transition(
            LifecycleEvent(attempt_id="att-7", opportunity_id="opp-7", state=state, at=100.0 + n, region="ny")
        )
    await writer.flush()
    with StoreReader(tmp_path, "dry-run") as reader:
        attempt = reader.attempt("att-7")
        assert attempt is not None
        assert attempt.state == "landed"
        assert (attempt.validated_at, attempt.simulated_at, attempt.submitted_at, attempt.landed_at) == (
            100.0,
            101.0,
            102.0,
            103.0,
        )
        assert attempt.settled_at is None
        assert [e.state for e in reader.events_for("att-7")] == [
            "validated",
            "simulated",
            "submitted",
            "landed",
        ]
        assert [a.id for a in reader.unsettled_attempts()] == ["att-7"]
    writer.record_transition(
        LifecycleEvent(attempt_id="att-7", opportunity_id="opp-7", state="settled", at=104.0)
    )
    writer.update_attempt("att-7", realised_profit=4_900_000, realised_profit_usd=4.9, signatures=["x"])
    await writer.close()
    with StoreReader(tmp_path, "dry-run") as reader:
        attempt = reader.attempt("att-7")
        assert attempt is not None
        assert (attempt.state, attempt.realised_profit, attempt.signatures) == ("settled", 4_900_000, ["x"])
        assert reader.unsettled_attempts() == []


def test_every_state_has_a_timestamp_column(tmp_path: Path) -> None:
    with StoreReader(tmp_path, "live") as reader:
        columns = {row["name"] for row in reader.query("pragma table_info(bundle_attempts)")}
    assert {f"{state}_at" for state in STATES} <= columns


def test_writer_rejects_unknown_state_column_and_mode(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path, "dry-run")
    try:
        with pytest.raises(StoreError):
            writer.record_transition(
                LifecycleEvent(attempt_id="a", opportunity_id="o", state="teleported", at=1.0)
            )
        with pytest.raises(StoreError):
            writer.update_attempt("a", no_such_column=1)
        with pytest.raises(StoreError):
            writer.save_attempt(make_attempt(1, mode="live"))
    finally:
        writer.close_sync()
    with pytest.raises(StoreError):
        writer.save_attempt(make_attempt(2))


def test_modes_use_separate_files_that_refuse_the_other_mode(tmp_path: Path) -> None:
    dry, live = open_store(tmp_path, "dry-run"), open_store(tmp_path, "live")
    assert dry != live
    assert dry.name == "trades-dry-run.sqlite3"
    assert live.name == "trades-live.sqlite3"
    (tmp_path / "other").mkdir()
    dry.rename(tmp_path / "other" / "trades-live.sqlite3")
    with pytest.raises(StoreError, match="belongs to mode 'dry-run'"):
        open_store(tmp_path / "other", "live")


def test_store_uses_wal(tmp_path: Path) -> None:
    path = open_store(tmp_path, "dry-run")
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_reader_is_not_blocked_by_an_open_write_transaction(tmp_path: Path) -> None:
    path = open_store(tmp_path, "dry-run")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("begin immediate")
    writer.execute(
        "insert into approvals (opportunity_id, decision, key, at) values ('o', 'approved', 'a', 1)"
    )
    reader_conn = sqlite3.connect(path, timeout=0)  # any lock wait would raise at once
    try:
        assert reader_conn.execute("select count(*) from approvals").fetchone()[0] == 0
        writer.execute("commit")
        assert reader_conn.execute("select count(*) from approvals").fetchone()[0] == 1
    finally:
        reader_conn.close()
        writer.close()


async def test_reader_during_a_write_burst_sees_only_committed_growth(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path, "dry-run", max_batch=50)
    total = 3000
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_loop() -> None:
        try:
            with StoreReader(tmp_path, "dry-run") as reader:
                while not stop.is_set():
                    seen.append(reader.count("bundle_attempts"))
                seen.append(reader.count("bundle_attempts"))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=read_loop)
    thread.start()
    for i in range(total):
        writer.save_attempt(make_attempt(i))
        if i % 100 == 0:
            await asyncio.sleep(0)
    await writer.close()
    stop.set()
    thread.join()
    assert errors == []
    assert seen == sorted(seen)
    assert seen[-1] == total
    assert writer.batches_committed > 1


def write_v1_file(path: Path) -> None:
    """The schema as the first release wrote it, by hand."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        create table schema_version (version integer primary key, applied_at float);
        insert into schema_version values (1, 1700000000.0);
        create table opportunities (id text primary key, detected_at float, route text, input_mint text,
                                    amount_in float, expected_profit_usd float);
        create table bundle_attempts (id text primary key, opportunity_id text, mode text, created_at float,
                                      status text, flash_amount float, flash_amount_usd float,
                                      expected_profit_usd float, realised_profit_usd float,
                                      tip_lamports integer, bundle_id text);
        create table lifecycle_events (id integer primary key, attempt_id text, state text, at float);
        insert into opportunities values ('opp-1', 10.0, '["USDC","SOL","USDC"]', 'mint', 1000000.0, 1.25);
        insert into bundle_attempts values ('att-1', 'opp-1', 'dry-run', 11.0, 'landed', 5000000000.0, 5000.0,
                                            1.25, 1.0, 20000, 'b1');
        insert into lifecycle_events values (1, 'att-1', 'landed', 12.0);
        """
    )
    conn.commit()
    conn.close()


def test_v1_store_is_migrated_keeping_its_rows(tmp_path: Path) -> None:
    path = store_path(tmp_path, "dry-run")
    write_v1_file(path)
    open_store(tmp_path, "dry-run")
    open_store(tmp_path, "dry-run")  # idempotent
    with StoreReader(tmp_path, "dry-run") as reader:
        assert reader.schema_version() == SCHEMA_VERSION
        versions = [r["version"] for r in reader.query("select version from schema_version order by version")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        attempt = reader.attempt("att-1")
        assert attempt is not None
        assert attempt.state == "landed"
        assert attempt.flash_amount == 5_000_000_000
        assert isinstance(attempt.flash_amount, int)
        assert (attempt.realised_profit_usd, attempt.tip_lamports, attempt.bundle_id) == (1.0, 20000, "b1")
        assert attempt.landed_at is None
        opportunity = reader.opportunity("opp-1")
        assert opportunity is not None
        assert opportunity.amount_in == 1_000_000 and isinstance(opportunity.amount_in, int)
        assert opportunity.route == ["USDC", "SOL", "USDC"]
        assert [e.state for e in reader.events_for("att-1")] == ["landed"]
        assert reader.count("approvals") == 0
        assert reader.count("mode_changes") == 0
        columns = {row["name"] for row in reader.query("pragma table_info(bundle_attempts)")}
        assert "status" not in columns and "state" in columns


async def test_migrated_store_accepts_new_writes(tmp_path: Path) -> None:
    write_v1_file(store_path(tmp_path, "dry-run"))
    writer = StoreWriter(tmp_path, "dry-run")
    writer.save_attempt(make_attempt(2))
    writer.add_approval(Approval(opportunity_id="opp-2", decision="rejected", key="r", at=5.0))
    await writer.close()
    with StoreReader(tmp_path, "dry-run") as reader:
        assert [a.id for a in reader.recent_attempts()] == ["att-2", "att-1"]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = open_store(tmp_path, "dry-run")
    conn = sqlite3.connect(path)
    conn.execute("insert into schema_version values (?, 0)", [SCHEMA_VERSION + 1])
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        open_store(tmp_path, "dry-run")


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    store_path(tmp_path, "live").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        open_store(tmp_path, "live")


async def test_failed_write_is_reported_and_spares_its_batch(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path, "dry-run")
    writer.add_approval(Approval(opportunity_id="o", decision="approved", key="a", at=1.0, id=1))
    writer.add_approval(Approval(opportunity_id="o", decision="approved", key="a", at=1.0, id=1))
    writer.add_approval(Approval(opportunity_id="o", decision="rejected", key="r", at=2.0, id=2))
    with pytest.raises(StoreError, match="write failed"):
        await writer.flush()
    await writer.close()
    with StoreReader(tmp_path, "dry-run") as reader:
        assert [(a.id, a.decision) for a in reader.approvals()] == [(1, "approved"), (2, "rejected")]


async def test_writer_opens_off_the_loop_and_closes_as_context_manager(tmp_path: Path) -> None:
    async with await StoreWriter.open(tmp_path, "live") as writer:
        writer.save_attempt(make_attempt(1, mode="live"))
    with StoreReader(tmp_path, "live") as reader:
        assert reader.count("bundle_attempts") == 1
    with pytest.raises(StoreError):
        writer.save_attempt(make_attempt(2, mode="live"))


async def test_unbindable_value_fails_its_write_not_the_writer(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path, "dry-run")
    writer.update_attempt("nope", error_detail=object())  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        await writer.flush()
    writer.save_attempt(make_attempt(1))
    await writer.close()
    with StoreReader(tmp_path, "dry-run") as reader:
        assert reader.count("bundle_attempts") == 1
