"""Solana JSON-RPC 2.0 over HTTP for the local cluster (aiohttp), framed as agave frames it.

`POST /` with single or batch requests; bodies over 50 KiB get HTTP 413 and non-JSON content
types HTTP 415, as agave's jsonrpc-http-server does; `GET /health` answers "ok". Fault knobs
(latency, 429 / 503, malformed JSON) apply per HTTP request. `arbtui_setFaults` /
`arbtui_getFaults` exist only for loopback clients, so a test can drive a cluster in another
process.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections import deque
from typing import Any

from aiohttp import web

from core.localnet import rpc_errors as E
from core.localnet.cluster import Cluster
from core.localnet.faults import Faults, FaultSpecError
from core.localnet.http_serving import JSON_CONTENT_TYPE, dump_json, serve
from core.localnet.rpc_errors import RpcError
from core.localnet.rpc_methods import RpcMethods

log = logging.getLogger(__name__)

MAX_REQUEST_BODY_SIZE = 50 * (1 << 10)  # agave's MAX_REQUEST_BODY_SIZE
REQUEST_LOG_SIZE = 10_000


class RpcServer:
    def __init__(self, cluster: Cluster, host: str = "127.0.0.1", port: int = 8899,
                 faults: Faults | None = None) -> None:
        self.cluster = cluster
        self.host = host
        self.port = port
        self.faults = faults if faults is not None else cluster.faults
        self.methods = RpcMethods(cluster)
        # Method names of the latest well-formed requests, oldest first: lets a test assert that a
        # client never called a method (e.g. dry-run never sends), on the wire rather than a mock.
        self.request_log: deque[str] = deque(maxlen=REQUEST_LOG_SIZE)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_REQUEST_BODY_SIZE)
        app.router.add_post("/", self._handle)
        app.router.add_route("OPTIONS", "/", self._cors_preflight)
        app.router.add_get("/health", self._health)
        app.router.add_route("*", "/", self._wrong_method)
        app.on_response_prepare.append(_allow_any_origin)
        self._runner, self.port = await serve(app, self.host, self.port)
        log.info("JSON-RPC listening on %s", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- HTTP ------------------------------------------------------------------------------------
    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok" if self.cluster.ready else "unknown")

    async def _cors_preflight(self, request: web.Request) -> web.Response:
        # Browser clients (explorers, wallets) preflight their POSTs; agave allows any origin.
        requested = request.headers.get("Access-Control-Request-Headers", "content-type")
        headers = {"Access-Control-Allow-Methods": "POST, OPTIONS", "Access-Control-Allow-Headers": requested}
        return web.Response(status=200, headers=headers)

    async def _wrong_method(self, request: web.Request) -> web.Response:
        return web.Response(status=405, text="Used HTTPMethod is not allowed. POST or OPTIONS is required\n")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        faults = self.faults
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000.0)
        if faults.roll(faults.http_429_rate):
            return web.Response(status=429, text="Too Many Requests")
        if faults.roll(faults.http_503_rate):
            return web.Response(status=503, text="Service Unavailable")
        if request.content_type != JSON_CONTENT_TYPE:
            return web.Response(
                status=415,
                text="Supplied content type is not allowed. Content-Type: application/json is required\n",
            )
        # Oversized bodies raise HTTPRequestEntityTooLarge here: aiohttp answers 413.
        body = await request.read()
        loopback = _is_loopback(request.remote)
        text = self.process(body, loopback=loopback)
        if text is None:
            return web.Response(status=200, body=b"", content_type=JSON_CONTENT_TYPE)
        if faults.roll(faults.malformed_json_rate):
            text = text[: max(1, len(text) // 2)]
        return web.Response(text=text, content_type=JSON_CONTENT_TYPE)

    # -- JSON-RPC --------------------------------------------------------------------------------
    def process(self, body: bytes, *, loopback: bool = False) -> str | None:
        """One HTTP body in, one HTTP body out (None when every request was a notification)."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return dump_json(_error_reply(None, E.parse_error()))
        if isinstance(payload, list):
            if not payload:
                return dump_json(_error_reply(None, E.invalid_request()))
            replies = [r for r in (self._call(item, loopback) for item in payload) if r is not None]
            return dump_json(replies) if replies else None
        reply = self._call(payload, loopback)
        return None if reply is None else dump_json(reply)

    def _call(self, request: Any, loopback: bool) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return _error_reply(None, E.invalid_request())
        req_id = request.get("id")
        if not _valid_id(req_id):
            return _error_reply(None, E.invalid_request())
        if request.get("jsonrpc") != "2.0" or not isinstance(request.get("method"), str):
            return _error_reply(req_id, E.invalid_request())
        self.request_log.append(request["method"])
        params = request.get("params", [])
        if params is None:
            params = []
        is_notification = "id" not in request
        try:
            if not isinstance(params, list):
                if isinstance(params, dict):
                    raise E.invalid_params("Invalid params: invalid type: map, expected a tuple.")
                raise E.invalid_request()
            result = self._dispatch(request["method"], params, loopback)
        except RpcError as err:
            return None if is_notification else _error_reply(req_id, err)
        except Exception:
            log.exception("RPC %s failed", request.get("method"))
            internal = RpcError(E.INTERNAL_ERROR, "Internal error")
            return None if is_notification else _error_reply(req_id, internal)
        if is_notification:
            return None
        return {"jsonrpc": "2.0", "result": result, "id": req_id}

    def _dispatch(self, method: str, params: list[Any], loopback: bool) -> Any:
        handler = self.methods.table.get(method)
        if handler is not None:
            return handler(params)
        if loopback and method == "arbtui_setFaults":
            settings = params[0] if params else None
            if not isinstance(settings, dict):
                raise E.invalid_params("Invalid params: expected an object of fault settings.")
            try:
                self.faults.update(settings)
            except FaultSpecError as exc:
                raise E.invalid_params(f"Invalid params: {exc}") from None
            return self.faults.as_dict()
        if loopback and method == "arbtui_getFaults":
            return self.faults.as_dict()
        raise E.method_not_found()


async def _allow_any_origin(request: web.Request, response: web.StreamResponse) -> None:
    if "Origin" in request.headers:
        response.headers["Access-Control-Allow-Origin"] = "*"


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, (int, str)) and not isinstance(value, bool))


def _error_reply(req_id: Any, err: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": err.to_json(), "id": req_id}


def _is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False
