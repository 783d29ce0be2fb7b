"""Competing searchers: real signed bundles on the same opportunities, so inclusion depends on the tip.

Time is stepped by the test (frozen slot clock, manual auction ticks, an engine clock it advances),
so the outcome depends only on the seeds: a statistical test without any timing assertion.
"""

from __future__ import annotations

import asyncio
import hashlib
import random

import pytest
from solders.keypair import Keypair
from solders.transaction import VersionedTransaction

from core.localnet.block_engine import BlockEngineConfig, CompetitorConfig
from core.localnet.block_engine.competitors import arb_transaction, find_opportunities, fund_searcher
from core.localnet.block_engine.statuses import LANDED
from core.localnet.simulator import swap_transaction
from core.protocols import ids, raydium_amm
from tests.localnet.block_engine.bundle_helpers import send_bundle
from tests.localnet.conftest import TEST_REGIONS, start_block_engine, stop_block_engine
from tests.localnet.rpc_helpers import freeze_clock, rpc

TRIALS_PER_TIP = 30


@pytest.fixture
async def contest(localnet):
    await freeze_clock(localnet)
    config = BlockEngineConfig(regions=TEST_REGIONS, rate_limit_per_s=None,
                               competitors=CompetitorConfig(count=3, aggressiveness=0.5, skill=0.8, seed=5))
    be = await start_block_engine(localnet, config, autorun=False)
    clock = [0.0]
    be.engine.clock = lambda: clock[0]
    try:
        yield be, clock
    finally:
        await stop_block_engine(be)


def _shock(localnet, rng: random.Random, trader_index: int) -> None:
    """A big noise trade on one SOL pool that has a sibling: an opportunity for whoever is fastest."""
    scenario = localnet.cluster.scenario
    pairs = {}
    for p in scenario.raydium_pools:
        if ids.NATIVE_MINT in (p.coin_mint, p.pc_mint):
            pairs.setdefault((p.coin_mint, p.pc_mint), []).append(p)
    pool = rng.choice([p for group in pairs.values() if len(group) > 1 for p in group])
    svm = localnet.cluster.svm
    info = raydium_amm.decode_amm_info(bytes(svm.get_account(pool.address).data), pool.address)
    coin_to_pc = rng.random() < 0.5
    vault = pool.coin_vault if coin_to_pc else pool.pc_vault
    reserve = int.from_bytes(bytes(localnet.cluster.svm.get_account(vault).data)[64:72], "little")
    amount = int(reserve * rng.uniform(0.005, 0.02))
    trader = scenario.traders[trader_index % len(scenario.traders)]
    swap = swap_transaction(pool, info, trader, amount, coin_to_pc, min_out=0,
                            blockhash=localnet.cluster.svm.latest_blockhash())
    record = localnet.cluster.submit(VersionedTransaction.from_bytes(bytes(swap)))
    assert record.err is None


async def _inclusion(localnet, be, clock, tip_share: float, seed: int) -> tuple[float, int]:
    """Share of back-run bundles the bot lands against the searchers, bidding `tip_share` of profit."""
    rng = random.Random(seed)
    engine, cluster = be.engine, localnet.cluster
    bot = Keypair.from_seed(hashlib.sha256(f"bot/{seed}".encode()).digest())
    bot_accounts = fund_searcher(cluster, bot, engine.competitors.pools)
    wins = trials = attempts = 0
    while trials < TRIALS_PER_TIP and attempts < 4 * TRIALS_PER_TIP:
        attempts += 1
        cluster.advance_slot()
        clock[0] += 1.0
        engine.tick()  # last round's losers retry, and fail: their opportunity is gone
        _shock(localnet, rng, attempts)
        opportunities = find_opportunities(cluster, engine.competitors.pools, min_profit=200_000)
        if not opportunities:
            continue
        engine.searchers_act()
        best = opportunities[0]
        tip = max(1_000, int(best.profit * tip_share))
        bundle = [arb_transaction(bot, bot_accounts, best, tip, ids.JITO_TIP_ACCOUNTS[attempts % 8],
                                  cluster.svm.latest_blockhash())]
        bid = (await send_bundle(be, bundle, "ny"))["result"]
        clock[0] += 1.0  # every searcher's reaction delay has passed: all bids are in this auction
        engine.tick()
        trials += 1
        wins += engine.book.get(bid).state == LANDED
    assert trials == TRIALS_PER_TIP
    return wins / trials, trials


async def _tip_balances(localnet) -> int:
    total = 0
    for account in ids.JITO_TIP_ACCOUNTS:
        reply = await rpc(localnet.url, "getBalance", [str(account), {"commitment": "processed"}])
        total += reply["result"]["value"]
    return total


async def test_competition_keeps_inclusion_below_100_percent_and_it_rises_with_the_tip(localnet, contest):
    be, clock = contest
    tips_before = await _tip_balances(localnet)
    low, _ = await _inclusion(localnet, be, clock, 0.2, seed=1)
    high, _ = await _inclusion(localnet, be, clock, 0.7, seed=3)
    assert high < 1.0, "the searchers must win some auctions even against a generous tip"
    assert low < 0.5 < high, (low, high)
    # The searchers' bundles are real transactions: some of them landed, and paid their tips.
    records = be.engine.book.records()
    searchers_landed = [r for r in records if r.source.startswith("searcher-") and r.state == LANDED]
    assert searchers_landed
    all_landed = [r for r in records if r.state == LANDED]
    assert await _tip_balances(localnet) - tips_before == sum(r.tip_lamports for r in all_landed)
    assert sorted(be.engine.tip_floor.tips) == sorted(r.tip_lamports for r in all_landed)


async def test_searchers_ignore_pools_without_an_opportunity(localnet, contest):
    be, _ = contest
    # Genesis prices sit within the fee band or close to it: nothing worth the minimum profit.
    assert find_opportunities(localnet.cluster, be.engine.competitors.pools, min_profit=10**12) == []
    before = be.engine.stats.accepted
    be.engine.competitors.config = CompetitorConfig(count=3, min_profit_lamports=10**12)
    assert be.engine.searchers_act() == []
    assert be.engine.stats.accepted == before


async def test_live_searchers_back_run_a_pool_shock_on_their_own(localnet):
    """With the real slot clock and auction loop: a noise trade is seen, bid on and back-run."""
    config = BlockEngineConfig(regions=TEST_REGIONS, rate_limit_per_s=None,
                               competitors=CompetitorConfig(count=2, skill=1.0, reaction_ms=5.0, seed=8))
    be = await start_block_engine(localnet, config)
    try:
        _shock(localnet, random.Random(4), 0)
        for _ in range(1_000):
            if be.engine.stats.landed:
                break
            await asyncio.sleep(0.01)
        landed = be.engine.book.records()
        assert any(r.state == LANDED and r.source.startswith("searcher-") for r in landed)
    finally:
        await stop_block_engine(be)
