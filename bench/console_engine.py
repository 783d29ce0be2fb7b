"""The synthetic engine of bench/console.py: opportunity updates over 2,000 cycles at a set rate.

`produce` runs in the console's own event loop for the in-process figure. For the socket figure
the same producer runs inside a real background engine process:

    python -m core.daemon --factory bench.console_engine:build --no-cluster

with the rate in BENCH_CONSOLE_RATE; it writes how many updates it published to
`<store dir>/bench-published` every half second, so the benchmark can tell its achieved rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

from solders.pubkey import Pubkey

from core.config import AppConfig
from core.events import EventBus, SlotTick
from core.protocols.ids import NATIVE_MINT, USDC_MINT
from core.runtime import Runtime
from core.search.fees import FeeBreakdown
from core.search.opportunities import Hop, Opportunity

CYCLES = 2_000
RATE_ENV = "BENCH_CONSOLE_RATE"
PUBLISHED_FILE = "bench-published"


def make_routes(rng: random.Random) -> list[tuple[Hop, ...]]:
    return [
        (
            Hop(Pubkey(rng.randbytes(32)), "raydium_amm_v4", True, USDC_MINT, NATIVE_MINT),
            Hop(Pubkey(rng.randbytes(32)), "whirlpool", False, NATIVE_MINT, USDC_MINT),
        )
        for _ in range(CYCLES)
    ]


async def produce(bus: EventBus, rate: int, stop: asyncio.Event, counted: Callable[[int], None]) -> None:
    """Publish `rate` opportunity updates a second (batches every 10 ms) until `stop`; a slot
    passes every 40 batches. `counted` gets the running total after each batch."""
    rng = random.Random(7)
    routes = make_routes(rng)
    published = 0
    slot = 100
    fees = FeeBreakdown(50_000, 10_000, 10_000, 5_000, 20_000)
    batch = max(1, rate // 100)
    next_at = time.perf_counter()
    while not stop.is_set():
        for _ in range(batch):
            cid = rng.randrange(CYCLES)
            net = rng.randrange(1, 5_000_000)
            gross = net + fees.total
            published += 1
            bus.publish(
                Opportunity(published, cid, USDC_MINT, routes[cid], 100_000_000, 100_000_000 + gross,
                            gross, fees, net, slot, (slot, slot), time.monotonic_ns())
            )  # fmt: skip
        if published % (batch * 40) == 0:
            slot += 1
            bus.publish(SlotTick(slot))
        counted(published)
        next_at += 0.01
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))


class Producer:
    """The engine the background process runs: `produce`, and its count written to a file."""

    def __init__(self, runtime: Runtime, rate: int) -> None:
        self.runtime = runtime
        self.rate = rate
        self.published = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._produce()), asyncio.create_task(self._report())]

    async def stop(self, reason: str = "") -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _produce(self) -> None:
        while self.runtime.state != "running":
            await asyncio.sleep(0.01)
        await produce(self.runtime.bus, self.rate, self._stop, self._count)

    def _count(self, published: int) -> None:
        self.published = published

    async def _report(self) -> None:
        path = Path(self.runtime.config.store.dir) / PUBLISHED_FILE
        while True:
            path.with_suffix(".tmp").write_text(f"{time.time()} {self.published}")
            path.with_suffix(".tmp").replace(path)
            await asyncio.sleep(0.5)


def published(store_dir: Path) -> tuple[float, int]:
    """(when, how many) the background engine last reported."""
    when, count = (store_dir / PUBLISHED_FILE).read_text().split()
    return float(when), int(count)


def build(config: AppConfig) -> Runtime:
    runtime = Runtime(config, with_engine=False)
    runtime.engine = Producer(runtime, int(os.environ.get(RATE_ENV, "20000")))
    return runtime
