"""What the local cluster's aiohttp servers (JSON-RPC, block engine) share: compact JSON, listening."""

from __future__ import annotations

import json

from aiohttp import web

JSON_CONTENT_TYPE = "application/json"
# Compact separators, as agave and the block engine answer on the wire.
dump_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving `app` on host:port (port 0: any free one).

    Returns the runner (its `cleanup()` stops the server) and the port actually bound.
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
    if port == 0 and sockets:
        port = sockets[0].getsockname()[1]
    return runner, port
