"""The initial load: every pool getProgramAccounts lists, with the vaults and tick arrays it needs."""

from __future__ import annotations

import base58
from solana.rpc.commitment import Processed
from solana.rpc.models import MemcmpOpts

from core.feed import FeedBatch, MarketFeed
from core.protocols import ids
from core.protocols.raydium_amm import AMM_INFO_LEN
from core.protocols.whirlpool import WHIRLPOOL_DISCRIMINATOR, decode_whirlpool
from core.search.dex_raydium import RAYDIUM_AMM_V4
from core.search.dex_whirlpool import WHIRLPOOL, WhirlpoolState
from tests.feed.conftest import Recorder
from tests.feed.live import Live, raydium_state_from_rpc


async def test_initial_load_holds_exactly_the_pools_get_program_accounts_lists(
    live: Live, started: tuple[MarketFeed, Recorder]
) -> None:
    feed, recorder = started
    async with live.local.client("processed") as client:
        raydium = await client.get_program_accounts(
            ids.RAYDIUM_AMM_V4, Processed, "base64", filters=[AMM_INFO_LEN]
        )
        whirl = await client.get_program_accounts(
            ids.ORCA_WHIRLPOOL, Processed, "base64",
            filters=[MemcmpOpts(offset=0, bytes=base58.b58encode(WHIRLPOOL_DISCRIMINATOR).decode())],
        )
    assert set(feed.state.pool_ids(RAYDIUM_AMM_V4)) == {k.pubkey for k in raydium.value}
    assert set(feed.state.pool_ids(WHIRLPOOL)) == {k.pubkey for k in whirl.value}
    assert len(raydium.value) == len(live.scenario.raydium_pools)
    assert len(whirl.value) == len(live.scenario.whirlpools)
    # Everything the load brought in is usable by the search, and went out as the first batch.
    first = recorder.batches[0]
    assert isinstance(first, FeedBatch)
    assert {p.id for p in first.pools} == {k.pubkey for k in (*raydium.value, *whirl.value)}
    assert first.removed == ()


async def test_loaded_pools_quote_from_the_accounts_rpc_returns(
    live: Live, started: tuple[MarketFeed, Recorder]
) -> None:
    feed, _ = started
    by_id = {p.id: p for p in feed.pools()}
    for pool in live.scenario.raydium_pools:
        _, expected = await raydium_state_from_rpc(live, pool)
        assert by_id[pool.address].state == expected
        assert (by_id[pool.address].mint_a, by_id[pool.address].mint_b) == (pool.coin_mint, pool.pc_mint)
    async with live.local.client("processed") as client:
        for wp in live.scenario.whirlpools:
            accounts = (await client.get_multiple_accounts([wp.address], Processed)).value
            state = by_id[wp.address].state
            assert isinstance(state, WhirlpoolState)
            assert state.pool == decode_whirlpool(bytes(accounts[0].data), wp.address)
            # The arrays around the price are all there (genesis writes them), in start order.
            starts = [a.start_tick_index for a in state.tick_arrays]
            assert starts == sorted(starts) and len(starts) >= 3
