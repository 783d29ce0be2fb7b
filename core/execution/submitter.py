"""Submit a bundle and see it through: simulate → submit → poll → landed/failed/dropped → settled.

Crash safety rests on one order of operations: the `submitted` row, with the bundle id and the
signatures, is committed before the first byte goes to a block engine, and the attempt id is the
idempotency key. After a restart `reconcile()` never re-sends an attempt it finds `submitted`: it
follows it by signature and bundle status until it lands or its blockhash expires. Attempts that
never reached `submitted` were never sent and are closed as dropped.

Retries: retryable failures (429/5xx/I/O refusals, lost auction, expired blockhash, a simulation
that only failed on its blockhash) back off exponentially with jitter, then a *replacement* is
built by the caller's `rebuild` callback with a fresh blockhash and the tip and priority fee
raised by `retry.fee_bump` per attempt (the tip still capped by the profit), re-simulated and
sent as a new attempt (`replaces_attempt_id`). An old bundle is only replaced once its fate is
definitive (the block engine says Failed, or its blockhash expired), so it cannot land late and
be counted twice. Final failures (simulation, program error, validation, kill switch) stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from core.config import RetryConfig
from core.execution.compute import ComputeBudgetPlanner
from core.execution.jito_client import AllRegionsRejected, JitoClient, RegionAnswer, Submission, bundle_id_of
from core.execution.kill_switch import KillSwitch
from core.execution.lifecycle import Lifecycle
from core.execution.rpc import JsonRpc, RpcError
from core.execution.simulation import SimulationFailed, simulate_bundle
from core.execution.tips import DynamicTip
from core.metrics import Metrics
from core.store import BundleAttempt, StoreError, StoreReader

log = logging.getLogger(__name__)

Bundle = VersionedTransaction | Sequence[VersionedTransaction]
PRE_SUBMIT_STATES = frozenset({"detected", "validated", "approved", "simulated"})
# Unsettled attempts of an earlier run followed at once by the reconciliation at start.
RECONCILE_CONCURRENCY = 16


@dataclass(frozen=True)
class Replacement:
    """What a rebuilt bundle must use: `rebuild(Replacement) -> signed bundle`."""

    attempt: int
    blockhash: Hash
    last_valid_block_height: int
    tip_lamports: int
    cu_limit: int | None
    cu_price_micro_lamports: int


Rebuild = Callable[[Replacement], Awaitable[Bundle]]


@dataclass(frozen=True)
class SubmitOutcome:
    opportunity_id: str
    attempt_id: str
    state: str  # the last attempt's final state: settled | failed | dropped | expired
    attempts: int
    landed: bool
    bundle_id: str | None = None
    slot: int | None = None
    error_class: str | None = None
    reason: str = ""
    realised_profit: int | None = None
    tip_lamports: int = 0
    signatures: tuple[str, ...] = ()


class _Retryable(Exception):
    def __init__(self, error_class: str, *, resend_same: bool = False, still_live: bool = False) -> None:
        super().__init__(error_class)
        self.error_class = error_class
        self.resend_same = resend_same  # nothing was accepted and the blockhash is still good
        self.still_live = still_live  # outbid, but its blockhash is valid: it may land yet


class _Final(Exception):
    def __init__(self, outcome: SubmitOutcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def _as_list(bundle: Bundle) -> list[VersionedTransaction]:
    return [bundle] if isinstance(bundle, VersionedTransaction) else list(bundle)


class Submitter:
    """The engine's only way to send a bundle. `await start()` (reconciliation) before `submit`."""

    def __init__(
        self,
        *,
        jito: JitoClient,
        rpc: JsonRpc,
        rpc_url: str,
        lifecycle: Lifecycle,
        kill_switch: KillSwitch,
        retry: RetryConfig,
        wallet: Pubkey,
        tips: DynamicTip | None = None,
        compute: ComputeBudgetPlanner | None = None,
        metrics: Metrics | None = None,
        poll_interval_s: float = 0.2,
        status_commitment: str = "confirmed",
        outbid_after_slots: int | None = 3,
        inflight_every: int = 5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.jito = jito
        self.rpc = rpc
        self.rpc_url = rpc_url
        self.lifecycle = lifecycle
        self.kill = kill_switch
        self.retry = retry
        self.wallet = wallet
        self.tips = tips
        self.compute = compute
        self.metrics = metrics
        self.poll_interval_s = poll_interval_s
        self.status_commitment = status_commitment
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._ready = asyncio.Event()
        self._by_bundle: dict[str, BundleAttempt] = {}
        self._landed_slots: dict[str, int] = {}
        self._regions: dict[str, str] = {}
        self._shapes: dict[str, str] = {}
        self._watchers: set[asyncio.Task[None]] = set()
        self._submissions: list[Submission] = []
        self.outbid_after_slots = outbid_after_slots
        self.inflight_every = max(1, inflight_every)
        jito.on_answer = self._on_answer

    @property
    def mode(self) -> str:
        return self.lifecycle.writer.mode

    # -- start-up ---------------------------------------------------------------------------------

    async def start(self) -> list[SubmitOutcome]:
        """Reconcile every unsettled attempt in the store; only then does `submit` accept work."""
        writer = self.lifecycle.writer
        reader = await asyncio.to_thread(StoreReader, writer.path.parent, writer.mode)
        try:
            pending = reader.unsettled_attempts()
        finally:
            reader.close()
        # Concurrently: each submitted bundle is followed until it lands or its blockhash expires,
        # and a crash can leave many of them.
        limit = asyncio.Semaphore(RECONCILE_CONCURRENCY)

        async def one(attempt: BundleAttempt) -> SubmitOutcome:
            async with limit:
                return await self._reconcile_one(attempt)

        outcomes = list(await asyncio.gather(*(one(attempt) for attempt in pending)))
        self._ready.set()
        return outcomes

    async def _reconcile_one(self, attempt: BundleAttempt) -> SubmitOutcome:
        if attempt.state == "awaiting_approval":
            await self.lifecycle.transition(attempt, "expired", reason="engine restarted while pending",
                                            error_class="interrupted")
            return self._outcome(attempt, landed=False)
        if attempt.state in PRE_SUBMIT_STATES:
            # `submitted` is written before any send: below it, nothing ever left this process.
            await self.lifecycle.transition(attempt, "dropped", reason="engine restarted before submission",
                                            error_class="interrupted", error_detail="never sent")
            return self._outcome(attempt, landed=False)
        if not attempt.signatures:
            # Not one of ours (a stage that records its own row): nothing to follow or settle by.
            log.warning("attempt %s is %s without signatures; left as is", attempt.id, attempt.state)
            return self._outcome(attempt, landed=attempt.state == "landed",
                                 reason="no signatures to reconcile")
        try:
            if attempt.state == "submitted":
                await self._follow(attempt, region=None)
            return await self._settle(attempt)
        except _Retryable as retry:  # decided, but a reconciled attempt is never re-sent
            return self._outcome(attempt, landed=False, error_class=retry.error_class)
        except _Final as final:
            return final.outcome

    # -- submission -------------------------------------------------------------------------------

    async def submit(
        self,
        bundle: Bundle,
        *,
        opportunity_id: str,
        expected_profit_lamports: int,
        tip_lamports: int,
        min_profit_lamports: int = 0,
        last_valid_block_height: int | None = None,
        cu_limit: int | None = None,
        cu_price_micro_lamports: int = 0,
        rebuild: Rebuild | None = None,
        route_shape: str | None = None,
        attempt: BundleAttempt | None = None,
        pnl_usd_per_unit: float | None = None,
        **attempt_fields: Any,
    ) -> SubmitOutcome:
        """Take one approved opportunity's signed bundle to a final state, replacing it on retryable
        failures (needs `rebuild`). `attempt` is the store's row if an earlier stage made one (state
        approved); otherwise one is created. Extra keywords are bundle_attempts columns (provider,
        flash_mint, flash_amount, route, expected_profit_usd …)."""
        await self._ready.wait()
        txs = _as_list(bundle)
        number = attempt.attempt if attempt is not None else 1
        if attempt is None:
            attempt = await self._new_attempt(opportunity_id, number, None, expected_profit_lamports,
                                              attempt_fields)
        tip, price = tip_lamports, cu_price_micro_lamports
        lvbh = last_valid_block_height
        while True:
            try:
                return await self._attempt_once(
                    attempt, txs, tip=tip, cu_limit=cu_limit, cu_price=price, lvbh=lvbh,
                    route_shape=route_shape, pnl_usd_per_unit=pnl_usd_per_unit,
                )
            except _Final as final:
                return final.outcome
            except _Retryable as retry:
                if retry.still_live:
                    self._watch(attempt, txs)
                if self.metrics is not None:
                    self.metrics.retries.labels(reason=retry.error_class).inc()
                if number >= self.retry.max_attempts:
                    return self._outcome(attempt, landed=False, error_class=retry.error_class,
                                         reason=f"gave up after {number} attempts")
                if not self.kill.allows_retry:
                    return self._outcome(attempt, landed=False, error_class="kill_switch",
                                         reason=self.kill.reason)
                if not retry.resend_same and rebuild is None:
                    return self._outcome(attempt, landed=False, error_class=retry.error_class,
                                         reason="retryable, but no rebuild callback for a replacement")
                await self._sleep(self.backoff_s(number))
                number += 1
                previous = attempt
                if not (retry.resend_same and rebuild is None):
                    assert rebuild is not None
                    bump = self.retry.fee_bump ** (number - 1)
                    new_tip = self._bumped_tip(tip, expected_profit_lamports, min_profit_lamports, bump)
                    if new_tip is None:
                        return self._outcome(attempt, landed=False, error_class="tip_cap",
                                             reason="a bumped tip would leave less than the minimum profit")
                    blockhash, lvbh = await self._latest_blockhash()
                    tip, price = new_tip, math.ceil(price * self.retry.fee_bump)
                    replacement = Replacement(number, blockhash, lvbh, tip, cu_limit, price)
                    try:
                        txs = _as_list(await rebuild(replacement))
                    except Exception as exc:  # the caller's builder: its failure ends the opportunity
                        log.exception("rebuild %d of opportunity %s failed", number, opportunity_id)
                        return self._outcome(attempt, landed=False, error_class="rebuild_failed",
                                             reason=f"{type(exc).__name__}: {exc}")
                    lvbh = replacement.last_valid_block_height
                attempt = await self._new_attempt(
                    opportunity_id, number, previous.id, expected_profit_lamports, attempt_fields
                )

    def landed_region(self, attempt_id: str) -> str | None:
        """The region whose acceptance this process saw first for the attempt (None if unknown)."""
        return self._regions.get(attempt_id)

    def backoff_s(self, attempt_number: int) -> float:
        """Exponential from base_delay_ms, capped at max_delay_ms, with jitter in [½, 1] of it."""
        ceiling = min(self.retry.max_delay_ms, self.retry.base_delay_ms * 2 ** (attempt_number - 1))
        return ceiling * (0.5 + self._rng.random() / 2) / 1000

    def _bumped_tip(self, tip: int, profit: int, min_profit: int, bump: float) -> int | None:
        if self.tips is not None:
            decision = self.tips.decide(profit, min_profit, bump=bump)
            return None if decision.dropped else max(decision.tip_lamports, tip)
        wanted = round(tip * self.retry.fee_bump)
        capped = min(wanted, profit - min_profit)
        return capped if capped >= tip else None

    async def _new_attempt(self, opportunity_id: str, number: int, replaces: str | None,
                           expected_profit: int, fields: dict[str, Any]) -> BundleAttempt:
        attempt = BundleAttempt(
            id=uuid.uuid4().hex,
            opportunity_id=opportunity_id,
            mode=self.lifecycle.writer.mode,
            created_at=time.time(),
            state="approved",
            attempt=number,
            expected_profit=expected_profit,
            replaces_attempt_id=replaces,
            **fields,
        )
        return await self.lifecycle.create(attempt)

    async def _attempt_once(
        self, attempt: BundleAttempt, txs: list[VersionedTransaction], *, tip: int, cu_limit: int | None,
        cu_price: int, lvbh: int | None, route_shape: str | None, pnl_usd_per_unit: float | None,
    ) -> SubmitOutcome:
        gate = self.kill.allows_new if attempt.attempt == 1 else self.kill.allows_retry
        if not gate:
            await self.lifecycle.transition(attempt, "dropped", reason=f"kill switch: {self.kill.reason}",
                                            error_class="kill_switch", error_detail=self.kill.reason)
            raise _Final(self._outcome(attempt, landed=False))
        try:
            report = await simulate_bundle(self.rpc, self.rpc_url, txs)
        except SimulationFailed as failure:
            await self.lifecycle.transition(
                attempt, "failed", reason=str(failure), error_class=f"simulation:{failure.kind}",
                error_detail=failure.detail,
            )
            self.kill.record_outcome(landed=False)
            if failure.retryable:
                raise _Retryable(f"simulation:{failure.kind}") from failure
            raise _Final(self._outcome(attempt, landed=False)) from failure
        if self.compute is not None and route_shape:
            self.compute.record(route_shape, report.total_units, "simulation")
            self._shapes[attempt.id] = route_shape
        await self.lifecycle.transition(attempt, "simulated", detail={"units": list(report.units_consumed)},
                                        cu_limit=cu_limit, cu_price_micro_lamports=cu_price)
        if not await self._blockhash_valid(str(txs[0].message.recent_blockhash)):
            # simulateBundle does not check a blockhash's age; the block engine would refuse it.
            await self.lifecycle.transition(attempt, "failed", reason="blockhash expired before submission",
                                            error_class="blockhash", error_detail="blockhash not valid")
            raise _Retryable("blockhash")
        if lvbh is None:
            lvbh = await self._last_valid_height(txs[0].message.recent_blockhash)
        bundle_id = bundle_id_of(txs)
        self._by_bundle[bundle_id] = attempt
        await self.lifecycle.transition(
            attempt, "submitted",
            bundle_id=bundle_id,
            signatures=[str(tx.signatures[0]) for tx in txs],
            blockhash=str(txs[0].message.recent_blockhash),
            last_valid_block_height=lvbh,
            tip_lamports=tip,
            regions=list(self.jito.regions),
        )
        region: str | None = None
        try:
            submission = await self.jito.send_bundle(txs)
        except AllRegionsRejected as refused:
            if not refused.ambiguous:
                return await self._refused(attempt, refused)
            # A region that never answered may hold the bundle: follow it as sent (re-sending the
            # same signatures gains nothing; a replacement comes only once it is outbid or expired).
            self.lifecycle.note(attempt, detail={"ambiguous": str(refused)[:500]})
        else:
            region = submission.region
            self._regions[attempt.id] = region
            self._submissions.append(submission)
        await self._follow(attempt, region=region, patience_slots=self.outbid_after_slots)
        return await self._settle(attempt, pnl_usd_per_unit=pnl_usd_per_unit)

    def _watch(self, attempt: BundleAttempt, txs: list[VersionedTransaction]) -> None:
        """Keep following an outbid bundle until it lands or its blockhash expires."""

        async def follow() -> None:
            try:
                await self._follow(attempt, region=self._regions.get(attempt.id), patience_slots=None)
                await self._settle(attempt)
            except (_Retryable, _Final):
                pass
            except Exception:
                log.exception("watching outbid attempt %s failed; reconciliation will finish it", attempt.id)

        task = asyncio.create_task(follow(), name=f"watch-{attempt.id}")
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def drain(self) -> None:
        """Wait until every outbid bundle still being watched has landed or expired."""
        while self._watchers:
            # asyncio.wait, not gather: a caller that stops waiting must not cancel the watchers.
            await asyncio.wait(list(self._watchers))

    async def close(self) -> None:
        """Record the slower regions' last answers and stop watching (an attempt still followed stays
        `submitted` in the store for the next reconciliation)."""
        for submission in list(self._submissions):
            await submission.settled()
        self._submissions.clear()
        for task in list(self._watchers):
            task.cancel()
        await asyncio.gather(*list(self._watchers), return_exceptions=True)

    async def _refused(self, attempt: BundleAttempt, refused: AllRegionsRejected) -> SubmitOutcome:
        blockhash = any("blockhash" in a.error.lower() for a in refused.answers)
        error_class = "rate_limited" if refused.rate_limited else "blockhash" if blockhash else "rejected"
        await self.lifecycle.transition(attempt, "failed", reason=str(refused), error_class=error_class,
                                        error_detail=str(refused)[:500])
        if not refused.rate_limited:  # a 429 says nothing about the trading: not a risk failure
            self.kill.record_outcome(landed=False)
        if refused.retryable:
            raise _Retryable(error_class, resend_same=True)
        if blockhash:
            raise _Retryable(error_class)
        raise _Final(self._outcome(attempt, landed=False))

    def _on_answer(self, bundle_id: str, answer: RegionAnswer) -> None:
        attempt = self._by_bundle.get(bundle_id)
        if attempt is None:
            return
        with contextlib.suppress(StoreError):  # a store closed under us: the answer is only a note
            self.lifecycle.note(attempt, region=answer.region, detail={
                "answer": "accepted" if answer.accepted else "refused",
                "latency_ms": round(answer.latency_ms, 3),
                "error": answer.error,
            })

    # -- following a submitted bundle ----------------------------------------------------------------

    async def _follow(self, attempt: BundleAttempt, *, region: str | None,
                      patience_slots: int | None = None) -> None:
        """Poll until landed (→ landed) or definitively not (→ failed/dropped, raising _Retryable).

        With `patience_slots`, a bundle still pending that many slots after submission counts as
        outbid: _Retryable(still_live=True) while the attempt stays `submitted` (and watched).
        """
        signatures = attempt.signatures or []
        bundle_id = attempt.bundle_id or ""
        polls = 0
        start_slot = await self._slot() if patience_slots is not None else None
        while True:
            landed_slot = await self._landed_slot(signatures)
            if landed_slot is not None:
                self._landed_slots[attempt.id] = landed_slot
                await self.lifecycle.transition(attempt, "landed", region=region, slot=landed_slot,
                                                landed_region=region)
                if region is not None:
                    self.jito.note_landed(region)
                return
            inflight = await self._inflight(bundle_id, region, polls)
            if inflight == "Failed":
                await self.lifecycle.transition(
                    attempt, "failed", error_class="bundle_failed",
                    reason="the block engine reports it failed (lost auctions until expiry, or execution)",
                )
                self._note_loss(attempt)
                raise _Retryable("bundle_failed")
            if await self._expired(attempt):
                # One last look: it may have landed in the very slot the blockhash expired.
                if await self._landed_slot(signatures) is None:
                    await self.lifecycle.transition(attempt, "dropped", reason="blockhash expired unlanded",
                                                    error_class="blockhash_expired")
                    self._note_loss(attempt)
                    raise _Retryable("blockhash_expired")
                continue
            if start_slot is not None and patience_slots is not None:
                slot = await self._slot()
                if slot is not None and slot - start_slot > patience_slots:
                    self.lifecycle.note(attempt, region=region, slot=slot, detail={
                        "outbid": f"still pending {slot - start_slot} slots after submission"})
                    raise _Retryable("outbid", still_live=True)
            polls += 1
            await self._sleep(self.poll_interval_s)

    def _note_loss(self, attempt: BundleAttempt) -> None:
        if self.tips is not None:
            self.tips.history.record(attempt.id, attempt.tip_lamports or 0, landed=False)
        self.kill.record_outcome(landed=False)

    async def _landed_slot(self, signatures: Sequence[str]) -> int | None:
        if not signatures:
            return None
        try:
            result = await self.rpc.call(self.rpc_url, "getSignatureStatuses",
                                         [[signatures[0]], {"searchTransactionHistory": True}])
        except RpcError as exc:
            log.warning("getSignatureStatuses failed: %s", exc)
            return None
        status = (result.get("value") or [None])[0]
        if not isinstance(status, dict) or status.get("err") is not None:
            return None
        level = status.get("confirmationStatus") or "processed"
        order = ("processed", "confirmed", "finalized")
        if order.index(level) < order.index(self.status_commitment):
            return None
        return int(status["slot"])

    async def _inflight(self, bundle_id: str, region: str | None, polls: int) -> str | None:
        """The block engine's view, asked every `inflight_every` polls and only when a region has a
        token to spare: it never earns a 429, and rarely delays the next sendBundle's token."""
        if not bundle_id or polls % self.inflight_every:
            return None
        candidates = [region] if region is not None else list(self.jito.regions)
        ready = [name for name in candidates if self.jito.buckets[name].delay() == 0]
        if not ready:
            return None
        try:
            statuses = await self.jito.get_inflight_bundle_statuses([bundle_id], region=ready[0])
        except RpcError as exc:
            log.debug("inflight status failed: %s", exc)
            return None
        status = statuses.get(bundle_id)
        return status.status if status is not None else None

    async def _expired(self, attempt: BundleAttempt) -> bool:
        lvbh = attempt.last_valid_block_height
        try:
            if lvbh is not None:
                height = await self.rpc.call(self.rpc_url, "getBlockHeight", [{"commitment": "processed"}])
                return int(height) > lvbh
            if attempt.blockhash:
                return not await self._blockhash_valid(attempt.blockhash)
        except RpcError as exc:
            log.warning("expiry check failed: %s", exc)
        return False

    async def _slot(self) -> int | None:
        try:
            return int(await self.rpc.call(self.rpc_url, "getSlot", [{"commitment": "processed"}]))
        except RpcError as exc:
            log.warning("getSlot failed: %s", exc)
            return None

    async def _blockhash_valid(self, blockhash: str) -> bool:
        try:
            reply = await self.rpc.call(
                self.rpc_url, "isBlockhashValid", [blockhash, {"commitment": "processed"}]
            )
        except RpcError as exc:
            log.warning("isBlockhashValid failed: %s", exc)
            return True  # the block engine's sanitizer has the last word
        return bool(reply.get("value"))

    async def _latest_blockhash(self) -> tuple[Hash, int]:
        result = await self.rpc.call(self.rpc_url, "getLatestBlockhash", [{"commitment": "confirmed"}])
        value = result["value"]
        return Hash.from_string(value["blockhash"]), int(value["lastValidBlockHeight"])

    async def _last_valid_height(self, blockhash: Hash) -> int | None:
        """Without the builder's lastValidBlockHeight: the current one is a safe upper bound only if
        the blockhash is the latest; otherwise leave it None and rely on isBlockhashValid."""
        try:
            latest, height = await self._latest_blockhash()
        except (RpcError, KeyError):
            return None
        return height if latest == blockhash else None

    # -- settlement -------------------------------------------------------------------------------

    async def _settle(
        self, attempt: BundleAttempt, *, pnl_usd_per_unit: float | None = None
    ) -> SubmitOutcome:
        """Realised profit from the wallet's on-chain balance changes across the bundle's transactions."""
        lamports, tokens, fees, units = 0, 0, 0, 0
        mint = attempt.flash_mint
        for signature in attempt.signatures or []:
            tx = await self._transaction(signature)
            meta, message = tx["meta"], tx["transaction"]["message"]
            keys = list(message["accountKeys"])
            loaded = meta.get("loadedAddresses") or {}
            keys += list(loaded.get("writable") or ()) + list(loaded.get("readonly") or ())
            wallet = str(self.wallet)
            if wallet in keys:
                i = keys.index(wallet)
                lamports += meta["postBalances"][i] - meta["preBalances"][i]
            if mint is not None:
                tokens += _token_delta(meta, wallet, mint)
            if keys and keys[0] == wallet:
                fees += int(meta.get("fee") or 0)
            units += int(meta.get("computeUnitsConsumed") or 0)
        shape = self._shapes.pop(attempt.id, None)
        if self.compute is not None and shape:
            self.compute.record(shape, units, "landed")
        # A flash loan's gain lands in its token account (wrapped SOL included); without a loan
        # mint the wallet's lamports are the whole story (fees and tips included).
        realised = tokens if mint is not None else lamports
        pnl_usd = realised * pnl_usd_per_unit if pnl_usd_per_unit is not None else None
        await self.lifecycle.transition(attempt, "settled", realised_profit=realised, fee_lamports=fees,
                                        realised_profit_usd=pnl_usd, detail={"lamports_delta": lamports})
        tip = attempt.tip_lamports or 0
        if self.tips is not None:
            self.tips.history.record(attempt.id, tip, landed=True)
        if self.metrics is not None:
            self.metrics.tips_paid_lamports.inc(tip)
        self.kill.record_outcome(landed=True, tip_lamports=tip, pnl_usd=pnl_usd)
        return self._outcome(attempt, landed=True)

    async def _transaction(self, signature: str) -> dict[str, Any]:
        params = [signature, {"encoding": "json", "maxSupportedTransactionVersion": 0,
                              "commitment": "confirmed"}]
        for _ in range(50):
            result = await self.rpc.call(self.rpc_url, "getTransaction", params)
            if isinstance(result, dict):
                return result
            await self._sleep(self.poll_interval_s)
        # Left `landed`: the next reconciliation settles it once the node serves the transaction.
        raise RpcError(f"getTransaction {signature}: not available at {self.status_commitment}")

    def _outcome(self, attempt: BundleAttempt, *, landed: bool, error_class: str | None = None,
                 reason: str = "") -> SubmitOutcome:
        return SubmitOutcome(
            opportunity_id=attempt.opportunity_id,
            attempt_id=attempt.id,
            state=attempt.state,
            attempts=attempt.attempt,
            landed=landed,
            bundle_id=attempt.bundle_id,
            slot=self._landed_slots.get(attempt.id),
            error_class=error_class or attempt.error_class,
            reason=reason or attempt.error_detail or "",
            realised_profit=attempt.realised_profit,
            tip_lamports=attempt.tip_lamports or 0,
            signatures=tuple(attempt.signatures or ()),
        )


def _token_delta(meta: dict[str, Any], owner: str, mint: str) -> int:
    def total(entries: Any) -> int:
        return sum(
            int(e["uiTokenAmount"]["amount"])
            for e in entries or ()
            if e.get("owner") == owner and e.get("mint") == mint
        )

    return total(meta.get("postTokenBalances")) - total(meta.get("preTokenBalances"))
