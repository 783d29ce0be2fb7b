"""The engine loop: market feed → cycle search → (pluggable) validate / build / submit / settle.

Everything the operator sees goes through the EventBus: Opportunity / OpportunityWithdrawn from the
search, FeedHealth and SlotTick from the feed, EngineState from here. The later pipeline stages
plug in as one async `handler(opportunity)`; it is fed from a queue that keeps only the freshest
opportunity per cycle (a newer quote of the same cycle replaces the waiting one, a withdrawal
removes it) and hands out the best net profit first. Nothing reaches the handler while the feed
is stale (disconnected, resyncing, or its state older than `search.max_state_age_slots`): what
waits is dropped, and what is taken while stale is counted in `stats.dropped_stale`.

Quoting runs on one worker thread that alone owns the SearchEngine: a pool whose update makes many
cycles profitable takes a few milliseconds to re-size them all, which the event loop must not wait
on. Each pool's events are handed back to the loop as soon as they exist, and the worker offers the
GIL between pools, so the loop waits at most one pool's quoting or the interpreter's switch interval
(the process-wide interval is left as it is).

Fees: the flash fee is the configured provider's (`flash_loan.provider`; `auto` = the cheapest of
them per amount). The schedules here are the genesis / mainnet main-market defaults; a deployment
whose reserves charge otherwise passes `flash_fee=` schedules built from the reserves it read
(core/search/fees.py). Lamport costs (network fee, tip) are converted with SOL prices read off the
market, refreshed whenever a SOL-paired pool moves; opportunities of the loan mints whose price
moved are then re-priced (SearchEngine.refresh_costs).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from solders.pubkey import Pubkey

from core.config import AppConfig
from core.events import EngineState, EventBus, FeedHealth, MarketPrices, MintPrice, SlotTick
from core.feed.feed import FeedBatch, FeedEvent, MarketFeed
from core.feed.prices import UNPRICED, MintPrices
from core.metrics import Metrics
from core.protocols.ids import NATIVE_MINT, USDC_MINT
from core.search.engine import SearchEngine
from core.search.fees import (
    FeeModel,
    FlashFeeSchedule,
    cheapest_schedule,
    free_schedule,
    kamino_schedule,
    solend_schedule,
)
from core.search.opportunities import Opportunity, OpportunityWithdrawn
from core.search.pools import Pool

log = logging.getLogger(__name__)

Handler = Callable[[Opportunity], Awaitable[None]]

# Solend main-pool reserves: 0.05 % flash fee (flash_loan_fee_wad 5e14), 20 % of it to the host.
SOLEND_FLASH_LOAN_FEE_WAD = 500_000_000_000_000
SOLEND_HOST_FEE_PERCENTAGE = 20
# Kamino reserves of the genesis: 0.001 % (flash_loan_fee_sf = 1e-5 in U68F60).
KAMINO_FLASH_LOAN_FEE_SF = 11_529_215_046_068
USDC_DECIMALS = 6


def default_flash_schedules() -> dict[str, FlashFeeSchedule]:
    """Each provider's flash fee as the genesis (and mainnet main markets) set it; MarginFi banks
    carry no protocol_origination_fee there, so its flash loans are free."""
    return {
        "solend": solend_schedule(SOLEND_FLASH_LOAN_FEE_WAD, SOLEND_HOST_FEE_PERCENTAGE),
        "marginfi": free_schedule("marginfi"),
        "kamino": kamino_schedule(KAMINO_FLASH_LOAN_FEE_SF),
    }


def flash_schedule(provider: str, schedules: dict[str, FlashFeeSchedule] | None = None) -> FlashFeeSchedule:
    """The schedule of `flash_loan.provider`; "auto" is the cheapest of all per amount (it assumes
    the cheapest lender has the liquidity; the flash cap is what bounds the amount)."""
    known = default_flash_schedules() if schedules is None else schedules
    if provider == "auto":
        return cheapest_schedule(list(known.values()))
    if provider not in known:
        raise ValueError(f"no flash fee schedule for provider {provider!r}")
    return known[provider]


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
    repriced: int = 0  # events from re-pricing after a SOL price move


def default_fee_model(
    config: AppConfig, prices: MintPrices, flash_fee: dict[str, FlashFeeSchedule] | None = None
) -> FeeModel:
    """The configured provider's flash fee, one signature, the configured tip share and floor,
    SOL-priced conversions. `flash_fee`: schedules by provider name (default: default_flash_schedules)."""
    schedule = flash_schedule(config.flash_loan.provider, flash_fee)
    return FeeModel(
        flash_fee=schedule.fee,
        lamports_to_loan=lambda mint, lamports: prices.from_lamports(mint, lamports, round_up=True),
        loan_to_lamports=lambda mint, amount: prices.to_lamports(mint, amount, round_up=False),
        tip_share_bps=round(config.jito.tip_percent * 100),
        min_tip_lamports=config.jito.min_tip_lamports,
        flash_rate_floor=schedule.rate_floor,
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
        flash_fee: dict[str, FlashFeeSchedule] | None = None,
        flash_cap_fn: Callable[[Pubkey], int] | None = None,
        watchdog_s: float = 1.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.bus = bus
        self.handler = handler
        self.metrics = metrics  # account update received → opportunity detected, per opportunity
        s = config.search
        self.feed = MarketFeed(
            rpc_url or config.cluster.rpc_url, ws_url or config.cluster.ws_url,
            dexes=s.dexes if dexes is None else dexes,
            max_state_age_slots=s.max_state_age_slots, reconnect_min_s=s.reconnect_min_ms / 1000,
            reconnect_max_s=max(s.reconnect_min_ms, s.reconnect_max_ms) / 1000, watchdog_s=watchdog_s,
        )
        self.prices = MintPrices()
        # flash_fee: schedules by provider built from the reserves a deployment read (default: the
        # genesis / main-market ones); ignored when a whole fee_model is given.
        self.fee_model = fee_model or default_fee_model(config, self.prices, flash_fee)
        self.loan_mints = s.loan_mint_keys()
        self.flash_cap = flash_cap_fn or self._flash_cap
        # Opportunity ids name rows in the store: numbered from the microsecond clock, a restarted
        # engine's never meet an earlier run's (that would need over a million events a second).
        self.search = SearchEngine(self.loan_mints, self.flash_cap, self.fee_model,
                                   first_event_id=time.time_ns() // 1000)
        self.queue = FreshestQueue()
        self.stats = EngineStats()
        self.state = "stopped"
        self.processed_slot = 0
        self._inbox: asyncio.Queue[FeedEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._priced = False
        self._sol_pools: dict[Pubkey, Pool] = {}  # the market's SOL pairs, what prices are read from
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="engine-search")

    # ------------------------------------------------------------------ lifecycle

    @property
    def mode(self) -> str:
        return "dry-run" if self.config.mode.dry_run else "live"

    async def start(self) -> None:
        if self._tasks:
            return
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
            received_ns = 0
            for item in items:
                if isinstance(item, FeedBatch):
                    if item.received_ns and (not received_ns or item.received_ns < received_ns):
                        received_ns = item.received_ns
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
                    await self._apply(list(batch_pools.values()), batch_removed, batch_slot, received_ns)
                except Exception:
                    # The stage outlives any one batch; the pools come again with their next update.
                    log.exception("search stage failed on a batch of %d pools", len(batch_pools))
                self.stats.batches += 1
            if batch_slot:
                self.processed_slot = max(self.processed_slot, batch_slot)

    async def _apply(self, pools: list[Pool], removed: set[Pubkey], slot: int, received_ns: int = 0) -> None:
        repriced = self._refresh_prices(pools, removed)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self._executor, self._apply_in_worker, loop, pools, removed, repriced, slot, received_ns
        )

    def _refresh_prices(self, pools: list[Pool], removed: set[Pubkey]) -> set[Pubkey]:
        """Re-read SOL prices when a SOL-paired pool moved; the loan mints whose price changed.

        Runs on the loop between worker runs (the worker only reads prices, and never while this runs).
        Prices come from SOL-paired pools only, so those are kept here: a batch never rebuilds the
        feed's whole market.
        """
        sol_pools = self._sol_pools
        if not self._priced:
            sol_pools.update((p.id, p) for p in self.feed.pools() if NATIVE_MINT in (p.mint_a, p.mint_b))
        else:
            moved = False
            for pool in pools:
                if NATIVE_MINT in (pool.mint_a, pool.mint_b):
                    sol_pools[pool.id] = pool
                    moved = True
                elif sol_pools.pop(pool.id, None) is not None:
                    moved = True
            for key in removed:
                moved |= sol_pools.pop(key, None) is not None
            if not moved:
                return set()
        before = {m: self.prices.lamports_per_unit(m) for m in self.loan_mints}
        self.prices.refresh(sol_pools.values())
        usd = self.prices.usd_per_unit(USDC_MINT)
        self.bus.publish(MarketPrices(tuple(MintPrice(str(m), p) for m, p in usd.items())))
        first = not self._priced
        self._priced = True
        if first:
            return set()
        changed = {m for m in self.loan_mints if self.prices.lamports_per_unit(m) != before[m]}
        if USDC_MINT in changed:
            # Flash caps are set in USDC: every other loan mint's cap moved with its USDC price.
            changed.update(self.loan_mints)
        return changed

    def _apply_in_worker(
        self, loop: asyncio.AbstractEventLoop, pools: list[Pool], removed: set[Pubkey],
        repriced: set[Pubkey], slot: int, received_ns: int = 0,
    ) -> None:
        """The search's only thread: each pool's events go back to the loop as soon as they exist."""
        for key in removed:
            loop.call_soon_threadsafe(self._publish, self.search.remove_pool(key))
            self.stats.pools_removed += 1
        for pool in pools:
            # Offer the GIL between pools: the loop thread takes it now rather than after the
            # interpreter's switch interval.
            time.sleep(0)
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
                loop.call_soon_threadsafe(self._publish, events, received_ns)
        if repriced:
            # Lamport costs (and SOL flash caps) of these loan mints moved with the SOL price.
            events = self.search.refresh_costs(repriced, slot)
            self.stats.repriced += len(events)
            if events:
                loop.call_soon_threadsafe(self._publish, events)

    async def top(self, n: int) -> list[Opportunity]:
        """The search's n best opportunities, read on the search thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.search.top, n)

    def _publish(self, events: list[Opportunity | OpportunityWithdrawn], received_ns: int = 0) -> None:
        current = self.feed.current
        latency = self.metrics.detection_latency_seconds if self.metrics is not None and received_ns else None
        for event in events:
            self.bus.publish(event)
            if isinstance(event, Opportunity):
                if latency is not None:
                    latency.observe(max(event.detected_at_ns - received_ns, 0) / 1e9)
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

