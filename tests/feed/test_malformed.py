"""Malformed account data: a DecodeError naming the account, counted, and the feed carries on."""

from __future__ import annotations

import struct

from solders.account import Account
from solders.pubkey import Pubkey
from solders.signature import Signature

from core.feed import MarketFeed
from core.localnet.cluster import TxEvent
from core.protocols import ids
from core.protocols.raydium_amm import AMM_INFO_LEN
from tests.feed.conftest import Recorder, make_feed
from tests.feed.live import WAIT, Live, pool_by, raydium_state_from_rpc, swap, units, wait_for


def _bad_amm(status: int = 99) -> bytes:
    # Right size, impossible status: decode_amm_info refuses it.
    return struct.pack("<Q", status) + bytes(AMM_INFO_LEN - 8)


async def test_malformed_pool_in_the_initial_load_is_counted_and_skipped(live: Live) -> None:
    bad = Pubkey.new_unique()
    live.local.cluster.svm.set_account(bad, Account(10**9, _bad_amm(), ids.RAYDIUM_AMM_V4, False, 0))
    feed, _ = make_feed(live)
    await feed.start()
    try:
        await feed.wait_synced(WAIT)
        assert feed.state.decode_errors["raydium_amm_info"] == 1
        error = feed.state.last_decode_error
        assert error is not None and error.account == str(bad) and "status 99" in error.reason
        assert bad not in {p.id for p in feed.pools()}
        assert len(feed.pools()) == len(live.scenario.raydium_pools) + len(live.scenario.whirlpools)
        assert feed.health().decode_errors == 1
    finally:
        await feed.stop()


async def test_malformed_notification_drops_the_pool_and_the_feed_continues(
    live: Live, started: tuple[MarketFeed, Recorder]
) -> None:
    feed, recorder = started
    victim = pool_by(live.scenario, "SOL", "USDC", 1)
    # A programNotification carrying garbage for a live pool, sent over the real websocket.
    live.pubsub.on_event(TxEvent(
        Signature.new_unique(), live.local.cluster.slot, None, [],
        {victim.address: Account(10**9, _bad_amm(7_777), ids.RAYDIUM_AMM_V4, False, 0)}, frozenset(),
    ))
    await wait_for(lambda: feed.state.decode_error_count == 1, "the decode error")
    error = feed.state.last_decode_error
    assert error is not None and error.account == str(victim.address)
    await wait_for(lambda: any(victim.address in b.removed for b in recorder.batches), "the pool withdrawn")
    assert victim.address not in {p.id for p in feed.pools()}
    # The feed is still up and current: another pool's trade arrives, and the victim's own next
    # real update (good data) brings it back.
    other = pool_by(live.scenario, "RAY", "USDC")
    landed = await swap(live, other, units(live.scenario, "USDC", 300), coin_to_pc=False)
    landed = max(landed, await swap(live, victim, units(live.scenario, "SOL", 1), coin_to_pc=True, trader=2))
    await wait_for(lambda: feed.synced_slot > landed, "the feed to pass the landing slots")
    pools = {p.id: p for p in feed.pools()}
    for pool in (other, victim):
        assert pools[pool.address].state == (await raydium_state_from_rpc(live, pool))[1]
    assert feed.current and feed.stats.disconnects == 0
