"""`ensure_cluster` starts `arbtui localnet` in a child process only when nothing listens."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace

import httpx

from core.localnet.launcher import ensure_cluster


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path: Path, rpc_port: int, ws_port: int, name: str = "localnet") -> SimpleNamespace:
    return SimpleNamespace(
        cluster=SimpleNamespace(
            name=name, rpc_url=f"http://127.0.0.1:{rpc_port}", ws_url=f"ws://127.0.0.1:{ws_port}"
        ),
        store=SimpleNamespace(dir=tmp_path),
    )


def test_ensure_cluster_starts_a_child_and_stops_it(tmp_path: Path) -> None:
    config = _config(tmp_path, _free_port(), _free_port())
    handle = ensure_cluster(config, extra_args=["--no-traders"])
    try:
        assert handle.owned and handle.process is not None
        reply = httpx.post(config.cluster.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"})
        assert reply.json()["result"] == "ok"
        again = ensure_cluster(config)
        assert not again.owned  # something already listens: use it, never stop it
    finally:
        handle.stop()
    assert handle.process.returncode == 0
    assert "arbtui localnet: stopped" in (tmp_path / "localnet.log").read_text()


def test_ensure_cluster_leaves_other_clusters_alone(tmp_path: Path) -> None:
    handle = ensure_cluster(_config(tmp_path, _free_port(), _free_port(), name="devnet"))
    assert not handle.owned
