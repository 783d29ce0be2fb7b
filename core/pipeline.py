"""The engine's trading path behind the approval queue: validate → (approval) → re-check → send → settle.

`FlashLoanPipeline` implements `core.runtime.Pipeline` with the flash-loan executor's own pieces
(`FlashLoanExecutor.prepare`: size under the graduated caps, pick the provider, build, validate
including a simulation) and the execution layer's `Submitter` (multi-region Jito, dynamic tips,
retries, settlement from on-chain balances).

One attempt is one row in the mode's store, moved through the lifecycle by `Lifecycle` (each state
committed before it is published or acted on):

    prepare   detected → validated → awaiting_approval      (or → rejected, naming the failing check)
    recheck   awaiting_approval → rejected                   only when it no longer passes
    dispatch  dry-run: → approved → simulated                (never sendTransaction / sendBundle)
              live:    → approved → simulated → submitted → landed/failed/dropped → settled
                       (the Submitter continues the same row; a retry is a further row)

Dry-run holds no signing key: transactions are built for the wallet's public key with a
placeholder signature and simulated with sigVerify off. Live signs with the ModeController's
signer, handed in by the Runtime on each dispatch, and never loads a key itself. The kill switch
is consulted before anything is sent, here and again by the Submitter before each send.

Execution policy, the same in both modes (dry-run rehearses exactly what live would send):
- the tip is `DynamicTip`'s decision at the first build, on the profit left after every other
  cost, capped so `flash_loan.min_profit_usd` remains (else the candidate is refused, `tip_cap`);
  the TipPolicy event carries the inputs of the tip actually used;
- the CU limit comes from `ComputeBudgetPlanner` (per route shape, learned from every simulation
  and landing, persisted), the CU price from getRecentPrioritizationFees over the transaction's
  writable accounts at `compute.fee_percentile` for its urgency (how far its profit clears the
  minimum);
- `LookupTableManager` counts the accounts of every built route; in live mode tables are created
  and extended from the first candidate on (never in dry-run: it sends nothing), every build
  compiles with the tables that are warm, and tables left unused are deactivated and closed.
  Tables are persisted in the live store and reused after a restart;
- live, at most one bundle of ours writes a pool at a time: a cycle through a pool with a bundle
  still out is passed over and handed back (`on_free`) once it is decided, so the bot never races
  its own bundles for one gap; a quote of a pool state older than our own landing on it, or whose
  best net is under the minimum or leaves no room for the live tip floor, is not built at all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from solana.rpc.async_api import AsyncClient
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from core.approvals import Candidate
from core.config import AppConfig
from core.events import EventBus, TipPolicy, TokenList, TokenMeta
from core.execution.alt_manager import LookupTableError, LookupTableManager
from core.execution.compute import ComputeBudgetPlanner, Urgency, priority_fee, route_shape
from core.execution.flashloan_submit import flash_loan_submit
from core.execution.jito_client import JitoClient
from core.execution.kill_switch import KillSwitch
from core.execution.lifecycle import Lifecycle
from core.execution.rpc import JsonRpc, RpcError
from core.execution.submitter import Submitter
from core.execution.tips import DynamicTip, TipDecision, TipHistory
from core.flashloan.executor import FlashLoanExecutor, Prepared, Pricer, stored_opportunity
from core.flashloan.profitability import LoanPrices, PriceError
from core.flashloan.provider import FlashLoanProvider
from core.keypair import Signer
from core.metrics import Metrics
from core.mode import StoreSet
from core.protocols import ids
from core.search.opportunities import Opportunity
from core.store import BundleAttempt, Mode, StoreError, StoreReader, store_exists

log = logging.getLogger(__name__)

# Prepared candidates kept for the approval queue; the queue's TTL drops them long before this.
MAX_REMEMBERED = 1_000
CLOSE_GRACE_S = 5.0
# A clean stop waits this long for bundles in flight to be decided (landed, or their blockhash
# expired: 150 blocks, about a minute on mainnet, 7.5 s on the local cluster) so it leaves nothing
# `submitted` behind; what is still out after it is reconciled by the next start.
CLOSE_DRAIN_S = 90.0
TIP_FLOOR_REFRESH_S = 10.0
FIRST_TIP_FLOOR_WAIT_S = 1.0
# Profit / minimum profit at or above which a transaction is that urgent (its fee percentile).
URGENCY_STEPS: tuple[tuple[float, Urgency], ...] = ((10.0, "critical"), (4.0, "high"), (2.0, "medium"))

# Row columns a re-check measures afresh (the approved row shows what was actually sent).
_RECHECKED_FIELDS = (
    "provider", "flash_amount", "flash_amount_usd", "expected_profit", "expected_profit_usd",
    "tip_lamports", "fee_lamports", "cu_limit", "cu_price_micro_lamports", "validation_results",
)


class FlashLoanPipeline:
    """`core.runtime.Pipeline` over the flash-loan executor and the Submitter.

    owner: the wallet's public key (the transactions are built for it, signed only at dispatch);
    stores: the Runtime's StoreSet (rows go to the file of the mode they were made in);
    kill_switch: the Runtime's; jito_http: shared client for the block engines (created if None).
    """

    def __init__(
        self,
        *,
        config: AppConfig,
        client: AsyncClient,
        owner: Pubkey,
        providers: Sequence[FlashLoanProvider],
        pricer: Pricer,
        stores: StoreSet,
        bus: EventBus,
        kill_switch: KillSwitch | None = None,
        metrics: Metrics | None = None,
        rpc_url: str | None = None,
        jito_http: httpx.AsyncClient | None = None,
        poll_interval_s: float = 0.2,
        owns_client: bool = False,
    ) -> None:
        self.config = config
        self.client = client
        self.owner = owner
        self.stores = stores
        self.bus = bus
        self.kill_switch = kill_switch
        self.metrics = metrics
        self.rpc_url = rpc_url or config.cluster.rpc_url
        self.poll_interval_s = poll_interval_s
        self._owns_client = owns_client
        self._owns_http = jito_http is None
        self._http = jito_http or httpx.AsyncClient(timeout=10.0)
        self._rpc = JsonRpc(self._http)
        self._jito: JitoClient | None = None
        self.planner = ComputeBudgetPlanner(config.compute)
        self.tips = DynamicTip(config.jito, TipHistory(config.jito.tip_history), bus=bus)
        self.tables = LookupTableManager(self._rpc, self.rpc_url, owner)
        self._load_history()
        self._floor_at = float("-inf")
        self._floor_task: asyncio.Task[None] | None = None
        self._tables_verified = False
        self._table_sync: asyncio.Task[None] | None = None
        self.executor = FlashLoanExecutor(
            config=config, client=client, payer=owner, providers=providers, pricer=pricer,
            store=stores.writer("dry-run"), store_dir=stores.store_dir, bus=bus, metrics=metrics,
            cu_limit=self._cu_limit, tip_policy=self._decide_tip, priority_fee=self._priority_fee,
            lookup_tables_source=self._usable_tables,
        )
        self._prepared: OrderedDict[str, Prepared] = OrderedDict()
        self._rechecked: dict[str, Prepared] = {}
        self._submitter: Submitter | None = None
        self._submitter_start: asyncio.Task[Submitter] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        # Pools written by live bundles still in flight (count per pool); the cycles passed over
        # for one (with their pools), handed to `on_free` once none of their pools is busy.
        self._busy_pools: dict[Pubkey, int] = {}
        self._deferred: dict[int, tuple[Pubkey, ...]] = {}
        # Opportunities not built, by reason (small, tip_floor, stale, pool_busy).
        self.passed: Counter[str] = Counter()
        # The slot each pool was last moved by a bundle of ours: a quote of an older state of it
        # is sized for a gap our trade has already taken.
        self._moved_at: dict[Pubkey, int] = {}
        self.on_free: Callable[[list[int]], None] | None = None
        # The live signer while the engine is live (the Runtime's ModeController holds it): lookup
        # tables are made from the first live candidate, since without them a 3-hop route does
        # not fit a transaction and nothing would ever be dispatched to make them.
        self.live_signer: Callable[[], Signer | None] = lambda: None
        # Each loan mint's prices at its latest build, and the last quote (opportunity id) of each
        # cycle that was validated.
        self._prices: dict[Pubkey, LoanPrices] = {}
        self._validated_quote: dict[int, int] = {}

    async def start(self) -> None:
        """Reconcile what an earlier run left unsettled in the live store now, in the background,
        rather than when the first live opportunity turns up: a restart after a crash follows its
        bundles to the end even if the market stays quiet. The first live `prepare` waits for it."""
        if not store_exists(self.stores.store_dir, "live"):
            return

        def unsettled() -> bool:
            with StoreReader(self.stores.store_dir, "live") as reader:
                return bool(reader.unsettled_attempts())

        try:
            leftovers = await asyncio.to_thread(unsettled)
        except StoreError as exc:
            log.warning("live store not read for reconciliation: %s", exc)
            return
        if leftovers:
            self._submitter_start = asyncio.create_task(self._live_submitter(), name="reconcile")

    # -- Pipeline ---------------------------------------------------------------------------------

    async def prepare(self, opportunity: Opportunity, mode: Mode) -> Candidate | None:
        if not self.config.flash_loan.enabled:
            return None
        if self._refused_unbuilt(opportunity):
            return None
        if mode == "live":
            # Reconciliation (at the Submitter's start) must run before this run's first live row
            # exists, or it would take that row for a leftover of a crashed run.
            await self._live_submitter()
            pools = opportunity.pools
            states = zip(pools, opportunity.state_slots, strict=True)
            if any(slot < self._moved_at.get(pool, -1) for pool, slot in states):
                # The search quotes the new state as soon as the feed delivers it.
                self._passed("stale")
                return None
            if any(pool in self._busy_pools for pool in pools):
                # A bundle of ours that writes one of these pools is still out. Sent now, this one
                # would be sized on the state before that bundle and race it for the same gap: at
                # best one lands, the other fails at the profit guard, spending rate-limit tokens
                # and counting as a failure. It is taken up again, quoted on the state after ours,
                # once the pools are free.
                self._deferred[opportunity.cycle_id] = pools
                self._passed("pool_busy")
                return None
        writer = self.stores.writer(mode)
        self._validated_quote[opportunity.cycle_id] = opportunity.id
        await self._refresh_tip_floor()
        attempt = self.executor.new_attempt(opportunity, mode)
        prepared = await self.executor.prepare(opportunity, attempt)
        self._learn(prepared, mode)
        signer = self.live_signer() if mode == "live" else None
        if signer is not None and signer.pubkey == self.owner:
            self._sync_tables(signer.solders_keypair())
        if prepared.prices is not None:
            self._prices[opportunity.loan_mint] = prepared.prices
        writer.add_opportunity(stored_opportunity(opportunity, attempt))
        lifecycle = Lifecycle(writer, bus=self.bus)
        if not prepared.passed:
            assert prepared.refusal is not None
            attempt.state = "rejected"
            await lifecycle.create(attempt, detail={"reason": prepared.refusal.reason})
            return None
        assert prepared.profit is not None
        attempt.state = "validated"
        await lifecycle.create(attempt)
        await lifecycle.transition(attempt, "awaiting_approval")
        self._remember(prepared)
        return Candidate(opportunity, attempt.id, amount_usd=attempt.flash_amount_usd or 0.0,
                         net_usd=prepared.profit.net_usd, validation=prepared.validation)

    async def recheck(self, candidate: Candidate) -> str | None:
        prepared = self._prepared.get(candidate.attempt_id)
        if prepared is None:
            return "no longer known to the engine (restarted, or decided already)"
        # Same opportunity, same row id: re-sized, re-quoted on current pool state, rebuilt with a
        # fresh blockhash and simulated again.
        fresh = dataclasses.replace(prepared.attempt, validation_results=None, error_class=None,
                                    error_detail=None)
        again = await self.executor.prepare(candidate.opportunity, fresh)
        self._learn(again, fresh.mode)
        if again.passed:
            self._rechecked[candidate.attempt_id] = again
            return None
        assert again.refusal is not None
        reason = again.refusal.reason
        self._prepared.pop(candidate.attempt_id, None)
        await self._lifecycle(prepared.attempt).transition(
            prepared.attempt, "rejected", reason=f"re-check refused: {reason}",
            error_class=fresh.error_class or "recheck", error_detail=reason,
            validation_results=fresh.validation_results,
        )
        return reason

    async def dispatch(self, candidate: Candidate, mode: Mode, signer: Signer | None) -> None:
        original = self._prepared.pop(candidate.attempt_id, None)
        prepared = self._rechecked.pop(candidate.attempt_id, None) or original
        if original is None or prepared is None or prepared.built is None:
            log.warning("dispatch of unknown attempt %s ignored", candidate.attempt_id)
            return
        attempt = original.attempt
        lifecycle = self._lifecycle(attempt)
        fields = {name: getattr(prepared.attempt, name) for name in _RECHECKED_FIELDS}
        if attempt.mode != mode:
            await lifecycle.transition(attempt, "expired", reason=f"prepared in {attempt.mode}, now {mode}",
                                       error_class="mode_switch")
            return
        if self.kill_switch is not None and not self.kill_switch.allows_new:
            await lifecycle.transition(attempt, "dropped", reason=f"kill switch: {self.kill_switch.reason}",
                                       error_class="kill_switch", error_detail=self.kill_switch.reason)
            return
        if mode == "dry-run":
            self._publish_tip_policy(prepared)
            await lifecycle.transition(attempt, "approved", **fields)
            sim = prepared.simulation
            await lifecycle.transition(
                attempt, "simulated", reason="dry-run: simulated, not sent",
                detail={"units": sim.units_consumed if sim else None, "err": sim.err if sim else None},
            )
            return
        await self._dispatch_live(prepared, attempt, lifecycle, fields, signer)

    # -- live -------------------------------------------------------------------------------------

    async def _dispatch_live(self, prepared: Prepared, attempt: BundleAttempt, lifecycle: Lifecycle,
                             fields: dict[str, Any], signer: Signer | None) -> None:
        assert prepared.built is not None and prepared.prices is not None
        if signer is None or signer.pubkey != self.owner:
            why = "no signer" if signer is None else f"signer {signer.short} is not the wallet {self.owner}"
            await lifecycle.transition(attempt, "dropped", reason=why, error_class="signer", error_detail=why)
            return
        keypair = signer.solders_keypair()
        built = prepared.built.signed_by(keypair)
        check = self.executor.validator().signers(built)
        if not check.passed:
            await lifecycle.transition(attempt, "dropped", reason=f"signers: {check.measured}",
                                       error_class="validation:signers", error_detail=check.measured)
            return
        submitter = await self._live_submitter()
        prices = prepared.prices
        dexes = [h.dex for h in prepared.opportunity.route]
        if prepared.tip_basis is not None:
            # What the first tip was capped by: a retry's bumped tip is capped the same way.
            profit_lamports, min_profit_lamports = prepared.tip_basis
        else:
            profit_lamports = prices.loan_to_lamports(max(built.expected_gain, 0))
            min_usd = self.config.flash_loan.min_profit_usd
            min_profit_lamports = prices.loan_to_lamports(prices.from_usd(min_usd))
        submit = flash_loan_submit(
            submitter, keypair,
            profit_lamports=lambda b: profit_lamports,
            min_profit_lamports=min_profit_lamports,
            route_shape=lambda b: route_shape(b.provider, dexes),
            pnl_usd_per_unit=float(prices.usd_per_unit),
        )
        # `approved` (with the signature) is durable before the submitter's first step.
        await lifecycle.transition(attempt, "approved", signatures=[str(built.tx.signatures[0])], **fields)
        self._publish_tip_policy(prepared)

        pools = prepared.opportunity.pools

        async def send() -> None:
            try:
                result = await submit(built.tx, built, attempt=attempt)  # type: ignore[call-arg]
                if result.landed and result.slot is not None:
                    for pool in pools:
                        self._moved_at[pool] = max(self._moved_at.get(pool, -1), result.slot)
                if result.landed and self.metrics is not None:
                    self.metrics.flash_loans_successful.inc()
            except Exception:
                log.exception("submission of attempt %s failed; reconciliation finishes its row", attempt.id)

        for pool in pools:
            self._busy_pools[pool] = self._busy_pools.get(pool, 0) + 1

        def done(task: asyncio.Task[None]) -> None:
            self._sending.discard(task)
            for pool in pools:
                left = self._busy_pools.pop(pool) - 1
                if left:
                    self._busy_pools[pool] = left
            self._release_deferred()

        # The operator's keypress returns once `approved` is written; landing is followed here.
        task = asyncio.create_task(send(), name=f"submit-{attempt.id}")
        self._sending.add(task)
        task.add_done_callback(done)
        self._sync_tables(keypair)

    def _passed(self, reason: str) -> None:
        """An opportunity not built (no row): counted here and in arb_opportunities_passed."""
        self.passed[reason] += 1
        if self.metrics is not None:
            self.metrics.opportunities_passed.labels(reason=reason).inc()

    def _refused_unbuilt(self, opportunity: Opportunity) -> bool:
        """What the validator and the tip policy would refuse, told from the search's quote alone.

        The search's net is at its profit-maximising size and counts fewer costs than the
        validator (no rent, no priority fee): under the minimum profit there, under it at any
        size; and when even that net, before its own tip estimate, leaves less room above the
        minimum than the live tip floor, the tip policy refuses (`tip_cap`). Neither is worth a
        build, a simulation or a row."""
        prices = self._prices.get(opportunity.loan_mint)
        if prices is None:
            return False
        try:
            min_units = prices.from_usd(self.config.flash_loan.min_profit_usd)
            if opportunity.net < min_units:
                self._passed("small")
                return True
            room = prices.loan_to_lamports(opportunity.net + opportunity.fees.tip - min_units)
        except PriceError:
            return False
        if room < self.tips.floor_lamports():
            self._passed("tip_floor")
            return True
        return False

    def worth_another_look(self, opportunity: Opportunity) -> bool:
        """Whether a cycle passed over while its pools were busy is worth preparing again: its
        latest quote was not validated already (a refused quote would be refused again, and
        would bounce between the queue and the busy pools for ever)."""
        return self._validated_quote.get(opportunity.cycle_id) != opportunity.id

    def _release_deferred(self) -> None:
        free = [cycle for cycle, pools in self._deferred.items()
                if not any(pool in self._busy_pools for pool in pools)]
        for cycle in free:
            del self._deferred[cycle]
        if free and self.on_free is not None:
            self.on_free(free)

    async def _live_submitter(self) -> Submitter:
        if self._submitter is not None:
            return self._submitter
        starting = self._submitter_start
        if starting is not None and asyncio.current_task() is not starting:
            try:
                return await asyncio.shield(starting)
            except Exception as exc:  # the background start failed: this call starts it again
                log.warning("reconciliation at start failed (%s); retrying now", exc)
                self._submitter_start = None
        writer = self.stores.writer("live")
        jito = self._jito_client()
        # Outcomes, measurements and tables made from here on are the live store's.
        self.tips.history.writer = writer
        self.planner.writer = writer
        self.tables.writer = writer
        kill = self.kill_switch or KillSwitch(self.config.risk, mode="live", writer=writer)
        submitter = Submitter(
            jito=jito, rpc=self._rpc, rpc_url=self.rpc_url,
            lifecycle=Lifecycle(writer, bus=self.bus),
            kill_switch=kill, retry=self.config.retry, wallet=self.owner, tips=self.tips,
            compute=self.planner, metrics=self.metrics, poll_interval_s=self.poll_interval_s,
        )
        await submitter.start()  # reconcile whatever a previous run left unsettled, first
        for stats in jito.all_stats():
            self.bus.publish(stats)
        self._submitter = submitter
        return submitter

    def _jito_client(self) -> JitoClient:
        if self._jito is None:
            cfg = self.config.jito
            self._jito = JitoClient(dict(cfg.regions), self._http, rate_per_s=cfg.rate_limit_per_s,
                                    auth_uuid=cfg.auth_uuid.get_secret_value() or None, bus=self.bus,
                                    metrics=self.metrics)
        return self._jito

    def _publish_tip_policy(self, prepared: Prepared) -> None:
        """The Jito pane: the inputs of the decision this bundle's tip came from, beside that tip."""
        assert prepared.built is not None
        decision = prepared.tip
        cfg = self.config.jito
        if decision is None:  # a tip that did not come from the policy: today's inputs beside it
            hour = datetime.now(UTC).hour
            self.bus.publish(TipPolicy(cfg.tip_percent, self.tips.inclusion_multiplier(),
                                       cfg.time_of_day_multiplier(hour), cfg.min_tip_lamports,
                                       prepared.built.tip_lamports))
            return
        self.bus.publish(TipPolicy(cfg.tip_percent, decision.inclusion_multiplier,
                                   decision.time_of_day_multiplier, decision.floor_lamports,
                                   prepared.built.tip_lamports))

    # -- execution policy -------------------------------------------------------------------------

    def _load_history(self) -> None:
        """What earlier runs learned: compute samples (both stores), tip outcomes and tables (live)."""
        for mode in ("dry-run", "live"):
            if not store_exists(self.stores.store_dir, mode):
                continue
            try:
                with StoreReader(self.stores.store_dir, mode) as reader:
                    self.planner.load(reader)
                    if mode == "live":
                        self.tips.history.load(reader)  # the inclusion multiplier remembers
                        self.tables.load(reader)
            except StoreError as exc:
                log.warning("execution history of the %s store not loaded: %s", mode, exc)

    def _cu_limit(self, provider: str, dexes: Sequence[str]) -> int:
        return self.planner.cu_limit(route_shape(provider, dexes), len(dexes))

    def _decide_tip(self, expected_profit_lamports: int, min_profit_lamports: int) -> TipDecision:
        # Published with the tip actually used, at dispatch, not for every candidate.
        return self.tips.decide(expected_profit_lamports, min_profit_lamports, publish=False)

    @staticmethod
    def urgency(profit_lamports: int, min_profit_lamports: int) -> Urgency:
        """How far the profit clears the minimum: a richer opportunity draws more competition."""
        ratio = profit_lamports / max(min_profit_lamports, 1)
        return next((u for step, u in URGENCY_STEPS if ratio >= step), "low")

    async def _priority_fee(self, writable: Sequence[Pubkey], profit_lamports: int,
                            min_profit_lamports: int) -> int:
        percentile_ = self.planner.fee_percentile(self.urgency(profit_lamports, min_profit_lamports))
        try:
            return await priority_fee(self._rpc, self.rpc_url, writable, percentile_)
        except (RpcError, httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            log.warning("recent prioritization fees unavailable, no priority fee: %s", exc)
            return 0

    async def _refresh_tip_floor(self) -> None:
        """The tip floor is refreshed in the background; only the very first is waited for (briefly)."""
        if time.monotonic() - self._floor_at < TIP_FLOOR_REFRESH_S:
            return
        if self._floor_task is None or self._floor_task.done():
            self._floor_at = time.monotonic()
            try:
                jito = self._jito_client()
            except ValueError as exc:
                log.warning("no block engine for the tip floor: %s", exc)
                return
            self._floor_task = asyncio.create_task(self._fetch_floor(jito), name="tip-floor")
        if self.tips.tip_floor is None:
            await asyncio.wait([self._floor_task], timeout=FIRST_TIP_FLOOR_WAIT_S)

    async def _fetch_floor(self, jito: JitoClient) -> None:
        try:
            await self.tips.refresh_floor(jito)
        except Exception as exc:  # never into the engine: the configured minimum still applies
            log.warning("tip floor refresh failed: %s", exc)

    async def _usable_tables(self) -> list[AddressLookupTableAccount]:
        try:
            if not self._tables_verified and self.tables.tables:
                gone = await self.tables.verify()  # tables of an earlier run: still what we stored?
                for table in gone:
                    log.warning("lookup table %s no longer matches the store; not used", table.address)
            self._tables_verified = True
            return await self.tables.usable()
        except (RpcError, httpx.HTTPError, ValueError) as exc:
            log.warning("lookup tables unavailable, compiling without: %s", exc)
            return []

    def _learn(self, prepared: Prepared, mode: Mode) -> None:
        """Count the route's accounts for the tables; keep the simulation's compute units."""
        built = prepared.built
        if built is None:
            return
        self.tables.observe_instructions(built.instructions)
        sim = prepared.simulation
        if sim is None or sim.units_consumed is None:
            return
        # A budget overrun measures the limit itself, so the next limit grows by the margin.
        if sim.err is None or "ComputationalBudgetExceeded" in str(sim.err):
            shape = route_shape(built.provider, [leg.venue.dex for leg in built.legs])
            self.planner.record(shape, sim.units_consumed, "simulation", writer=self.stores.writer(mode))

    def _sync_tables(self, signer: Keypair) -> None:
        """In the background (live only): create/extend tables for the recurring accounts,
        deactivate the ones no build has used for `compute.lookup_table_idle_hours`, and close the
        deactivated ones once they may be (their rent comes back to the wallet)."""
        if self.kill_switch is not None and not self.kill_switch.allows_new:
            return
        if self._table_sync is not None and not self._table_sync.done():
            return
        idle_s = self.config.compute.lookup_table_idle_hours * 3600
        wanted = bool(self.tables.candidates())
        if not wanted and not self.tables.retiring(idle_s):
            return
        self.tables.signer = signer

        async def sync() -> None:
            try:
                if wanted:
                    made = await self.tables.sync()
                    ready = ", ".join(f"{t.address} ({len(t.addresses)})" for t in made)
                    log.info("lookup tables ready: %s", ready)
                for table in await self.tables.deactivate_stale(idle_s):
                    log.info("lookup table %s unused for %.1f h: deactivated", table.address, idle_s / 3600)
                if any(t.deactivated_slot is not None for t in self.tables.tables):
                    for table in await self.tables.close_deactivated():
                        log.info("lookup table %s closed, rent recovered", table.address)
            except (LookupTableError, RpcError, httpx.HTTPError) as exc:
                log.warning("lookup tables not extended: %s", exc)
            except Exception:
                log.exception("lookup table sync failed")

        self._table_sync = asyncio.create_task(sync(), name="lookup-table-sync")

    # -- housekeeping -----------------------------------------------------------------------------

    async def closed(self, candidate: Candidate, state: str, reason: str) -> None:
        """The queue let a candidate go without dispatching it (rejected, expired, cleared)."""
        prepared = self._prepared.pop(candidate.attempt_id, None)
        self._rechecked.pop(candidate.attempt_id, None)
        if prepared is None or prepared.attempt.state != "awaiting_approval":
            return
        await self._lifecycle(prepared.attempt).transition(
            prepared.attempt, state, reason=reason, error_class=f"approval:{state}", error_detail=reason
        )

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for every live submission in flight to reach a final state (outbid bundles still
        watched included), and for a lookup-table update in progress to be warm."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        waiting = [*self._sending, *([self._table_sync] if self._table_sync is not None else [])]
        if waiting:
            await asyncio.wait(waiting, timeout=timeout)
        if self._submitter is not None:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            watching = asyncio.ensure_future(self._submitter.drain())
            await asyncio.wait([watching], timeout=left)
            if not watching.done():
                watching.cancel()  # stops only the waiting: the watchers go on (Submitter.drain)

    async def close(self) -> None:
        # In-flight bundles get a moment to land and settle; what is still out after that stays
        # `submitted` in the store, and the next start's reconciliation follows it (never re-sends).
        await self.drain(timeout=CLOSE_DRAIN_S)
        if self._submitter_start is not None and not self._submitter_start.done():
            self._submitter_start.cancel()  # what it has not followed yet, the next start does
            await asyncio.gather(self._submitter_start, return_exceptions=True)
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*list(self._sending), return_exceptions=True)
        for background in (self._table_sync, self._floor_task):
            if background is not None and not background.done():
                # A table transaction in flight is given the grace to be recorded, then let go.
                await asyncio.wait([background], timeout=CLOSE_GRACE_S)
                background.cancel()
                await asyncio.gather(background, return_exceptions=True)
        if self._submitter is not None:
            await self._submitter.close()
        if self._http is not None and self._owns_http:
            await self._http.aclose()
        if self._owns_client:
            await self.client.close()

    def _remember(self, prepared: Prepared) -> None:
        self._prepared[prepared.attempt.id] = prepared
        while len(self._prepared) > MAX_REMEMBERED:
            old_id, _ = self._prepared.popitem(last=False)
            self._rechecked.pop(old_id, None)

    def _lifecycle(self, attempt: BundleAttempt) -> Lifecycle:
        return Lifecycle(self.stores.writer(attempt.mode), bus=self.bus)


async def default_pipeline(
    config: AppConfig, stores: StoreSet, bus: EventBus, kill_switch: KillSwitch | None,
    metrics: Metrics | None = None,
) -> FlashLoanPipeline | None:
    """The pipeline for the configured cluster, or None (logged) when it cannot trade there."""
    if config.cluster.name != "localnet":
        # No genesis names the tokens here: the console shows at least the loan mints by name.
        bus.publish(TokenList(tuple(TokenMeta(str(m), sym, dec) for m, sym, dec in ids.WELL_KNOWN_TOKENS)))
    if not config.flash_loan.enabled:
        log.info("flash_loan.enabled is false: opportunities are shown, not traded")
        return None
    if config.cluster.name != "localnet":
        # Off localnet the configuration names the reserves/banks and the wallet's public key.
        from core.flashloan.configured_setup import ConfiguredSetupError, configured_setup

        try:
            setup = configured_setup(config)
        except ConfiguredSetupError as exc:
            log.warning("no flash-loan providers configured for %s (%s): opportunities are shown, not traded",
                        config.cluster.name, exc)
            return None
        owner, providers, pricer = setup.owner, setup.providers, setup.pricer
    else:
        from core.flashloan.localnet_setup import (
            ScenarioUnavailable,
            fetch_scenario,
            pricer_from_scenario,
            providers_from_scenario,
        )

        try:
            scenario = await fetch_scenario(config.cluster.rpc_url)
            bus.publish(TokenList(tuple(TokenMeta(str(m), sym, dec) for m, sym, dec in scenario.tokens)))
            providers = providers_from_scenario(scenario)
            pricer = pricer_from_scenario(scenario)
        except (ScenarioUnavailable, ValueError) as exc:
            log.error("local cluster's scenario unavailable, nothing will be traded: %s", exc)
            return None
        owner = scenario.wallet
    client = AsyncClient(config.cluster.rpc_url, commitment="confirmed", timeout=10)
    started = time.monotonic()
    pipeline = FlashLoanPipeline(config=config, client=client, owner=owner, providers=providers,
                                 pricer=pricer, stores=stores, bus=bus, kill_switch=kill_switch,
                                 metrics=metrics, owns_client=True)
    log.info("flash-loan pipeline for %s wallet %s (%s) ready in %.3fs", config.cluster.name, owner,
             ", ".join(p.name for p in providers), time.monotonic() - started)
    return pipeline
