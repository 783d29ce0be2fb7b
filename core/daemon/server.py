"""Serve a running engine (`Runtime`) to consoles on `<store>/engine.sock`.

The socket is created 0600 inside the user's store dir and every connection's peer uid is
checked against ours (SO_PEERCRED), so only the engine's own user can attach — there is no TCP
listener and nothing to authenticate. Each console gets the engine's snapshot, then the live event
stream through its own bounded subscription (a slow console loses its oldest events; the engine
never waits for it), and may send the commands of `core.control.EngineLink`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.approvals import Outcome
from core.control import EngineLink
from core.daemon import socket_path
from core.daemon.protocol import (
    COMMANDS,
    MAX_LINE_BYTES,
    PROTOCOL_VERSION,
    ProtocolError,
    decode,
    encode,
    outcome_to_json,
    preview_to_json,
)
from core.daemon.sockets import peer_uid, reachable
from core.events import (
    AttemptUpdate,
    EngineState,
    Event,
    FeedHealth,
    MarketPrices,
    SlotTick,
    Subscription,
    to_json_dict,
)
from core.mode import ModeSwitchRefused
from core.search.opportunities import Opportunity, OpportunityWithdrawn

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 5.0
PUMP_BATCH = 5000  # events per write to one console
# The pump lets events gather this long between writes: a console redraws at ui.refresh_hz, and a
# cycle re-quoted several times in the window is encoded (on the engine's loop) once.
PUMP_PACE_S = 0.05


def coalesce(events: list[Event]) -> list[Event]:
    """Within one batch only each cycle's newest quote (or withdrawal) matters to a console, and only
    the newest of the market-wide snapshots: at 20,000 updates/s this is what keeps the socket and
    the console's decoder at the rate the screen can use. The newest takes the place of the first
    (so a cycle is known before anything that refers to it); nothing else is dropped or moved."""
    keep: list[Event] = []
    first: dict[tuple[str, int], int] = {}
    for event in events:
        if isinstance(event, (Opportunity, OpportunityWithdrawn)):
            key = ("cycle", event.cycle_id)
        elif isinstance(event, (SlotTick, FeedHealth, MarketPrices)):
            key = (type(event).__name__, 0)
        else:
            keep.append(event)
            continue
        if key in first:
            keep[first[key]] = event
        else:
            first[key] = len(keep)
            keep.append(event)
    return keep


class _Console:
    """One attached connection: its subscription, and a lock so events and results never interleave."""

    def __init__(self, writer: asyncio.StreamWriter, sub: Subscription) -> None:
        self.writer = writer
        self.sub = sub
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()

    async def send(self, *messages: dict[str, Any]) -> None:
        async with self.lock:
            self.writer.write(b"".join(encode(m) for m in messages))
            await self.writer.drain()


class EngineServer:
    def __init__(
        self,
        link: EngineLink,
        store_dir: Path,
        *,
        on_stop_request: Callable[[], None] | None = None,
        cluster: str = "",
    ) -> None:
        self.link = link
        self.store_dir = Path(store_dir)
        self.path = socket_path(store_dir)
        self.on_stop_request = on_stop_request
        self.cluster = cluster
        self.started_at = time.time()
        self.stale_socket_removed = False
        self._server: asyncio.Server | None = None
        self._consoles: set[_Console] = set()
        self._stopping = False
        self._handlers: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind the socket (0600). The caller holds the store's EngineLock, so an existing file is stale."""
        if self.path.exists() or self.path.is_symlink():
            self.path.unlink()
            self.stale_socket_removed = True
            log.warning("removed a stale engine socket %s (its engine had crashed)", self.path)
        old = os.umask(0o177)  # the file is born 0600: no window where another user could connect
        try:
            with reachable(self.path) as where:
                self._server = await asyncio.start_unix_server(self._serve, path=where, limit=MAX_LINE_BYTES)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        log.info("engine serving consoles on %s", self.path)

    async def stop(self, reason: str = "engine stopped") -> None:
        """Flush what every console still has queued, say bye, close, and remove the socket file."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for console in list(self._consoles):
            with contextlib.suppress(Exception):
                for event in console.sub.drain():
                    await console.send(self._event_message(event))
                await console.send({"kind": "bye", "reason": reason})
            self._drop(console)
            console.writer.close()  # its reader sees EOF and the connection's task ends
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=2.0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    @property
    def consoles(self) -> int:
        return len(self._consoles)

    def status(self, *, with_preview: bool = False) -> dict[str, Any]:
        status: dict[str, Any] = {
            "pid": os.getpid(),
            "version": PROTOCOL_VERSION,
            "state": self.link.state,
            "reason": str(getattr(self.link, "_reason", "")),
            "mode": self.link.mode,
            "in_flight": self.link.in_flight(),
            "consoles": self.consoles,
            "cluster": self.cluster,
            "store_dir": str(self.store_dir),
            "started_at": self.started_at,
        }
        if with_preview:
            status["preview"] = preview_to_json(self.link.preview_live())
        return status

    # ------------------------------------------------------------------ one console

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            if not await self._admit(reader, writer):
                return
            sub = self.link.subscribe()  # before the snapshot: nothing falls between the two
            console = _Console(writer, sub)
            self._consoles.add(console)
            try:
                await console.send({
                    "kind": "snapshot",
                    "events": [to_json_dict(e) for e in self.link.snapshot()],
                    "status": self.status(with_preview=True),
                })
                pump = asyncio.create_task(self._pump(console), name="engine-socket-pump")
                try:
                    await self._read_commands(reader, console)
                finally:
                    pump.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await pump
                    for task in list(console.tasks):  # a command in progress still completes
                        with contextlib.suppress(Exception):
                            await task
            finally:
                self._drop(console)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the console went away (q, a dropped SSH session): nothing to do
        except Exception:
            log.exception("engine socket: console connection failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _admit(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        uid = peer_uid(writer.get_extra_info("socket"))
        if uid != os.getuid():
            log.warning("engine socket: refused a console of uid %s", uid)
            await _refuse(writer, f"this engine belongs to uid {os.getuid()}; uid {uid} may not attach")
            return False
        try:
            hello = decode(await asyncio.wait_for(reader.readline(), HELLO_TIMEOUT_S))
        except (TimeoutError, ProtocolError) as exc:
            await _refuse(writer, f"expected a hello: {exc or 'timed out'}")
            return False
        version = hello.get("version")
        if hello.get("kind") != "hello" or version != PROTOCOL_VERSION:
            await _refuse(writer, f"console speaks protocol {version!r}, engine speaks {PROTOCOL_VERSION}; "
                                  "run the same arbtui version for both (arbtui stop, then start again)")
            return False
        if self._stopping:
            await _refuse(writer, "engine stopping")
            return False
        writer.write(encode({"kind": "hello", "version": PROTOCOL_VERSION, "pid": os.getpid()}))
        await writer.drain()
        return True

    def _drop(self, console: _Console) -> None:
        console.sub.close()
        self._consoles.discard(console)

    def _event_message(self, event: Event) -> dict[str, Any]:
        return {"kind": "event", "event": to_json_dict(event)}

    async def _pump(self, console: _Console) -> None:
        while True:
            # Whatever piled up while the last batch was written goes out in one write.
            events = [await console.sub.get()]
            while len(events) < PUMP_BATCH and not console.sub.queue.empty():
                events.append(console.sub.queue.get_nowait())
            messages: list[dict[str, Any]] = []
            for event in coalesce(events):
                # Mode, state and in-flight count are what a console reads synchronously: the status
                # goes first, so a console that sees the event already reads the state it announces.
                if isinstance(event, (EngineState, AttemptUpdate)):
                    preview = isinstance(event, EngineState)
                    messages.append({"kind": "status", "status": self.status(with_preview=preview)})
                messages.append(self._event_message(event))
            await console.send(*messages)
            await asyncio.sleep(PUMP_PACE_S)

    async def _read_commands(self, reader: asyncio.StreamReader, console: _Console) -> None:
        while line := await reader.readline():
            try:
                message = decode(line)
            except ProtocolError as exc:
                await console.send({"kind": "error", "reason": str(exc)})
                continue
            if message.get("kind") != "command":
                continue
            task = asyncio.create_task(self._command(console, message), name="engine-socket-command")
            console.tasks.add(task)
            task.add_done_callback(console.tasks.discard)

    async def _command(self, console: _Console, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        name = message.get("command")
        args = message.get("args") or {}
        reply: dict[str, Any] = {"kind": "result", "id": request_id}
        try:
            if name not in COMMANDS or not isinstance(args, dict):
                raise ProtocolError(f"unknown command {name!r:.40}")
            if self._stopping and name not in ("status", "stop"):
                raise ProtocolError("engine stopping")
            reply |= {"ok": True, "value": await self._run(str(name), args)}
        except ModeSwitchRefused as exc:
            reply |= {"ok": False, "error": "ModeSwitchRefused", "reason": exc.reason}
        except Exception as exc:
            log.warning("engine socket: command %s failed: %s", name, exc)
            reply |= {"ok": False, "error": type(exc).__name__, "reason": str(exc)}
        reply["status"] = self.status(with_preview=name in ("switch_to_live", "switch_to_dry_run"))
        with contextlib.suppress(ConnectionError):
            await console.send(reply)
        if name == "stop" and reply.get("ok") and self.on_stop_request is not None:
            self.on_stop_request()

    async def _run(self, name: str, args: dict[str, Any]) -> Any:
        link = self.link
        if name in ("approve", "reject"):
            oid = args.get("opportunity_id")
            if not isinstance(oid, int) or isinstance(oid, bool):
                raise ProtocolError("opportunity_id must be an integer")
            key = str(args.get("key", "a" if name == "approve" else "r"))
            outcome: Outcome = await (link.approve(oid, key) if name == "approve" else link.reject(oid, key))
            return outcome_to_json(outcome)
        if name == "approve_all":
            return [outcome_to_json(o) for o in await link.approve_all(str(args.get("key", "A")))]
        if name == "preview_live":
            return preview_to_json(link.preview_live())
        if name == "switch_to_live":
            await link.switch_to_live(str(args.get("typed", "")))
        elif name == "switch_to_dry_run":
            await link.switch_to_dry_run()
        elif name == "pause":
            await link.pause()
        elif name == "resume":
            if args.get("reset") is True:  # a kill-switch reset names who and why
                await link.resume(reset=True, by=str(args.get("by", "")), reason=str(args.get("reason", "")))
            else:
                await link.resume()
        elif name == "kill":
            await link.kill(str(args.get("reason", "kill switch (remote console)")))
        elif name == "status":
            # Who asks is attached too; "consoles" counts the others.
            return {**self.status(with_preview=False), "consoles": max(0, self.consoles - 1)}
        return None


async def _refuse(writer: asyncio.StreamWriter, reason: str) -> None:
    with contextlib.suppress(ConnectionError):
        writer.write(encode({"kind": "refused", "reason": reason}))
        await writer.drain()
