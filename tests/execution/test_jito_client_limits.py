"""JitoClient from `[jito]` config against the local block engine's real rate limits, and its metrics:
per-region 429 and error counters and the sendBundle latency histogram, read from the registry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from solders.keypair import Keypair

from core.config import JitoConfig
from core.execution.jito_client import RATE_HEADROOM, AllRegionsRejected, JitoClient
from core.execution.rpc import RpcError
from core.localnet.block_engine import BlockEngine, BlockEngineConfig, BlockEngineServer, Region
from core.metrics import Metrics
from tests.execution.conftest import REGIONS, tipped_transfer
from tests.localnet.conftest import Localnet, start_localnet, stop_localnet

AUTH = "5d2e8f1a-7b3c-4a9e-b6d0-1f2e3c4d5a6b"


@dataclass
class Limited:
    net: Localnet
    engine: BlockEngine
    server: BlockEngineServer
    http: httpx.AsyncClient

    def jito_config(self, **fields: object) -> JitoConfig:
        return JitoConfig(regions={name: f"{self.server.url}/{name}" for name in REGIONS}, **fields)


@pytest.fixture
async def limited() -> AsyncIterator[Limited]:
    """Jito's default: 1 request/s per region per client; AUTH gets 50/s."""
    net = await start_localnet()
    config = BlockEngineConfig(regions=tuple(Region(name, 1.0) for name in REGIONS), rate_limit_per_s=1.0,
                               auth_uuids=frozenset({AUTH}), auth_rate_limit_per_s=50.0, competitors=None,
                               tick_ms=10.0)
    engine = BlockEngine(net.cluster, config, net.faults)
    await engine.start()
    server = BlockEngineServer(engine, "127.0.0.1", 0)
    await server.start()
    http = httpx.AsyncClient(timeout=10)
    try:
        yield Limited(net, engine, server, http)
    finally:
        await http.aclose()
        await server.stop()
        await engine.stop()
        await stop_localnet(net)


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_from_config_paces_every_region_at_jito_rate_limit_per_s_and_earns_no_429(
    limited: Limited,
) -> None:
    metrics = Metrics()
    client = JitoClient.from_config(limited.jito_config(), limited.http, metrics=metrics)
    assert {name: bucket.rate for name, bucket in client.buckets.items()} == dict.fromkeys(
        REGIONS, 1.0 * RATE_HEADROOM)
    assert client._headers == {}
    replies = await asyncio.gather(*(client.get_tip_accounts(region=r) for r in REGIONS for _ in range(3)))
    assert all(len(reply) == 8 for reply in replies)
    for region in REGIONS:
        assert value(metrics, "arb_jito_rate_limited_total", region=region, method="getTipAccounts") == 0


async def test_auth_uuid_is_sent_as_x_jito_auth_and_earns_the_higher_limit(
    limited: Limited, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    metrics = Metrics()
    authed = JitoClient.from_config(limited.jito_config(rate_limit_per_s=20.0, auth_uuid=AUTH), limited.http,
                                    metrics=metrics)
    for _ in range(8):
        await authed.get_tip_accounts(region="ny")
    assert value(metrics, "arb_jito_rate_limited_total", region="ny", method="getTipAccounts") == 0

    # The same pace without the key is over the anonymous limit: the server answers 429.
    anonymous = JitoClient.from_config(limited.jito_config(rate_limit_per_s=20.0), limited.http,
                                       metrics=metrics)
    refused = 0
    for _ in range(4):
        try:
            await anonymous.get_tip_accounts(region="frankfurt")
        except RpcError as exc:
            assert exc.rate_limited and exc.status == 429
            refused += 1
    assert refused >= 1
    counted = value(metrics, "arb_jito_rate_limited_total", region="frankfurt", method="getTipAccounts")
    assert counted == refused
    assert AUTH not in caplog.text


async def test_real_429s_and_errors_are_counted_per_region_and_send_bundle_latency_is_observed(
    limited: Limited,
) -> None:
    metrics = Metrics()
    # The client's own bucket is set far above the server's limit, so the server must refuse.
    client = JitoClient(limited.jito_config().regions, limited.http, rate_per_s=1000.0, metrics=metrics)
    net = limited.net
    payer = Keypair()
    net.cluster.airdrop(payer.pubkey(), 10**10)
    blockhash = net.cluster.latest_blockhash("processed")[0]

    submission = await client.send_bundle([tipped_transfer(payer, blockhash, lamports=1_000_001)])
    answers = await submission.settled()
    assert all(a.accepted for a in answers) and len(answers) == len(REGIONS)

    with pytest.raises(AllRegionsRejected) as refused:
        await client.send_bundle([tipped_transfer(payer, blockhash, lamports=1_000_002)])
    assert refused.value.rate_limited
    for region in REGIONS:
        assert value(metrics, "arb_jito_rate_limited_total", region=region, method="sendBundle") == 1
        assert value(metrics, "arb_jito_errors_total", region=region, method="sendBundle") == 0
        # Both requests got an answer (the 429 is one): two latency observations per region.
        assert value(metrics, "arb_send_bundle_latency_seconds_count", region=region) == 2
        assert value(metrics, "arb_send_bundle_latency_seconds_sum", region=region) > 0
        assert value(metrics, "arb_send_bundle_latency_seconds_bucket", region=region, le="+Inf") == 2

    # An outage in one region is an error there (HTTP 503), not a 429, and touches no other region.
    net.faults.update({"tokyo.outage": True})
    await asyncio.sleep(1.2)  # let the server's per-region buckets refill
    client_b = JitoClient({"tokyo": f"{limited.server.url}/tokyo", "ny": f"{limited.server.url}/ny"},
                          limited.http, rate_per_s=1000.0, metrics=metrics)
    submission = await client_b.send_bundle([tipped_transfer(payer, blockhash, lamports=1_000_003)])
    await submission.settled()
    assert submission.region == "ny"
    assert value(metrics, "arb_jito_errors_total", region="tokyo", method="sendBundle") == 1
    assert value(metrics, "arb_jito_rate_limited_total", region="tokyo", method="sendBundle") == 1
    assert value(metrics, "arb_jito_errors_total", region="ny", method="sendBundle") == 0
