"""Dynamic tip: the cap invariant (hypothesis), the multipliers, the floor, persistence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import JitoConfig
from core.events import EventBus, TipPolicy
from core.execution.jito_client import TipFloor
from core.execution.tips import DynamicTip, TipHistory
from core.store import StoreReader, StoreWriter

NOON = datetime(2026, 1, 1, 10, tzinfo=UTC)  # default band 8–13: multiplier 1.1


def floor_of(lamports: int) -> TipFloor:
    return TipFloor(lamports // 2, lamports, lamports * 2, lamports * 4, lamports * 8, lamports)


@settings(max_examples=200, deadline=None)
@given(
    profit=st.integers(0, 10**12),
    min_profit=st.integers(0, 10**11),
    tip_percent=st.floats(0, 100),
    min_tip=st.integers(0, 10**6),
    floor=st.integers(0, 10**7),
    landed=st.lists(st.booleans(), max_size=40),
    hour=st.integers(0, 23),
    bump=st.floats(1.0, 10.0),
)
def test_tip_never_leaves_less_than_the_minimum_profit(
    profit: int, min_profit: int, tip_percent: float, min_tip: int, floor: int,
    landed: list[bool], hour: int, bump: float,
) -> None:
    config = JitoConfig(tip_percent=tip_percent, min_tip_lamports=min_tip)
    history = TipHistory(config.tip_history)
    for i, ok in enumerate(landed):
        history.record(f"a{i}", 1000, ok, at=1.0)
    policy = DynamicTip(config, history)
    policy.update_floor(floor_of(floor))
    decision = policy.decide(profit, min_profit, bump=bump, now=datetime(2026, 1, 1, hour, tzinfo=UTC))
    if decision.dropped:
        assert decision.tip_lamports == 0
        # dropped only when even the floor would eat into the minimum profit
        assert max(min_tip, floor) > profit - min_profit
    else:
        assert profit - decision.tip_lamports >= min_profit
        assert decision.tip_lamports >= max(min_tip, floor)
        assert isinstance(decision.tip_lamports, int)


def test_tip_is_percent_of_profit_times_multipliers() -> None:
    config = JitoConfig(tip_percent=10, min_tip_lamports=1000)
    policy = DynamicTip(config, TipHistory(100))
    decision = policy.decide(10_000_000, 0, now=NOON)
    assert decision.inclusion_multiplier == 1.0  # no history yet
    assert decision.time_of_day_multiplier == 1.1
    assert decision.tip_lamports == 1_100_000
    assert not decision.dropped


def test_low_inclusion_raises_and_high_inclusion_lowers_the_tip() -> None:
    config = JitoConfig(tip_percent=10, min_tip_lamports=0, inclusion_window=10)
    low, high = TipHistory(100), TipHistory(100)
    for i in range(10):
        low.record(f"l{i}", 1, landed=i < 3)  # 30 % < 50 %
        high.record(f"h{i}", 1, landed=i < 9)  # 90 % > 80 %
    assert DynamicTip(config, low).decide(1_000_000, 0, now=NOON).tip_lamports == 165_000
    assert DynamicTip(config, high).decide(1_000_000, 0, now=NOON).tip_lamports == 88_000


def test_tip_floor_percentile_and_min_tip_are_floors() -> None:
    config = JitoConfig(tip_percent=1, min_tip_lamports=5_000, tip_floor_percentile=75)
    policy = DynamicTip(config, TipHistory(10))
    assert policy.decide(100_000, 0, now=NOON).tip_lamports == 5_000
    policy.update_floor(floor_of(20_000))  # p75 = 40_000
    decision = policy.decide(100_000, 0, now=NOON)
    assert (decision.tip_lamports, decision.floor_lamports) == (40_000, 40_000)


def test_tip_is_capped_by_profit_and_unpayable_floor_drops_the_opportunity() -> None:
    config = JitoConfig(tip_percent=100, min_tip_lamports=10_000)
    policy = DynamicTip(config, TipHistory(10))
    capped = policy.decide(1_000_000, 400_000, now=NOON)
    assert capped.tip_lamports == 600_000 and "capped" in capped.reason
    dropped = policy.decide(1_000_000, 995_000, now=NOON)
    assert dropped.dropped and dropped.tip_lamports == 0


def test_retry_bump_multiplies_the_tip() -> None:
    config = JitoConfig(tip_percent=10, min_tip_lamports=0)
    policy = DynamicTip(config, TipHistory(10))
    assert policy.decide(1_000_000, 0, bump=1.5 ** 2, now=NOON).tip_lamports == 247_500


def test_decision_is_published_as_tip_policy_event() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    policy = DynamicTip(JitoConfig(tip_percent=10, min_tip_lamports=0), TipHistory(10), bus)
    policy.decide(1_000_000, 0, now=NOON)
    (event,) = list(sub.drain())
    assert isinstance(event, TipPolicy) and event.last_tip_lamports == 110_000


async def test_history_survives_a_restart_through_the_store(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path, "dry-run")
    history = TipHistory(5, writer)
    for i in range(8):
        history.record(f"att-{i}", 1000 + i, landed=i % 2 == 0, at=float(i))
    await writer.close()
    restored = TipHistory(5)
    with StoreReader(tmp_path, "dry-run") as reader:
        restored.load(reader)
    assert len(restored) == 5
    assert restored.last_tip == 1007
    assert restored.inclusion_rate(5) == history.inclusion_rate(5) == 2 / 5
