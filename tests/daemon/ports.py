"""Loopback ports for a local cluster in a child process: RPC p, PubSub p + 1, block engine p + 2."""

from __future__ import annotations

import random

from core.localnet.launcher import is_listening


def free_port_triple(rng: random.Random | None = None) -> int:
    """Drawn below Linux's ephemeral range (32768+), where other tests' port-0 sockets land."""
    rng = rng or random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, 32_000)
        if not any(is_listening("127.0.0.1", port + i) for i in range(3)):
            return port
    raise RuntimeError("no three free ports in a row")


def localnet_settings(port: int) -> dict[str, object]:
    regions = {name: f"http://127.0.0.1:{port + 2}/{name}" for name in ("ny", "frankfurt", "tokyo")}
    return {
        "cluster.rpc_url": f"http://127.0.0.1:{port}",
        "cluster.ws_url": f"ws://127.0.0.1:{port + 1}",
        "jito.regions": regions,
    }
