"""The engine process: lock the store dir, start the cluster (localnet) and the `Runtime`, serve it.

Used by the background engine (`python -m core.daemon`) and by `arbtui run --headless`, which is
the same engine in the foreground with its event stream printed. Every event (slot ticks aside)
also goes to the store's event log (`events.jsonl`) as the same JSON object the socket carries,
so log, socket and headless output cannot disagree. SIGTERM / SIGINT / SIGHUP / a console's
`stop` command end it cleanly: the runtime settles or reconciles what is in flight
(`Runtime.close`) before anything else goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.config import AppConfig
from core.daemon.lock import EngineLock
from core.daemon.server import EngineServer
from core.events import EngineState, Event, SlotTick, Subscription, to_json_dict
from core.logs import configure_event_log

log = logging.getLogger(__name__)

# Builds the engine host for a config; the default is core.runtime.Runtime(config).
RuntimeFactory = Callable[[AppConfig], Any]
SOCKET_WATCH_S = 2.0


def load_factory(spec: str) -> RuntimeFactory:
    """`module:attribute` → the callable (tests inject an engine whose events they control)."""
    module_name, _, attr = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), attr or "build")
    if not callable(factory):
        raise TypeError(f"{spec} is not callable")
    return factory  # type: ignore[no-any-return]


def default_factory(config: AppConfig) -> Any:
    from core.runtime import Runtime

    return Runtime(config)


class _EventLog:
    """Every event but slot ticks to `<store>/events.jsonl` (and all to `on_event`), keeping the last."""

    def __init__(self, store_dir: Path, on_event: Callable[[Event], None] | None) -> None:
        self.log = configure_event_log(store_dir)
        self.on_event = on_event
        self.last: Event | None = None

    def __call__(self, event: Event) -> None:
        self.last = event
        if self.on_event is not None:
            self.on_event(event)
        if not isinstance(event, SlotTick):
            self.log.info("%s", json.dumps(to_json_dict(event), separators=(",", ":")))

    async def follow(self, sub: Subscription) -> None:
        while True:
            self(await sub.get())


async def _watch_socket(path: Path, stop: asyncio.Event) -> None:
    """An engine whose socket file was removed (store dir deleted) can never be reached again: stop it."""
    while not stop.is_set():
        await asyncio.sleep(SOCKET_WATCH_S)
        if not path.exists():
            log.warning("engine socket %s is gone (store dir removed?): stopping", path)
            stop.set()


async def host_engine(
    config: AppConfig,
    *,
    factory: RuntimeFactory | None = None,
    start_cluster: bool = True,
    on_event: Callable[[Event], None] | None = None,
    stop: asyncio.Event | None = None,
    lock: EngineLock | None = None,
) -> int:
    """Run until stopped; returns the exit code. Raises EngineLocked when another engine holds the dir."""
    store_dir = config.store.dir
    lock = lock or EngineLock(store_dir)
    if not lock.held:
        lock.acquire()
    if lock.stale_pid is not None:
        log.warning("took over the store dir from engine pid %s, which is gone (crashed?)", lock.stale_pid)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    cluster: Any = None
    runtime: Any = None
    server: EngineServer | None = None
    printer: asyncio.Task[None] | None = None
    sub: Subscription | None = None
    event_log = _EventLog(store_dir, on_event)
    watch: asyncio.Task[None] | None = None
    try:
        if start_cluster:
            from core.localnet.launcher import ensure_cluster_async

            cluster = await ensure_cluster_async(config)  # LocalnetStartError propagates: exit 1
        runtime = (factory or default_factory)(config)
        sub = runtime.subscribe()
        printer = asyncio.create_task(event_log.follow(sub), name="engine-event-log")
        await runtime.start()
        server = EngineServer(runtime, store_dir, on_stop_request=stop.set, cluster=config.cluster.name)
        await server.start()
        watch = asyncio.create_task(_watch_socket(server.path, stop), name="engine-socket-watch")
        log.info("engine ready: cluster=%s mode=%s store=%s", config.cluster.name, runtime.mode, store_dir)
        await stop.wait()
        log.info("engine stopping")
        return 0
    finally:
        if watch is not None:
            watch.cancel()
        if runtime is not None:
            try:
                await runtime.close()  # settles or reconciles in-flight bundles before anything else goes
            except Exception:
                log.exception("engine: runtime close failed")
        if server is not None:
            await server.stop("engine stopped")
        if printer is not None and sub is not None:
            await asyncio.sleep(0)  # let the printer take what close() published
            printer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await printer
            for event in sub.drain():
                event_log(event)
            sub.close()
            last = event_log.last
            if runtime is not None and not (isinstance(last, EngineState) and last.state == "stopped"):
                # A stage published after the runtime's own "stopped": the stream still ends on it.
                event_log(EngineState("stopped", runtime.mode, "", cluster=config.cluster.name))
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)
        lock.release()
        log.info("engine stopped")
