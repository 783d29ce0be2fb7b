"""The attempt lifecycle as an explicit state machine, written to SQLite before it is acted on.

`Lifecycle.transition` checks the move is legal, queues the row update and the append-only
event, waits for the commit (`StoreWriter.flush`), and only then publishes the AttemptUpdate and
returns, so whatever the caller does next (send a bundle, bump a tip) is already on disk. A crash
between any two transitions leaves the store saying exactly how far the attempt got; reconciliation
(submitter.py) starts from there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from core.events import AttemptUpdate, EventBus
from core.store import FINAL_STATES, STATES, BundleAttempt, LifecycleEvent, StoreWriter

_ANY_FAILURE = frozenset({"failed", "dropped"})

TRANSITIONS: dict[str, frozenset[str]] = {
    "detected": frozenset({"validated", "rejected", "expired"}) | _ANY_FAILURE,
    "validated": frozenset({"awaiting_approval", "approved", "rejected", "expired"}) | _ANY_FAILURE,
    "awaiting_approval": frozenset({"approved", "rejected", "expired"}) | _ANY_FAILURE,
    "approved": frozenset({"simulated", "expired"}) | _ANY_FAILURE,
    "simulated": frozenset({"submitted", "expired"}) | _ANY_FAILURE,
    "submitted": frozenset({"landed"}) | _ANY_FAILURE,
    "landed": frozenset({"settled"}),
    **{state: frozenset() for state in FINAL_STATES},
}
assert set(TRANSITIONS) == set(STATES)

# Called with (attempt_id, state) once a state is durable and before anything acts on it; the
# crash-safety tests raise from here to stop the engine between every pair of transitions.
TransitionHook = Callable[[str, str], None]


class IllegalTransition(Exception):
    def __init__(self, attempt_id: str, current: str, wanted: str) -> None:
        super().__init__(f"attempt {attempt_id}: {current} → {wanted} is not a lifecycle transition")
        self.current = current
        self.wanted = wanted


def _opportunity_number(opportunity_id: str) -> int:
    try:
        return int(opportunity_id)
    except ValueError:
        return 0


class Lifecycle:
    def __init__(self, writer: StoreWriter, *, bus: EventBus | None = None,
                 hook: TransitionHook | None = None, clock: Callable[[], float] = time.time) -> None:
        self.writer = writer
        self.bus = bus
        self.hook = hook
        self._clock = clock

    async def create(self, attempt: BundleAttempt, *, detail: dict[str, Any] | None = None) -> BundleAttempt:
        """Persist a new attempt at its initial state (its own `state` field) and publish it."""
        if attempt.state not in STATES:
            raise IllegalTransition(attempt.id, "(new)", attempt.state)
        now = self._clock()
        setattr(attempt, f"{attempt.state}_at", now)
        attempt.updated_at = now
        self.writer.save_attempt(attempt)
        self.writer.add_event(LifecycleEvent(attempt.id, attempt.opportunity_id, attempt.state, now,
                                             detail=detail))
        await self.writer.flush()
        self._after(attempt, "")
        return attempt

    async def transition(
        self,
        attempt: BundleAttempt,
        state: str,
        *,
        region: str | None = None,
        slot: int | None = None,
        reason: str = "",
        detail: dict[str, Any] | None = None,
        **fields: Any,
    ) -> BundleAttempt:
        """Move `attempt` to `state`, setting `fields` (bundle_attempts columns) in the same commit."""
        if state not in TRANSITIONS.get(attempt.state, frozenset()):
            raise IllegalTransition(attempt.id, attempt.state, state)
        now = self._clock()
        if fields:
            self.writer.update_attempt(attempt.id, **fields)
        event_detail = dict(detail or {})
        if reason:
            event_detail["reason"] = reason
        self.writer.record_transition(
            LifecycleEvent(attempt.id, attempt.opportunity_id, state, now, region=region, slot=slot,
                           detail=event_detail or None)
        )
        await self.writer.flush()
        for name, value in fields.items():
            setattr(attempt, name, value)
        attempt.state = state
        setattr(attempt, f"{state}_at", now)
        attempt.updated_at = now
        self._after(attempt, reason, region)
        return attempt

    def note(self, attempt: BundleAttempt, *, region: str | None = None, slot: int | None = None,
             detail: dict[str, Any]) -> None:
        """An observation that is not a transition (a slower region's answer); batched, not awaited."""
        self.writer.add_event(LifecycleEvent(attempt.id, attempt.opportunity_id, attempt.state,
                                             self._clock(), region=region, slot=slot, detail=detail))

    def _after(self, attempt: BundleAttempt, reason: str, region: str | None = None) -> None:
        if self.bus is not None:
            self.bus.publish(
                AttemptUpdate(
                    attempt_id=attempt.id,
                    opportunity_id=_opportunity_number(attempt.opportunity_id),
                    state=attempt.state,
                    attempt=attempt.attempt,
                    region=region or attempt.landed_region or "",
                    tip_lamports=attempt.tip_lamports or 0,
                    bundle_id=attempt.bundle_id or "",
                    reason=reason or (attempt.error_detail or ""),
                    realized_pnl=attempt.realised_profit,
                )
            )
        if self.hook is not None:
            self.hook(attempt.id, attempt.state)
