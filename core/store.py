"""The trade store: one SQLite file per mode, WAL, versioned schema, writes batched off the event loop.

Dry-run and live never share a file (`trades-dry-run.sqlite3`, `trades-live.sqlite3`), and each
file records the mode it belongs to, so a renamed file is refused rather than mixed. Opening runs
the migrations idempotently (sqlite-utils `create(if_not_exists=True)`, `add_column`,
`transform`). One `StoreWriter` per file owns the only writing connection, in a worker thread;
`StoreReader`s open their own connections and, thanks to WAL, never wait for it.

Amounts are integers in base units (lamports, token atoms); USD figures are floats for reporting.
Timestamps are UNIX seconds (REAL, UTC).
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from sqlite_utils import Database

log = logging.getLogger(__name__)

Mode = Literal["dry-run", "live"]
MODES: tuple[Mode, ...] = ("dry-run", "live")

SCHEMA_VERSION = 3

# Every lifecycle state, in order; bundle_attempts has one `<state>_at` column for each.
STATES: tuple[str, ...] = (
    "detected",
    "validated",
    "awaiting_approval",
    "approved",
    "rejected",
    "expired",
    "simulated",
    "submitted",
    "landed",
    "failed",
    "dropped",
    "settled",
)
FINAL_STATES = frozenset({"rejected", "expired", "failed", "dropped", "settled"})
# Approved and not yet decided by the chain: what quitting, stopping and the Retries pane count.
IN_FLIGHT_STATES = frozenset({"approved", "simulated", "submitted"})


class StoreError(Exception):
    """The store file cannot be used (wrong mode, newer schema, unreadable)."""


def store_path(store_dir: Path, mode: Mode) -> Path:
    if mode not in MODES:
        raise StoreError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    return Path(store_dir).expanduser() / f"trades-{mode}.sqlite3"


def store_exists(store_dir: Path, mode: Mode) -> bool:
    return store_path(store_dir, mode).is_file()


# ---------------------------------------------------------------- records


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass
class Opportunity:
    """A candidate route as the search found it."""

    id: str
    detected_at: float
    route: list[str]
    input_mint: str
    amount_in: int
    expected_profit: int
    expected_profit_usd: float
    slot: int | None = None
    details: dict[str, Any] | None = None

    JSON_FIELDS = ("route", "details")


@dataclass
class BundleAttempt:
    """One bundle attempt for an opportunity; retries are further attempts with `attempt` + 1."""

    id: str
    opportunity_id: str
    mode: Mode
    created_at: float
    state: str = "detected"
    attempt: int = 1
    provider: str | None = None
    flash_mint: str | None = None
    flash_amount: int | None = None
    flash_amount_usd: float | None = None
    route: list[str] | None = None
    expected_profit: int | None = None
    expected_profit_usd: float | None = None
    realised_profit: int | None = None
    realised_profit_usd: float | None = None
    tip_lamports: int | None = None
    fee_lamports: int | None = None
    cu_limit: int | None = None
    cu_price_micro_lamports: int | None = None
    regions: list[str] | None = None
    landed_region: str | None = None
    bundle_id: str | None = None
    signatures: list[str] | None = None
    error_class: str | None = None
    error_detail: str | None = None
    validation_results: dict[str, Any] | None = None
    replaces_attempt_id: str | None = None
    blockhash: str | None = None
    last_valid_block_height: int | None = None
    updated_at: float | None = None
    detected_at: float | None = None
    validated_at: float | None = None
    awaiting_approval_at: float | None = None
    approved_at: float | None = None
    rejected_at: float | None = None
    expired_at: float | None = None
    simulated_at: float | None = None
    submitted_at: float | None = None
    landed_at: float | None = None
    failed_at: float | None = None
    dropped_at: float | None = None
    settled_at: float | None = None

    JSON_FIELDS = ("route", "regions", "signatures", "validation_results")

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass
class LifecycleEvent:
    """An append-only state transition of an attempt."""

    attempt_id: str
    opportunity_id: str
    state: str
    at: float
    region: str | None = None
    slot: int | None = None
    detail: dict[str, Any] | None = None
    id: int | None = None

    JSON_FIELDS = ("detail",)


@dataclass
class Approval:
    """An operator (or auto policy) decision on a pending opportunity."""

    opportunity_id: str
    decision: Literal["approved", "rejected", "expired"]
    key: str
    at: float
    reason: str | None = None
    id: int | None = None

    JSON_FIELDS = ()


@dataclass
class ModeChange:
    """Audit of a dry-run ⇄ live switch."""

    at: float
    from_mode: Mode
    to_mode: Mode
    cluster: str
    wallet: str | None = None
    reason: str | None = None
    id: int | None = None

    JSON_FIELDS = ()


@dataclass
class TipOutcome:
    """What a bundle tipped and whether it landed: the dynamic tip policy's memory."""

    attempt_id: str
    at: float
    tip_lamports: int
    landed: bool
    id: int | None = None

    JSON_FIELDS = ()


@dataclass
class LookupTableRecord:
    """An address lookup table the bot owns: its contents and the slots that gate its use."""

    address: str
    authority: str
    created_slot: int
    addresses: list[str]
    last_extended_slot: int
    deactivated_slot: int | None = None
    closed_at: float | None = None
    updated_at: float | None = None

    JSON_FIELDS = ("addresses",)


@dataclass
class ComputeSample:
    """Compute units one route shape consumed (from a simulation or a landed transaction)."""

    shape: str
    units: int
    at: float
    source: str
    id: int | None = None

    JSON_FIELDS = ()


@dataclass
class KillSwitchEvent:
    """The kill switch tripped (or was reset); the reason survives a restart."""

    at: float
    state: str
    reason: str
    id: int | None = None

    JSON_FIELDS = ()


Record = (
    Opportunity
    | BundleAttempt
    | LifecycleEvent
    | Approval
    | ModeChange
    | TipOutcome
    | LookupTableRecord
    | ComputeSample
    | KillSwitchEvent
)

TABLE_OF: dict[type, str] = {
    Opportunity: "opportunities",
    BundleAttempt: "bundle_attempts",
    LifecycleEvent: "lifecycle_events",
    Approval: "approvals",
    ModeChange: "mode_changes",
    TipOutcome: "tip_outcomes",
    LookupTableRecord: "lookup_tables",
    ComputeSample: "compute_samples",
    KillSwitchEvent: "kill_switch_events",
}


def to_row(record: Record) -> dict[str, Any]:
    row = asdict(record)
    for name in record.JSON_FIELDS:
        row[name] = _json_or_none(row[name])
    return row


def from_row(cls: type[Any], row: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    values = {k: v for k, v in row.items() if k in names}
    for name in cls.JSON_FIELDS:
        if values.get(name) is not None:
            values[name] = json.loads(values[name])
    return cls(**values)


# ---------------------------------------------------------------- schema

_INT, _REAL, _TEXT = int, float, str

OPPORTUNITY_COLUMNS: dict[str, type] = {
    "id": _TEXT,
    "detected_at": _REAL,
    "route": _TEXT,
    "input_mint": _TEXT,
    "amount_in": _INT,
    "expected_profit": _INT,
    "expected_profit_usd": _REAL,
    "slot": _INT,
    "details": _TEXT,
}

ATTEMPT_COLUMNS: dict[str, type] = {
    "id": _TEXT,
    "opportunity_id": _TEXT,
    "mode": _TEXT,
    "created_at": _REAL,
    "state": _TEXT,
    "attempt": _INT,
    "provider": _TEXT,
    "flash_mint": _TEXT,
    "flash_amount": _INT,
    "flash_amount_usd": _REAL,
    "route": _TEXT,
    "expected_profit": _INT,
    "expected_profit_usd": _REAL,
    "realised_profit": _INT,
    "realised_profit_usd": _REAL,
    "tip_lamports": _INT,
    "fee_lamports": _INT,
    "cu_limit": _INT,
    "cu_price_micro_lamports": _INT,
    "regions": _TEXT,
    "landed_region": _TEXT,
    "bundle_id": _TEXT,
    "signatures": _TEXT,
    "error_class": _TEXT,
    "error_detail": _TEXT,
    "validation_results": _TEXT,
    "replaces_attempt_id": _TEXT,
    "blockhash": _TEXT,
    "last_valid_block_height": _INT,
    "updated_at": _REAL,
    **{f"{state}_at": _REAL for state in STATES},
}

EVENT_COLUMNS: dict[str, type] = {
    "id": _INT,
    "attempt_id": _TEXT,
    "opportunity_id": _TEXT,
    "state": _TEXT,
    "at": _REAL,
    "region": _TEXT,
    "slot": _INT,
    "detail": _TEXT,
}

APPROVAL_COLUMNS: dict[str, type] = {
    "id": _INT,
    "opportunity_id": _TEXT,
    "decision": _TEXT,
    "key": _TEXT,
    "at": _REAL,
    "reason": _TEXT,
}

MODE_CHANGE_COLUMNS: dict[str, type] = {
    "id": _INT,
    "at": _REAL,
    "from_mode": _TEXT,
    "to_mode": _TEXT,
    "cluster": _TEXT,
    "wallet": _TEXT,
    "reason": _TEXT,
}


def _migrate_v1(db: Database) -> None:
    """The first schema: opportunities, attempts with a `status` and REAL amounts, and events."""
    db["opportunities"].create(
        {
            "id": str,
            "detected_at": float,
            "route": str,
            "input_mint": str,
            "amount_in": float,
            "expected_profit_usd": float,
        },
        pk="id",
        if_not_exists=True,
    )
    db["bundle_attempts"].create(
        {
            "id": str,
            "opportunity_id": str,
            "mode": str,
            "created_at": float,
            "status": str,
            "flash_amount": float,
            "flash_amount_usd": float,
            "expected_profit_usd": float,
            "realised_profit_usd": float,
            "tip_lamports": int,
            "bundle_id": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db["lifecycle_events"].create(
        {"id": int, "attempt_id": str, "state": str, "at": float}, pk="id", if_not_exists=True
    )


_V3_ATTEMPT_COLUMNS = frozenset({"blockhash", "last_valid_block_height"})


def _migrate_v2(db: Database) -> None:
    """Lifecycle columns per state, integer base-unit amounts, approvals and mode audit."""
    attempts = db.table("bundle_attempts")
    if "status" in attempts.columns_dict:
        attempts.transform(rename={"status": "state"}, types={"flash_amount": int})
    opportunities = db.table("opportunities")
    if opportunities.columns_dict.get("amount_in") is float:
        opportunities.transform(types={"amount_in": int})
    for table, columns in (
        (opportunities, OPPORTUNITY_COLUMNS),
        (attempts, {k: v for k, v in ATTEMPT_COLUMNS.items() if k not in _V3_ATTEMPT_COLUMNS}),
        (db.table("lifecycle_events"), EVENT_COLUMNS),
    ):
        existing = table.columns_dict
        for name, kind in columns.items():
            if name not in existing:
                table.add_column(name, kind)
    db["approvals"].create(APPROVAL_COLUMNS, pk="id", if_not_exists=True)
    db["mode_changes"].create(MODE_CHANGE_COLUMNS, pk="id", if_not_exists=True)
    db["bundle_attempts"].create_index(["created_at"], if_not_exists=True)
    db["bundle_attempts"].create_index(["opportunity_id"], if_not_exists=True)
    db["bundle_attempts"].create_index(["state"], if_not_exists=True)
    db["lifecycle_events"].create_index(["attempt_id"], if_not_exists=True)
    db["approvals"].create_index(["opportunity_id"], if_not_exists=True)


TIP_OUTCOME_COLUMNS: dict[str, type] = {
    "id": _INT,
    "attempt_id": _TEXT,
    "at": _REAL,
    "tip_lamports": _INT,
    "landed": _INT,
}

LOOKUP_TABLE_COLUMNS: dict[str, type] = {
    "address": _TEXT,
    "authority": _TEXT,
    "created_slot": _INT,
    "addresses": _TEXT,
    "last_extended_slot": _INT,
    "deactivated_slot": _INT,
    "closed_at": _REAL,
    "updated_at": _REAL,
}

COMPUTE_SAMPLE_COLUMNS: dict[str, type] = {
    "id": _INT,
    "shape": _TEXT,
    "units": _INT,
    "at": _REAL,
    "source": _TEXT,
}

KILL_SWITCH_COLUMNS: dict[str, type] = {
    "id": _INT,
    "at": _REAL,
    "state": _TEXT,
    "reason": _TEXT,
}


def _migrate_v3(db: Database) -> None:
    """Execution memory: attempt blockhash validity, tip outcomes, lookup tables, CU samples, kill switch."""
    attempts = db.table("bundle_attempts")
    existing = attempts.columns_dict
    for name in ("blockhash", "last_valid_block_height"):
        if name not in existing:
            attempts.add_column(name, ATTEMPT_COLUMNS[name])
    db["tip_outcomes"].create(TIP_OUTCOME_COLUMNS, pk="id", if_not_exists=True)
    db["lookup_tables"].create(LOOKUP_TABLE_COLUMNS, pk="address", if_not_exists=True)
    db["compute_samples"].create(COMPUTE_SAMPLE_COLUMNS, pk="id", if_not_exists=True)
    db["kill_switch_events"].create(KILL_SWITCH_COLUMNS, pk="id", if_not_exists=True)
    db["compute_samples"].create_index(["shape", "id"], if_not_exists=True)


MIGRATIONS = ((1, _migrate_v1), (2, _migrate_v2), (3, _migrate_v3))


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 30000")
    if readonly:
        # Not `mode=ro`: a read-only open of a WAL file fails when its -shm file must be created.
        conn.execute("PRAGMA query_only = ON")
    return conn


def schema_version(db: Database) -> int:
    if "schema_version" not in db.table_names():
        return 0
    row = next(db.query("select max(version) as v from schema_version"))
    return int(row["v"] or 0)


def open_store(store_dir: Path, mode: Mode) -> Path:
    """Create or migrate the store for `mode`; returns its path. Safe to call any number of times."""
    path = store_path(store_dir, mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(path)
    try:
        db = Database(conn)
        db.enable_wal()
        db["schema_version"].create({"version": int, "applied_at": float}, pk="version", if_not_exists=True)
        db["store_meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
        _check_mode(db, path, mode)
        current = schema_version(db)
        if current > SCHEMA_VERSION:
            raise StoreError(f"{path}: schema version {current} is newer than this arbtui ({SCHEMA_VERSION})")
        for version, migrate in MIGRATIONS:
            if version <= current:
                continue
            with db.atomic():
                migrate(db)
                db.execute(
                    "insert into schema_version (version, applied_at) values (?, ?)", [version, time.time()]
                )
            log.info("store %s migrated to schema version %d", path.name, version)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: {exc}") from exc
    finally:
        conn.close()
    return path


def _check_mode(db: Database, path: Path, mode: Mode) -> None:
    rows = list(db.query("select value from store_meta where key = 'mode'"))
    if not rows:
        db.execute("insert into store_meta (key, value) values ('mode', ?)", [mode])
    elif rows[0]["value"] != mode:
        raise StoreError(f"{path}: this file belongs to mode {rows[0]['value']!r}, not {mode!r}")


# ---------------------------------------------------------------- writing


@dataclass
class _Write:
    sql: str
    params: tuple[Any, ...]


@dataclass
class _Flush:
    loop: asyncio.AbstractEventLoop | None
    future: asyncio.Future[None] | None = None
    done: threading.Event = field(default_factory=threading.Event)


_STOP = object()


def _upsert_sql(table: str, row: dict[str, Any], pk: str = "id") -> _Write:
    """Insert or update only the given columns (others keep their stored values)."""
    cols = list(row)
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != pk) or f"{pk} = excluded.{pk}"
    sql = (
        f"insert into {table} ({', '.join(cols)}) values ({', '.join('?' for _ in cols)}) "
        f"on conflict({pk}) do update set {updates}"
    )
    return _Write(sql, tuple(row[c] for c in cols))


def _insert_sql(table: str, row: dict[str, Any]) -> _Write:
    row = {k: v for k, v in row.items() if not (k == "id" and v is None)}
    cols = list(row)
    return _Write(
        f"insert into {table} ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})",
        tuple(row[c] for c in cols),
    )


class StoreWriter:
    """Queues writes from the event loop and commits them in batches from one worker thread.

    The enqueue methods never block; `await flush()` returns once everything queued before it is
    committed (the engine calls it before acting on a state it has just recorded).
    """

    def __init__(self, store_dir: Path, mode: Mode, *, max_batch: int = 1000) -> None:
        self.mode: Mode = mode
        self.path = open_store(store_dir, mode)
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._closed = False
        self.batches_committed = 0
        self._thread = threading.Thread(target=self._run, name=f"store-writer-{mode}", daemon=True)
        self._thread.start()

    @classmethod
    async def open(cls, store_dir: Path, mode: Mode, *, max_batch: int = 1000) -> StoreWriter:
        """Construct without blocking the event loop on migrations."""
        return await asyncio.to_thread(cls, store_dir, mode, max_batch=max_batch)

    async def __aenter__(self) -> StoreWriter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- enqueue (non-blocking, callable from any thread)

    def add_opportunity(self, opportunity: Opportunity) -> None:
        self._put(_upsert_sql("opportunities", to_row(opportunity)))

    def save_attempt(self, attempt: BundleAttempt) -> None:
        """Insert or fully replace an attempt row."""
        if attempt.mode != self.mode:
            raise StoreError(f"attempt {attempt.id} is {attempt.mode!r}; this store is {self.mode!r}")
        row = to_row(attempt)
        row["updated_at"] = row["updated_at"] or time.time()
        self._put(_upsert_sql("bundle_attempts", row))

    def update_attempt(self, attempt_id: str, **changes: Any) -> None:
        """Set some columns of an existing attempt (JSON fields are encoded)."""
        unknown = set(changes) - set(ATTEMPT_COLUMNS)
        if unknown:
            raise StoreError(f"unknown bundle_attempts columns: {', '.join(sorted(unknown))}")
        row = {k: (_json_or_none(v) if k in BundleAttempt.JSON_FIELDS else v) for k, v in changes.items()}
        row.setdefault("updated_at", time.time())
        sets = ", ".join(f"{k} = ?" for k in row)
        self._put(_Write(f"update bundle_attempts set {sets} where id = ?", (*row.values(), attempt_id)))

    def record_transition(self, event: LifecycleEvent) -> None:
        """Append the event and move the attempt to its state, stamping `<state>_at`."""
        if event.state not in STATES:
            raise StoreError(f"unknown lifecycle state {event.state!r}")
        self._put(_insert_sql("lifecycle_events", to_row(event)))
        self._put(
            _Write(
                f"update bundle_attempts set state = ?, {event.state}_at = ?, updated_at = ? where id = ?",
                (event.state, event.at, event.at, event.attempt_id),
            )
        )

    def add_event(self, event: LifecycleEvent) -> None:
        self._put(_insert_sql("lifecycle_events", to_row(event)))

    def add_approval(self, approval: Approval) -> None:
        self._put(_insert_sql("approvals", to_row(approval)))

    def add_mode_change(self, change: ModeChange) -> None:
        self._put(_insert_sql("mode_changes", to_row(change)))

    def add_tip_outcome(self, outcome: TipOutcome) -> None:
        self._put(_insert_sql("tip_outcomes", to_row(outcome)))

    def save_lookup_table(self, table: LookupTableRecord) -> None:
        row = to_row(table)
        row["updated_at"] = row["updated_at"] or time.time()
        self._put(_upsert_sql("lookup_tables", row, pk="address"))

    def add_compute_sample(self, sample: ComputeSample) -> None:
        self._put(_insert_sql("compute_samples", to_row(sample)))

    def add_kill_switch_event(self, event: KillSwitchEvent) -> None:
        self._put(_insert_sql("kill_switch_events", to_row(event)))

    def _put(self, item: Any) -> None:
        if self._closed:
            raise StoreError(f"{self.path.name}: writer is closed")
        self._queue.put(item)

    # -- completion

    async def flush(self) -> None:
        """Wait until every write queued so far is committed; re-raises a failed batch's error."""
        loop = asyncio.get_running_loop()
        marker = _Flush(loop, loop.create_future())
        self._put(marker)
        assert marker.future is not None
        await marker.future
        self._raise_pending()

    def flush_sync(self, timeout: float | None = None) -> None:
        marker = _Flush(None)
        self._put(marker)
        marker.done.wait(timeout)
        self._raise_pending()

    async def close(self) -> None:
        if self._closed:
            return
        await self.flush()
        self._closed = True
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)

    def close_sync(self) -> None:
        if self._closed:
            return
        self.flush_sync()
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise StoreError(f"{self.path.name}: write failed: {error}") from error

    # -- worker thread

    def _run(self) -> None:
        conn = _connect(self.path)
        db = Database(conn)
        try:
            while True:
                batch = [self._queue.get()]
                while len(batch) < self._max_batch:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = self._commit(db, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _commit(self, db: Database, batch: list[Any]) -> bool:
        writes = [item for item in batch if isinstance(item, _Write)]
        if writes:
            try:
                with db.atomic():
                    for write in writes:
                        db.conn.execute(write.sql, write.params)
                self.batches_committed += 1
            except Exception:
                # One bad write must not take its batch-mates down (nor the worker, or every
                # later flush would hang): replay them one by one and keep the first error.
                for write in writes:
                    try:
                        with db.atomic():
                            db.conn.execute(write.sql, write.params)
                    except Exception as exc:
                        log.error("store write failed: %s (%s)", exc, write.sql.split(" (")[0])
                        self._error = self._error or exc
        stop = False
        for item in batch:
            if isinstance(item, _Flush):
                if item.loop is not None and item.future is not None:
                    item.loop.call_soon_threadsafe(_resolve, item.future)
                item.done.set()
            elif item is _STOP:
                stop = True
        return stop


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# ---------------------------------------------------------------- reading


class StoreReader:
    """A read-only connection of its own; in WAL mode it never waits for the writer."""

    def __init__(self, store_dir: Path, mode: Mode) -> None:
        self.mode: Mode = mode
        self.path = open_store(store_dir, mode)
        self._conn = _connect(self.path, readonly=True)
        self.db = Database(self._conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params if isinstance(params, dict) else list(params)))

    def schema_version(self) -> int:
        return schema_version(self.db)

    def recent_attempts(self, limit: int = 50) -> list[BundleAttempt]:
        rows = self.query("select * from bundle_attempts order by created_at desc, id desc limit ?", [limit])
        return [from_row(BundleAttempt, row) for row in rows]

    def attempt(self, attempt_id: str) -> BundleAttempt | None:
        rows = self.query("select * from bundle_attempts where id = ?", [attempt_id])
        return from_row(BundleAttempt, rows[0]) if rows else None

    def attempts_for(self, opportunity_id: str) -> list[BundleAttempt]:
        rows = self.query(
            "select * from bundle_attempts where opportunity_id = ? order by attempt, created_at",
            [opportunity_id],
        )
        return [from_row(BundleAttempt, row) for row in rows]

    def unsettled_attempts(self) -> list[BundleAttempt]:
        """Attempts that reached no final state: what a restart must reconcile first."""
        placeholders = ", ".join("?" for _ in FINAL_STATES)
        rows = self.query(
            f"select * from bundle_attempts where state not in ({placeholders}) order by created_at",
            sorted(FINAL_STATES),
        )
        return [from_row(BundleAttempt, row) for row in rows]

    def opportunity(self, opportunity_id: str) -> Opportunity | None:
        rows = self.query("select * from opportunities where id = ?", [opportunity_id])
        return from_row(Opportunity, rows[0]) if rows else None

    def recent_opportunities(self, limit: int = 50) -> list[Opportunity]:
        rows = self.query("select * from opportunities order by detected_at desc limit ?", [limit])
        return [from_row(Opportunity, row) for row in rows]

    def events_for(self, attempt_id: str) -> list[LifecycleEvent]:
        rows = self.query("select * from lifecycle_events where attempt_id = ? order by id", [attempt_id])
        return [from_row(LifecycleEvent, row) for row in rows]

    def approvals(self, opportunity_id: str | None = None) -> list[Approval]:
        if opportunity_id is None:
            rows = self.query("select * from approvals order by id")
        else:
            rows = self.query(
                "select * from approvals where opportunity_id = ? order by id", [opportunity_id]
            )
        return [from_row(Approval, row) for row in rows]

    def mode_changes(self) -> list[ModeChange]:
        return [from_row(ModeChange, row) for row in self.query("select * from mode_changes order by id")]

    def tip_outcomes(self, limit: int) -> list[TipOutcome]:
        """The newest `limit` outcomes, oldest first."""
        rows = self.query("select * from tip_outcomes order by id desc limit ?", [limit])
        return [from_row(TipOutcome, {**row, "landed": bool(row["landed"])}) for row in reversed(rows)]

    def lookup_tables(self, *, include_closed: bool = False) -> list[LookupTableRecord]:
        where = "" if include_closed else "where closed_at is null"
        rows = self.query(f"select * from lookup_tables {where} order by created_slot, address")
        return [from_row(LookupTableRecord, row) for row in rows]

    def compute_samples(self, shape: str, limit: int) -> list[ComputeSample]:
        """The newest `limit` samples of one route shape, oldest first."""
        rows = self.query(
            "select * from compute_samples where shape = ? order by id desc limit ?", [shape, limit]
        )
        return [from_row(ComputeSample, row) for row in reversed(rows)]

    def compute_shapes(self) -> list[str]:
        rows = self.query("select distinct shape from compute_samples order by shape")
        return [row["shape"] for row in rows]

    def kill_switch_events(self) -> list[KillSwitchEvent]:
        rows = self.query("select * from kill_switch_events order by id")
        return [from_row(KillSwitchEvent, row) for row in rows]

    def count(self, table: str) -> int:
        if table not in set(TABLE_OF.values()):
            raise StoreError(f"unknown table {table!r}")
        return int(self.query(f"select count(*) as n from {table}")[0]["n"])

    def iter_attempts(self) -> Iterator[BundleAttempt]:
        for row in self.db.query("select * from bundle_attempts order by created_at"):
            yield from_row(BundleAttempt, row)
