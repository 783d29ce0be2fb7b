"""The one place execution speaks raw JSON-RPC (methods solana-py's AsyncClient lacks or wraps badly).

`simulateBundle`, `getRecentPrioritizationFees` with percentiles, `getSignatureStatuses` during
reconciliation and the Jito methods all go through `JsonRpc.call`, on one shared httpx session.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx


class RpcError(Exception):
    """A JSON-RPC error object, or an HTTP/transport failure (`status` set, `code` None)."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None,
                 data: Any = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.message = message
        self.code = code
        self.status = status
        self.data = data

    @property
    def rate_limited(self) -> bool:
        return self.status == 429 or (self.code == -32097) or "rate limit" in self.message.lower()

    @property
    def retryable(self) -> bool:
        """429, 5xx and transport failures may succeed later; a JSON-RPC refusal will not."""
        return self.rate_limited or (self.status is None and self.code is None) or (
            self.status is not None and self.status >= 500
        )


class JsonRpc:
    """JSON-RPC 2.0 over a shared `httpx.AsyncClient` (the caller owns and closes the session)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self._ids = itertools.count(1)

    async def call(self, url: str, method: str, params: list[Any] | None = None,
                   *, query: dict[str, str] | None = None) -> Any:
        response = await self.post(url, method, params, query=query)
        return response[0]

    async def post(self, url: str, method: str, params: list[Any] | None = None,
                   *, query: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None) -> tuple[Any, httpx.Response]:
        """The result and the HTTP response (Jito puts the bundle id of sendTransaction in a header)."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []}
        try:
            response = await self.http.post(url, json=body, params=query, headers=headers)
        except httpx.HTTPError as exc:
            raise RpcError(f"{method}: {type(exc).__name__}: {exc}") from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        if response.status_code != 200 or error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message", "") if isinstance(error, dict) else response.text[:200]
            raise RpcError(
                f"{method}: HTTP {response.status_code}: {message}",
                code=code,
                status=response.status_code,
                data=error.get("data") if isinstance(error, dict) else None,
                retry_after_s=_retry_after(response),
            )
        if not isinstance(payload, dict) or "result" not in payload:
            raise RpcError(f"{method}: reply without a result", status=response.status_code)
        return payload["result"], response


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP-date: fall back to the bucket's own pace
