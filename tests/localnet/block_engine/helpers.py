"""Raw HTTP helpers for the block-engine tests (httpx against the real server)."""

from __future__ import annotations

from typing import Any

import httpx


async def post(url: str, body: Any, *, headers: dict[str, str] | None = None,
               params: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, json=body, headers=headers, params=params)


async def call(base: str, path: str, method: str, params: Any = None, **kwargs: Any) -> dict[str, Any]:
    """One JSON-RPC call to `base` + `path` (e.g. "/bundles"); returns the reply object."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        body["params"] = params
    reply = await post(base + path, body, **kwargs)
    assert reply.status_code == 200, (reply.status_code, reply.text)
    return reply.json()
