"""Fixtures: a live local cluster with PubSub, and a market feed started on it."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from core.events import FeedHealth, SlotTick
from core.feed import FeedBatch, FeedEvent, MarketFeed
from tests.feed.live import WAIT, Live


@dataclass
class Recorder:
    """Everything a feed told its listener, in order."""

    events: list[FeedEvent] = field(default_factory=list)

    def __call__(self, event: FeedEvent) -> None:
        self.events.append(event)

    @property
    def batches(self) -> list[FeedBatch]:
        return [e for e in self.events if isinstance(e, FeedBatch)]

    @property
    def health(self) -> list[FeedHealth]:
        return [e for e in self.events if isinstance(e, FeedHealth)]

    @property
    def slots(self) -> list[int]:
        return [e.slot for e in self.events if isinstance(e, SlotTick)]


def make_feed(live: Live, **kwargs: object) -> tuple[MarketFeed, Recorder]:
    options: dict[str, object] = {
        "max_state_age_slots": 4, "reconnect_min_s": 0.02, "reconnect_max_s": 0.2, "watchdog_s": 0.5,
        "rng": random.Random(3),
    }
    options.update(kwargs)
    feed = MarketFeed(live.rpc_url, live.ws_url, **options)  # type: ignore[arg-type]
    recorder = Recorder()
    feed.add_listener(recorder)
    return feed, recorder


@pytest.fixture
async def started(live: Live) -> AsyncIterator[tuple[MarketFeed, Recorder]]:
    feed, recorder = make_feed(live)
    await feed.start()
    try:
        await feed.wait_synced(WAIT)
        yield feed, recorder
    finally:
        await feed.stop()
