"""Noise traders: real signed swaps through the cluster's JSON-RPC that move prices."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from solders.hash import Hash
from solders.litesvm import LiteSVM

from core.localnet.accounts import token_amount
from core.localnet.genesis import Scenario, build_genesis
from core.localnet.simulator import Flow, NoiseTraders, _PoolState, start_simulator
from core.protocols import ids, raydium_amm
from tests.localnet.conftest import Localnet

WAIT = 60.0


async def _wait_for(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _ratios(localnet: Localnet) -> dict[str, float]:
    svm = localnet.cluster.svm
    return {
        str(p.address): token_amount(svm, p.pc_vault) / token_amount(svm, p.coin_vault)
        for p in localnet.cluster.scenario.raydium_pools
    }


async def test_noise_traders_land_real_swaps_that_move_pool_prices(localnet: Localnet) -> None:
    before = _ratios(localnet)
    flow = Flow(slot_ms=50, trades_per_slot=6)
    traders, task = start_simulator(localnet.url, localnet.cluster.scenario, flow)
    try:
        await _wait_for(lambda: localnet.cluster.transaction_count >= 60, "60 landed swaps")
    finally:
        traders.stop()
        await task
    after = _ratios(localnet)
    moved = [k for k in before if before[k] != after[k]]
    assert len(moved) >= 10
    trader_keys = {t.pubkey for t in localnet.cluster.scenario.traders}
    records = [localnet.cluster.transaction(sig) for sig in traders.recent_signatures]
    assert len(records) == traders.trades_sent >= 60
    for r in records:
        assert r is not None  # every accepted trade landed
        keys = r.tx.message.account_keys
        assert keys[0] in trader_keys and ids.RAYDIUM_AMM_V4 in keys
        assert r.err is None, r.logs  # min-out from the exact quoter with slippage room: all land


def _pool_states(svm: LiteSVM, scenario: Scenario) -> list[_PoolState]:
    out = []
    for p in scenario.raydium_pools:
        info = raydium_amm.decode_amm_info(bytes(svm.get_account(p.address).data))
        out.append(_PoolState(p, info, token_amount(svm, p.coin_vault), token_amount(svm, p.pc_vault)))
    return out


def _decisions(seed: int, trader_seed: int, n: int = 30) -> list[bytes]:
    svm = LiteSVM()
    scenario = build_genesis(svm, seed, None)
    sim = NoiseTraders("http://127.0.0.1:1", scenario, Flow(), seed=trader_seed)
    pools = _pool_states(svm, scenario)
    out = []
    for _ in range(n):
        tx = sim._trade(sim.rng.choice(pools), sim.rng.choice(scenario.traders), Hash.default())
        out.append(bytes(tx) if tx is not None else b"")
        sim._walk_fair_prices()
    return out


def test_the_same_seed_makes_the_same_trades_and_another_seed_others() -> None:
    first = _decisions(3, 3)
    assert first == _decisions(3, 3)
    assert first != _decisions(3, 4)
    assert sum(1 for t in first if t) >= 25


def test_fair_prices_revert_to_their_anchor_so_divergence_stays_bounded() -> None:
    svm = LiteSVM()
    scenario = build_genesis(svm, 1, None)
    sim = NoiseTraders("http://127.0.0.1:1", scenario, Flow(volatility_bps=10, reversion=0.02), seed=1)
    start = dict(sim.fair)
    worst = 0.0
    for _ in range(20_000):
        sim._walk_fair_prices()
        worst = max(worst, max(abs(sim.fair[s] - start[s]) for s in start))
    # Stationary std is 10 bps / sqrt(2 * 0.02) = 50 bps; without reversion, 20,000 steps of 10 bps
    # would wander about 14 %.
    assert 0.0 < worst < 0.05
    assert sim.fair["USDC"] == start["USDC"] == 0.0


def test_drift_moves_a_tokens_anchor_and_its_fair_price_with_it() -> None:
    svm = LiteSVM()
    scenario = build_genesis(svm, 2, None)
    sim = NoiseTraders("http://127.0.0.1:1", scenario, Flow(drift_bps={"JUP": 10.0}), seed=2)
    start = sim.fair["JUP"]
    for _ in range(2_000):
        sim._walk_fair_prices()
    assert sim.fair["JUP"] - start > math.log(1.1)  # +20 % of drift, minus the lag of reversion


def test_a_trade_leans_toward_the_fair_price() -> None:
    svm = LiteSVM()
    scenario = build_genesis(svm, 5, None)
    sim = NoiseTraders("http://127.0.0.1:1", scenario, Flow(), seed=5)
    state = _pool_states(svm, scenario)[0]  # SOL/USDC
    sim.fair["SOL"] += math.log(1.02)  # the pool now prices SOL 2 % below fair: traders buy SOL here
    buys = 0
    for _ in range(200):
        ps = _PoolState(state.pool, state.info, state.coin, state.pc)
        tx = sim._trade(ps, scenario.traders[0], Hash.default())
        assert tx is not None
        buys += ps.coin < state.coin  # the trade took SOL out of the pool
    assert buys > 180
