"""The market feed: pools loaded over RPC, kept current over one websocket, handed out per slot.

Per connection: subscribe (slots, pool programs, tick arrays, vaults), then resync — list every
pool with getProgramAccounts and fetch every vault and window tick array with
getMultipleAccounts, all with minContextSlot = the newest slot seen — then read notifications.
Subscribing before fetching means nothing that lands in between is missed (see market_state for
how a fetch and a notification of the same slot are ordered). The first connection is just a
resync from nothing; a reconnect refetches everything and re-publishes only the pools whose
accounts changed meanwhile.

Updates are applied at slot boundaries: notifications of slot S are buffered and applied when the
slot notification for S+1 (or any notification of a later slot) arrives, so the search never sees
a pool whose coin vault moved but whose pc vault has not yet. A swap that lands in slot S reaches
the listener as a FeedBatch with `slot` S+1: one slot.

Listeners get FeedBatch (pools to upsert/remove), FeedHealth and SlotTick, in order, from the
event loop thread; they must not block.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from solana.rpc.websocket_api import SolanaWsClient
from solders.pubkey import Pubkey

from core.events import FeedHealth, SlotTick
from core.feed.backoff import Backoff
from core.feed.loader import POOL_FILTERS, RpcReader
from core.feed.market_state import DEXES, AccountUpdate, MarketState
from core.feed.staleness import Freshness
from core.feed.subscriptions import Subscriptions, to_update
from core.search.pools import Pool

log = logging.getLogger(__name__)

# Work done between two yields to the event loop while applying a large fetch.
YIELD_EVERY_S = 0.002
NOTIFICATION_QUEUE = 200_000
# Rounds of "fetch what newly became needed" (new pools' vaults, tick arrays entering the window).
FILL_ROUNDS = 4


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """Pools that changed, as of `slot` (the feed's synced slot when it was cut)."""

    slot: int
    pools: tuple[Pool, ...]
    removed: tuple[Pubkey, ...]
    # time.monotonic_ns() when the batch's first account notification arrived (0: not from one).
    received_ns: int = 0


FeedEvent = FeedBatch | FeedHealth | SlotTick
Listener = Callable[[FeedEvent], None]


@dataclass
class FeedStats:
    connects: int = 0
    disconnects: int = 0
    resyncs: int = 0
    notifications: int = 0
    applied: int = 0
    fetched_accounts: int = 0
    batches: int = 0
    subscriptions: int = 0
    last_error: str = ""
    reconnect_delays: deque[float] = field(default_factory=lambda: deque(maxlen=100))  # the latest


class MarketFeed:
    """`await start()`, then listeners receive FeedEvents until `await stop()`."""

    def __init__(
        self,
        rpc_url: str,
        ws_url: str,
        *,
        dexes: Iterable[str] = DEXES,
        max_state_age_slots: int = 4,
        reconnect_min_s: float = 0.1,
        reconnect_max_s: float = 5.0,
        watchdog_s: float = 1.0,
        health_every_slots: int = 10,
        rng: random.Random | None = None,
    ) -> None:
        self.rpc_url = rpc_url
        self.ws_url = ws_url
        self.dexes = tuple(dexes)
        self.state = MarketState(self.dexes)
        self.freshness = Freshness(max_state_age_slots)
        self.stats = FeedStats()
        self.backoff = Backoff(reconnect_min_s, reconnect_max_s, rng or random.Random())
        self.watchdog_s = watchdog_s
        self.health_every_slots = max(1, health_every_slots)
        self._listeners: list[Listener] = []
        self._rpc: RpcReader | None = None
        self._ws: SolanaWsClient | None = None
        self._subs: Subscriptions | None = None
        self._pending: dict[int, list[AccountUpdate]] = {}
        self._dirty: set[Pubkey] = set()
        # When each pending slot's first notification arrived, and the earliest one in the next batch.
        self._received_ns: dict[int, int] = {}
        self._batch_received_ns = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._fill_task: asyncio.Task[None] | None = None
        self._last_health: tuple[bool, bool] | None = None
        self._last_health_slot = 0
        self._first_sync = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    def add_listener(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(fn)

    async def start(self) -> None:
        self._rpc = RpcReader(self.rpc_url)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._run(), name="feed-connection"),
            loop.create_task(self._watchdog(), name="feed-watchdog"),
        ]

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Until the first load has completed."""
        await asyncio.wait_for(self._first_sync.wait(), timeout)

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._fill_task] if self._fill_task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
            self._ws = None
        if self._rpc is not None:
            await self._rpc.close()
            self._rpc = None

    def drop_connection(self) -> None:
        """Close the websocket (the feed reconnects and resyncs); for operators and tests."""
        if self._ws is not None:
            asyncio.get_running_loop().create_task(self._ws.close())

    # ------------------------------------------------------------------ reads

    @property
    def current(self) -> bool:
        return self.freshness.current

    @property
    def synced_slot(self) -> int:
        return self.freshness.synced_slot

    def pools(self) -> list[Pool]:
        return self.state.pools()

    def health(self, reason: str = "") -> FeedHealth:
        f = self.freshness
        return FeedHealth(
            connected=f.connected, slot=f.cluster_slot, stale_slots=f.age_slots,
            pools=len(self.state.entries),
            reason=reason, stale=not f.current, decode_errors=self.state.decode_error_count,
        )

    # ------------------------------------------------------------------ connection loop

    async def _run(self) -> None:
        while True:
            reason = ""
            try:
                await self._connection()
                reason = "websocket closed"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of one connection ends only that connection
                reason = f"{type(exc).__name__}: {exc}".strip()
                if not _expected(exc):
                    log.exception("feed connection failed")
                else:
                    log.warning("feed: %s", reason)
            self.stats.disconnects += 1
            self.stats.last_error = reason
            self._disconnected(reason)
            delay = self.backoff.next_delay()
            self.stats.reconnect_delays.append(delay)
            await asyncio.sleep(delay)

    async def _connection(self) -> None:
        ws = SolanaWsClient(self.ws_url, notification_queue_size=NOTIFICATION_QUEUE, max_size=None,
                            ping_interval=20, ping_timeout=20, close_timeout=2)
        self._ws = ws
        try:
            await ws.connect()
            self.stats.connects += 1
            self.freshness.connected = True
            subs = self._subs = Subscriptions(ws)
            await subs.open_market(self.dexes)
            await self._resync(subs)
            self.backoff.reset()
            self._publish_health("resynced", force=True)
            while True:
                note = await ws.recv()
                self.stats.notifications += 1
                item = to_update(note, subs.account_of)
                if item is None:
                    continue
                if isinstance(item, int):
                    await self._on_slot(item)
                else:
                    await self._on_update(item)
        finally:
            self._subs = None
            self._ws = None
            with contextlib.suppress(Exception):
                await ws.close()

    def _disconnected(self, reason: str) -> None:
        self.freshness.connected = False
        self.freshness.synced = False
        self._pending.clear()  # the resync refetches whatever these would have said
        self._received_ns.clear()
        if self._fill_task is not None:
            self._fill_task.cancel()
            self._fill_task = None
        self._publish_health(reason or "disconnected", force=True)

    async def _resync(self, subs: Subscriptions) -> None:
        rpc = self._require_rpc()
        self.stats.resyncs += 1
        min_slot = self.freshness.cluster_slot or None
        await subs.cover_vaults(self.state.vaults_by_owner())
        slots: list[int] = []
        for dex in self.dexes:
            program, filters = POOL_FILTERS[dex]
            slot, updates = await rpc.program_accounts(program, filters, min_slot)
            slots.append(slot)
            await self._apply_all(updates)
            self._dirty |= self.state.forget_missing_pools(dex, {u.pubkey for u in updates}, slot)
        keys = self.state.tracked_accounts()
        if keys:
            slot, updates = await rpc.multiple_accounts(keys, min_slot)
            slots.append(slot)
            await self._apply_all(updates)
        slots.extend(await self._fill(subs, min_slot))
        synced = min(slots) if slots else await rpc.get_slot()
        self.freshness.synced = True
        self.freshness.synced_to(synced)
        self.stats.subscriptions = subs.count
        self._emit_batch(synced)
        self._first_sync.set()

    async def _fill(self, subs: Subscriptions, min_slot: int | None) -> list[int]:
        """Subscribe, then fetch, whatever new pools need; repeated while the answer adds needs."""
        rpc = self._require_rpc()
        slots: list[int] = []
        for _ in range(FILL_ROUNDS):
            await subs.cover_vaults(self.state.vaults_by_owner())
            needed = self.state.needed_accounts()
            if not needed:
                break
            slot, updates = await rpc.multiple_accounts(needed, min_slot)
            slots.append(slot)
            await self._apply_all(updates)
        return slots

    async def _apply_all(self, updates: list[AccountUpdate]) -> None:
        self.stats.fetched_accounts += len(updates)
        started = time.perf_counter()
        for u in updates:
            self.freshness.saw_slot(u.slot)
            self._dirty |= self.state.apply(u)
            if time.perf_counter() - started > YIELD_EVERY_S:
                await asyncio.sleep(0)
                started = time.perf_counter()

    def _schedule_fill(self) -> None:
        subs = self._subs
        if subs is None or (self._fill_task is not None and not self._fill_task.done()):
            return
        if not self.state.needed_accounts() and not self._uncovered_vaults(subs):
            return

        async def fill() -> None:
            try:
                await self._fill(subs, self.freshness.cluster_slot or None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The next notification retries; a dead connection is noticed by the reader.
                log.warning("feed: fetching new pools' accounts failed: %s", exc)

        self._fill_task = asyncio.get_running_loop().create_task(fill(), name="feed-fill")

    def _uncovered_vaults(self, subs: Subscriptions) -> bool:
        return any(owner not in subs.owners and any(v not in subs.accounts for v in vaults)
                   for owner, vaults in self.state.vaults_by_owner().items())

    # ------------------------------------------------------------------ notifications

    async def _on_update(self, update: AccountUpdate) -> None:
        self.freshness.saw_slot(update.slot)
        if any(s < update.slot for s in self._pending):
            await self._flush(update.slot)
        if update.slot not in self._pending:
            self._received_ns[update.slot] = time.monotonic_ns()
        self._pending.setdefault(update.slot, []).append(update)

    async def _on_slot(self, slot: int) -> None:
        self.freshness.saw_slot(slot)
        await self._flush(slot)
        if self.freshness.synced:
            self.freshness.synced_to(slot)
        self._emit(SlotTick(slot))
        if slot - self._last_health_slot >= self.health_every_slots:
            self._publish_health("", force=True)
        else:
            self._publish_health("")

    async def _flush(self, below: int) -> None:
        """Apply every buffered update of a slot before `below`, then hand out the changed pools.

        Decoding is the feed's only real work (a tick array is ~0.5 ms), so a busy slot yields to
        the loop every YIELD_EVERY_S; the batch still goes out whole, after its last update.
        """
        started = time.perf_counter()
        for slot in sorted(s for s in self._pending if s < below):
            received = self._received_ns.pop(slot, 0)
            if received and (not self._batch_received_ns or received < self._batch_received_ns):
                self._batch_received_ns = received
            for update in self._pending.pop(slot):
                self.stats.applied += 1
                self._dirty |= self.state.apply(update)
                if time.perf_counter() - started > YIELD_EVERY_S:
                    await asyncio.sleep(0)
                    started = time.perf_counter()
        self._emit_batch(max(below, self.freshness.synced_slot))
        self._schedule_fill()

    def _emit_batch(self, slot: int) -> None:
        if not self._dirty:
            return
        pools: list[Pool] = []
        removed: list[Pubkey] = []
        for key in self._dirty:
            pool = self.state.pool(key)
            if pool is None:
                removed.append(key)
            else:
                pools.append(pool)
        self._dirty = set()
        self.stats.batches += 1
        received, self._batch_received_ns = self._batch_received_ns, 0
        self._emit(FeedBatch(slot, tuple(pools), tuple(removed), received))

    # ------------------------------------------------------------------ health

    def _publish_health(self, reason: str, *, force: bool = False) -> None:
        key = (self.freshness.connected, self.freshness.current)
        if not force and key == self._last_health:
            return
        self._last_health = key
        self._last_health_slot = self.freshness.cluster_slot
        self._emit(self.health(reason))

    async def _watchdog(self) -> None:
        """getSlot now and then: notices a websocket that went quiet while the cluster moved on."""
        last_notes = -1
        while True:
            await asyncio.sleep(self.watchdog_s)
            rpc = self._rpc
            if rpc is None:
                continue
            try:
                self.freshness.saw_slot(await rpc.get_slot())
            except Exception as exc:
                log.debug("feed watchdog: getSlot failed: %s", exc)
                continue
            self._publish_health("state older than the newest slot" if not self.current else "")
            notes = self.stats.notifications
            if self.freshness.synced and notes == last_notes and not self.current:
                log.warning("feed: websocket silent while the cluster advanced; reconnecting")
                self.drop_connection()
            last_notes = notes

    # ------------------------------------------------------------------ plumbing

    def _emit(self, event: FeedEvent) -> None:
        for fn in list(self._listeners):
            try:
                fn(event)
            except Exception:
                log.exception("feed listener %r failed", fn)

    def _require_rpc(self) -> RpcReader:
        if self._rpc is None:
            raise RuntimeError("feed not started")
        return self._rpc


def _expected(exc: BaseException) -> bool:
    from websockets.exceptions import WebSocketException

    from core.feed.loader import RpcFailure

    return isinstance(exc, (WebSocketException, *RpcFailure, ConnectionError))
