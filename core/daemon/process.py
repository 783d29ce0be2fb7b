"""Start the engine in the background, detached from the terminal, and wait until it answers.

The child gets a new session (no controlling terminal: closing the SSH session that started it
sends it no SIGHUP), its configuration as JSON on stdin (then nothing) and stdout/stderr appended
to `<store>/engine.log`.
Two consoles starting at once both spawn an engine; the lock lets one win, the other exits, and
both consoles attach to the winner.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pydantic import SecretStr

from core.config import AppConfig, secret_keys
from core.daemon import STDIO_LOG_NAME, socket_path
from core.daemon.__main__ import EXIT_LOCKED
from core.daemon.client import EngineClient, EngineRefused, EngineUnavailable
from core.daemon.lock import holder
from core.logs import ENGINE_LOG_FILE_NAME

START_TIMEOUT_S = 60.0  # a first localnet start builds its genesis
STOP_TIMEOUT_S = 120.0  # settling in-flight bundles may wait out a blockhash's validity
LOCK_GRACE_S = 5.0  # an engine that lost the lock race exits; the winner holds it by then


class EngineStartError(RuntimeError):
    """The background engine exited or never answered; carries the tail of its logs."""


def _project_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def spawn_engine(
    config: AppConfig, *, factory: str | None = None, start_cluster: bool = True
) -> subprocess.Popen[bytes]:
    store_dir = Path(config.store.dir)
    store_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(store_dir, os.stat(store_dir).st_mode & 0o7700 | 0o700)  # the socket's directory is ours alone
    cmd = [sys.executable, "-m", "core.daemon"]
    if factory:
        cmd += ["--factory", factory]
    if not start_cluster:
        cmd.append("--no-cluster")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    root = _project_root()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    with open(store_dir / STDIO_LOG_NAME, "ab") as out:
        process = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
            cwd=root, env=env, start_new_session=True, close_fds=True,
        )
    # Over a pipe, not argv or the environment: the configuration may hold secrets (jito.auth_uuid).
    assert process.stdin is not None
    try:
        process.stdin.write(engine_config_json(config).encode())
        process.stdin.close()
    except BrokenPipeError:
        pass  # it died at once; ensure_engine reports its exit code and log
    return process


def engine_config_json(config: AppConfig) -> str:
    """The effective configuration, secrets included, for the engine process to validate again."""
    data = config.model_dump(mode="json")
    for dotted in secret_keys():
        section, _, name = dotted.partition(".")
        value = getattr(getattr(config, section), name)
        if isinstance(value, SecretStr):
            data[section][name] = value.get_secret_value()
    return json.dumps(data)


async def ensure_engine(
    config: AppConfig,
    *,
    factory: str | None = None,
    start_cluster: bool = True,
    timeout: float = START_TIMEOUT_S,
) -> EngineClient:
    """Attach to the store dir's engine, starting it in the background first if none runs."""
    store_dir = Path(config.store.dir)
    client = await _attach(store_dir)
    if client is not None:
        return client
    if holder(store_dir) is None:
        process = spawn_engine(config, factory=factory, start_cluster=start_cluster)
    else:
        process = None  # one is starting (or another console just started it): wait for its socket
    started = time.monotonic()
    while (client := await _attach(store_dir)) is None:
        if process is not None and process.poll() is not None:
            if process.returncode != EXIT_LOCKED:
                raise EngineStartError(
                    f"engine exited with {process.returncode}:\n{tail(store_dir)}"
                )
            process = None  # another engine won the lock; attach to that one
        waited = time.monotonic() - started
        if process is None and holder(store_dir) is None and waited > LOCK_GRACE_S:
            raise EngineStartError(f"the engine that held {store_dir} went away:\n{tail(store_dir)}")
        if waited > timeout:
            if process is not None:
                process.terminate()
            raise EngineStartError(f"engine not answering after {timeout:g}s:\n{tail(store_dir)}")
        await asyncio.sleep(0.1)
    return client


async def _attach(store_dir: Path) -> EngineClient | None:
    """The engine's client, or None while nothing answers on its socket (EngineRefused passes)."""
    try:
        return await EngineClient.connect(store_dir)
    except EngineRefused:
        raise  # it answered, and said no
    except EngineUnavailable:
        return None


async def stop_engine(store_dir: Path, *, timeout: float = STOP_TIMEOUT_S) -> int | None:
    """Stop the store dir's engine cleanly; the pid stopped, or None when none was running.

    Asks over the socket first (the engine settles in-flight bundles); SIGTERM to the lock's pid
    when the socket does not answer. Returns once the lock is free.
    """
    pid = holder(store_dir)
    if pid is None:
        _remove_stale_socket(store_dir)
        return None
    try:
        client = await EngineClient.connect(store_dir)
    except EngineUnavailable:
        client = None
    if client is not None:
        try:
            await client.request_stop()
        except EngineUnavailable:
            pass
        finally:
            await client.close()
    elif pid > 0:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while holder(store_dir) is not None:
        if time.monotonic() > deadline:
            raise EngineStartError(f"engine pid {pid} did not stop within {timeout:g}s")
        await asyncio.sleep(0.05)
    return pid


def _remove_stale_socket(store_dir: Path) -> None:
    path = socket_path(store_dir)
    if path.exists() and holder(store_dir) is None:
        path.unlink(missing_ok=True)


def tail(store_dir: Path, lines: int = 20) -> str:
    out: list[str] = []
    for name in (STDIO_LOG_NAME, ENGINE_LOG_FILE_NAME):
        try:
            text = (Path(store_dir) / name).read_text(errors="replace")
        except OSError:
            continue
        out += [f"--- {name}", *text.splitlines()[-lines:]]
    return "\n".join(out)
