"""A real local cluster + JSON-RPC server on an ephemeral loopback port, per test.

`block_engine` adds the local Jito block engine on its own ephemeral port (test config: small
region latencies, no rate limit, no competitors); `start_block_engine(localnet, config)` starts
one with any other config.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from solana.rpc.async_api import AsyncClient

from core.localnet.block_engine import BlockEngine, BlockEngineConfig, BlockEngineServer, Region
from core.localnet.cluster import Cluster
from core.localnet.faults import Faults
from core.localnet.rpc_server import RpcServer

FAST_SLOT_MS = 50


@dataclass
class Localnet:
    cluster: Cluster
    rpc: RpcServer
    faults: Faults

    @property
    def url(self) -> str:
        return self.rpc.url

    def client(self, commitment: str = "confirmed") -> AsyncClient:
        return AsyncClient(self.url, commitment=commitment, timeout=10)


async def start_localnet(seed: int = 7, slot_ms: float = FAST_SLOT_MS) -> Localnet:
    faults = Faults(seed=1)
    cluster = Cluster(seed=seed, slot_ms=slot_ms, faults=faults)
    await cluster.start()
    rpc = RpcServer(cluster, "127.0.0.1", 0, faults)
    await rpc.start()
    return Localnet(cluster, rpc, faults)


async def stop_localnet(net: Localnet) -> None:
    await net.rpc.stop()
    await net.cluster.stop()


@pytest.fixture
async def localnet() -> AsyncIterator[Localnet]:
    net = await start_localnet()
    try:
        yield net
    finally:
        await stop_localnet(net)


@pytest.fixture
async def client(localnet: Localnet) -> AsyncIterator[AsyncClient]:
    async with localnet.client() as c:
        yield c


# Regions as mainnet's paths, with latencies small enough for tests but still distinct.
TEST_REGIONS = (Region("default", 1.0), Region("ny", 2.0), Region("frankfurt", 3.0), Region("tokyo", 4.0))
TEST_BLOCK_ENGINE_CONFIG = BlockEngineConfig(regions=TEST_REGIONS, rate_limit_per_s=None, competitors=None)


@dataclass
class LocalBlockEngine:
    engine: BlockEngine
    server: BlockEngineServer

    def url(self, region: str = "default") -> str:
        """The base URL the Jito SDKs take, e.g. http://127.0.0.1:PORT/ny/api/v1."""
        return self.server.region_url(region)


async def start_block_engine(net: Localnet, config: BlockEngineConfig | None = None, *,
                             autorun: bool = True) -> LocalBlockEngine:
    engine = BlockEngine(net.cluster, config or TEST_BLOCK_ENGINE_CONFIG, net.faults, autorun=autorun)
    await engine.start()
    server = BlockEngineServer(engine, "127.0.0.1", 0)
    await server.start()
    return LocalBlockEngine(engine, server)


async def stop_block_engine(be: LocalBlockEngine) -> None:
    await be.server.stop()
    await be.engine.stop()


@pytest.fixture
async def block_engine(localnet: Localnet) -> AsyncIterator[LocalBlockEngine]:
    be = await start_block_engine(localnet)
    try:
        yield be
    finally:
        await stop_block_engine(be)
