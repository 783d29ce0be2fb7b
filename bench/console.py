"""Benchmark: the console under a 20,000-update/s engine, coalesced versus redraw-per-event.

Drives the real `ArbConsole` headless (Textual's test driver) attached to a real `Runtime`; a
producer publishes opportunity updates over 2,000 cycles at the target rate onto the engine's
bus. Measures frames per second actually drawn, the producer's achieved rate (the engine must not
be slowed by the screen), and keypress → redrawn latency (a key event `s` into the app's queue
until the re-sorted table has been rebuilt). Then the same with the naive approach run side
by side: every event redrawn as it arrives. Last line: one JSON object.

    .venv/bin/python bench/console.py [--rate 20000] [--seconds 5] [--presses 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solders.pubkey import Pubkey

from arbtui.app import ArbConsole, Pane
from core.config import load_config
from core.events import FeedHealth, SlotTick
from core.protocols.ids import NATIVE_MINT, USDC_MINT
from core.runtime import Runtime
from core.search.fees import FeeBreakdown
from core.search.opportunities import Hop, Opportunity

CYCLES = 2_000


def make_routes(rng: random.Random) -> list[tuple[Hop, ...]]:
    return [
        (
            Hop(Pubkey(rng.randbytes(32)), "raydium_amm_v4", True, USDC_MINT, NATIVE_MINT),
            Hop(Pubkey(rng.randbytes(32)), "whirlpool", False, NATIVE_MINT, USDC_MINT),
        )
        for _ in range(CYCLES)
    ]


class NaiveConsole(ArbConsole):
    """The usual approach: redraw on every event (no coalescing)."""

    def attach(self, link: Any) -> None:
        super().attach(link)
        self.run_worker(self._follow_each(), group="naive")

    async def _follow_each(self) -> None:
        assert self._sub is not None
        while True:
            event = await self._sub.get()
            self.view.apply(event)
            self.view.dirty.add("opportunities")
            self.frames += 1
            self.draw_opportunities()
            await asyncio.sleep(0)


async def run(naive: bool, rate: int, seconds: float, presses: int) -> dict[str, float]:
    rng = random.Random(7)
    routes = make_routes(rng)
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(None, {"store.dir": tmp}, search_default_paths=False)
        runtime = Runtime(config, with_engine=False)
        await runtime.start()
        cls = NaiveConsole if naive else ArbConsole
        app = cls(config, start_cluster=False)
        app.frames = 0  # type: ignore[attr-defined]
        if not naive:
            original = app.draw_opportunities

            def counted() -> None:
                app.frames += 1  # type: ignore[attr-defined]
                original()

            app.draw_opportunities = counted  # type: ignore[method-assign]
        published = 0
        stop = asyncio.Event()

        async def produce() -> None:
            nonlocal published
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
                    runtime.bus.publish(
                        Opportunity(published, cid, USDC_MINT, routes[cid], 100_000_000, 100_000_000 + gross,
                                    gross, fees, net, slot, (slot, slot), time.monotonic_ns())
                    )  # fmt: skip
                if published % (batch * 40) == 0:
                    slot += 1
                    runtime.bus.publish(SlotTick(slot))
                next_at += 0.01
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

        latencies: list[float] = []
        async with app.run_test(size=(160, 48)) as pilot:
            app.attach(runtime)
            runtime.bus.publish(FeedHealth(True, 100, 0, 1000))
            producer = asyncio.create_task(produce())
            start = time.perf_counter()
            await asyncio.sleep(seconds / 2)
            pane = app.query_one("#opportunities", Pane)
            for _ in range(presses):
                before = pane.border_title
                t0 = time.perf_counter()
                # A key event through the app's own queue, as a terminal delivers it (Pilot.press
                # would also wait for the app to go idle, which a 20k-update/s app never is).
                app.simulate_key("s")
                while pane.border_title == before:
                    await asyncio.sleep(0)
                latencies.append((time.perf_counter() - t0) * 1000)
                await asyncio.sleep(seconds / 2 / presses)
            elapsed = time.perf_counter() - start
            stop.set()
            await producer
            frames = app.frames  # type: ignore[attr-defined]
            await pilot.press("q")
        await runtime.close()
    latencies.sort()
    return {
        "fps": frames / elapsed,
        "updates_per_s": published / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--presses", type=int, default=40)
    args = parser.parse_args()
    ours = asyncio.run(run(False, args.rate, args.seconds, args.presses))
    print(
        f"coalesced: {ours['fps']:.1f} frames/s, engine {ours['updates_per_s']:,.0f} updates/s, "
        f"keypress→redrawn p50 {ours['p50_ms']:.1f} ms p99 {ours['p99_ms']:.1f} ms"
    )
    naive = asyncio.run(run(True, args.rate, args.seconds, args.presses))
    print(
        f"redraw-per-event: {naive['fps']:.1f} frames/s, engine {naive['updates_per_s']:,.0f} updates/s, "
        f"keypress→redrawn p50 {naive['p50_ms']:.1f} ms p99 {naive['p99_ms']:.1f} ms"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "target_updates_per_s": args.rate,
        "updates_per_s": round(ours["updates_per_s"], 1),
        "fps": round(ours["fps"], 1),
        "keypress_p50_ms": round(ours["p50_ms"], 2),
        "keypress_p99_ms": round(ours["p99_ms"], 2),
        "naive_updates_per_s": round(naive["updates_per_s"], 1),
        "naive_fps": round(naive["fps"], 1),
        "naive_keypress_p99_ms": round(naive["p99_ms"], 2),
        "peak_rss_mb": round(peak_mb, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
