"""Per-region token bucket: the client waits for a token instead of earning a 429 it could avoid."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """`rate` tokens per second, at most `burst` banked; the clock and sleep are injectable for tests.

    `penalize` honours a server's Retry-After: the balance goes negative so the next token appears
    exactly when the server allows the next request, and a 429 we did earn (another client behind
    the same IP) is not followed by a second one.
    """

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"token bucket needs rate > 0 and burst ≥ 1 (got {rate}, {burst})")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def delay(self) -> float:
        """Seconds until a token is available (0 when one is)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def try_acquire(self) -> bool:
        self._refill()
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def acquire(self) -> float:
        """Wait for a token and take it; returns the seconds waited (callers queue in FIFO order)."""
        waited = 0.0
        async with self._lock:
            while not self.try_acquire():
                delay = self.delay()
                waited += delay
                await self._sleep(delay)
        return waited

    def penalize(self, retry_after_s: float | None = None) -> None:
        """The server said 429: the next token appears after `retry_after_s` (default one token's time)."""
        self._refill()
        hold = retry_after_s if retry_after_s is not None else 1 / self.rate
        self._tokens = min(self._tokens, 1 - hold * self.rate)
