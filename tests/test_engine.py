"""The engine on a live local cluster: what it publishes equals a fresh computation from RPC state."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

import pytest
from solana.rpc.commitment import Processed
from solders.pubkey import Pubkey

from core.config import AppConfig, load_config
from core.engine import Engine, FreshestQueue, default_fee_model, flash_schedule
from core.events import EngineState, EventBus, FeedHealth, SlotTick
from core.feed.prices import MintPrices
from core.metrics import Metrics
from core.protocols import kamino, raydium_amm
from core.protocols.ids import USDC_MINT
from core.protocols.spl_token import decode_token_account
from core.protocols.whirlpool import decode_tick_array, decode_whirlpool
from core.search.dex_raydium import RAYDIUM_AMM_V4, RaydiumState
from core.search.dex_whirlpool import WHIRLPOOL, WhirlpoolState
from core.search.engine import SearchEngine
from core.search.fees import FeeBreakdown, kamino_schedule
from core.search.opportunities import Hop, Opportunity, OpportunityWithdrawn
from core.search.pools import Pool
from tests.feed.live import WAIT, Live, pool_by, swap, units


def _config() -> AppConfig:
    return load_config(search_default_paths=False, overrides={"search.max_state_age_slots": 8})


async def _fresh_pools(live: Live) -> list[Pool]:
    """Every scenario pool rebuilt from getMultipleAccounts, independently of the feed."""
    scenario = live.scenario
    pools: list[Pool] = []
    async with live.local.client("processed") as client:
        for p in scenario.raydium_pools:
            info_acc, coin_acc, pc_acc = (await client.get_multiple_accounts(
                [p.address, p.coin_vault, p.pc_vault], Processed)).value
            info = raydium_amm.decode_amm_info(bytes(info_acc.data), p.address)
            state = RaydiumState.from_pool(info, decode_token_account(bytes(coin_acc.data)).amount,
                                           decode_token_account(bytes(pc_acc.data)).amount)
            pools.append(Pool(p.address, RAYDIUM_AMM_V4, p.coin_mint, p.pc_mint, state, 0))
        for w in scenario.whirlpools:
            accounts = (await client.get_multiple_accounts([w.address, *w.tick_arrays], Processed)).value
            pool = decode_whirlpool(bytes(accounts[0].data), w.address)
            arrays = tuple(decode_tick_array(bytes(a.data)) for a in accounts[1:] if a is not None)
            state = WhirlpoolState(pool, arrays)
            pools.append(Pool(w.address, WHIRLPOOL, w.token_mint_a, w.token_mint_b, state, 0))
    return pools


def _key(opp: Opportunity) -> tuple[object, ...]:
    """What an opportunity says about the market, without ids, slots or timestamps."""
    return (opp.loan_mint, opp.route, opp.amount_in, opp.expected_out, opp.gross, opp.fees, opp.net)


async def test_engine_publishes_opportunities_equal_to_a_fresh_recomputation(live: Live) -> None:
    bus = EventBus()
    events = bus.subscribe()
    handled: list[Opportunity] = []

    async def handler(opp: Opportunity) -> None:
        handled.append(opp)

    metrics = Metrics()
    engine = Engine(_config(), bus, handler=handler, rpc_url=live.rpc_url, ws_url=live.ws_url, watchdog_s=0.5,
                    metrics=metrics)
    await engine.start()
    try:
        await engine.feed.wait_synced(WAIT)
        # Push two SOL/USDC pools apart, then let the engine see the slot that completes the trades.
        sol_usdc = [pool_by(live.scenario, "SOL", "USDC", i) for i in (0, 1)]
        landed = await swap(live, sol_usdc[0], units(live.scenario, "SOL", 400), True)
        second = await swap(live, sol_usdc[1], units(live.scenario, "USDC", 30_000), False, trader=1)
        landed = max(landed, second)
        await engine.wait_processed(landed + 1, WAIT)
        published = await engine.top(10_000)
        pools_now = await _fresh_pools(live)
        # The trades moved SOL/USDC: lamport costs are converted at the new price, not the first one.
        now = MintPrices()
        now.refresh(pools_now)
        assert engine.prices.lamports_per_unit(USDC_MINT) == now.lamports_per_unit(USDC_MINT)
        assert engine.stats.repriced > 0
        fresh = SearchEngine(engine.loan_mints, engine.flash_cap, engine.fee_model)
        for pool in pools_now:
            fresh.upsert_pool(pool)
        expected = fresh.top(10_000)
        assert expected, "the trades above leave arbitrage on the table"
        assert Counter(map(_key, published)) == Counter(map(_key, expected))
        # The bus saw the same: the last word on every cycle is its current opportunity.
        last: dict[int, Opportunity | OpportunityWithdrawn] = {}
        kinds: set[type] = set()
        for event in events.drain():
            kinds.add(type(event))
            if isinstance(event, (Opportunity, OpportunityWithdrawn)):
                last[event.cycle_id] = event
        live_on_bus = [e for e in last.values() if isinstance(e, Opportunity)]
        assert Counter(map(_key, live_on_bus)) == Counter(map(_key, published))
        assert {EngineState, FeedHealth, SlotTick, Opportunity} <= kinds
        await asyncio.wait_for(_until(lambda: bool(handled)), WAIT)
        assert all(o.net > 0 for o in handled)
        # Account notification received → opportunity quoted, observed for the swaps' quotes.
        sample = metrics.registry.get_sample_value
        observed = sample("arb_detection_latency_seconds_count")
        assert observed >= 1 and 0 < sample("arb_detection_latency_seconds_sum") < WAIT * observed
    finally:
        await engine.stop()
    assert engine.state == "stopped"


async def _until(predicate: object) -> None:
    while not predicate():  # type: ignore[operator]
        await asyncio.sleep(0.01)


def _opp(cycle_id: int, net: int, opp_id: int = 0) -> Opportunity:
    mint = Pubkey.new_unique()
    hop = Hop(Pubkey.new_unique(), RAYDIUM_AMM_V4, True, mint, mint)
    fees = FeeBreakdown(0, 0, 0, 0, 0)
    return Opportunity(opp_id or cycle_id, cycle_id, mint, (hop,), 1, 1 + net, net, fees, net, 1, (1,), 0)


async def test_handler_queue_keeps_the_freshest_quote_per_cycle_and_serves_the_best_first() -> None:
    queue = FreshestQueue()
    queue.put(_opp(1, 10, opp_id=1))
    queue.put(_opp(2, 50))
    newer = replace(_opp(1, 70, opp_id=3))
    queue.put(newer)
    queue.put(_opp(3, 20))
    queue.discard(3)
    assert len(queue) == 2 and queue.replaced == 1
    assert await queue.get() == newer
    assert (await queue.get()).cycle_id == 2
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    queue.put(_opp(4, 1))
    assert (await asyncio.wait_for(waiter, 1)).cycle_id == 4


async def test_nothing_reaches_the_handler_while_the_feed_is_stale(live: Live) -> None:
    handled: list[Opportunity] = []
    release = asyncio.Event()

    async def handler(opp: Opportunity) -> None:
        handled.append(opp)
        await release.wait()  # the first opportunity holds the stage while the rest queue up

    engine = Engine(_config(), EventBus(), handler=handler, rpc_url=live.rpc_url, ws_url=live.ws_url)
    await engine.start()
    try:
        await engine.feed.wait_synced(WAIT)
        await asyncio.wait_for(_until(lambda: bool(handled) and len(engine.queue) > 0), WAIT)
        await live.pubsub.stop()
        await asyncio.wait_for(_until(lambda: not engine.feed.current), WAIT)
        await asyncio.wait_for(_until(lambda: len(engine.queue) == 0), WAIT)
        release.set()
        await asyncio.sleep(0.1)
        assert len(handled) == 1  # what was waiting when the feed went stale was never handed on
        assert engine.stats.handled == 1
    finally:
        await engine.stop()


def test_the_flash_fee_is_the_configured_providers_and_auto_is_the_cheapest() -> None:
    amount = 1_000 * 10**6
    fees = {}
    for provider in ("solend", "marginfi", "kamino", "auto"):
        config = load_config(search_default_paths=False, overrides={"flash_loan.provider": provider})
        fees[provider] = default_fee_model(config, MintPrices()).flash_fee(USDC_MINT, amount)
    assert fees["solend"] == 500_000  # 0.05 %
    assert fees["kamino"] == kamino.flash_loan_fee(amount, 11_529_215_046_068) == 10_000  # 0.001 %
    assert fees["marginfi"] == 0
    assert fees["auto"] == min(fees["solend"], fees["kamino"], fees["marginfi"])
    assert flash_schedule("kamino").rate_floor == pytest.approx(1e-5)


def test_an_engine_takes_flash_fee_schedules_read_from_reserves() -> None:
    config = load_config(search_default_paths=False, overrides={"flash_loan.provider": "kamino"})
    sf = 3 * 11_529_215_046_068  # a reserve charging 0.003 %
    read = {"kamino": kamino_schedule(sf)}
    engine = Engine(config, EventBus(), rpc_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9",
                    flash_fee=read)
    assert engine.fee_model.flash_fee(USDC_MINT, 10**9) == kamino.flash_loan_fee(10**9, sf) == 30_000
