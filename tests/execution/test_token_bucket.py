"""Token bucket on a fake clock: the pace it allows, never real time."""

from __future__ import annotations

import pytest

from core.execution.token_bucket import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_bucket_allows_burst_then_refuses_until_refilled() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert bucket.delay() == pytest.approx(0.5)
    clock.now += 0.49
    assert not bucket.try_acquire()
    clock.now += 0.01
    assert bucket.try_acquire()


def test_bucket_never_banks_more_than_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=2, clock=clock)
    clock.now += 3600
    assert bucket.tokens == 2


async def test_acquire_paces_requests_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(5):
        await bucket.acquire()
    # the first is free, each later one waits exactly one period: never two inside one second
    assert clock.now - start == pytest.approx(4.0)
    assert sum(clock.slept) == pytest.approx(4.0)


async def test_penalize_holds_the_next_token_for_retry_after() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=5, clock=clock, sleep=clock.sleep)
    bucket.penalize(3.0)
    assert not bucket.try_acquire()
    assert bucket.delay() == pytest.approx(3.0)
    waited = await bucket.acquire()
    assert waited == pytest.approx(3.0)


def test_bucket_rejects_nonsense_rates() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0.5)
