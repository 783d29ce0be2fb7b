"""Losing the websocket: stale while away, reconnect with backoff, resubscribe, refetch what changed."""

from __future__ import annotations

from core.feed import MarketFeed
from tests.feed.conftest import Recorder
from tests.feed.live import Live, pool_by, raydium_state_from_rpc, swap, units, wait_for


async def test_dropped_websocket_goes_stale_then_current_after_resync(
    live: Live, started: tuple[MarketFeed, Recorder]
) -> None:
    feed, recorder = started
    assert feed.current
    seen = len(recorder.health)
    live.local.faults.ws_drop_all = True  # PubSub cuts every connection on the next cluster event
    await wait_for(lambda: feed.stats.resyncs >= 2 and feed.current, "reconnect and resync")
    after = recorder.health[seen:]
    stale_at = next(i for i, h in enumerate(after) if h.stale and not h.connected)
    assert any(not h.stale and h.connected for h in after[stale_at + 1 :])
    assert feed.stats.disconnects >= 1 and feed.stats.connects >= 2
    # Subscriptions were made again on the new connection: a trade still arrives.
    pool = pool_by(live.scenario, "SOL", "USDT")
    landed = await swap(live, pool, units(live.scenario, "SOL", 1), coin_to_pc=True)
    _, expected = await raydium_state_from_rpc(live, pool)
    await wait_for(lambda: feed.synced_slot > landed, "the feed to pass the landing slot")
    assert {p.id: p for p in feed.pools()}[pool.address].state == expected


async def test_trade_landed_while_disconnected_is_refetched_on_reconnect(
    live: Live, started: tuple[MarketFeed, Recorder]
) -> None:
    feed, recorder = started
    port = live.pubsub.port
    await live.pubsub.stop()  # no websocket at all: the trade below sends no notification to anyone
    await wait_for(lambda: not feed.freshness.connected, "the feed to notice")
    assert not feed.current and recorder.health[-1].stale
    pool = pool_by(live.scenario, "mSOL", "USDC")
    landed = await swap(live, pool, units(live.scenario, "USDC", 2_000), coin_to_pc=False)
    _, expected = await raydium_state_from_rpc(live, pool)
    assert {p.id: p for p in feed.pools()}[pool.address].state != expected
    batches_before = len(recorder.batches)
    await live.restart_pubsub(port)
    await wait_for(lambda: feed.current, "reconnect and resync")
    assert feed.synced_slot >= landed
    assert {p.id: p for p in feed.pools()}[pool.address].state == expected
    # The resync republished what changed meanwhile — that pool — and nothing that did not.
    republished = {p.id for b in recorder.batches[batches_before:] for p in b.pools}
    assert republished == {pool.address}
    assert feed.stats.reconnect_delays and max(feed.stats.reconnect_delays) <= 0.2


async def test_silent_websocket_is_stale_past_max_age_and_recovers(
    live: Live, started: tuple[MarketFeed, Recorder]
) -> None:
    feed, recorder = started
    max_age = feed.freshness.max_age_slots
    seen = len(recorder.health)
    # The socket stays open but says nothing (no slot, no account notifications): only the
    # watchdog's getSlot shows the cluster moving on.
    live.local.faults.skip_notification_rate = 1.0
    await wait_for(lambda: any(h.stale and h.stale_slots > max_age for h in recorder.health[seen:]),
                   "stale past the maximum state age")
    assert not feed.current
    live.local.faults.skip_notification_rate = 0.0
    await wait_for(lambda: feed.current, "current again")
    assert feed.freshness.age_slots <= max_age
