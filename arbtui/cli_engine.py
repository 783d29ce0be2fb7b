"""`arbtui status` and `arbtui stop`: the store dir's background engine, without a console.

`arbtui` / `arbtui console` attaches to that engine (starting it when none runs); these two look
at it and stop it. Stopping asks the engine over its socket, so it settles or reconciles in-flight
bundles before it exits; SIGTERM to the lock's pid is the fallback when the socket does not answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from arbtui.cli import EXIT_FAILURE, EXIT_OK, Handler, subcommand
from core.config import AppConfig

EXIT_NOT_RUNNING = 3  # `status` when no engine runs (as `systemctl status` does)


@subcommand("status", "show the background engine's state for the store dir (no console)")
def _status(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("--json", action="store_true", help="machine-readable JSON")

    def run(args: argparse.Namespace, config: AppConfig) -> int:
        status = asyncio.run(engine_status(config.store.dir))
        if args.json:
            print(json.dumps(status, indent=2))
        else:
            print(render_status(status))
        return EXIT_OK if status["running"] else EXIT_NOT_RUNNING

    return run


@subcommand("stop", "stop the background engine of the store dir cleanly (in-flight bundles settled first)")
def _stop(parser: argparse.ArgumentParser) -> Handler:
    def run(args: argparse.Namespace, config: AppConfig) -> int:
        from core.daemon.process import EngineStartError, stop_engine

        before = asyncio.run(engine_status(config.store.dir))
        if before.get("in_flight"):
            count = before["in_flight"]
            print(f"engine pid {before['pid']}: settling {count} in-flight bundle(s) first…", flush=True)
        try:
            pid = asyncio.run(stop_engine(config.store.dir))
        except EngineStartError as exc:
            print(f"arbtui stop: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        if pid is None:
            print(f"no engine running for {config.store.dir}")
        else:
            print(f"engine (pid {pid}) stopped")
        return EXIT_OK

    return run


async def engine_status(store_dir: Path) -> dict[str, Any]:
    """`{"running": bool, ...}`: the engine's own status plus what its snapshot says, or why not running."""
    from core.daemon import socket_path
    from core.daemon.client import EngineClient, EngineRefused, EngineUnavailable
    from core.daemon.lock import holder
    from core.events import FeedHealth, PendingApproval, SlotTick

    pid = holder(store_dir)
    base: dict[str, Any] = {"running": False, "store_dir": str(store_dir)}
    if pid is None:
        if socket_path(store_dir).exists():
            base["note"] = "stale socket from a crashed engine (the next start removes it)"
        return base
    try:
        client = await EngineClient.connect(store_dir)
    except EngineRefused as exc:
        return {**base, "running": True, "pid": pid, "note": str(exc)}
    except EngineUnavailable as exc:
        return {**base, "running": True, "pid": pid, "note": f"engine starting or not answering: {exc}"}
    try:
        status = await client.engine_status()
        events = client.snapshot()
    finally:
        await client.close()
    slot = max((e.slot for e in events if isinstance(e, (SlotTick, FeedHealth))), default=0)
    feed = next((e for e in reversed(events) if isinstance(e, FeedHealth)), None)
    return {
        **base,
        **status,
        "running": True,
        "pending_approvals": sum(isinstance(e, PendingApproval) for e in events),
        "slot": slot,
        "feed": None if feed is None else {"connected": feed.connected, "stale": feed.stale,
                                           "stale_slots": feed.stale_slots, "pools": feed.pools},
    }


def render_status(status: dict[str, Any]) -> str:
    if not status["running"]:
        text = f"engine: not running (store {status['store_dir']})"
        return text + (f"\n  {status['note']}" if status.get("note") else "")
    if "state" not in status:
        return f"engine: pid {status.get('pid')} — {status.get('note', '')}"
    uptime = time.time() - float(status.get("started_at", time.time()))
    state = status["state"] + (f" ({status['reason']})" if status.get("reason") else "")
    lines = [
        f"engine: {state} · {status['mode'].upper()} · {status.get('cluster', '')} · pid {status['pid']}"
        f" · up {uptime:.0f}s",
        f"  consoles attached {status.get('consoles', 0)} · in flight {status.get('in_flight', 0)}"
        f" · pending approvals {status.get('pending_approvals', 0)} · slot {status.get('slot', 0)}",
    ]
    feed = status.get("feed")
    if feed:
        health = "down" if not feed["connected"] else ("stale" if feed["stale"] else "current")
        lines.append(f"  feed {health} · {feed['pools']} pools · {feed['stale_slots']} slots behind")
    lines.append(f"  store {status['store_dir']}")
    return "\n".join(lines)
