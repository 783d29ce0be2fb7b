"""Keeping current: a trade on the cluster reaches the feed's index within one slot."""

from __future__ import annotations

from core.feed import FeedBatch, MarketFeed
from tests.feed.conftest import Recorder
from tests.feed.live import Live, pool_by, raydium_state_from_rpc, swap, units, wait_for


def _batch_with(recorder: Recorder, pool_id: object, state: object) -> FeedBatch | None:
    for batch in recorder.batches:
        for pool in batch.pools:
            if pool.id == pool_id and pool.state == state:
                return batch
    return None


async def test_noise_trade_shows_up_in_the_index_within_one_slot(
    live: Live, started: tuple[MarketFeed, Recorder]
) -> None:
    feed, recorder = started
    pool = pool_by(live.scenario, "SOL", "USDC")
    _, before = await raydium_state_from_rpc(live, pool)
    landed = await swap(live, pool, units(live.scenario, "SOL", 3), coin_to_pc=True)
    _, after = await raydium_state_from_rpc(live, pool)
    assert after != before
    await wait_for(lambda: _batch_with(recorder, pool.address, after) is not None, "the swap in a feed batch")
    batch = _batch_with(recorder, pool.address, after)
    assert batch is not None
    # Cut at the boundary of the landing slot: applied as soon as slot `landed` was complete.
    assert batch.slot == landed + 1
    updated = next(p for p in batch.pools if p.id == pool.address)
    assert updated.slot == landed
    assert {p.id: p for p in feed.pools()}[pool.address].state == after


async def test_untouched_pools_are_not_republished_by_a_trade_elsewhere(
    live: Live, started: tuple[MarketFeed, Recorder]
) -> None:
    feed, recorder = started
    pool = pool_by(live.scenario, "JUP", "USDC")
    already = len(recorder.batches)
    landed = await swap(live, pool, units(live.scenario, "USDC", 500), coin_to_pc=False, trader=1)
    await wait_for(lambda: feed.synced_slot > landed, "the feed to pass the landing slot")
    later = [p.id for b in recorder.batches[already:] for p in b.pools]
    assert later == [pool.address]
