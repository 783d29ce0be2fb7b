"""`arbtui localnet` serves the block engine on --block-engine-port; the launcher passes the port."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from types import SimpleNamespace

import httpx

from core.localnet.cli import add_arguments, build_block_engine_config
from core.localnet.launcher import ensure_cluster


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_child_cluster_serves_every_region_on_the_configured_block_engine_port(tmp_path: Path) -> None:
    rpc_port, ws_port, be_port = _free_port(), _free_port(), _free_port()
    base = f"http://127.0.0.1:{be_port}"
    config = SimpleNamespace(
        cluster=SimpleNamespace(name="localnet", rpc_url=f"http://127.0.0.1:{rpc_port}",
                                ws_url=f"ws://127.0.0.1:{ws_port}"),
        store=SimpleNamespace(dir=tmp_path),
        jito=SimpleNamespace(regions={r: f"{base}/{r}" for r in ("ny", "frankfurt", "tokyo")}),
    )
    handle = ensure_cluster(config, extra_args=["--no-traders", "--competitors", "0"])
    try:
        for url in config.jito.regions.values():
            reply = httpx.post(f"{url}/api/v1/bundles",
                               json={"jsonrpc": "2.0", "id": 1, "method": "getTipAccounts", "params": []})
            assert reply.status_code == 200
            assert reply.json()["result"][0] == "96gYZGLnJYVFmbjzopPSU6QiEV5fGqZNyN9nmNhvrZU5"
        floor = httpx.get(f"{base}/api/v1/bundles/tip_floor").json()
        assert floor[0]["landed_tips_50th_percentile"] > 0
    finally:
        handle.stop()
    assert "Block engine:   " + base in (tmp_path / "localnet.log").read_text()


def test_cli_options_become_the_block_engine_config() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--be-rate-limit", "0", "--be-auth-uuid", "u-1", "--be-auth-uuid", "u-2",
                              "--competitors", "5", "--competitor-skill", "0.9", "--seed", "4"])
    config = build_block_engine_config(args)
    assert config.rate_limit_per_s is None
    assert config.auth_uuids == frozenset({"u-1", "u-2"})
    assert config.competitors.count == 5 and config.competitors.skill == 0.9
    assert config.competitors.seed == 4
    assert [r.name for r in config.regions] == ["default", "ny", "frankfurt", "tokyo"]
    assert build_block_engine_config(parser.parse_args(["--competitors", "0"])).competitors is None
    assert build_block_engine_config(parser.parse_args([])).rate_limit_per_s == 1.0
