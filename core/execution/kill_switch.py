"""The kill switch, enforced where bundles are sent (the submitter asks it before every send).

States: running; paused (finish what is in flight, retries included, send nothing new); stopped
(also cancel retries); killed (stopped by a `[risk]` threshold: drawdown, tip spend per hour,
failure rate over `failure_window`, consecutive failures). Every change is persisted with its
reason and published as EngineState, and a restart comes back in the persisted state: a tripped
engine stays tripped until an operator resets it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from core.config import RiskConfig
from core.events import EngineState, EventBus
from core.store import KillSwitchEvent, StoreReader, StoreWriter

LAMPORTS_PER_SOL = 1_000_000_000
HOUR_S = 3600.0


class KillSwitch:
    def __init__(
        self,
        config: RiskConfig,
        *,
        mode: str = "live",
        bus: EventBus | None = None,
        writer: StoreWriter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.mode = mode
        self.state = "running"
        self.reason = ""
        self._bus = bus
        self._writer = writer
        self._clock = clock
        self._outcomes: deque[bool] = deque(maxlen=config.failure_window)
        self._consecutive_failures = 0
        self._pnl_usd = 0.0
        self._peak_pnl_usd = 0.0
        self._tips: deque[tuple[float, int]] = deque()

    # -- gates ------------------------------------------------------------------------------------

    @property
    def allows_new(self) -> bool:
        """A new opportunity may be submitted."""
        return self.state == "running"

    @property
    def allows_retry(self) -> bool:
        """An in-flight opportunity may be retried or replaced (pause lets it finish)."""
        return self.state in ("running", "paused")

    # -- commands ---------------------------------------------------------------------------------

    def pause(self, reason: str = "paused by operator") -> None:
        self._set("paused", reason)

    def stop(self, reason: str = "stopped by operator") -> None:
        self._set("stopped", reason)

    def trip(self, reason: str) -> None:
        self._set("killed", reason)

    def resume(self, reason: str = "resumed by operator") -> None:
        self._consecutive_failures = 0
        self._outcomes.clear()
        self._set("running", reason)

    def rebind(self, writer: StoreWriter | None, mode: str) -> None:
        """A mode switch: further state changes are persisted in the new mode's store."""
        self._writer, self.mode = writer, mode

    def load(self, reader: StoreReader) -> None:
        """Come back in the last persisted state (a killed engine stays killed across restarts)."""
        events = reader.kill_switch_events()
        if events:
            self.state, self.reason = events[-1].state, events[-1].reason

    def _set(self, state: str, reason: str) -> None:
        if state == self.state and reason == self.reason:
            return
        self.state, self.reason = state, reason
        if self._writer is not None:
            self._writer.add_kill_switch_event(KillSwitchEvent(at=self._clock(), state=state, reason=reason))
        if self._bus is not None:
            self._bus.publish(EngineState(state=state, mode=self.mode, reason=reason))

    # -- risk accounting --------------------------------------------------------------------------

    def record_outcome(self, *, landed: bool, tip_lamports: int = 0, pnl_usd: float | None = None) -> None:
        """One finished attempt: landed or not, the tip it paid, its realised P&L in USD if known."""
        self._outcomes.append(landed)
        self._consecutive_failures = 0 if landed else self._consecutive_failures + 1
        if tip_lamports > 0:
            self._tips.append((self._clock(), tip_lamports))
        if pnl_usd is not None:
            self._pnl_usd += pnl_usd
            self._peak_pnl_usd = max(self._peak_pnl_usd, self._pnl_usd)
        self.check()

    def tip_spend_last_hour_sol(self) -> float:
        horizon = self._clock() - HOUR_S
        while self._tips and self._tips[0][0] < horizon:
            self._tips.popleft()
        return sum(t for _, t in self._tips) / LAMPORTS_PER_SOL

    def failure_rate(self) -> float | None:
        """Share of failures over the last `failure_window` outcomes; None until the window is full."""
        if len(self._outcomes) < self.config.failure_window:
            return None
        return sum(not ok for ok in self._outcomes) / len(self._outcomes)

    @property
    def drawdown_usd(self) -> float:
        return self._peak_pnl_usd - self._pnl_usd

    def check(self) -> None:
        """Trip on the first crossed threshold (no-op once not running or paused)."""
        if self.state in ("stopped", "killed"):
            return
        cfg = self.config
        if self.drawdown_usd >= cfg.max_drawdown_usd:
            self.trip(f"drawdown {self.drawdown_usd:.2f} USD ≥ max_drawdown_usd {cfg.max_drawdown_usd}")
            return
        spend = self.tip_spend_last_hour_sol()
        if spend > cfg.max_tip_spend_sol_per_hour:
            self.trip(f"tips {spend:.9f} SOL in the last hour > max_tip_spend_sol_per_hour "
                      f"{cfg.max_tip_spend_sol_per_hour}")
            return
        rate = self.failure_rate()
        if rate is not None and rate >= cfg.max_failure_rate:
            self.trip(f"failure rate {rate:.0%} over the last {cfg.failure_window} attempts ≥ "
                      f"max_failure_rate {cfg.max_failure_rate:.0%}")
            return
        if self._consecutive_failures >= cfg.max_consecutive_failures:
            self.trip(f"{self._consecutive_failures} consecutive failures ≥ max_consecutive_failures "
                      f"{cfg.max_consecutive_failures}")
