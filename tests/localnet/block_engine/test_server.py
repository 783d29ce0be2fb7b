"""The block engine's HTTP side: regions, paths, JSON-RPC framing, rate limits, faults, tip floor."""

from __future__ import annotations

import json

import httpx
import pytest

from core.localnet.block_engine import BlockEngineConfig
from core.localnet.block_engine.rate_limit import RATE_LIMITED_BODY
from core.protocols import ids
from tests.localnet.block_engine.helpers import call, post
from tests.localnet.conftest import TEST_REGIONS, start_block_engine, stop_block_engine

MAINNET_TIP_ACCOUNTS = [str(a) for a in ids.JITO_TIP_ACCOUNTS]
REGIONS = ("default", "ny", "frankfurt", "tokyo")


@pytest.mark.parametrize("region", REGIONS)
async def test_get_tip_accounts_answers_the_mainnet_list_in_every_region(block_engine, region):
    reply = await call(block_engine.url(region), "/bundles", "getTipAccounts", [])
    assert reply == {"jsonrpc": "2.0", "result": MAINNET_TIP_ACCOUNTS, "id": 1}
    assert reply["result"][0] == "96gYZGLnJYVFmbjzopPSU6QiEV5fGqZNyN9nmNhvrZU5"


async def test_get_tip_accounts_accepts_null_params_as_jito_py_rpc_sends_them(block_engine):
    for params in ([None], None):
        reply = await call(block_engine.url("ny"), "/getTipAccounts", "getTipAccounts", params)
        assert reply["result"] == MAINNET_TIP_ACCOUNTS


async def test_method_named_paths_serve_the_status_methods(block_engine):
    unknown = "ab" * 32
    for path in ("/getInflightBundleStatuses", "/bundles"):
        reply = await call(block_engine.url("tokyo"), path, "getInflightBundleStatuses", [[unknown]])
        assert reply["result"]["value"] == [{"bundle_id": unknown, "status": "Invalid", "landed_slot": None}]
        assert isinstance(reply["result"]["context"]["slot"], int)
    reply = await call(block_engine.url("frankfurt"), "/getBundleStatuses", "getBundleStatuses", [[unknown]])
    assert reply["result"]["value"] == [None]


async def test_unknown_region_and_unknown_path_are_404(block_engine):
    base = block_engine.server.url
    body = {"jsonrpc": "2.0", "id": 1, "method": "getTipAccounts", "params": []}
    assert (await post(f"{base}/mars/api/v1/bundles", body)).status_code == 404
    assert (await post(f"{base}/ny/api/v2/bundles", body)).status_code == 404
    assert (await post(f"{base}/ny/api/v1/nothing", body)).status_code == 404


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", -32700),
        (b"[]", -32600),
        (b'"text"', -32600),
        (b'{"jsonrpc":"1.0","id":1,"method":"getTipAccounts"}', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":"getBlock","params":[]}', -32601),
        (b'{"jsonrpc":"2.0","id":1,"method":"sendBundle","params":{"a":1}}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"sendBundle","params":[]}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"sendBundle","params":["notalist"]}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"sendBundle","params":[[1,2]]}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"sendBundle","params":[["AAAA"],{"encoding":"hex"}]}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"getBundleStatuses","params":[]}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"getBundleStatuses","params":[["xyz"]]}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"getInflightBundleStatuses","params":[[]]}', -32602),
    ],
)
async def test_malformed_requests_get_json_rpc_errors(block_engine, body, code):
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.post(block_engine.url() + "/bundles", content=body,
                                headers={"content-type": "application/json"})
    assert reply.status_code == 200
    assert reply.json()["error"]["code"] == code
    # The server is still up and serving.
    again = await call(block_engine.url(), "/bundles", "getTipAccounts", [])
    assert again["result"] == MAINNET_TIP_ACCOUNTS


async def test_more_than_five_bundle_ids_are_refused(block_engine):
    reply = await call(block_engine.url(), "/bundles", "getBundleStatuses", [["ab" * 32] * 6])
    assert reply["error"]["code"] == -32602
    assert "maximum" in reply["error"]["message"]


async def test_garbage_transactions_are_a_json_rpc_error_not_a_crash(block_engine):
    b64 = {"encoding": "base64"}
    for params in ([["!!notbase58!!"]], [["%%%%"], b64], [["AAAA"], b64], [["AQ==" * 400], b64]):
        reply = await call(block_engine.url("ny"), "/bundles", "sendBundle", params)
        assert reply["error"]["code"] == -32602, reply
        assert reply["error"]["message"]


async def test_rate_limit_answers_429_with_jitos_body_and_is_per_region(localnet):
    clock = [100.0]
    be = await start_block_engine(localnet, BlockEngineConfig(regions=TEST_REGIONS, rate_limit_per_s=1.0,
                                                              competitors=None))
    be.server.limiter.clock = lambda: clock[0]
    try:
        first = await post(be.url("ny") + "/bundles", _tip_accounts())
        second = await post(be.url("ny") + "/bundles", _tip_accounts())
        assert first.status_code == 200
        assert second.status_code == 429
        assert second.headers["content-type"].startswith("application/json")
        assert second.text == RATE_LIMITED_BODY
        assert json.loads(second.text)["error"]["code"] == -32097
        # Another region has its own budget.
        assert (await post(be.url("tokyo") + "/bundles", _tip_accounts())).status_code == 200
        # One second later the region answers again.
        clock[0] += 1.0
        assert (await post(be.url("ny") + "/bundles", _tip_accounts())).status_code == 200
    finally:
        await stop_block_engine(be)


async def test_a_known_auth_uuid_raises_the_rate_limit(localnet):
    uuid = "0b5e7c52-6a8e-4c1e-9d7c-2f1f0a3b9c11"
    config = BlockEngineConfig(regions=TEST_REGIONS, rate_limit_per_s=1.0, auth_uuids=frozenset({uuid}),
                               auth_rate_limit_per_s=5.0, competitors=None)
    be = await start_block_engine(localnet, config)
    be.server.limiter.clock = lambda: 100.0
    try:
        auth = {"x-jito-auth": uuid}
        authed = [(await post(be.url("ny") + "/bundles", _tip_accounts(), headers=auth)).status_code
                  for _ in range(6)]
        assert authed == [200] * 5 + [429]
        by_query = await post(be.url("frankfurt") + "/bundles", _tip_accounts(), params={"uuid": uuid})
        assert by_query.status_code == 200
        unknown = [(await post(be.url("tokyo") + "/bundles", _tip_accounts(),
                               headers={"x-jito-auth": "not-a-known-uuid"})).status_code for _ in range(2)]
        assert unknown == [200, 429]
    finally:
        await stop_block_engine(be)


async def test_region_outage_never_affects_other_regions(block_engine, localnet):
    localnet.faults.update({"ny.outage": True})
    down = await post(block_engine.url("ny") + "/bundles", _tip_accounts())
    assert down.status_code == 503
    for region in ("default", "frankfurt", "tokyo"):
        assert (await post(block_engine.url(region) + "/bundles", _tip_accounts())).status_code == 200
    localnet.faults.update({"ny.outage": False})
    assert (await post(block_engine.url("ny") + "/bundles", _tip_accounts())).status_code == 200


async def test_region_5xx_rate_fails_only_that_region(block_engine, localnet):
    localnet.faults.update({"tokyo.http_5xx_rate": 1.0})
    assert (await post(block_engine.url("tokyo") + "/bundles", _tip_accounts())).status_code == 500
    assert (await post(block_engine.url("ny") + "/bundles", _tip_accounts())).status_code == 200


def test_region_fault_specs_are_validated():
    from core.localnet.faults import Faults, FaultSpecError

    faults = Faults()
    faults.set_from_spec("frankfurt.latency_ms=25")
    assert faults.region("frankfurt").latency_ms == 25.0
    assert faults.region("ny").outage is False
    for bad in ("ny.nothing=1", "ny.drop_bundle_rate=1.5", "ny.latency_ms=-1", "ny.outage=maybe"):
        with pytest.raises(FaultSpecError):
            faults.set_from_spec(bad)
    assert faults.region("ny").drop_bundle_rate == 0.0


async def test_tip_floor_has_the_real_shape_before_anything_landed(block_engine):
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.get(block_engine.url("ny") + "/bundles/tip_floor")
    assert reply.status_code == 200
    rows = reply.json()
    assert isinstance(rows, list) and len(rows) == 1
    row = rows[0]
    assert set(row) == {"time", "landed_tips_25th_percentile", "landed_tips_50th_percentile",
                        "landed_tips_75th_percentile", "landed_tips_95th_percentile",
                        "landed_tips_99th_percentile", "ema_landed_tips_50th_percentile"}
    assert row["landed_tips_50th_percentile"] == pytest.approx(1e-06)  # the 1000-lamport minimum
    assert row["time"].endswith("Z")


def _tip_accounts() -> dict:
    return {"jsonrpc": "2.0", "id": 1, "method": "getTipAccounts", "params": []}
