"""The Jito client against the local block engine over loopback: regions, statuses, rate limits."""

from __future__ import annotations

import asyncio

import pytest

from core.events import EventBus, RegionStats
from core.execution.jito_client import (
    AllRegionsRejected,
    BundleStatus,
    JitoClient,
    TipFloor,
    bundle_id_of,
)
from core.localnet.faults import RegionFaults
from core.metrics import Metrics
from core.protocols import ids
from tests.execution.conftest import REGIONS, Stack, start_stack, stop_stack, tipped_transfer


async def wait_landed(client: JitoClient, bid: str, region: str | None = None) -> BundleStatus:
    for _ in range(400):
        statuses = await client.get_bundle_statuses([bid], region=region)
        if bid in statuses:
            return statuses[bid]
        await asyncio.sleep(0.02)
    raise AssertionError(f"bundle {bid} never landed")


async def test_bundle_lands_through_the_fastest_region_while_another_is_down(stack: Stack) -> None:
    stack.net.faults.regions["ny"] = RegionFaults(outage=True)
    bus = EventBus()
    sub = bus.subscribe()
    metrics = Metrics()
    client = JitoClient(stack.regions, stack.http, rate_per_s=100, bus=bus, metrics=metrics)
    payer = stack.funded()
    tx = tipped_transfer(payer, stack.blockhash()[0])
    submission = await client.send_bundle([tx])
    assert submission.bundle_id == bundle_id_of([tx])
    assert submission.region == "frankfurt"  # 1 ms against tokyo's 15 ms; ny answers 503
    answers = {a.region: a for a in await submission.settled()}
    assert set(answers) == set(REGIONS)
    assert answers["ny"].accepted is False and "503" in answers["ny"].error and answers["ny"].retryable
    assert answers["tokyo"].accepted and answers["tokyo"].bundle_id == submission.bundle_id
    status = await wait_landed(client, submission.bundle_id, region="tokyo")
    assert status.err is None and status.transactions == (str(tx.signatures[0]),)
    client.note_landed(submission.region)
    assert client.stats("ny").errors == 1 and client.stats("ny").sent == 1
    assert client.stats("frankfurt").landed == 1 and client.stats("frankfurt").inclusion_rate == 1.0
    events = [e for e in sub.drain() if isinstance(e, RegionStats)]
    assert {e.region for e in events} == set(REGIONS)
    assert metrics.registry.get_sample_value("arb_bundles_submitted_total", {"region": "tokyo"}) == 1
    assert metrics.registry.get_sample_value("arb_bundles_landed_total", {"region": "frankfurt"}) == 1
    assert stack.sends[(submission.bundle_id, "ny")] == 0  # the outage answered before the engine


async def test_every_region_refusing_raises_with_each_answer(stack: Stack) -> None:
    client = JitoClient(stack.regions, stack.http, rate_per_s=100)
    payer = stack.funded()
    no_tip = tipped_transfer(payer, stack.blockhash()[0], tip=0)
    with pytest.raises(AllRegionsRejected) as refused:
        await client.send_bundle([no_tip])
    assert {a.region for a in refused.value.answers} == set(REGIONS)
    assert not refused.value.retryable  # a sanitizer refusal will not change by retrying


async def test_bucket_keeps_the_client_under_the_rate_limit() -> None:
    stack = await start_stack(rate_limit_per_s=10.0)
    try:
        client = JitoClient(stack.regions, stack.http, rate_per_s=10.0)
        payer = stack.funded()
        bids = []
        for i in range(6):
            tx = tipped_transfer(payer, stack.blockhash()[0], lamports=1_000_000 + i)
            submission = await client.send_bundle([tx])
            await submission.settled()
            bids.append(submission.bundle_id)
        for bid in bids:
            await wait_landed(client, bid)
        for region in REGIONS:
            assert client.stats(region).rate_limited == 0
        assert all(stack.sends[(bid, region)] == 1 for bid in bids for region in REGIONS)
    finally:
        await stop_stack(stack)


async def test_without_the_bucket_the_same_burst_earns_429s() -> None:
    """The control for the test above: the server really does limit at this pace."""
    stack = await start_stack(rate_limit_per_s=10.0)
    try:
        client = JitoClient(stack.regions, stack.http, rate_per_s=1000.0, burst=1000)
        payer = stack.funded()
        txs = [tipped_transfer(payer, stack.blockhash()[0], lamports=1_000_000 + i) for i in range(15)]
        results = await asyncio.gather(*(client.send_bundle([tx]) for tx in txs), return_exceptions=True)
        for r in results:
            if not isinstance(r, BaseException):
                await r.settled()
        assert sum(client.stats(region).rate_limited for region in REGIONS) > 0
    finally:
        await stop_stack(stack)


async def test_429_penalizes_the_region_bucket(stack: Stack) -> None:
    stack.net.faults.regions["ny"] = RegionFaults()
    client = JitoClient({"ny": stack.regions["ny"]}, stack.http, rate_per_s=100)
    stack.engine.config = type(stack.engine.config)(
        regions=stack.engine.config.regions, rate_limit_per_s=0.001, competitors=None
    )
    payer = stack.funded()
    first = tipped_transfer(payer, stack.blockhash()[0], lamports=1_000_001)
    second = tipped_transfer(payer, stack.blockhash()[0], lamports=1_000_002)
    await client.send_bundle([first])  # spends the server's only token
    with pytest.raises(AllRegionsRejected) as refused:
        await client.send_bundle([second])
    assert refused.value.rate_limited and refused.value.retryable
    assert client.stats("ny").rate_limited == 1
    assert client.buckets["ny"].delay() > 0  # waits before asking again


async def test_statuses_tip_accounts_and_tip_floor(stack: Stack) -> None:
    client = JitoClient(stack.regions, stack.http, rate_per_s=100)
    assert await client.get_tip_accounts() == list(ids.JITO_TIP_ACCOUNTS)
    payer = stack.funded()
    tx = tipped_transfer(payer, stack.blockhash()[0], tip=25_000)
    submission = await client.send_bundle([tx])
    status = await wait_landed(client, submission.bundle_id)
    assert status.slot > 0
    inflight = await client.get_inflight_bundle_statuses([submission.bundle_id, "0" * 64])
    assert inflight[submission.bundle_id].status == "Landed"
    assert inflight[submission.bundle_id].landed_slot == status.slot
    assert inflight["0" * 64].status == "Invalid"
    for _ in range(200):  # the floor covers closed slots
        floor = await client.tip_floor()
        if floor.p50:
            break
        await asyncio.sleep(0.02)
    assert isinstance(floor, TipFloor) and floor.p50 == 25_000


async def test_confirmationStatus_spelling_is_parsed_too(stack: Stack) -> None:
    stack.engine.config = type(stack.engine.config)(
        regions=stack.engine.config.regions, rate_limit_per_s=None, competitors=None,
        confirmation_status_key="confirmationStatus",
    )
    client = JitoClient(stack.regions, stack.http, rate_per_s=100)
    payer = stack.funded()
    submission = await client.send_bundle([tipped_transfer(payer, stack.blockhash()[0])])
    status = await wait_landed(client, submission.bundle_id)
    assert status.confirmation_status in ("processed", "confirmed", "finalized")
    for _ in range(200):
        status = (await client.get_bundle_statuses([submission.bundle_id]))[submission.bundle_id]
        if status.confirmation_status == "finalized":
            break
        await asyncio.sleep(0.05)
    assert status.confirmation_status == "finalized"


async def test_send_transaction_bundle_only_returns_the_bundle_id(stack: Stack) -> None:
    client = JitoClient(stack.regions, stack.http, rate_per_s=100)
    payer = stack.funded()
    tx = tipped_transfer(payer, stack.blockhash()[0])
    signature, bid = await client.send_transaction(tx, bundle_only=True)
    assert signature == str(tx.signatures[0]) and bid == bundle_id_of([tx])
    await wait_landed(client, bid)


def test_region_urls_accept_the_sdk_api_v1_base() -> None:
    import httpx

    client = JitoClient({"ny": "http://h:1/ny/api/v1/", "tokyo": "http://h:1/tokyo"}, httpx.AsyncClient())
    assert client.regions == {"ny": "http://h:1/ny", "tokyo": "http://h:1/tokyo"}
    assert client.tip_floor_url == "http://h:1/ny/api/v1/bundles/tip_floor"
