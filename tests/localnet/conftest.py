"""A real local cluster + JSON-RPC server on an ephemeral loopback port, per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from solana.rpc.async_api import AsyncClient

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
