"""The engine host: search engine + pipeline + approval queue + mode + controls, behind `EngineLink`.

A console (in this process, or attached over the engine socket of core/daemon) only ever calls
these methods; pause, kill and the mode are enforced here, so no front end can send what the
engine would refuse.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Protocol

from core.approvals import ApprovalQueue, Candidate, Outcome
from core.config import AppConfig
from core.events import (
    AttemptUpdate,
    EngineState,
    Event,
    EventBus,
    FeedHealth,
    MarketPrices,
    PendingApproval,
    RegionStats,
    SlotTick,
    Subscription,
    TipPolicy,
    TokenList,
)
from core.execution.kill_switch import KillSwitch
from core.keypair import Signer
from core.metrics import Metrics, MetricsServer, start_metrics_server
from core.mode import LivePreview, ModeController, StoreSet
from core.search.opportunities import Opportunity, OpportunityWithdrawn
from core.store import IN_FLIGHT_STATES, KillSwitchEvent, Mode, StoreError, StoreReader, store_exists

log = logging.getLogger(__name__)

# Kill-switch states that only an explicit reset clears (a pause is the operator's, and transient).
ENGAGED = frozenset({"killed", "stopped"})


class KillSwitchEngaged(Exception):
    """A resume that the kill switch refuses (killed, and no explicit reset with who and why)."""


SNAPSHOT_OPPORTUNITIES = 200
# How long a clean stop waits for the opportunity being validated (a build and one simulation).
HANDLE_GRACE_S = 10.0


class Pipeline(Protocol):
    """validate → build → (approval) → submit → settle, as the flash-loan and execution stages do it."""

    async def prepare(self, opportunity: Opportunity, mode: Mode) -> Candidate | None:
        """Size, build and validate; None when it does not pass (the attempt is recorded either way)."""
        ...

    async def recheck(self, candidate: Candidate) -> str | None:
        """Re-quote and re-simulate against current state: None when it still passes, else why not."""
        ...

    async def dispatch(self, candidate: Candidate, mode: Mode, signer: Signer | None) -> None:
        """Dry-run: simulate and record. Live: sign and submit."""
        ...


class Runtime:
    def __init__(
        self,
        config: AppConfig,
        *,
        bus: EventBus | None = None,
        pipeline: Pipeline | None = None,
        engine: Any | None = None,
        with_engine: bool = True,
    ) -> None:
        self.config = config
        self.bus = bus or EventBus()
        self.stores = StoreSet(config.store.dir)
        self.modes = ModeController(config, self.stores, on_change=self._mode_changed)
        self.pipeline = pipeline
        self.engine = engine
        self.with_engine = with_engine  # False: events come from elsewhere (tests, benchmarks, a replay)
        # The engine's kill switch: the pipeline and its Submitter ask it before anything is sent.
        self.kill_switch = KillSwitch(config.risk, mode="dry-run", writer=self.stores.writer("dry-run"))
        # One registry per engine; served on metrics.bind when metrics.enabled.
        self.metrics = Metrics()
        self._metrics_server: MetricsServer | None = None
        self.queue = ApprovalQueue(
            config.mode,
            self.stores.writer("dry-run"),
            self.bus,
            recheck=self._recheck,
            dispatch=self._dispatch,
        )
        self._state = "stopped"
        self._reason = ""
        self._slot = 0
        self._latest: dict[int, Opportunity] = {}
        self._last: dict[type, Event] = {}
        self._in_flight: dict[str, AttemptUpdate] = {}
        self._regions: dict[str, RegionStats] = {}
        self._watch: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._recent_attempts: deque[AttemptUpdate] = deque(maxlen=200)
        self._owns_pipeline = False
        self._handling: set[asyncio.Task[None]] = set()
        self._closing = False

    # -------------------------------------------------------------- EngineLink

    @property
    def mode(self) -> Mode:
        return self.modes.mode

    @property
    def state(self) -> str:
        return self._state

    def subscribe(self) -> Subscription:
        return self.bus.subscribe()

    def snapshot(self) -> list[Event]:
        events: list[Event] = [self._engine_state()]
        events += list(self._last.values()) + list(self._regions.values())
        events += sorted(self._latest.values(), key=lambda o: -o.net)[:SNAPSHOT_OPPORTUNITIES]
        events += [
            PendingApproval(p.candidate.opportunity_id, p.expires_slot, p.candidate.opportunity.cycle_id)
            for p in self.queue.pending()
        ]
        events += list(self._recent_attempts)
        return events

    def in_flight(self) -> int:
        return len(self._in_flight)

    async def approve(self, opportunity_id: int, key: str = "a") -> Outcome:
        if self._state == "killed":
            return Outcome(opportunity_id, None, f"kill switch: {self._reason}")
        return await self.queue.approve(opportunity_id, key)

    async def approve_all(self, key: str = "A") -> list[Outcome]:
        if self._state == "killed":
            return []
        return await self.queue.approve_all(key)

    async def reject(self, opportunity_id: int, key: str = "r") -> Outcome:
        waiting = self._waiting()
        outcome = self.queue.reject(opportunity_id, key)
        if outcome.decision == "rejected" and opportunity_id in waiting:
            await self._release([waiting[opportunity_id]], "rejected", f"operator ({key})")
        return outcome

    def preview_live(self) -> LivePreview:
        return self.modes.preview_live()

    async def switch_to_live(self, typed: str) -> None:
        await self.modes.switch_to_live(typed)

    async def switch_to_dry_run(self) -> None:
        await self.modes.switch_to_dry_run()

    async def pause(self) -> None:
        if self._state == "running":
            self.kill_switch.pause("operator pause (p)")
            self._set_state("paused", "operator pause (p)")

    async def resume(self, *, reset: bool = False, by: str = "", reason: str = "") -> None:
        """Paused → running. Killed → running only with `reset=True` and who (`by`) and why
        (`reason`), which the kill switch persists: a tripped engine is never resumed by a stray
        keypress (the console's `p` only pauses and resumes a running engine)."""
        if self._state == "paused":
            self.kill_switch.resume()
            self._set_state("running", "")
        elif self._state == "killed":
            if not reset:
                raise KillSwitchEngaged(
                    f"engine killed ({self._reason}): resuming needs an explicit reset "
                    "(arbtui resume --reset --reason WHY)")
            if not by.strip() or not reason.strip():
                raise KillSwitchEngaged("a kill-switch reset must say who resets it and why")
            self.kill_switch.resume(f"reset by {by.strip()}: {reason.strip()}")
            self._set_state("running", "")

    async def kill(self, reason: str) -> None:
        self.kill_switch.stop(reason)
        await self._clear(f"kill switch: {reason}")
        self._set_state("killed", reason)

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._restore_kill_switch()
        try:
            self._metrics_server = start_metrics_server(self.config.metrics, self.metrics)
        except OSError as exc:  # the engine trades without its metrics rather than not at all
            log.error("metrics not served on %s: %s", self.config.metrics.bind, exc)
        await self.modes.start()
        self._watch = self.bus.subscribe()
        self._tasks.append(asyncio.create_task(self._follow(), name="runtime-follow"))
        if self.pipeline is None and self.with_engine:
            self.pipeline = await self._default_pipeline()
            self._owns_pipeline = self.pipeline is not None
        if self.engine is None and self.with_engine:
            self.engine = self._default_engine()
        if hasattr(self.pipeline, "on_free"):
            self.pipeline.on_free = self._requeue  # type: ignore[union-attr]
            self.pipeline.live_signer = lambda: self.modes.signer if self.mode == "live" else None  # type: ignore[union-attr]
        start_pipeline = getattr(self.pipeline, "start", None)
        if start_pipeline is not None:
            await start_pipeline()  # reconciliation of an earlier run's bundles begins now
        if self.engine is not None:
            await self.engine.start()
        if self.kill_switch.state in ENGAGED:
            # Killed before the restart: the engine watches the market but sends nothing until an
            # operator resets it (`resume(reset=True, by=..., reason=...)`).
            self._set_state("killed", self.kill_switch.reason)
        else:
            self._set_state("running", "")

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self.engine is not None:
            await self.engine.stop()
        if self._handling:  # the opportunity being prepared reaches the queue, or is closed
            await asyncio.wait(list(self._handling), timeout=HANDLE_GRACE_S)
        await self._clear("engine stopped")
        if self._owns_pipeline and self.pipeline is not None:
            await self.pipeline.close()  # type: ignore[attr-defined]
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._watch is not None:
            self._watch.close()
        self._set_state("stopped", "")
        await self.stores.close()
        if self._metrics_server is not None:
            await asyncio.to_thread(self._metrics_server.stop)

    def _restore_kill_switch(self) -> None:
        """The latest kill-switch change across both modes' stores: killed/stopped survives a restart.

        A pause does not (it is the console's keypress, not a verdict on the trading)."""
        latest: KillSwitchEvent | None = None
        for mode in ("dry-run", "live"):
            if not store_exists(self.config.store.dir, mode):
                continue
            try:
                with StoreReader(self.config.store.dir, mode) as reader:
                    events = reader.kill_switch_events()
            except StoreError as exc:
                log.warning("kill-switch state of the %s store not read: %s", mode, exc)
                continue
            if events and (latest is None or events[-1].at >= latest.at):
                latest = events[-1]
        if latest is not None and latest.state in ENGAGED:
            self.kill_switch.state, self.kill_switch.reason = latest.state, latest.reason
            log.warning("kill switch still engaged from an earlier run: %s", latest.reason)

    async def _default_pipeline(self) -> Pipeline | None:
        """Flash loans for the configured cluster (on localnet: the running cluster's genesis)."""
        try:
            from core.pipeline import default_pipeline
        except ImportError as exc:
            log.error("trading pipeline unavailable: %s", exc)
            return None
        return await default_pipeline(self.config, self.stores, self.bus, self.kill_switch, self.metrics)

    def _default_engine(self) -> Any | None:
        try:
            from core.engine import Engine
        except ImportError as exc:
            log.error("engine unavailable: %s", exc)
            return None
        return Engine(self.config, self.bus, handler=self.handle, metrics=self.metrics)

    # -------------------------------------------------------------- pipeline

    async def handle(self, opportunity: Opportunity) -> None:
        """The engine's handler: every fresh opportunity goes through validation and the queue.

        Runs shielded from the engine's stop: a candidate half-way between its row and the queue
        would otherwise be left `awaiting_approval` by a clean stop. `close` waits for it instead."""
        if self._state != "running" or self.pipeline is None or not self.kill_switch.allows_new:
            return
        if any(p.candidate.opportunity.cycle_id == opportunity.cycle_id for p in self.queue.pending()):
            return  # the operator is already deciding on this cycle; it is re-checked on approval
        task = asyncio.create_task(self._handle(opportunity), name=f"handle-{opportunity.id}")
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)
        await asyncio.shield(task)

    async def _handle(self, opportunity: Opportunity) -> None:
        assert self.pipeline is not None
        candidate = await self.pipeline.prepare(opportunity, self.mode)
        if candidate is None:
            return
        if self._state != "running" or self._closing:
            await self._release([candidate], "expired", "engine stopping" if self._closing
                                else f"engine {self._state}")
            return
        await self.queue.offer(candidate, max(self._slot, opportunity.slot))

    def _requeue(self, cycle_ids: list[int]) -> None:
        """Cycles the pipeline passed over while a bundle of ours wrote their pools: their latest
        quotes go back to the engine's handler queue (a cycle since withdrawn has none)."""
        queue = getattr(self.engine, "queue", None)
        if queue is None or self._state != "running" or self._closing:
            return
        worth = getattr(self.pipeline, "worth_another_look", None)
        for cycle_id in cycle_ids:
            latest = self._latest.get(cycle_id)
            if latest is not None and (worth is None or worth(latest)):
                queue.put(latest)

    async def offer(self, candidate: Candidate) -> Outcome | None:
        return await self.queue.offer(candidate, max(self._slot, candidate.opportunity.slot))

    async def _recheck(self, candidate: Candidate) -> str | None:
        if self._state != "running":
            return f"engine {self._state}"
        if self.pipeline is None:
            return None
        return await self.pipeline.recheck(candidate)

    async def _dispatch(self, candidate: Candidate) -> None:
        if self.pipeline is None:
            return
        if self._state != "running":
            await self._release([candidate], "dropped", f"engine {self._state}")
            return
        await self.pipeline.dispatch(candidate, self.mode, self.modes.signer)

    def _waiting(self) -> dict[int, Candidate]:
        return {p.candidate.opportunity_id: p.candidate for p in self.queue.pending()}

    async def _release(self, candidates: list[Candidate], state: str, reason: str) -> None:
        """Close the rows of candidates the queue let go without dispatching them."""
        closed = getattr(self.pipeline, "closed", None)
        if closed is None:
            return
        for candidate in candidates:
            try:
                await closed(candidate, state, reason)
            except Exception:
                log.exception("closing attempt %s as %s failed", candidate.attempt_id, state)

    async def _clear(self, reason: str) -> None:
        waiting = list(self._waiting().values())
        self.queue.clear(reason)
        await self._release(waiting, "expired", reason)

    async def _follow(self) -> None:
        """Keep what a newly attached console needs, and expire approvals as slots pass."""
        assert self._watch is not None
        while True:
            event = await self._watch.get()
            if isinstance(event, Opportunity):
                self._latest[event.cycle_id] = event
                self.metrics.opportunities_seen.inc()
            elif isinstance(event, (FeedHealth, TipPolicy, TokenList, MarketPrices)):
                self._last[type(event)] = event
            elif isinstance(event, RegionStats):
                self._regions[event.region] = event
            elif isinstance(event, AttemptUpdate):
                self._recent_attempts.append(event)
                if self.kill_switch.state == "killed" and self._state in ("running", "paused"):
                    # A [risk] threshold tripped inside the submitter: the whole engine stops.
                    await self._clear(f"kill switch: {self.kill_switch.reason}")
                    self._set_state("killed", self.kill_switch.reason)
                if event.state in IN_FLIGHT_STATES:
                    self._in_flight[event.attempt_id] = event
                else:
                    self._in_flight.pop(event.attempt_id, None)
            elif isinstance(event, OpportunityWithdrawn):
                self._latest.pop(event.cycle_id, None)
            if isinstance(event, (SlotTick, FeedHealth)) and event.slot > self._slot:
                self._slot = event.slot
                waiting = self._waiting()
                for outcome in self.queue.expire(self._slot):
                    await self._release([waiting[outcome.opportunity_id]], "expired",
                                        f"not decided within {self.config.mode.approval_ttl_slots} slots")

    def _engine_state(self) -> EngineState:
        return EngineState(
            self._state,
            self.mode,
            self._reason,
            wallet=self.modes.signer.short if self.modes.signer else "",
            cluster=self.config.cluster.name,
        )

    def _set_state(self, state: str, reason: str) -> None:
        self._state, self._reason = state, reason
        self.bus.publish(self._engine_state())

    def _mode_changed(self, mode: Mode, reason: str) -> None:
        # Nothing approved under dry-run rules may be sent live, or the other way round.
        waiting = list(self._waiting().values())
        self.queue.clear(f"mode switched to {mode}")
        if waiting:
            task = asyncio.create_task(self._release(waiting, "expired", f"mode switched to {mode}"))
            self._tasks.append(task)
        self.queue.store = self.stores.writer(mode)
        self.kill_switch.rebind(self.stores.writer(mode), mode)
        self.bus.publish(self._engine_state())
