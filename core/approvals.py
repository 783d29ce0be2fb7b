"""The approval queue: validated opportunities wait here for an operator (or the auto policy).

It lives in core so the engine enforces it whatever the console does: nothing leaves the queue
except through `approve` (which re-checks against current state first), `reject` or expiry, and
every decision is written to the store before the engine acts on it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from core.config import ModeConfig
from core.events import ApprovalDecision, EventBus, PendingApproval, ValidationResult
from core.search.opportunities import Opportunity
from core.store import Approval

Decision = Literal["approved", "rejected", "expired"]


class ApprovalSink(Protocol):
    def add_approval(self, approval: Approval) -> None: ...


@dataclass(frozen=True, slots=True)
class Candidate:
    """A validated opportunity as the queue sees it; USD figures are for the policy and display."""

    opportunity: Opportunity
    attempt_id: str
    amount_usd: float
    net_usd: float
    validation: ValidationResult | None = None

    @property
    def opportunity_id(self) -> int:
        return self.opportunity.id


@dataclass(frozen=True, slots=True)
class Pending:
    candidate: Candidate
    queued_slot: int
    expires_slot: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to an approve/reject request; `reason` says why when it did not go ahead."""

    opportunity_id: int
    decision: Decision | None
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.decision == "approved"


# Re-quote and re-simulate against current state: None when it still passes, else the reason.
Recheck = Callable[[Candidate], Awaitable[str | None]]
Dispatch = Callable[[Candidate], Awaitable[None]]


class ApprovalQueue:
    def __init__(
        self,
        policy: ModeConfig,
        store: ApprovalSink,
        bus: EventBus,
        *,
        recheck: Recheck,
        dispatch: Dispatch,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.store = store
        self.bus = bus
        self.recheck = recheck
        self.dispatch = dispatch
        self.clock = clock
        self._pending: dict[int, Pending] = {}

    def pending(self) -> list[Pending]:
        return sorted(self._pending.values(), key=lambda p: p.expires_slot)

    def __contains__(self, opportunity_id: int) -> bool:
        return opportunity_id in self._pending

    def auto_eligible(self, candidate: Candidate) -> bool:
        return (
            self.policy.approval == "auto"
            and candidate.amount_usd <= self.policy.auto_max_amount_usdc
            and candidate.net_usd >= self.policy.auto_min_profit_usd
        )

    async def offer(self, candidate: Candidate, slot: int) -> Outcome | None:
        """Queue a validated candidate; the auto policy approves it at once when within thresholds."""
        if self.auto_eligible(candidate):
            self._pending[candidate.opportunity_id] = Pending(candidate, slot, slot)
            return await self.approve(candidate.opportunity_id, key="auto")
        expires = slot + self.policy.approval_ttl_slots
        self._pending[candidate.opportunity_id] = Pending(candidate, slot, expires)
        self.bus.publish(PendingApproval(candidate.opportunity_id, expires, candidate.opportunity.cycle_id))
        return None

    async def approve(self, opportunity_id: int, key: str = "a") -> Outcome:
        pending = self._pending.pop(opportunity_id, None)
        if pending is None:
            return Outcome(opportunity_id, None, "not pending (already decided or expired)")
        candidate = pending.candidate
        refusal = await self.recheck(candidate)
        if refusal is not None:
            self._record(opportunity_id, "rejected", key, f"re-check refused: {refusal}")
            return Outcome(opportunity_id, "rejected", refusal)
        self._record(opportunity_id, "approved", key, None)
        await self.dispatch(candidate)
        return Outcome(opportunity_id, "approved")

    async def approve_all(self, key: str = "A") -> list[Outcome]:
        """Approve every pending candidate (caps are enforced again by the executor)."""
        return [await self.approve(oid, key) for oid in list(self._pending)]

    def reject(self, opportunity_id: int, key: str = "r", reason: str = "operator") -> Outcome:
        if self._pending.pop(opportunity_id, None) is None:
            return Outcome(opportunity_id, None, "not pending (already decided or expired)")
        self._record(opportunity_id, "rejected", key, reason)
        return Outcome(opportunity_id, "rejected", reason)

    def expire(self, slot: int) -> list[Outcome]:
        """Drop everything whose time ran out by `slot`; each is recorded as expired."""
        gone = [oid for oid, p in self._pending.items() if p.expires_slot < slot]
        outcomes = []
        for oid in gone:
            del self._pending[oid]
            self._record(oid, "expired", "ttl", f"not decided within {self.policy.approval_ttl_slots} slots")
            outcomes.append(Outcome(oid, "expired"))
        return outcomes

    def clear(self, reason: str) -> None:
        """Mode switch / kill switch: nothing approved under the old rules may be sent under new ones."""
        for oid in list(self._pending):
            del self._pending[oid]
            self._record(oid, "expired", "engine", reason)

    def _record(self, opportunity_id: int, decision: Decision, key: str, reason: str | None) -> None:
        self.store.add_approval(
            Approval(str(opportunity_id), decision, key=key, at=self.clock(), reason=reason)
        )
        self.bus.publish(ApprovalDecision(opportunity_id, decision, key, reason or ""))
