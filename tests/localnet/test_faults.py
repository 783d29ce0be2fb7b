"""Fault knobs: parsing, and each one's effect on a running cluster's RPC / PubSub / slot clock."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from core.localnet.cli import build_faults
from core.localnet.faults import Faults, FaultSpecError
from tests.localnet.conftest import Localnet
from tests.localnet.rpc_helpers import rpc


def test_fault_specs_parse_from_the_command_line() -> None:
    faults = build_faults(["latency_ms=50", "http_429_rate=0.2", "ws_drop_all=true", "seed=3"])
    assert faults.latency_ms == 50.0 and faults.http_429_rate == 0.2 and faults.ws_drop_all is True
    assert faults.seed == 3


@pytest.mark.parametrize(
    "spec", ["latency_ms", "nope=1", "http_429_rate=2", "latency_ms=-1", "ws_drop_all=maybe"]
)
def test_bad_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        build_faults([spec])


def test_bad_update_changes_nothing() -> None:
    faults = Faults(latency_ms=5)
    with pytest.raises(FaultSpecError):
        faults.update({"latency_ms": 10, "http_503_rate": 3})
    assert faults.latency_ms == 5 and faults.http_503_rate == 0


def test_one_shot_knobs_reset_when_taken() -> None:
    faults = Faults(stall_slot_ms=100, ws_drop_all=True)
    assert faults.take_stall_ms() == 100 and faults.take_stall_ms() == 0
    assert faults.take_ws_drop_all() is True and faults.take_ws_drop_all() is False


async def status_of(url: str) -> int:
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "getSlot"})
    return reply.status_code


async def test_http_429_and_503_rates(localnet: Localnet) -> None:
    localnet.faults.update({"http_429_rate": 1.0})
    assert await status_of(localnet.url) == 429
    localnet.faults.update({"http_429_rate": 0.0, "http_503_rate": 1.0})
    assert await status_of(localnet.url) == 503
    localnet.faults.update({"http_503_rate": 0.5})
    seen = {await status_of(localnet.url) for _ in range(40)}
    assert seen == {200, 503}


async def test_malformed_json_rate(localnet: Localnet) -> None:
    localnet.faults.update({"malformed_json_rate": 1.0})
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.post(localnet.url, json={"jsonrpc": "2.0", "id": 1, "method": "getVersion"})
    assert reply.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.text)


async def test_latency_delays_every_answer(localnet: Localnet) -> None:
    localnet.faults.update({"latency_ms": 2_000})
    async with httpx.AsyncClient(timeout=0.3) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(localnet.url, json={"jsonrpc": "2.0", "id": 1, "method": "getSlot"})
    localnet.faults.update({"latency_ms": 0})
    assert (await rpc(localnet.url, "getHealth"))["result"] == "ok"


async def test_stall_pauses_the_slot_clock_once(localnet: Localnet) -> None:
    localnet.faults.update({"stall_slot_ms": 3_000})
    while localnet.faults.stall_slot_ms:
        await asyncio.sleep(0.01)
    held = localnet.cluster.slot
    await asyncio.sleep(0.5)  # ten slots' worth at 50 ms
    assert localnet.cluster.slot == held


async def test_set_faults_over_loopback_rpc(localnet: Localnet) -> None:
    reply = await rpc(localnet.url, "arbtui_setFaults", [{"http_503_rate": 1.0}])
    assert reply["result"]["http_503_rate"] == 1.0
    assert localnet.faults.http_503_rate == 1.0
    bad = localnet.rpc.process(
        json.dumps(
            {"jsonrpc": "2.0", "id": 2, "method": "arbtui_setFaults", "params": [{"nope": 1}]}
        ).encode(),
        loopback=True,
    )
    assert bad is not None and json.loads(bad)["error"]["code"] == -32602


pubsub = pytest.importorskip("core.localnet.pubsub")


async def _with_pubsub(localnet: Localnet) -> object:
    """PubSub on the same cluster and Faults object (it subscribes to cluster events itself)."""
    server = pubsub.PubSubServer(localnet.cluster, "127.0.0.1", 0, localnet.faults)
    await server.start()
    return server


async def _slot_subscription(url: str) -> websockets.ClientConnection:
    ws = await websockets.connect(url)
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "slotSubscribe"}))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert isinstance(reply["result"], int)
    return ws


async def test_ws_drop_all_closes_every_connection(localnet: Localnet) -> None:
    server = await _with_pubsub(localnet)
    try:
        ws = await _slot_subscription(server.url)  # type: ignore[attr-defined]
        localnet.faults.update({"ws_drop_all": True})
        with pytest.raises(websockets.ConnectionClosed):
            for _ in range(200):
                await asyncio.wait_for(ws.recv(), 5)
    finally:
        await server.stop()  # type: ignore[attr-defined]


async def test_skip_notification_rate_one_silences_subscriptions(localnet: Localnet) -> None:
    server = await _with_pubsub(localnet)
    try:
        ws = await _slot_subscription(server.url)  # type: ignore[attr-defined]
        localnet.faults.update({"skip_notification_rate": 1.0})
        drained = 0
        with pytest.raises(TimeoutError):
            while True:  # drain what was queued before the knob, then expect silence
                await asyncio.wait_for(ws.recv(), 0.5)
                drained += 1
                assert drained < 50
        localnet.faults.update({"skip_notification_rate": 0.0})
        note = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert note["method"] == "slotNotification"
        await ws.close()
    finally:
        await server.stop()  # type: ignore[attr-defined]
