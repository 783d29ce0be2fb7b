"""Kill switch: each `[risk]` threshold trips it, the reason is published and survives a restart."""

from __future__ import annotations

from pathlib import Path

from core.config import RiskConfig
from core.events import EngineState, EventBus
from core.execution.kill_switch import KillSwitch
from core.store import StoreReader, StoreWriter


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def switch(**risk: float) -> tuple[KillSwitch, Clock]:
    clock = Clock()
    return KillSwitch(RiskConfig(**risk), clock=clock), clock


def test_consecutive_failures_trip_and_a_landing_resets_the_count() -> None:
    kill, _ = switch(max_consecutive_failures=3, max_failure_rate=1.0, failure_window=100)
    for landed in (False, False, True, False, False):
        kill.record_outcome(landed=landed)
    assert kill.state == "running"
    kill.record_outcome(landed=False)
    assert kill.state == "killed" and "3 consecutive failures" in kill.reason
    assert not kill.allows_new and not kill.allows_retry


def test_failure_rate_waits_for_a_full_window() -> None:
    kill, _ = switch(max_failure_rate=0.5, failure_window=4, max_consecutive_failures=100)
    kill.record_outcome(landed=False)
    assert kill.state == "running"  # 1 of 1 failed, but the window is not full
    kill.record_outcome(landed=True)
    kill.record_outcome(landed=True)
    assert kill.state == "running"
    kill.record_outcome(landed=False)
    assert kill.state == "killed" and "failure rate 50%" in kill.reason


def test_tip_spend_per_hour_trips_and_old_tips_age_out() -> None:
    kill, clock = switch(max_tip_spend_sol_per_hour=0.01)
    kill.record_outcome(landed=True, tip_lamports=6_000_000)
    clock.now += 3601
    kill.record_outcome(landed=True, tip_lamports=6_000_000)
    assert kill.state == "running" and kill.tip_spend_last_hour_sol() == 0.006
    kill.record_outcome(landed=True, tip_lamports=5_000_000)
    assert kill.state == "killed" and "tips 0.011" in kill.reason


def test_drawdown_from_the_peak_trips() -> None:
    kill, _ = switch(max_drawdown_usd=10.0)
    kill.record_outcome(landed=True, pnl_usd=25.0)
    kill.record_outcome(landed=True, pnl_usd=-9.0)
    assert kill.state == "running" and kill.drawdown_usd == 9.0
    kill.record_outcome(landed=True, pnl_usd=-1.5)
    assert kill.state == "killed" and "drawdown 10.50" in kill.reason


def test_pause_lets_retries_finish_but_stop_cancels_them() -> None:
    kill, _ = switch()
    kill.pause()
    assert (kill.allows_new, kill.allows_retry) == (False, True)
    kill.stop()
    assert (kill.allows_new, kill.allows_retry) == (False, False)
    kill.resume()
    assert kill.allows_new


async def test_trip_is_published_and_persisted_across_a_restart(tmp_path: Path) -> None:
    bus = EventBus()
    sub = bus.subscribe()
    writer = StoreWriter(tmp_path, "live")
    kill = KillSwitch(RiskConfig(max_consecutive_failures=1), mode="live", bus=bus, writer=writer)
    kill.record_outcome(landed=False)
    await writer.close()
    (event,) = list(sub.drain())
    assert isinstance(event, EngineState) and event.state == "killed" and event.mode == "live"
    assert event.reason == kill.reason
    restarted = KillSwitch(RiskConfig())
    with StoreReader(tmp_path, "live") as reader:
        restarted.load(reader)
    assert (restarted.state, restarted.reason) == ("killed", kill.reason)
    assert not restarted.allows_new
