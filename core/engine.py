"""The engine loop: market feed → cycle search → (pluggable) validate / build / submit / settle.

Everything the operator sees goes through the EventBus: Opportunity / OpportunityWithdrawn from the
search, FeedHealth and SlotTick from the feed, EngineState from here. The later pipeline stages
plug in as one async `handler(opportunity)`; it is fed from a queue that keeps only the freshest
opportunity per cycle (a newer quote of the same cycle replaces the waiting one, a withdrawal
removes it) and hands out the best net profit first. Nothing reaches the handler while the feed
is stale (disconnected, resyncing, or its state older than `search.max_state_age_slots`): what
waits is dropped, and what is taken while stale is counted in `stats.dropped_stale`.

Quoting runs on one worker thread that alone owns the SearchEngine: one pool's re-quote can take tens
of milliseconds (Whirlpool cycles sized across tick crossings), which the event loop must not wait
on. Each pool's events are handed back to the loop as soon as they exist, and the GIL switch
interval is lowered to 1 ms so the loop thread never waits long for the interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from solders.pubkey import Pubkey

from core.config import AppConfig
from core.events import EngineState, EventBus, FeedHealth, SlotTick
from core.feed.feed import FeedBatch, FeedEvent, MarketFeed
from core.feed.prices import UNPRICED, MintPrices
from core.protocols.ids import USDC_MINT
from core.search.engine import SearchEngine
from core.search.fees import FeeModel, solend_flash_fee
from core.search.opportunities import Opportunity, OpportunityWithdrawn
from core.search.pools import Pool

log = logging.getLogger(__name__)

Handler = Callable[[Opportunity], Awaitable[None]]

# Solend main-pool reserves: 0.05 % flash fee (flash_loan_fee_wad 5e14), 20 % of it to the host.
SOLEND_FLASH_LOAN_FEE_WAD = 500_000_000_000_000
SOLEND_HOST_FEE_PERCENTAGE = 20
USDC_DECIMALS = 6
# While the search thread quotes, the loop thread waits at most this long for the GIL.
GIL_SWITCH_INTERVAL_S = 0.001


class FreshestQueue:
    """Waiting opportunities, one per cycle (the newest quote), handed out best net profit first."""

    def __init__(self) -> None:
        self._items: dict[int, Opportunity] = {}
        self._ready = asyncio.Event()
        self.replaced = 0

    def put(self, opp: Opportunity) -> None:
        if self._items.pop(opp.cycle_id, None) is not None:
            self.replaced += 1
        self._items[opp.cycle_id] = opp
        self._ready.set()

    def discard(self, cycle_id: int) -> None:
        self._items.pop(cycle_id, None)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    async def get(self) -> Opportunity:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        best = max(self._items.values(), key=lambda o: o.net)
        del self._items[best.cycle_id]
        return best


@dataclass
class EngineStats:
    batches: int = 0
    pools_upserted: int = 0
    pools_removed: int = 0
    opportunities: int = 0
    withdrawn: int = 0
    handled: int = 0
    handler_errors: int = 0
    dropped_stale: int = 0
    longest_upsert_s: float = 0.0  # on the search thread, not the event loop


def default_fee_model(config: AppConfig, prices: MintPrices) -> FeeModel:
    """Solend's flash fee, one signature, the configured tip share and floor, SOL-priced conversions."""
    return FeeModel(
        flash_fee=solend_flash_fee(SOLEND_FLASH_LOAN_FEE_WAD, SOLEND_HOST_FEE_PERCENTAGE),
        lamports_to_loan=lambda mint, lamports: prices.from_lamports(mint, lamports, round_up=True),
        loan_to_lamports=lambda mint, amount: prices.to_lamports(mint, amount, round_up=False),
        tip_share_bps=round(config.jito.tip_percent * 100),
        min_tip_lamports=config.jito.min_tip_lamports,
        flash_rate_floor=SOLEND_FLASH_LOAN_FEE_WAD / 10**18,
    )


class Engine:
    """`await start()` … `await stop()`; events on `bus`, opportunities to `handler`."""

    def __init__(
        self,
        config: AppConfig,
        bus: EventBus,
        *,
        handler: Handler | None = None,
        rpc_url: str | None = None,
        ws_url: str | None = None,
        dexes: Iterable[str] | None = None,
        fee_model: FeeModel | None = None,
        flash_cap_fn: Callable[[Pubkey], int] | None = None,
        watchdog_s: float = 1.0,
    ) -> None:
        self.config = config
        self.bus = bus
        self.handler = handler
        s = config.search
        self.feed = MarketFeed(
            rpc_url or config.cluster.rpc_url, ws_url or config.cluster.ws_url,
            dexes=s.dexes if dexes is None else dexes,
            max_state_age_slots=s.max_state_age_slots, reconnect_min_s=s.reconnect_min_ms / 1000,
            reconnect_max_s=max(s.reconnect_min_ms, s.reconnect_max_ms) / 1000, watchdog_s=watchdog_s,
        )
        self.prices = MintPrices()
        self.fee_model = fee_model or default_fee_model(config, self.prices)
        self.loan_mints = s.loan_mint_keys()
        self.flash_cap = flash_cap_fn or self._flash_cap
        self.search = SearchEngine(self.loan_mints, self.flash_cap, self.fee_model)
        self.queue = FreshestQueue()
        self.stats = EngineStats()
        self.state = "stopped"
        self.processed_slot = 0
        self._inbox: asyncio.Queue[FeedEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._priced = False
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="engine-search")

    # ------------------------------------------------------------------ lifecycle

    @property
    def mode(self) -> str:
        return "dry-run" if self.config.mode.dry_run else "live"

    async def start(self) -> None:
        if self._tasks:
            return
        if sys.getswitchinterval() > GIL_SWITCH_INTERVAL_S:
            sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self.feed.add_listener(self._inbox.put_nowait)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._search_loop(), name="engine-search"))
        if self.handler is not None:
            self._tasks.append(loop.create_task(self._handler_loop(), name="engine-handler"))
        await self.feed.start()
        self._set_state("running")

    async def stop(self, reason: str = "") -> None:
        await self.feed.stop()
        self.feed.remove_listener(self._inbox.put_nowait)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        # The pool being quoted finishes on the worker; waiting for it must not hold the loop.
        executor = self._executor
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="engine-search")
        shutdown = functools.partial(executor.shutdown, True, cancel_futures=True)
        await asyncio.get_running_loop().run_in_executor(None, shutdown)
        self.queue.clear()
        self._set_state("stopped", reason)

    def _set_state(self, state: str, reason: str = "") -> None:
        self.state = state
        self.bus.publish(EngineState(state, self.mode, reason, "", self.config.cluster.name))

    async def wait_processed(self, slot: int, timeout: float = 20.0) -> None:
        """Until every feed batch cut at or before `slot` has gone through the search (tests, tools)."""
        async with asyncio.timeout(timeout):
            while self.processed_slot < slot or not self._inbox.empty():
                await asyncio.sleep(0.01)

    # ------------------------------------------------------------------ flash caps

    def _flash_cap(self, mint: Pubkey) -> int:
        """`flash_loan.max_amount_usdc` in the mint's base units (0 while the mint has no price)."""
        usdc_units = self.config.flash_loan.max_amount_usdc * 10**USDC_DECIMALS
        if mint == USDC_MINT:
            return usdc_units
        converted = self.prices.convert(usdc_units, USDC_MINT, mint)
        return converted if converted is not None and converted < UNPRICED else 0

    # ------------------------------------------------------------------ search stage

    async def _search_loop(self) -> None:
        while True:
            first = await self._inbox.get()
            items = [first]
            while not self._inbox.empty():
                items.append(self._inbox.get_nowait())
            batch_pools: dict[Pubkey, Pool] = {}
            batch_removed: set[Pubkey] = set()
            batch_slot = 0
            for item in items:
                if isinstance(item, FeedBatch):
                    # Coalesce what queued up meanwhile: only each pool's newest state is quoted.
                    for pool in item.pools:
                        batch_pools[pool.id] = pool
                        batch_removed.discard(pool.id)
                    for key in item.removed:
                        batch_pools.pop(key, None)
                        batch_removed.add(key)
                    batch_slot = max(batch_slot, item.slot)
                elif isinstance(item, FeedHealth):
                    if item.stale:
                        self.queue.clear()
                    self.bus.publish(item)
                elif isinstance(item, SlotTick):
                    self.bus.publish(item)
            if batch_pools or batch_removed:
                try:
                    await self._apply(list(batch_pools.values()), batch_removed)
                except Exception:
                    # The stage outlives any one batch; the pools come again with their next update.
                    log.exception("search stage failed on a batch of %d pools", len(batch_pools))
                self.stats.batches += 1
            if batch_slot:
                self.processed_slot = max(self.processed_slot, batch_slot)

    async def _apply(self, pools: list[Pool], removed: set[Pubkey]) -> None:
        if not self._priced:
            # Fee conversions and SOL flash caps use the prices of the first full load.
            self.prices.refresh(self.feed.pools())
            self._priced = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._apply_in_worker, loop, pools, removed)

    def _apply_in_worker(
        self, loop: asyncio.AbstractEventLoop, pools: list[Pool], removed: set[Pubkey]
    ) -> None:
        """The search's only thread: each pool's events go back to the loop as soon as they exist."""
        for key in removed:
            loop.call_soon_threadsafe(self._publish, self.search.remove_pool(key))
            self.stats.pools_removed += 1
        for pool in pools:
            started = time.perf_counter()
            try:
                events = self.search.upsert_pool(pool)
            except Exception:
                # One pool the search cannot take must not stop the others (it is logged, not quoted).
                log.exception("search rejected pool %s", pool.id)
                continue
            self.stats.longest_upsert_s = max(self.stats.longest_upsert_s, time.perf_counter() - started)
            self.stats.pools_upserted += 1
            if events:
                loop.call_soon_threadsafe(self._publish, events)

    async def top(self, n: int) -> list[Opportunity]:
        """The search's n best opportunities, read on the search thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.search.top, n)

    def _publish(self, events: list[Opportunity | OpportunityWithdrawn]) -> None:
        current = self.feed.current
        for event in events:
            self.bus.publish(event)
            if isinstance(event, Opportunity):
                self.stats.opportunities += 1
                if self.handler is not None and current:
                    self.queue.put(event)
            else:
                self.stats.withdrawn += 1
                self.queue.discard(event.cycle_id)

    # ------------------------------------------------------------------ handler stage

    async def _handler_loop(self) -> None:
        assert self.handler is not None
        while True:
            opp = await self.queue.get()
            # A waiting opportunity is always its cycle's latest quote (a newer one replaces it, a
            # withdrawal removes it), so it is as fresh as the feed: what must be checked is the feed.
            if not self.feed.current:
                self.stats.dropped_stale += 1
                continue
            try:
                await self.handler(opp)
                self.stats.handled += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.handler_errors += 1
                log.exception("opportunity handler failed on %s", opp.id)

