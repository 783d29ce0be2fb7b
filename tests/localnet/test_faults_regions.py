"""Block-engine region faults are visible (and settable) through the loopback fault RPC methods."""

from __future__ import annotations

import httpx
import pytest

from core.localnet.faults import Faults, FaultSpecError, RegionFaults
from tests.localnet.conftest import Localnet, start_block_engine, stop_block_engine
from tests.localnet.rpc_helpers import rpc


def test_as_dict_reports_every_set_region_with_all_its_knobs() -> None:
    faults = Faults(seed=3)
    assert faults.as_dict()["regions"] == {}
    faults.update({"ny.outage": "true", "tokyo.latency_ms": "250"})
    assert faults.as_dict()["regions"] == {
        "ny": {"latency_ms": 0.0, "outage": True, "http_5xx_rate": 0.0, "drop_bundle_rate": 0.0},
        "tokyo": {"latency_ms": 250.0, "outage": False, "http_5xx_rate": 0.0, "drop_bundle_rate": 0.0},
    }


def test_as_dict_output_sent_back_to_update_changes_nothing() -> None:
    faults = Faults(seed=3, latency_ms=5.0)
    faults.update({"frankfurt.http_5xx_rate": 0.25, "ny.drop_bundle_rate": 0.5})
    before = faults.as_dict()
    other = Faults()
    other.update(before)
    assert other.as_dict() == before
    assert other.region("frankfurt") == RegionFaults(http_5xx_rate=0.25)


@pytest.mark.parametrize("settings", [
    {"regions": {"ny": {"outage": "maybe"}}},
    {"regions": {"ny": {"nope": 1}}},
    {"regions": {"ny": True}},
    {"regions": ["ny"]},
    {"regions": {"ny": {"http_5xx_rate": 2}}},
])
def test_bad_nested_region_settings_are_refused_and_change_nothing(settings: dict) -> None:
    faults = Faults()
    faults.update({"ny.latency_ms": 10})
    before = faults.as_dict()
    with pytest.raises(FaultSpecError):
        faults.update(settings)
    assert faults.as_dict() == before


async def test_get_faults_over_rpc_shows_region_faults_set_over_rpc(localnet: Localnet) -> None:
    reply = await rpc(localnet.url, "arbtui_setFaults", [{"ny.outage": True, "tokyo.latency_ms": 40}])
    assert reply["result"]["regions"]["ny"]["outage"] is True
    shown = (await rpc(localnet.url, "arbtui_getFaults"))["result"]
    assert shown["regions"] == {
        "ny": {"latency_ms": 0.0, "outage": True, "http_5xx_rate": 0.0, "drop_bundle_rate": 0.0},
        "tokyo": {"latency_ms": 40.0, "outage": False, "http_5xx_rate": 0.0, "drop_bundle_rate": 0.0},
    }
    assert shown["latency_ms"] == 0.0  # the cluster-wide knobs are still there


async def test_region_outage_set_with_the_nested_shape_takes_the_region_down(localnet: Localnet) -> None:
    be = await start_block_engine(localnet)
    try:
        reply = await rpc(localnet.url, "arbtui_setFaults", [{"regions": {"frankfurt": {"outage": True}}}])
        assert reply["result"]["regions"]["frankfurt"]["outage"] is True
        body = {"jsonrpc": "2.0", "id": 1, "method": "getTipAccounts", "params": []}
        async with httpx.AsyncClient(timeout=10) as http:
            down = await http.post(f"{be.url('frankfurt')}/bundles", json=body)
            up = await http.post(f"{be.url('ny')}/bundles", json=body)
        assert down.status_code == 503
        assert up.status_code == 200 and len(up.json()["result"]) == 8
    finally:
        await stop_block_engine(be)
