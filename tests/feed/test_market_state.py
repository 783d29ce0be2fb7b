"""MarketState: which update wins, what counts as a change, when a pool can be quoted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from solders.pubkey import Pubkey

from core.feed.market_state import FETCHED, NOTIFIED, AccountUpdate, MarketState
from core.localnet.cluster import Cluster
from core.protocols import ids
from core.protocols.spl_token import encode_token_account
from core.protocols.whirlpool import TICK_ARRAY_SIZE, start_tick_index


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    c = Cluster(seed=7, slot_ms=60_000)  # no slot ticks needed: only its genesis accounts
    await c.start()
    try:
        yield c
    finally:
        await c.stop()


def _update(cluster: Cluster, key: Pubkey, slot: int, rank: int, data: bytes | None = None) -> AccountUpdate:
    account = cluster.get_account(key)
    assert account is not None
    return AccountUpdate(key, account.owner, bytes(account.data) if data is None else data, slot, rank)


def _vault(mint: Pubkey, owner: Pubkey, amount: int) -> bytes:
    return encode_token_account(mint, owner, amount)


def _loaded_raydium(cluster: Cluster) -> tuple[MarketState, object]:
    state = MarketState()
    pool = cluster.scenario.raydium_pools[0]
    state.apply(_update(cluster, pool.address, 10, FETCHED))
    state.apply(_update(cluster, pool.coin_vault, 10, FETCHED))
    state.apply(_update(cluster, pool.pc_vault, 10, FETCHED))
    return state, pool


async def test_notification_of_the_fetch_slot_wins_and_an_older_one_loses(cluster: Cluster) -> None:
    state, pool = _loaded_raydium(cluster)
    quoted = state.pool(pool.address)
    assert quoted is not None
    coin = quoted.state.coin_reserve

    def vault(amount: int, slot: int, rank: int) -> set[Pubkey]:
        data = _vault(pool.coin_mint, pool.authority, amount)
        return state.apply(AccountUpdate(pool.coin_vault, ids.TOKEN_PROGRAM, data, slot, rank))

    assert vault(coin + 1, 9, NOTIFIED) == set()
    assert vault(coin + 2, 10, NOTIFIED) == {pool.address}
    # A fetch answered at that same slot may have been read before that notification's transaction.
    assert vault(coin + 3, 10, FETCHED) == set()
    assert state.pool(pool.address).state.coin_reserve == coin + 2  # type: ignore[union-attr]
    assert vault(coin + 4, 11, FETCHED) == {pool.address}


async def test_an_unchanged_re_report_changes_nothing(cluster: Cluster) -> None:
    state, pool = _loaded_raydium(cluster)
    assert state.apply(_update(cluster, pool.address, 12, NOTIFIED)) == set()
    assert state.apply(_update(cluster, pool.pc_vault, 12, NOTIFIED)) == set()


async def test_a_closed_vault_takes_its_pool_out_of_the_search(cluster: Cluster) -> None:
    state, pool = _loaded_raydium(cluster)
    assert state.apply(AccountUpdate(pool.pc_vault, None, None, 11, NOTIFIED)) == {pool.address}
    assert state.pool(pool.address) is None
    assert state.apply(_update(cluster, pool.pc_vault, 12, NOTIFIED)) == {pool.address}
    assert state.pool(pool.address) is not None


async def test_a_whirlpool_is_quotable_only_with_the_array_holding_its_price(cluster: Cluster) -> None:
    state = MarketState()
    wp = cluster.scenario.whirlpools[0]
    state.apply(_update(cluster, wp.address, 10, FETCHED))
    assert state.pool(wp.address) is None
    assert set(state.needed_accounts()) <= set(state.window_arrays())
    for key in state.needed_accounts():
        account = cluster.get_account(key)
        data = None if account is None else bytes(account.data)
        state.apply(AccountUpdate(key, ids.ORCA_WHIRLPOOL if data else None, data, 10, FETCHED))
    quoted = state.pool(wp.address)
    assert quoted is not None
    pool = quoted.state.pool
    span = TICK_ARRAY_SIZE * pool.tick_spacing
    base = start_tick_index(pool.tick_current_index, pool.tick_spacing)
    starts = [a.start_tick_index for a in quoted.state.tick_arrays]
    assert base in starts and all(abs(s - base) <= 3 * span for s in starts)
    assert state.needed_accounts() == []


async def test_accounts_of_pools_not_followed_are_not_kept(cluster: Cluster) -> None:
    state = MarketState()
    stranger = Pubkey.new_unique()
    data = _vault(ids.USDC_MINT, cluster.scenario.raydium_pools[0].authority, 5)
    assert state.apply(AccountUpdate(stranger, ids.TOKEN_PROGRAM, data, 10, NOTIFIED)) == set()
    assert state.entries == {} and state.tracked_accounts() == []
