"""Per-region, per-client request limits (token buckets), as Jito meters its JSON-RPC."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# The body mainnet answers with its HTTP 429 (observed verbatim by public bots).
RATE_LIMITED_BODY = (
    '{"jsonrpc":"2.0","error":{"code":-32097,"message":"Network congested. Endpoint is globally '
    'rate limited.","data":null},"id":null}'
)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """`allow(key, rate)` spends one token of `key`'s bucket (capacity = rate, at least 1).

    `clock` is injectable so a test can hold time still instead of racing the wall clock.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[tuple[str, ...], _Bucket] = {}

    def allow(self, key: tuple[str, ...], rate: float | None) -> bool:
        if rate is None:
            return True
        if rate <= 0:
            return False
        now = self.clock()
        capacity = max(rate, 1.0)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(capacity, now)
        else:
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    def _forget_full(self, now: float) -> None:
        # A bucket idle long enough to be full again carries no state worth keeping.
        stale = [k for k, b in self._buckets.items() if now - b.stamp > 60.0]
        for key in stale or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]
