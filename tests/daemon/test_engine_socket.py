"""The background engine over its socket: snapshot on attach, shared decisions, commands, refusals."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path

import pytest

from core.config import AppConfig
from core.daemon import socket_path
from core.daemon.client import EngineClient
from core.daemon.lock import holder
from core.daemon.process import ensure_engine, stop_engine
from core.daemon.protocol import PROTOCOL_VERSION, decode, encode
from core.events import ApprovalDecision, EngineState, Event, PendingApproval, Subscription
from core.keypair import generate_localnet_keypair
from core.mode import ModeSwitchRefused
from core.store import StoreReader
from tests.daemon.conftest import SCRIPTED, config_for, reap

WAIT = 10.0


async def attach(config: AppConfig) -> EngineClient:
    return await ensure_engine(config, factory=SCRIPTED, start_cluster=False, timeout=30)


async def next_of(sub: Subscription, kind: type, **match: object) -> Event:
    async with asyncio.timeout(WAIT):
        while True:
            event = await sub.get()
            if isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items()):
                return event


async def pending_in(client: EngineClient) -> set[int]:
    """The pending approvals the client's snapshot shows, once the engine has offered all three."""
    async with asyncio.timeout(WAIT):
        while True:
            found = {e.opportunity_id for e in client.snapshot() if isinstance(e, PendingApproval)}
            if len(found) == 3:
                return found
            await asyncio.sleep(0.05)


async def test_two_consoles_attach_and_a_decision_in_one_shows_in_the_other(config: AppConfig) -> None:
    first = await attach(config)
    second = await attach(config)
    try:
        assert first.engine_pid == second.engine_pid == holder(config.store.dir)
        assert await pending_in(first) == {1, 2, 3}
        watching = second.subscribe()
        outcome = await first.approve(2, key="a")
        assert outcome.accepted
        seen = await next_of(watching, ApprovalDecision, opportunity_id=2)
        assert isinstance(seen, ApprovalDecision) and seen.decision == "approved" and seen.key == "a"
        # Too late from the other console: refused with the reason, and recorded only once.
        late = await second.approve(2, key="a")
        assert late.decision is None and "not pending" in late.reason
        first_sees = first.subscribe()
        rejected = await second.reject(3, key="r")
        assert rejected.decision == "rejected"
        await next_of(first_sees, ApprovalDecision, opportunity_id=3)
    finally:
        await first.close()
        await second.close()
    await stop_engine(config.store.dir)  # the store's writer flushes on the way out
    with StoreReader(config.store.dir, "dry-run") as reader:
        decided = [(a.opportunity_id, a.decision) for a in reader.approvals() if a.key != "engine"]
    assert sorted(decided) == [("2", "approved"), ("3", "rejected")]  # each once, whoever decided


async def test_socket_is_0600_in_the_store_dir_and_a_new_console_sees_the_same_state(
    config: AppConfig,
) -> None:
    first = await attach(config)
    await pending_in(first)
    await first.approve(1)
    await first.pause()
    assert first.state == "paused"
    await first.close()  # detach: the engine keeps running
    mode = os.stat(socket_path(config.store.dir)).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    again = await attach(config)
    try:
        assert again.state == "paused"
        pending = {e.opportunity_id for e in again.snapshot() if isinstance(e, PendingApproval)}
        assert pending == {2, 3}
        await again.resume()
        assert again.state == "running"
    finally:
        await again.close()


async def test_live_confirmation_belongs_to_the_console_that_asked(config: AppConfig) -> None:
    asking = await attach(config)
    other = await attach(config)
    try:
        with pytest.raises(ModeSwitchRefused, match="confirmation must be 'live'"):
            await asking.switch_to_live("yes")
        with pytest.raises(ModeSwitchRefused, match="file not found"):
            await asking.switch_to_live("live")
        assert "file not found" in asking.preview_live().problem
        generate_localnet_keypair(config.store.dir)
        watching = other.subscribe()
        await asking.switch_to_live("live")
        assert asking.mode == "live"
        await next_of(watching, EngineState, mode="live")
        assert other.mode == "live"
        await other.switch_to_dry_run()
        assert other.mode == "dry-run"
    finally:
        await asking.close()
        await other.close()


async def test_a_console_of_another_protocol_version_is_refused_with_the_reason(config: AppConfig) -> None:
    client = await attach(config)
    await client.close()
    reader, writer = await asyncio.open_unix_connection(str(socket_path(config.store.dir)))
    writer.write(encode({"kind": "hello", "version": PROTOCOL_VERSION + 1}))
    await writer.drain()
    reply = decode(await asyncio.wait_for(reader.readline(), WAIT))
    writer.close()
    assert reply["kind"] == "refused" and "same arbtui version" in reply["reason"]


def _connect_as(uid: int, path: Path) -> str:
    """In a forked child running as `uid`: what connecting and saying hello gets."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        try:
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(WAIT)
                sock.connect(str(path))
                with contextlib.suppress(BrokenPipeError):  # the engine may refuse before our hello
                    sock.sendall(encode({"kind": "hello", "version": PROTOCOL_VERSION}))
                answer = sock.makefile("rb").readline().decode()
        except OSError as exc:
            answer = json.dumps({"kind": "oserror", "errno": exc.errno})
        os.write(write, answer.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return data.decode()


@pytest.mark.skipif(os.getuid() != 0, reason="switching to another uid needs root")
async def test_a_console_of_another_user_cannot_attach() -> None:
    base = Path(tempfile.mkdtemp(prefix="arbuid", dir="/tmp"))  # parents another user can traverse
    config = config_for(base)
    try:
        client = await attach(config)
        await client.close()
        path = socket_path(config.store.dir)
        nobody = 65534
        # Directories opened up by mistake: the socket's own 0600 still stops it …
        os.chmod(base, 0o755)
        os.chmod(path.parent, 0o755)
        answer = json.loads(await asyncio.to_thread(_connect_as, nobody, path))
        assert answer == {"kind": "oserror", "errno": errno.EACCES}
        # … and with the socket opened too, the engine's peer-uid check refuses the console.
        os.chmod(path, 0o666)
        answer = json.loads(await asyncio.to_thread(_connect_as, nobody, path))
        assert answer["kind"] == "refused" and f"uid {nobody} may not attach" in answer["reason"], answer
        mine = await EngineClient.connect(config.store.dir)  # its own user still attaches
        await mine.close()
    finally:
        await reap(config.store.dir)
        shutil.rmtree(base, ignore_errors=True)


async def test_live_preview_is_asked_afresh_so_a_fixed_keypair_is_seen(config: AppConfig) -> None:
    client = await attach(config)
    try:
        keypair = generate_localnet_keypair(config.store.dir)
        os.chmod(keypair, 0o644)
        assert "chmod 600" in (await client.refresh_preview()).problem
        os.chmod(keypair, 0o600)
        fresh = await client.refresh_preview()
        assert fresh.problem == "" and fresh.word == "live" and client.preview_live() == fresh
    finally:
        await client.close()
