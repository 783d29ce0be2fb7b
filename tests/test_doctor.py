"""`arbtui doctor` against a running local cluster + block engine: all ✓, and ✗ with the fix when broken."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from solders.pubkey import Pubkey

from arbtui.cli import main
from core.config import AppConfig, load_config
from core.doctor import Check, diagnose
from core.flashloan.localnet_setup import fetch_scenario, pricer_from_scenario
from core.keypair import localnet_keypair_path
from core.localnet.launcher import ClusterHandle, ensure_cluster
from core.protocols import ids
from tests.daemon.ports import free_port_triple, localnet_settings

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("clean_env")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClusterHandle, dict[str, object]]]:
    store = tmp_path_factory.mktemp("doctor") / "store"
    settings = {"store.dir": str(store), **localnet_settings(free_port_triple())}
    handle = ensure_cluster(load_config(None, settings, search_default_paths=False), timeout=30)
    try:
        yield handle, settings
    finally:
        handle.stop()


def config_with(settings: dict[str, object], **changes: object) -> AppConfig:
    return load_config(None, {**settings, **changes}, search_default_paths=False)


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_every_check_passes_on_the_local_cluster(
    cluster: tuple[ClusterHandle, dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, settings = cluster
    args = ["doctor", "--store-dir", str(settings["store.dir"])]
    for key in ("cluster.rpc_url", "cluster.ws_url"):
        args += ["--set", f'{key}="{settings[key]}"']
    regions = ",".join(f'{k}="{v}"' for k, v in settings["jito.regions"].items())  # type: ignore[attr-defined]
    args += ["--set", f"jito.regions={{{regions}}}"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split(":")[0] for line in lines]
    assert names == ["✓ config", "✓ rpc", "✓ websocket", "✓ region ny", "✓ region frankfurt",
                     "✓ region tokyo", "✓ tip floor", "✓ tip accounts", "✓ wallet", "✓ lookup tables",
                     "✓ flash loans", "✓ store", "✓ clock"]
    assert "ms" in next(line for line in lines if line.startswith("✓ region ny"))


def test_wrong_rpc_unsafe_keypair_and_down_region_fail_with_their_fix(
    cluster: tuple[ClusterHandle, dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, settings = cluster
    keypair = localnet_keypair_path(Path(str(settings["store.dir"])))
    regions = {**settings["jito.regions"], "dead": "http://127.0.0.1:9/dead"}  # type: ignore[dict-item]
    os.chmod(keypair, 0o644)
    try:
        checks = by_name(asyncio.run(diagnose(config_with(settings, **{"jito.regions": regions}))))
        wrong = {"cluster.rpc_url": "http://127.0.0.1:9", "cluster.ws_url": settings["cluster.ws_url"]}
        wrong_rpc = by_name(asyncio.run(diagnose(config_with(settings, **wrong))))
    finally:
        os.chmod(keypair, 0o600)
    assert not checks["wallet"].ok and checks["wallet"].fix == f"chmod 600 {keypair}"
    assert not checks["region dead"].ok and "remove it from jito.regions" in checks["region dead"].fix
    assert checks["region ny"].ok and checks["rpc"].ok
    assert not wrong_rpc["rpc"].ok and "cluster.rpc_url (http://127.0.0.1:9)" in wrong_rpc["rpc"].fix
    assert "✗ rpc" in wrong_rpc["rpc"].line() and "fix:" in wrong_rpc["rpc"].line()
    assert not wrong_rpc["clock"].ok


def test_doctor_exits_1_when_a_check_fails(
    cluster: tuple[ClusterHandle, dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, settings = cluster
    args = ["doctor", "--store-dir", str(settings["store.dir"]), "--set", 'cluster.rpc_url="http://127.0.0.1:9"']
    assert main(args) == 1
    assert "✗ rpc" in capsys.readouterr().out


def test_a_broken_configuration_is_a_failed_check_with_its_fix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--set", "cluster.rpc_url=notaurl"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✗ config: cluster.rpc_url: must be an http:// or https:// URL")
    assert out[1].strip().startswith("fix: correct the value")


def test_a_custom_clusters_flash_loan_accounts_are_checked_on_chain(
    cluster: tuple[ClusterHandle, dict[str, object]],
) -> None:
    _, settings = cluster
    scenario = asyncio.run(fetch_scenario(str(settings["cluster.rpc_url"])))
    pool = str(pricer_from_scenario(scenario).sol_usdc_pool[0])
    reserves = {str(r.liquidity_mint): str(r.address) for r in scenario.solend_reserves}
    good = {
        "cluster.name": "custom",
        "flash_loan.enabled": True,
        "wallet.pubkey": str(scenario.wallet),
        "flash_loan.solend_reserves": reserves,
        "flash_loan.sol_usdc_pool": pool,
        "flash_loan.profit_guard_program": str(ids.PROFIT_GUARD),
    }

    def flash_check(**changes: object) -> Check:
        return by_name(asyncio.run(diagnose(config_with(settings, **{**good, **changes}))))["flash loans"]

    ok = flash_check()
    assert ok.ok and "accounts present" in ok.detail, ok
    unset = flash_check(**{"wallet.pubkey": ""})
    assert not unset.ok and unset.fix.startswith("set wallet.pubkey")
    not_a_program = flash_check(**{"flash_loan.profit_guard_program": pool})
    assert not not_a_program.ok and "not a program" in not_a_program.detail
    pool_as_reserve = flash_check(**{"flash_loan.solend_reserves": {"USDC": pool}})
    assert not pool_as_reserve.ok and f"not {ids.SOLEND}" in pool_as_reserve.detail
    absent = flash_check(**{"flash_loan.solend_reserves": {"USDC": str(Pubkey.new_unique())}})
    assert not absent.ok and "no such account" in absent.detail and "flash_loan.solend_reserves" in absent.fix
