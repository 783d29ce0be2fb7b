"""`EngineClient`: the console's `EngineLink` to an engine in another process, over its socket.

Events arrive as JSON and are rebuilt into the same typed dataclasses (`core.events.from_json_dict`)
on a local bus, so the console cannot tell this from an in-process `Runtime`. The properties a
console reads synchronously (mode, state, in-flight count, the live preview) are kept from the
engine's status messages, which it sends with every snapshot, state change, attempt update and
command result. Closing the client only detaches: the engine keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from pathlib import Path
from typing import Any

from core.approvals import Outcome
from core.daemon import socket_path
from core.daemon.protocol import (
    MAX_LINE_BYTES,
    PROTOCOL_VERSION,
    ProtocolError,
    decode,
    encode,
    outcome_from_json,
    preview_from_json,
)
from core.daemon.sockets import reachable
from core.events import EngineState, Event, EventBus, EventDecodeError, Subscription, from_json_dict
from core.mode import LivePreview, ModeSwitchRefused
from core.store import Mode

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
BACKLOG = 5000  # events since the snapshot, replayed by `snapshot()` for a late subscriber
YIELD_EVERY = 64  # messages read before the reader lets the rest of the event loop run


class EngineUnavailable(Exception):
    """No engine answers on the store's socket, or the connection to it was lost."""


class EngineRefused(EngineUnavailable):
    """The engine answered and refused this console (another user, another protocol version)."""


class CommandFailed(Exception):
    def __init__(self, command: str, error: str, reason: str) -> None:
        super().__init__(f"{command}: {error}: {reason}")
        self.error = error
        self.reason = reason


class EngineClient:
    """`await EngineClient.connect(store_dir)`; then use it as an `EngineLink`; `await close()` detaches."""

    detach_only = True  # closing this link leaves the engine and its in-flight bundles running

    def __init__(self, store_dir: Path) -> None:
        self.store_dir = Path(store_dir)
        self.path = socket_path(store_dir)
        self.bus = EventBus()
        self.engine_pid: int | None = None
        self.status: dict[str, Any] = {}
        self.closed_reason = ""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._snapshot: list[Event] = []
        self._backlog: deque[Event] = deque(maxlen=BACKLOG)
        self._preview: LivePreview | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, store_dir: Path, *, timeout: float = CONNECT_TIMEOUT_S) -> EngineClient:
        client = cls(store_dir)
        await client._open(timeout)
        return client

    async def _open(self, timeout: float) -> None:
        try:
            with reachable(self.path) as where:
                self._reader, self._writer = await asyncio.wait_for(
                    asyncio.open_unix_connection(where, limit=MAX_LINE_BYTES), timeout
                )
        except (OSError, TimeoutError) as exc:
            raise EngineUnavailable(f"no engine answers on {self.path}: {exc or 'timed out'}") from None
        try:
            self._writer.write(encode({"kind": "hello", "version": PROTOCOL_VERSION}))
            await self._writer.drain()
            hello = await asyncio.wait_for(self._next(), timeout)
            if hello["kind"] == "refused":
                raise EngineRefused(f"engine refused this console: {hello.get('reason', '')}")
            if hello["kind"] != "hello":
                raise EngineUnavailable(f"engine sent {hello['kind']!r} instead of hello")
            self.engine_pid = hello.get("pid")
            snapshot = await asyncio.wait_for(self._next(), timeout)
            if snapshot["kind"] != "snapshot":
                raise EngineUnavailable(f"engine sent {snapshot['kind']!r} instead of its snapshot")
        except (OSError, TimeoutError, ProtocolError, asyncio.IncompleteReadError) as exc:
            await self._close_writer()
            raise EngineUnavailable(f"engine on {self.path} did not answer: {exc or 'timed out'}") from None
        except EngineUnavailable:
            await self._close_writer()
            raise
        self._snapshot = [e for e in (_event(d) for d in snapshot.get("events", [])) if e is not None]
        self._take_status(snapshot.get("status"))
        self._task = asyncio.create_task(self._read_loop(), name="engine-client-reader")

    async def _next(self) -> dict[str, Any]:
        assert self._reader is not None
        line = await self._reader.readline()
        if not line:
            raise EngineUnavailable("engine closed the connection")
        return decode(line)

    # ------------------------------------------------------------------ EngineLink

    @property
    def mode(self) -> Mode:
        mode = self.status.get("mode")
        return "live" if mode == "live" else "dry-run"

    @property
    def state(self) -> str:
        return str(self.status.get("state", "stopped")) if self.connected else "stopped"

    @property
    def connected(self) -> bool:
        return self._task is not None and not self._task.done()

    def subscribe(self) -> Subscription:
        return self.bus.subscribe()

    def snapshot(self) -> list[Event]:
        return [*self._snapshot, *self._backlog]

    def in_flight(self) -> int:
        return int(self.status.get("in_flight", 0))

    async def approve(self, opportunity_id: int, key: str = "a") -> Outcome:
        value = await self._call("approve", opportunity_id=opportunity_id, key=key)
        return outcome_from_json(value)

    async def approve_all(self, key: str = "A") -> list[Outcome]:
        value = await self._call("approve_all", key=key)
        return [outcome_from_json(v) for v in value or []]

    async def reject(self, opportunity_id: int, key: str = "r") -> Outcome:
        return outcome_from_json(await self._call("reject", opportunity_id=opportunity_id, key=key))

    def preview_live(self) -> LivePreview:
        """The engine's preview as of its last status (sent with every state change)."""
        if self._preview is None:
            return LivePreview("?", "?", "?", "live", problem="engine has not sent its live preview")
        return self._preview

    async def refresh_preview(self) -> LivePreview:
        self._preview = preview_from_json(await self._call("preview_live"))
        return self._preview

    async def switch_to_live(self, typed: str) -> None:
        # The typed word travels with the request: the confirmation belongs to the console that asked.
        await self._call("switch_to_live", typed=typed)

    async def switch_to_dry_run(self) -> None:
        await self._call("switch_to_dry_run")

    async def pause(self) -> None:
        await self._call("pause")

    async def resume(self, *, reset: bool = False, by: str = "", reason: str = "") -> None:
        if reset:
            await self._call("resume", reset=True, by=by, reason=reason)
        else:
            await self._call("resume")

    async def kill(self, reason: str) -> None:
        await self._call("kill", reason=reason)

    # ------------------------------------------------------------------ beyond EngineLink

    async def engine_status(self) -> dict[str, Any]:
        value = await self._call("status")
        return dict(value)

    async def request_stop(self) -> None:
        """Ask the engine to stop (it settles in-flight bundles first); returns once it has agreed."""
        await self._call("stop")

    async def close(self) -> None:
        """Detach: the engine keeps running."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close_writer()
        self._fail_waiting("console detached")

    # ------------------------------------------------------------------ internals

    async def _call(self, command: str, **args: Any) -> Any:
        if not self.connected or self._writer is None:
            raise EngineUnavailable(self.closed_reason or "not connected to the engine")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            message = {"kind": "command", "id": request_id, "command": command, "args": args}
            self._writer.write(encode(message))
            await self._writer.drain()
            reply = await future
        except ConnectionError as exc:
            raise EngineUnavailable(f"engine connection lost: {exc}") from None
        finally:
            self._waiting.pop(request_id, None)
        if reply.get("ok"):
            return reply.get("value")
        error, reason = str(reply.get("error", "")), str(reply.get("reason", ""))
        if error == "ModeSwitchRefused":
            raise ModeSwitchRefused(reason)
        raise CommandFailed(command, error, reason)

    async def _read_loop(self) -> None:
        reason = "engine closed the connection"
        read = 0
        try:
            while True:
                message = await self._next()
                read += 1
                if read % YIELD_EVERY == 0:
                    # readline() returns without yielding while the buffer holds lines: at thousands
                    # of events a second the console's keys and redraws would wait for the backlog.
                    await asyncio.sleep(0)
                kind = message["kind"]
                if kind == "event":
                    event = _event(message.get("event"))
                    if event is not None:
                        self._deliver(event)
                elif kind == "status":
                    self._take_status(message.get("status"))
                elif kind == "result":
                    self._take_status(message.get("status"))
                    future = self._waiting.get(message.get("id"))  # type: ignore[arg-type]
                    if future is not None and not future.done():
                        future.set_result(message)
                elif kind == "bye":
                    reason = f"engine stopped: {message.get('reason', '')}"
                    break
        except asyncio.CancelledError:
            raise
        except (EngineUnavailable, ProtocolError, OSError, asyncio.IncompleteReadError) as exc:
            reason = f"engine connection lost: {exc}"
        self.closed_reason = reason
        self._fail_waiting(reason)
        # The console's header shows it: the engine is gone, not merely quiet.
        self._deliver(EngineState("stopped", self.mode, reason, cluster=str(self.status.get("cluster", ""))))

    def _deliver(self, event: Event) -> None:
        if len(self.bus) == 0:
            self._backlog.append(event)
        self.bus.publish(event)

    def _take_status(self, status: Any) -> None:
        if not isinstance(status, dict):
            return
        preview = status.pop("preview", None)
        if preview is not None:
            with contextlib.suppress(ProtocolError, TypeError):
                self._preview = preview_from_json(preview)
        self.status.update(status)

    def _fail_waiting(self, reason: str) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(EngineUnavailable(reason))

    async def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
            self._writer = None


def _event(data: Any) -> Event | None:
    try:
        return from_json_dict(data)
    except EventDecodeError as exc:
        log.warning("engine event not understood, skipped: %s", exc)
        return None
