"""Dynamic Jito tip: a share of the expected profit, steered by recent inclusion and the hour.

tip = tip_percent % of profit × inclusion multiplier × time-of-day multiplier × retry bump,
floored at `min_tip_lamports` and at the configured percentile of the live tip floor, and capped
so that profit − tip ≥ the minimum profit. When the floor is above that cap the opportunity is
dropped: paying more than it is worth to land it is never the right answer.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from core.config import JitoConfig
from core.events import EventBus, TipPolicy
from core.execution.jito_client import JitoClient, TipFloor
from core.execution.rpc import RpcError
from core.store import StoreReader, StoreWriter, TipOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TipDecision:
    """The tip to pay, or `dropped` with the reason; every factor kept for the console and the log."""

    tip_lamports: int
    dropped: bool
    reason: str
    base_lamports: int
    inclusion_multiplier: float
    time_of_day_multiplier: float
    bump: float
    floor_lamports: int
    cap_lamports: int


class TipHistory:
    """The last `size` bundle outcomes (tip, landed), persisted so a restart keeps its judgement."""

    def __init__(self, size: int, writer: StoreWriter | None = None) -> None:
        self.size = size
        self._outcomes: deque[TipOutcome] = deque(maxlen=size)
        self.writer = writer  # where outcomes are persisted (None: kept in memory only)

    def load(self, reader: StoreReader) -> None:
        self._outcomes.extend(reader.tip_outcomes(self.size))

    def record(self, attempt_id: str, tip_lamports: int, landed: bool, at: float | None = None) -> None:
        outcome = TipOutcome(attempt_id=attempt_id, at=at or time.time(), tip_lamports=tip_lamports,
                             landed=landed)
        self._outcomes.append(outcome)
        if self.writer is not None:
            self.writer.add_tip_outcome(outcome)

    def inclusion_rate(self, window: int) -> float | None:
        """Share of the last `window` outcomes that landed; None before any outcome."""
        recent = list(self._outcomes)[-window:]
        if not recent:
            return None
        return sum(o.landed for o in recent) / len(recent)

    def __len__(self) -> int:
        return len(self._outcomes)

    @property
    def last_tip(self) -> int:
        return self._outcomes[-1].tip_lamports if self._outcomes else 0


class DynamicTip:
    """Decides tips from the `[jito]` policy, the history and the latest tip floor."""

    def __init__(self, config: JitoConfig, history: TipHistory, bus: EventBus | None = None) -> None:
        self.config = config
        self.history = history
        self.tip_floor: TipFloor | None = None
        self._bus = bus

    def update_floor(self, floor: TipFloor) -> None:
        self.tip_floor = floor

    async def refresh_floor(self, jito: JitoClient) -> TipFloor | None:
        """Fetch the live tip floor; on failure keep the last one (the min tip still applies)."""
        try:
            self.tip_floor = await jito.tip_floor()
        except RpcError as exc:
            log.warning("tip floor unavailable, keeping the last one: %s", exc)
        return self.tip_floor

    def inclusion_multiplier(self) -> float:
        rate = self.history.inclusion_rate(self.config.inclusion_window)
        return 1.0 if rate is None else self.config.inclusion_multiplier(rate)

    def decide(
        self,
        expected_profit_lamports: int,
        min_profit_lamports: int,
        *,
        bump: float = 1.0,
        now: datetime | None = None,
        publish: bool = True,
    ) -> TipDecision:
        """`publish=False`: decide without a TipPolicy event (the caller publishes it once the tip is
        actually used, with the same inputs)."""
        cfg = self.config
        hour = (now or datetime.now(UTC)).astimezone(UTC).hour
        inclusion = self.inclusion_multiplier()
        tod = cfg.time_of_day_multiplier(hour)
        base = expected_profit_lamports * cfg.tip_percent / 100
        wanted = round(base * inclusion * tod * bump)
        floor = self.floor_lamports()
        cap = expected_profit_lamports - min_profit_lamports
        tip = min(max(wanted, floor), cap)
        dropped = tip < floor
        if dropped:
            reason = f"tip floor {floor} lamports exceeds the profit cap {max(cap, 0)}"
            tip = 0
        elif tip < wanted:
            reason = f"capped at {cap} so net profit stays ≥ {min_profit_lamports}"
        elif wanted < floor:
            reason = f"raised to the floor {floor}"
        else:
            reason = "policy"
        decision = TipDecision(tip, dropped, reason, round(base), inclusion, tod, bump, floor, cap)
        if self._bus is not None and publish:
            shown = self.history.last_tip if dropped else tip
            self._bus.publish(TipPolicy(cfg.tip_percent, inclusion, tod, floor, shown))
        return decision

    def floor_lamports(self) -> int:
        """The least tip any bundle gets: `min_tip_lamports`, or the live floor's percentile."""
        return max(self.config.min_tip_lamports, self._floor_percentile())

    def _floor_percentile(self) -> int:
        if self.tip_floor is None:
            return 0
        return self.tip_floor.percentile(self.config.tip_floor_percentile)
