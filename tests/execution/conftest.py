"""A local cluster, its JSON-RPC server and its Jito block engine on loopback ports, per test."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from core.execution.jito_client import bundle_id_of as bundle_id
from core.localnet.block_engine import BlockEngine, BlockEngineConfig, BlockEngineServer, Region
from core.protocols import ids
from tests.localnet.conftest import Localnet, start_localnet, stop_localnet
from tests.localnet.rpc_helpers import LAMPORTS_PER_SOL, signed_v0, transfer_ix

REGIONS = ("ny", "frankfurt", "tokyo")


@dataclass
class Stack:
    net: Localnet
    engine: BlockEngine
    server: BlockEngineServer
    http: httpx.AsyncClient
    # Server-side count of sendBundle intake, per (bundle id, region): what "sent twice" means.
    sends: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def rpc_url(self) -> str:
        return self.net.url

    @property
    def regions(self) -> dict[str, str]:
        return {name: f"{self.server.url}/{name}" for name in REGIONS}

    def funded(self, lamports: int = 10 * LAMPORTS_PER_SOL) -> Keypair:
        keypair = Keypair()
        self.net.cluster.airdrop(keypair.pubkey(), lamports)
        return keypair

    def blockhash(self) -> tuple[Hash, int]:
        blockhash, last_valid = self.net.cluster.latest_blockhash("processed")
        return blockhash, last_valid

    def sends_of(self, bid: str) -> int:
        return sum(n for (b, _), n in self.sends.items() if b == bid)


def tipped_transfer(
    payer: Keypair, blockhash: Hash, *, tip: int = 10_000, to: Pubkey | None = None, lamports: int = 1_000_000
) -> VersionedTransaction:
    """A one-transaction bundle: a transfer and a Jito tip, signed by `payer`."""
    to = to or Keypair().pubkey()
    ixs = [transfer_ix(payer, to, lamports), transfer_ix(payer, ids.JITO_TIP_ACCOUNTS[1], tip)]
    return signed_v0(payer, ixs, blockhash)


async def start_stack(*, rate_limit_per_s: float | None = None, latencies: dict[str, float] | None = None,
                      slot_ms: float = 50) -> Stack:
    net = await start_localnet(slot_ms=slot_ms)
    latencies = latencies or {"ny": 5.0, "frankfurt": 1.0, "tokyo": 15.0}
    config = BlockEngineConfig(
        regions=tuple(Region(name, latencies[name]) for name in REGIONS),
        rate_limit_per_s=rate_limit_per_s,
        competitors=None,
        tick_ms=10.0,
    )
    engine = BlockEngine(net.cluster, config, net.faults)
    await engine.start()
    server = BlockEngineServer(engine, "127.0.0.1", 0)
    await server.start()
    stack = Stack(net, engine, server, httpx.AsyncClient(timeout=10))
    original = engine.submit

    def counting_submit(txs: list[VersionedTransaction], region: str = "default", **kwargs: object) -> str:
        if "source" not in kwargs:  # the operator's bundles, not simulated competitors
            stack.sends[(bundle_id(txs), region)] += 1
        return original(txs, region, **kwargs)  # type: ignore[arg-type]

    engine.submit = counting_submit  # type: ignore[method-assign]
    return stack


async def stop_stack(stack: Stack) -> None:
    await stack.http.aclose()
    await stack.server.stop()
    await stack.engine.stop()
    await stop_localnet(stack.net)


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    s = await start_stack()
    try:
        yield s
    finally:
        await stop_stack(s)
