"""Start `arbtui localnet` in a child process when the configured endpoint has no cluster.

The console and the headless engine call `ensure_cluster(config)` at start-up: when
`cluster.name` is "localnet" and nothing listens on the RPC port, a child runs
`python -m core.localnet` on the configured ports, the call returns once it answers
`getHealth` "ok" (at most `timeout` seconds), and `ClusterHandle.stop()` (also registered
with atexit) ends it. A cluster someone else runs is used as is and never stopped.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


class LocalnetStartError(RuntimeError):
    """The child cluster exited or did not become healthy in time; carries its log tail."""


@dataclass
class ClusterHandle:
    rpc_url: str
    ws_url: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _stopped: bool = field(default=False, repr=False)

    @property
    def owned(self) -> bool:
        """True when this process started the cluster (and so stops it)."""
        return self.process is not None

    def stop(self) -> None:
        if self.process is None or self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)

    def __enter__(self) -> ClusterHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def is_listening(host: str, port: int, timeout: float = 0.25) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def _healthy(rpc_url: str) -> bool:
    try:
        reply = httpx.post(rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"}, timeout=1.0)
        return reply.status_code == 200 and reply.json().get("result") == "ok"
    except (httpx.HTTPError, ValueError):
        return False


def ensure_cluster(config: Any, *, timeout: float = START_TIMEOUT_S, seed: int = 0,
                   slot_ms: float | None = None, extra_args: list[str] | None = None) -> ClusterHandle:
    """Use the configured cluster, starting a local one in a child process if none is listening."""
    rpc_url: str = config.cluster.rpc_url
    ws_url: str = config.cluster.ws_url
    if config.cluster.name != "localnet":
        return ClusterHandle(rpc_url, ws_url)
    host, rpc_port = _host_port(rpc_url, 8899)
    _, ws_port = _host_port(ws_url, rpc_port + 1)
    if is_listening(host, rpc_port):
        return ClusterHandle(rpc_url, ws_url)
    store_dir = Path(config.store.dir)
    store_dir.mkdir(parents=True, exist_ok=True)
    log_path = store_dir / "localnet.log"
    cmd = [
        sys.executable, "-m", "core.localnet", "--host", host, "--rpc-port", str(rpc_port),
        "--ws-port", str(ws_port), "--seed", str(seed), "--store-dir", str(store_dir),
    ]
    be_port = _block_engine_port(config)
    if be_port is not None:
        cmd += ["--block-engine-port", str(be_port)]
    if slot_ms is not None:
        cmd += ["--slot-ms", str(slot_ms)]
    cmd += extra_args or []
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            cwd=_project_root(), env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    handle = ClusterHandle(rpc_url, ws_url, process, log_path)
    atexit.register(handle.stop)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalnetStartError(f"arbtui localnet exited with {process.returncode}:\n{_tail(log_path)}")
        if _healthy(rpc_url):
            return handle
        time.sleep(0.05)
    handle.stop()
    raise LocalnetStartError(f"arbtui localnet not healthy after {timeout:g}s:\n{_tail(log_path)}")


async def ensure_cluster_async(config: Any, **kwargs: Any) -> ClusterHandle:
    """`ensure_cluster` without blocking the event loop (for the Textual console)."""
    return await asyncio.to_thread(ensure_cluster, config, **kwargs)


def _block_engine_port(config: Any) -> int | None:
    """The port of the configured local block-engine regions (they all share one port)."""
    regions = getattr(getattr(config, "jito", None), "regions", None) or {}
    for url in regions.values():
        port = urlsplit(str(url)).port
        if port is not None:
            return port
    return None


def _project_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
