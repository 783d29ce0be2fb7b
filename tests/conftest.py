"""Fixtures shared across the test tree."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from core.config import LEGACY_ENV_NAMES
from tests.sshd import SshServer, start_sshd, tools_missing

if TYPE_CHECKING:
    from tests.feed.live import Live


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ARB_* (or legacy) settings from the caller's shell, and a fresh working directory, so a
    config file or variable on the developer's machine cannot change what a test sees."""
    for name in list(os.environ):
        if name.startswith("ARB_") or name in LEGACY_ENV_NAMES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    """A throwaway sshd on loopback for the end-to-end console tests (skipped without the tools,
    except on CI, which installs them)."""
    missing = tools_missing()
    if missing and not os.environ.get("CI"):
        pytest.skip(f"{missing} not installed (CI installs it)")
    server = start_sshd(tmp_path / "ssh")
    yield server
    server.stop()


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    """A local cluster (RPC + PubSub) on the default scenario, stopped when the test ends."""
    # Imported here: only the feed and engine tests pay for the cluster's imports.
    from tests.feed.live import start_live, stop_live

    net = await start_live()
    try:
        yield net
    finally:
        await stop_live(net)
