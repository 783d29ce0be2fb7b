"""Reconnect delays: exponential growth, capped, jittered, reset after a good connection."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from core.feed.backoff import Backoff


@given(st.floats(0.001, 1.0), st.floats(1.0, 60.0), st.integers(0, 2**32))
def test_every_delay_lies_between_the_floor_and_the_doubling_ceiling(
    low: float, high: float, seed: int
) -> None:
    backoff = Backoff(low, high, random.Random(seed))
    for attempt in range(40):
        delay = backoff.next_delay()
        assert low <= delay <= min(high, low * 2**attempt)


def test_delays_spread_out_and_reset() -> None:
    backoff = Backoff(0.1, 5.0, random.Random(1))
    first = [backoff.next_delay() for _ in range(12)]
    assert max(first[8:]) > 1.0 and len(set(first)) == len(first)
    backoff.reset()
    assert backoff.next_delay() == 0.1
