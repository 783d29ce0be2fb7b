"""The block engine's core: accept bundles, run the auction every tick, keep statuses and tips.

Everything runs on the cluster's event loop thread (LiteSVM is not thread-safe). The HTTP server
(server.py) calls `submit` / the status views; competitors (competitors.py) call `submit` too,
so every bundle goes through the same sanitizer and the same auction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from solders.transaction import VersionedTransaction

from core.localnet import bundles, tx_inspect
from core.localnet.accounts import set_tip_accounts
from core.localnet.block_engine.auction import TickOutcome, run_tick
from core.localnet.block_engine.competitors import Competitors
from core.localnet.block_engine.config import DEFAULT_REGION, BlockEngineConfig
from core.localnet.block_engine.statuses import (
    FAILED,
    INVALID,
    LANDED,
    BundleBook,
    BundleRecord,
    bundle_id,
)
from core.localnet.block_engine.tip_floor import TipFloor
from core.localnet.cluster import Cluster, ClusterEvent, SlotEvent, TxEvent
from core.localnet.faults import Faults
from core.localnet.tx_errors import error_json, error_text
from core.protocols import ids

log = logging.getLogger(__name__)

_TIP_ACCOUNTS = frozenset(ids.JITO_TIP_ACCOUNTS)


@dataclass
class EngineStats:
    accepted: int = 0
    dropped: int = 0  # accepted but never forwarded (drop_bundle_rate)
    landed: int = 0
    failed: int = 0
    expired: int = 0
    auctions_lost: int = 0
    ticks: int = 0


def ensure_tip_accounts(cluster: Cluster) -> None:
    """The 8 mainnet tip accounts exist (genesis creates them; a cluster built otherwise gets them here)."""
    set_tip_accounts(cluster.svm)


class BlockEngine:
    """`autorun=False` leaves the tick to the caller (`tick()`), for tests that step time themselves."""

    def __init__(self, cluster: Cluster, config: BlockEngineConfig | None = None,
                 faults: Faults | None = None, *, autorun: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cluster = cluster
        self.config = config or BlockEngineConfig()
        self.faults = faults if faults is not None else cluster.faults
        self.autorun = autorun
        self.clock = clock
        self.book = BundleBook(self.config.lookback_s)
        self.queue: dict[str, BundleRecord] = {}  # pending, in arrival order
        self.tip_floor = TipFloor(self.config.tip_floor_window, self.config.tip_floor_ema_alpha)
        self.stats = EngineStats()
        self.rng = random.Random(self.config.seed)
        self.competitors: Competitors | None = None
        self._seq = 0
        self._pools_moved = False
        self._landed_this_slot = False
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        ensure_tip_accounts(self.cluster)
        if self.config.competitors is not None and self.config.competitors.count > 0:
            competitors = Competitors(self.cluster, self.config.competitors, self._competitor_submit,
                                      lambda bid: bid in self.queue)
            competitors.start()
            if competitors.pools:
                self.competitors = competitors
            else:
                log.warning("block engine: the scenario has no SOL pools, no competing searchers")
        self.cluster.add_listener(self._on_event)
        if self.autorun:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="block-engine-auction")

    async def stop(self) -> None:
        self.cluster.remove_listener(self._on_event)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        period = self.config.tick_ms / 1000.0
        while True:
            await asyncio.sleep(period)
            try:
                self.tick()
            except Exception:
                log.exception("block engine tick failed")

    def _on_event(self, event: ClusterEvent) -> None:
        if isinstance(event, SlotEvent):
            if self._landed_this_slot:
                self.tip_floor.close_slot()
                self._landed_this_slot = False
            self._pools_moved = True  # lost bundles compete again, searchers take a fresh look
        elif (isinstance(event, TxEvent) and self.competitors is not None and event.err is None
              and not self.competitors.watched.isdisjoint(event.mentions)):
            self._pools_moved = True

    # -- intake ----------------------------------------------------------------------------------
    def submit(self, txs: list[VersionedTransaction], region: str = DEFAULT_REGION, *,
               source: str | None = None, delay_s: float = 0.0) -> str:
        """Sanitize and queue a decoded bundle; returns its id. Raises bundles.BundleRejected."""
        bid = bundle_id(txs)
        existing = self.book.get(bid)
        if existing is not None:
            existing.regions.add(region)
            return bid
        tip = bundles.sanitize_bundle(self.cluster, txs)
        if self.faults.roll(self.faults.region(region).drop_bundle_rate):
            self.stats.dropped += 1
            return bid
        # Every bundle write-locks a tip account; Jito spreads tips over 8 accounts so that this does
        # not serialise the auction, so they are no conflict here.
        locks = bundles.write_locks(txs, self.cluster) - _TIP_ACCOUNTS
        requested_cu = sum(tx_inspect.compute_budget(tx.message).unit_limit for tx in txs)
        self._seq += 1
        record = BundleRecord(bid, txs, tip, requested_cu, locks, self.clock() + delay_s, self._seq,
                              source or region, {region})
        self.book.add(record)
        self.queue[bid] = record
        self.stats.accepted += 1
        return bid

    def _competitor_submit(self, txs: list[VersionedTransaction], name: str, delay_s: float) -> str:
        return self.submit(txs, DEFAULT_REGION, source=name, delay_s=delay_s)

    def searchers_act(self) -> list[str]:
        """The competing searchers look at the pools now and bid (ids of their new bundles)."""
        self._pools_moved = False
        return self.competitors.act() if self.competitors is not None else []

    # -- the auction -----------------------------------------------------------------------------
    def tick(self) -> TickOutcome:
        """One auction: searchers look at moved pools, then every ready bundle competes."""
        self.stats.ticks += 1
        now = self.clock()
        slot = self.cluster.slot
        self.book.prune(now)
        if self._pools_moved:
            self.searchers_act()
        candidates: list[BundleRecord] = []
        for record in list(self.queue.values()):
            if record.received > now or (record.lost_slot is not None and record.lost_slot >= slot):
                continue
            if not all(self.cluster.is_blockhash_valid(tx.message.recent_blockhash, "processed")
                       for tx in record.txs):
                self.stats.expired += 1
                self._finish_failed(record, "bundle expired: blockhash not found")
                continue
            candidates.append(record)
        outcome = run_tick(candidates, slot, self._execute)
        self.stats.auctions_lost += len(outcome.lost)
        return outcome

    def _execute(self, record: BundleRecord) -> bool:
        try:
            result = bundles.execute_bundle(self.cluster, record.txs)
        except bundles.BundleRejected as exc:  # e.g. a transaction landed meanwhile by another path
            self._finish_failed(record, exc.reason)
            return False
        except Exception as exc:
            log.exception("bundle %s: execution failed", record.bundle_id)
            self._finish_failed(record, f"internal error: {type(exc).__name__}")
            return False
        self.queue.pop(record.bundle_id, None)
        record.release()
        if result.landed:
            record.state = LANDED
            record.landed_slot = result.slot
            self.tip_floor.record(result.tip_lamports)
            self._landed_this_slot = True
            self.stats.landed += 1
            return True
        record.failed_index = result.failed_index
        record.err = result.err
        text = error_text(error_json(result.err)) if result.err is not None else "failed"
        self._finish_failed(record, f"transaction {result.failed_index} failed: {text}")
        return False

    def _finish_failed(self, record: BundleRecord, why: str) -> None:
        self.queue.pop(record.bundle_id, None)
        record.release()
        record.state = FAILED
        record.failure = why
        self.stats.failed += 1

    # -- status views ----------------------------------------------------------------------------
    def inflight_statuses(self, bundle_ids: list[str]) -> list[dict[str, Any]]:
        slot = self.cluster.slot
        unknown = {"status": INVALID, "landed_slot": None}
        return [self.book.inflight_status(bid, slot) or {"bundle_id": bid, **unknown} for bid in bundle_ids]

    def bundle_statuses(self, bundle_ids: list[str]) -> list[dict[str, Any] | None]:
        slot = self.cluster.slot
        out: list[dict[str, Any] | None] = []
        for bid in bundle_ids:
            record = self.book.get(bid)
            confirmation = (self.cluster.confirmation_status(record.landed_slot)
                            if record is not None and record.landed_slot is not None else "processed")
            out.append(self.book.landed_status(bid, slot, confirmation))
        return out

