"""A running local cluster with PubSub on loopback, and what feed/engine tests do to it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from solana.rpc.commitment import Processed
from solana.rpc.models import TxOpts
from solders.pubkey import Pubkey
from solders.signature import Signature

from core.localnet.genesis import RaydiumPool, Scenario
from core.localnet.pubsub import PubSubServer
from core.localnet.simulator import swap_transaction
from core.protocols import raydium_amm
from core.protocols.spl_token import decode_token_account
from core.quote.raydium_amm import quote_pool_base_in
from core.search.dex_raydium import RaydiumState
from tests.localnet.conftest import Localnet, start_localnet, stop_localnet

WAIT = 20.0  # seconds any one expected thing may take on a loaded 2-core machine


@dataclass
class Live:
    local: Localnet
    pubsub: PubSubServer

    @property
    def scenario(self) -> Scenario:
        return self.local.cluster.scenario

    @property
    def rpc_url(self) -> str:
        return self.local.url

    @property
    def ws_url(self) -> str:
        return self.pubsub.url

    async def restart_pubsub(self, port: int) -> None:
        self.pubsub = PubSubServer(self.local.cluster, "127.0.0.1", port, self.local.faults)
        await self.pubsub.start()


async def start_live() -> Live:
    local = await start_localnet()
    pubsub = PubSubServer(local.cluster, "127.0.0.1", 0, local.faults)
    await pubsub.start()
    return Live(local, pubsub)


async def stop_live(live: Live) -> None:
    await live.pubsub.stop()
    await stop_localnet(live.local)


async def raydium_state_from_rpc(live: Live, pool: RaydiumPool) -> tuple[int, RaydiumState]:
    """(context slot, the pool's quote state) read straight from JSON-RPC."""
    async with live.local.client("processed") as client:
        resp = await client.get_multiple_accounts([pool.address, pool.coin_vault, pool.pc_vault], Processed)
    info_acc, coin_acc, pc_acc = resp.value
    assert info_acc is not None and coin_acc is not None and pc_acc is not None
    info = raydium_amm.decode_amm_info(bytes(info_acc.data), pool.address)
    coin = decode_token_account(bytes(coin_acc.data)).amount
    pc = decode_token_account(bytes(pc_acc.data)).amount
    return resp.context.slot, RaydiumState.from_pool(info, coin, pc)


async def swap(live: Live, pool: RaydiumPool, amount_in: int, coin_to_pc: bool, trader: int = 0) -> int:
    """Land a real SwapBaseIn from a noise trader's wallet; returns the slot it landed in."""
    async with live.local.client("processed") as client:
        resp = await client.get_multiple_accounts([pool.address, pool.coin_vault, pool.pc_vault], Processed)
        info = raydium_amm.decode_amm_info(bytes(resp.value[0].data), pool.address)
        coin = decode_token_account(bytes(resp.value[1].data)).amount
        pc = decode_token_account(bytes(resp.value[2].data)).amount
        out = quote_pool_base_in(info, coin, pc, amount_in, coin_to_pc)
        blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
        tx = swap_transaction(pool, info, live.scenario.traders[trader], amount_in, coin_to_pc,
                              min_out=out * 99 // 100, blockhash=blockhash)
        sent = await client.send_raw_transaction(bytes(tx), TxOpts(preflight_commitment=Processed))
        return await landing_slot(client, sent.value)


async def landing_slot(client: object, signature: Signature) -> int:
    deadline = time.monotonic() + WAIT
    while True:
        statuses = (await client.get_signature_statuses([signature])).value  # type: ignore[attr-defined]
        status = statuses[0]
        if status is not None:
            assert status.err is None, status.err
            return int(status.slot)
        assert time.monotonic() < deadline, f"{signature} never landed"
        await asyncio.sleep(0.02)


async def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def pool_by(scenario: Scenario, coin: str, pc: str, index: int = 0) -> RaydiumPool:
    pools = [p for p in scenario.raydium_pools if (p.coin_symbol, p.pc_symbol) == (coin, pc)]
    return pools[index]


def units(scenario: Scenario, symbol: str, amount: float) -> int:
    return int(amount * 10 ** scenario.token(symbol).decimals)


def short(key: Pubkey) -> str:
    return str(key)[:8]
