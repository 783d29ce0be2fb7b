"""`arbtui run --headless [--for DURATION] [--json]`: the engine without the console, its events on stdout.

It runs until Ctrl-C or for `--for` (e.g. `60s`, `5m`), then prints a summary (opportunities,
attempts, landed, inclusion rate, realised profit, tips paid) from the events it saw and the store.
Hosting the engine headless needs `mode.approval = "auto"`: with manual approval nobody could
approve anything, so it refuses to start (exit 2) and says which keys to set.

With `--json` every event is one JSON object per line (`core.events.to_json_dict`: a `type` field,
amounts as integers, pubkeys as base58), for piping into jq or a log shipper. Without it, one short
human line per event (slot ticks left out). On localnet the cluster is started first when nothing
answers on the configured RPC port, exactly as the console does, and stopped on exit.
When an engine already runs for the store dir, this attaches to it and prints its stream
(snapshot first); Ctrl-C then only detaches.
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
    parser.add_argument(
        "--for",
        dest="duration",
        type=parse_duration,
        default=None,
        metavar="DURATION",
        help="stop after this long (`90`, `60s`, `5m`, `1h`) and print a summary",
    )

    def run(args: argparse.Namespace, config: AppConfig) -> int:
        if not args.headless:
            print(
                "arbtui run: only --headless is available here; the console is plain `arbtui`",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        _quiet_logging()
        try:
            return asyncio.run(
                run_headless(config, as_json=args.json, out=sys.stdout, duration=args.duration)
            )
        except KeyboardInterrupt:
            return EXIT_OK

    return run


def _quiet_logging() -> None:
    root = logging.getLogger()
    if not any(getattr(h, "stream", None) is sys.stderr for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)  # the store's log takes INFO; the terminal only problems
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    # solana-py's HTTP client logs every request at INFO.
    for name in ("httpx", "httpx2"):
        logging.getLogger(name).setLevel(logging.WARNING)


def parse_duration(text: str) -> float:
    """`90` / `90s` / `5m` / `1h` → seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    value, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        seconds = float(value) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90, 60s, 5m, 1h)") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"duration must be positive: {text!r}")
    return seconds


class Tally:
    """What the summary says about the events this run saw; amounts from the store's settled rows."""

    def __init__(self) -> None:
        self.cycles: set[int] = set()
        self.states: dict[str, str] = {}

    def see(self, event: object) -> None:
        from core.events import AttemptUpdate
        from core.search.opportunities import Opportunity

        if isinstance(event, Opportunity):
            self.cycles.add(event.cycle_id)
        elif isinstance(event, AttemptUpdate):
            self.states[event.attempt_id] = event.state

    def summary(self, config: AppConfig, mode: str, seconds: float) -> dict[str, object]:
        from core.store import StoreError, StoreReader, store_exists

        sent = {"submitted", "landed", "settled", "failed", "dropped"}
        rows = []
        if self.states and store_exists(config.store.dir, mode):  # type: ignore[arg-type]
            try:
                with StoreReader(config.store.dir, mode) as reader:  # type: ignore[arg-type]
                    rows = [a for a in map(reader.attempt, self.states) if a is not None]
            except StoreError:
                rows = []
        submitted = [a for a in rows if a.submitted_at is not None or a.state in sent]
        landed = [a for a in rows if a.landed_at is not None]
        return {
            "type": "Summary",
            "mode": mode,
            "seconds": round(seconds, 1),
            "opportunity_cycles": len(self.cycles),
            "attempts": len(self.states),
            "submitted": len(submitted),
            "landed": len(landed),
            "inclusion_rate": round(len(landed) / len(submitted), 4) if submitted else None,
            "realised_profit": sum(a.realised_profit or 0 for a in landed),
            "realised_profit_usd": round(sum(a.realised_profit_usd or 0.0 for a in landed), 6),
            "tips_paid_lamports": sum(a.tip_lamports or 0 for a in landed),
        }


def write_summary(out: TextIO, summary: dict[str, object], as_json: bool) -> None:
    if as_json:
        out.write(json.dumps(summary) + "\n")
    else:
        out.write("summary: " + " ".join(f"{k}={v}" for k, v in summary.items() if k != "type") + "\n")
    out.flush()


async def run_headless(
    config: AppConfig, *, as_json: bool, out: TextIO, duration: float | None = None
) -> int:
    """Print the store dir's engine's events: attached when one runs, else as that engine itself.

    Either way the lines come from the engine's one event stream (the socket's JSON is the log's
    JSON), so this, the log and any attached console agree. As the engine, Ctrl-C stops it (and
    the cluster it started); attached, Ctrl-C only detaches.
    """
    from core.daemon.client import EngineClient, EngineUnavailable
    from core.daemon.host import host_engine
    from core.daemon.lock import EngineLock, EngineLocked
    from core.localnet.launcher import LocalnetStartError
    from core.logs import configure_logging

    loop = asyncio.get_running_loop()
    started = loop.time()
    tally = Tally()
    stop = asyncio.Event()
    if duration is not None:
        loop.call_later(duration, stop.set)
    lock = EngineLock(config.store.dir)
    try:
        lock.acquire()
    except EngineLocked:
        try:
            client = await EngineClient.connect(config.store.dir)
        except EngineUnavailable as exc:
            print(f"arbtui run: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        mode = client.mode
        code = await _follow_attached(client, as_json, out, stop, tally)
        with contextlib.suppress(BrokenPipeError):
            write_summary(out, tally.summary(config, mode, loop.time() - started), as_json)
        return code
    if config.mode.approval != "auto":
        lock.release()
        print(
            'arbtui run: mode.approval = "manual" needs a console to approve trades; run headless with '
            "--set mode.approval=auto (bounded by mode.auto_max_amount_usdc and mode.auto_min_profit_usd)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    configure_logging(config.store.dir)
    broken = False

    def write(event: object) -> None:
        nonlocal broken
        tally.see(event)
        if broken:
            return
        try:
            _write(out, event, as_json)
            out.flush()
        except BrokenPipeError:
            broken = True  # the reader went away (`| head`): nothing left to print for
            stop.set()

    try:
        code = await host_engine(config, on_event=write, stop=stop, lock=lock)
    except LocalnetStartError as exc:
        print(f"arbtui run: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if not broken:
        with contextlib.suppress(BrokenPipeError):
            mode = "dry-run" if config.mode.dry_run else "live"
            write_summary(out, tally.summary(config, mode, loop.time() - started), as_json)
    return code


async def _follow_attached(
    client: object, as_json: bool, out: TextIO, stop: asyncio.Event, tally: Tally
) -> int:
    from core.daemon.client import EngineClient

    assert isinstance(client, EngineClient)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    events = client.subscribe()
    try:
        with contextlib.suppress(BrokenPipeError):
            for event in client.snapshot():
                _write(out, event, as_json)
            out.flush()
            printer = loop.create_task(
                _print_events(events, as_json, out, stop, tally), name="headless-printer"
            )
            while not stop.is_set() and client.connected:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.2)
            printer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await printer
            for event in events.drain():
                tally.see(event)
                _write(out, event, as_json)
            out.flush()
    finally:
        await client.close()  # detach only: the engine keeps running
    return EXIT_OK


async def _print_events(
    events: object, as_json: bool, out: TextIO, stop: asyncio.Event, tally: Tally
) -> None:
    from core.events import Subscription

    assert isinstance(events, Subscription)
    try:
        while True:
            event = await events.get()
            tally.see(event)
            _write(out, event, as_json)
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
        return (
            f"slot {event.slot} opportunity #{event.id} cycle {event.cycle_id} "
            f"loan {str(event.loan_mint)[:6]} in {event.amount_in} out {event.expected_out} "
            f"net {event.net} via {route}"
        )
    if isinstance(event, OpportunityWithdrawn):
        return f"slot {event.slot} withdrawn #{event.replaces} cycle {event.cycle_id}: {event.reason}"
    if isinstance(event, FeedHealth):
        state = "STALE" if event.stale else "current"
        text = (
            f"feed {state} slot {event.slot} behind {event.stale_slots} pools {event.pools} "
            f"decode errors {event.decode_errors}"
        )
        return f"{text} ({event.reason})" if event.reason else text
    if isinstance(event, EngineState):
        text = f"engine {event.state} ({event.mode}) on {event.cluster}"
        return f"{text}: {event.reason}" if event.reason else text
    fields = to_json_dict(event)  # type: ignore[arg-type]
    kind = fields.pop("type")
    fields.pop("at_ns", None)
    return f"{kind} " + " ".join(f"{k}={v}" for k, v in fields.items())
