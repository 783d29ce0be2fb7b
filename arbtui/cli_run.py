"""`arbtui run --headless [--json]`: the engine without the console, its events on stdout until Ctrl-C.

With `--json` every event is one JSON object per line (`core.events.to_json_dict`: a `type` field,
amounts as integers, pubkeys as base58), for piping into jq or a log shipper. Without it, one short
human line per event (slot ticks left out). On localnet the cluster is started first when nothing
answers on the configured RPC port, exactly as the console does, and stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import TextIO

from arbtui.cli import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, Handler, subcommand
from core.config import AppConfig


@subcommand("run", "run the engine without the console, printing its events until Ctrl-C")
def _run(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("--headless", action="store_true", help="no console: print events on stdout")
    parser.add_argument("--json", action="store_true", help="one JSON object per event per line")

    def run(args: argparse.Namespace, config: AppConfig) -> int:
        if not args.headless:
            print("arbtui run: only --headless is available here; the console is plain `arbtui`",
                  file=sys.stderr)
            return EXIT_CONFIG
        _quiet_logging()
        try:
            return asyncio.run(run_headless(config, as_json=args.json, out=sys.stdout))
        except KeyboardInterrupt:
            return EXIT_OK

    return run


def _quiet_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # solana-py's HTTP client logs every request at INFO.
    for name in ("httpx", "httpx2"):
        logging.getLogger(name).setLevel(logging.WARNING)


async def run_headless(config: AppConfig, *, as_json: bool, out: TextIO) -> int:
    from core.engine import Engine
    from core.events import EventBus
    from core.localnet.launcher import LocalnetStartError, ensure_cluster_async

    try:
        cluster = await ensure_cluster_async(config)
    except LocalnetStartError as exc:
        print(f"arbtui run: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    bus = EventBus()
    events = bus.subscribe()
    engine = Engine(config, bus)
    printer = loop.create_task(_print_events(events, as_json, out, stop), name="headless-printer")
    try:
        await engine.start()
        await stop.wait()
    finally:
        await engine.stop("interrupted")
        printer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await printer
        with contextlib.suppress(BrokenPipeError):
            for event in events.drain():
                _write(out, event, as_json)
            out.flush()
        cluster.stop()
    return EXIT_OK


async def _print_events(events: object, as_json: bool, out: TextIO, stop: asyncio.Event) -> None:
    from core.events import Subscription

    assert isinstance(events, Subscription)
    try:
        while True:
            _write(out, await events.get(), as_json)
            out.flush()
    except BrokenPipeError:
        stop.set()  # the reader went away (`| head`): nothing left to print for


def _write(out: TextIO, event: object, as_json: bool) -> None:
    from core.events import to_json_dict

    if as_json:
        out.write(json.dumps(to_json_dict(event)) + "\n")  # type: ignore[arg-type]
        return
    line = human_line(event)
    if line:
        out.write(line + "\n")


def human_line(event: object) -> str:
    """One compact line per event; "" for the ones not worth a line (slot ticks)."""
    from core.events import EngineState, FeedHealth, SlotTick, to_json_dict
    from core.search.opportunities import Opportunity, OpportunityWithdrawn

    if isinstance(event, SlotTick):
        return ""
    if isinstance(event, Opportunity):
        route = " → ".join(f"{h.dex}:{str(h.pool)[:6]}" for h in event.route)
        return (f"slot {event.slot} opportunity #{event.id} cycle {event.cycle_id} "
                f"loan {str(event.loan_mint)[:6]} in {event.amount_in} out {event.expected_out} "
                f"net {event.net} via {route}")
    if isinstance(event, OpportunityWithdrawn):
        return f"slot {event.slot} withdrawn #{event.replaces} cycle {event.cycle_id}: {event.reason}"
    if isinstance(event, FeedHealth):
        state = "STALE" if event.stale else "current"
        text = (f"feed {state} slot {event.slot} behind {event.stale_slots} pools {event.pools} "
                f"decode errors {event.decode_errors}")
        return f"{text} ({event.reason})" if event.reason else text
    if isinstance(event, EngineState):
        text = f"engine {event.state} ({event.mode}) on {event.cluster}"
        return f"{text}: {event.reason}" if event.reason else text
    fields = to_json_dict(event)  # type: ignore[arg-type]
    kind = fields.pop("type")
    fields.pop("at_ns", None)
    return f"{kind} " + " ".join(f"{k}={v}" for k, v in fields.items())
