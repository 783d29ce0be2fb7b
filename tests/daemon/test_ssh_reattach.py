"""Over SSH: the connection drops under a running console, the engine carries on, `arbtui` re-attaches."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from core.daemon.client import EngineClient, EngineUnavailable
from core.daemon.lock import holder
from core.store import StoreReader, store_exists
from tests.daemon.conftest import reap
from tests.daemon.ports import free_port_triple, localnet_settings
from tests.sshd import SshServer, Tmux, console_command

pytestmark = pytest.mark.timeout(240)


def arbtui_command(store: Path, port: int) -> str:
    args = [
        word
        for key, value in {"store.dir": store, **localnet_settings(port)}.items()
        if key != "jito.regions"
        for word in ("--set", f"{key}={value}")
    ]
    regions = ",".join(f'{k}="{v}"' for k, v in localnet_settings(port)["jito.regions"].items())  # type: ignore[attr-defined]
    return console_command(store, [*args, f"--set=jito.regions={{{regions}}}"])


async def engine_status(store: Path) -> dict[str, object]:
    client = await EngineClient.connect(store)
    try:
        return await client.engine_status()
    finally:
        await client.close()


async def until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await predicate():
                return
        except EngineUnavailable:
            pass
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


async def test_dropped_ssh_session_leaves_the_engine_trading_and_arbtui_reattaches(
    sshd: SshServer, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    port = free_port_triple()
    command = arbtui_command(store, port)
    # A console straight on the ssh session's terminal, as an operator runs it.
    ssh = subprocess.Popen([*sshd.ssh_args(tty=True), command], stdin=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmux = Tmux(sshd, f"arbre{os.getpid()}")
    try:
        await until(lambda: _consoles(store, 1), 90, "the console to attach to a started engine")
        pid = holder(store)
        ssh.send_signal(signal.SIGKILL)  # the connection drops: no goodbye from the client side
        ssh.wait()
        await until(lambda: _consoles(store, 0), 30, "the dropped console to go")
        status = await engine_status(store)
        assert status["state"] == "running" and holder(store) == pid
        await until(lambda: _has_trades(store), 60, "the engine to record attempts with no console")
        tmux.start(command)
        screen = await asyncio.to_thread(tmux.wait_for, "running", 60)
        assert "no trades yet" not in await asyncio.to_thread(tmux.wait_for, "Trades", 30)
        assert (await engine_status(store))["consoles"] == 1 and holder(store) == pid
        assert "DRY-RUN" in screen.splitlines()[0]
    finally:
        if ssh.poll() is None:
            ssh.kill()
            ssh.wait()
        tmux.kill()
        await reap(store)


async def _consoles(store: Path, count: int) -> bool:
    return holder(store) is not None and (await engine_status(store))["consoles"] == count


async def _has_trades(store: Path) -> bool:
    if not store_exists(store, "dry-run"):
        return False
    with StoreReader(store, "dry-run") as reader:
        return bool(reader.recent_attempts(1))
