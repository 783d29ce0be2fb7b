"""The block engine's HTTP side (aiohttp): regions, rate limits, faults and Jito's JSON-RPC.

Paths, per region prefix (`/ny`, `/frankfurt`, `/tokyo`, or none for the default region):
  POST {prefix}/api/v1/bundles                 sendBundle, getBundleStatuses, getInflightBundleStatuses,
                                               getTipAccounts (jito-js-rpc sends all four here)
  POST {prefix}/api/v1/<method>                the method-named paths jito-py-rpc and the docs use
  POST {prefix}/api/v1/transactions            sendTransaction (?bundleOnly=true → x-bundle-id header)
  GET  {prefix}/api/v1/bundles/tip_floor       the tip floor (bundles.jito.wtf's REST shape)
Every request first waits the region's latency, then passes its faults (outage → 503, 5xx), then
its rate limit (per region, per client IP; a known `x-jito-auth` / `?uuid=` gets a higher one).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from aiohttp import web
from solders.signature import Signature

from core.localnet import bundles
from core.localnet import rpc_errors as E
from core.localnet.block_engine.config import DEFAULT_REGION, Region
from core.localnet.block_engine.engine import BlockEngine
from core.localnet.block_engine.rate_limit import RATE_LIMITED_BODY, RateLimiter
from core.localnet.cluster import TxRejected
from core.localnet.http_serving import JSON_CONTENT_TYPE, dump_json, serve
from core.localnet.rpc_errors import RpcError
from core.protocols import ids

log = logging.getLogger(__name__)

MAX_REQUEST_BODY_SIZE = 64 * 1024
MAX_BUNDLE_IDS = 5
ENCODINGS = ("base58", "base64")
BUNDLE_METHODS = ("sendBundle", "getBundleStatuses", "getInflightBundleStatuses", "getTipAccounts")
_HEX_ID = re.compile(r"[0-9a-f]{64}")


class BlockEngineServer:
    def __init__(self, engine: BlockEngine, host: str = "127.0.0.1", port: int = 8901,
                 limiter: RateLimiter | None = None) -> None:
        self.engine = engine
        self.host = host
        self.port = port
        self.limiter = limiter or RateLimiter()
        self.requests = 0
        self._regions = {r.name: r for r in engine.config.regions}
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def region_url(self, region: str = DEFAULT_REGION) -> str:
        """The base URL the SDKs take (`…/api/v1`) for one region."""
        found = self._regions.get(region)
        if found is None:
            raise KeyError(region)
        return f"{self.url}{found.prefix}/api/v1"

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_REQUEST_BODY_SIZE)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner, self.port = await serve(app, self.host, self.port)
        log.info("block engine listening on %s (regions: %s)", self.url, ", ".join(self._regions))

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- HTTP ------------------------------------------------------------------------------------
    def _route(self, path: str) -> tuple[Region, str] | None:
        """(region, endpoint after /api/v1/) or None when the path is not the block engine's."""
        head, _, rest = path.lstrip("/").partition("/")
        if head == "api":
            region, tail = self._regions.get(DEFAULT_REGION), path.lstrip("/")
        else:
            region, tail = self._regions.get(head), rest
        if region is None or not tail.startswith("api/v1/"):
            return None
        return region, tail[len("api/v1/"):].rstrip("/")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        routed = self._route(request.path)
        if routed is None:
            return web.Response(status=404, text="Not Found")
        region, endpoint = routed
        faults = self.engine.faults.region(region.name)
        latency_ms = region.latency_ms + faults.latency_ms
        if latency_ms > 0:
            await asyncio.sleep(latency_ms / 1000.0)
        if faults.outage:
            return web.Response(status=503, text="Service Unavailable")
        if self.engine.faults.roll(faults.http_5xx_rate):
            return web.Response(status=500, text="Internal Server Error")
        if endpoint == "bundles/tip_floor":
            if request.method != "GET":
                return web.Response(status=405, text="Method Not Allowed")
            floor = dump_json(self.engine.tip_floor.to_json())
            return web.Response(text=floor, content_type=JSON_CONTENT_TYPE)
        if endpoint not in ("bundles", "transactions", *BUNDLE_METHODS):
            return web.Response(status=404, text="Not Found")
        if request.method != "POST":
            return web.Response(status=405, text="Method Not Allowed")
        if not self._allowed(request, region):
            return web.Response(status=429, text=RATE_LIMITED_BODY, content_type=JSON_CONTENT_TYPE)
        body = await request.read()
        headers: dict[str, str] = {}
        reply = self.process(body, region, endpoint, request.query, headers)
        return web.Response(text=dump_json(reply), content_type=JSON_CONTENT_TYPE, headers=headers)

    def _allowed(self, request: web.Request, region: Region) -> bool:
        config = self.engine.config
        uuid = request.headers.get("x-jito-auth") or request.query.get("uuid")
        client = request.remote or "?"
        if uuid is not None and uuid in config.auth_uuids:
            return self.limiter.allow((region.name, client, uuid), config.auth_rate_limit_per_s)
        return self.limiter.allow((region.name, client), config.rate_limit_per_s)

    # -- JSON-RPC --------------------------------------------------------------------------------
    def process(self, body: bytes, region: Region, endpoint: str, query: Any,
                 headers: dict[str, str]) -> dict[str, Any]:
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _error(None, E.parse_error())
        if not isinstance(request, dict):
            return _error(None, E.invalid_request())
        req_id = request.get("id")
        if not (req_id is None or (isinstance(req_id, (int, str)) and not isinstance(req_id, bool))):
            return _error(None, E.invalid_request())
        method = request.get("method")
        if request.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return _error(req_id, E.invalid_request())
        params = request.get("params")
        if params is None or params == [None]:
            params = []  # jito-py-rpc sends `[null]` when a method has no params
        try:
            if not isinstance(params, list):
                raise E.invalid_params("Invalid params: invalid type: map, expected a tuple.")
            if endpoint == "transactions":
                if method != "sendTransaction":
                    raise E.method_not_found()
                only = str(query.get("bundleOnly", "false")).lower() == "true"
                result = self._send_transaction(params, region, only, headers)
            else:
                if method not in BUNDLE_METHODS:
                    raise E.method_not_found()
                result = self._bundle_method(method, params, region)
        except RpcError as err:
            return _error(req_id, err)
        except Exception:
            log.exception("block engine %s failed", method)
            return _error(req_id, RpcError(E.INTERNAL_ERROR, "Internal error"))
        return {"jsonrpc": "2.0", "result": result, "id": req_id}

    def _bundle_method(self, method: str, params: list[Any], region: Region) -> Any:
        engine = self.engine
        if method == "getTipAccounts":
            return [str(a) for a in ids.JITO_TIP_ACCOUNTS]
        if method == "sendBundle":
            if not params:
                raise E.invalid_params("Invalid params: missing transactions")
            encoded, encoding = _encoded_list(params)
            txs = _rejections(lambda: bundles.decode_bundle(encoded, encoding))
            return _rejections(lambda: engine.submit(txs, region.name))
        bundle_ids = _bundle_ids(params)
        context = {"slot": engine.cluster.slot}
        if method == "getInflightBundleStatuses":
            return {"context": context, "value": engine.inflight_statuses(bundle_ids)}
        key = engine.config.confirmation_status_key
        value = [
            None if s is None else {(key if k == "confirmation_status" else k): v for k, v in s.items()}
            for s in engine.bundle_statuses(bundle_ids)
        ]
        return {"context": context, "value": value}

    def _send_transaction(self, params: list[Any], region: Region, bundle_only: bool,
                          headers: dict[str, str]) -> str:
        if not params or not isinstance(params[0], str):
            raise E.invalid_params("Invalid params: expected a signed transaction string")
        encoding = _encoding(params[1] if len(params) > 1 else None)
        txs = _rejections(lambda: bundles.decode_bundle([params[0]], encoding))
        tx = txs[0]
        signature: Signature = tx.signatures[0]
        if bundle_only:
            headers["x-bundle-id"] = _rejections(lambda: self.engine.submit(txs, region.name))
            return str(signature)
        try:
            self.engine.cluster.submit(tx)  # the block engine forwards with skip_preflight=true
        except TxRejected as exc:
            raise E.invalid_params(f"transaction rejected: {exc.text}") from None
        return str(signature)


def _rejections(fn: Any) -> Any:
    try:
        return fn()
    except bundles.BundleRejected as exc:
        raise E.invalid_params(exc.reason) from None


def _encoding(config: Any) -> str:
    if config is None:
        return "base58"  # Jito's default (deprecated, but still the default)
    if not isinstance(config, dict):
        raise E.invalid_params("Invalid params: expected an encoding config object")
    encoding = config.get("encoding", "base58")
    if encoding not in ENCODINGS:
        raise E.invalid_params(f"unsupported encoding: {encoding}. Supported encodings: base58, base64")
    return str(encoding)


def _encoded_list(params: list[Any]) -> tuple[list[str], str]:
    txs = params[0]
    if not isinstance(txs, list) or not all(isinstance(t, str) for t in txs):
        raise E.invalid_params("Invalid params: expected an array of encoded transactions")
    if len(params) > 2:
        raise E.invalid_params("Invalid params: expected at most 2 params")
    encoding = _encoding(params[1] if len(params) > 1 else None)
    return txs, encoding


def _bundle_ids(params: list[Any]) -> list[str]:
    if not params or not isinstance(params[0], list):
        raise E.invalid_params("Invalid params: expected an array of bundle ids")
    ids_ = params[0]
    if not ids_:
        raise E.invalid_params("Invalid params: no bundle ids")
    if len(ids_) > MAX_BUNDLE_IDS:
        raise E.invalid_params(f"Invalid params: exceeded maximum number of bundle ids: {MAX_BUNDLE_IDS}")
    for bid in ids_:
        if not isinstance(bid, str) or not _HEX_ID.fullmatch(bid):
            raise E.invalid_params(f"Invalid params: invalid bundle id: {bid!r}"[:200])
    return ids_


def _error(req_id: Any, err: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": err.to_json(), "id": req_id}
