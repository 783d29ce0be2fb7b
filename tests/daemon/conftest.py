"""Background engines in tmp store dirs, always stopped (or killed) when the test ends."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.config import AppConfig, load_config
from core.daemon.lock import holder
from core.daemon.process import stop_engine

SCRIPTED = "tests.daemon.scripted_engine:build"


@pytest.fixture(autouse=True)
def _clean_env(clean_env: None) -> None:
    """Every daemon test starts from no ARB_* settings, in its own directory."""


def config_for(tmp_path: Path, **overrides: object) -> AppConfig:
    settings = {"store.dir": str(tmp_path / "store"), "mode.approval_ttl_slots": 1000, **overrides}
    return load_config(None, settings, search_default_paths=False)


@pytest.fixture
async def config(tmp_path: Path) -> AsyncIterator[AppConfig]:
    cfg = config_for(tmp_path)
    yield cfg
    await reap(cfg.store.dir)


async def reap(store: Path) -> None:
    """Stop whatever engine a test left running in `store`; SIGKILL if it will not stop."""
    pid = holder(store)
    if pid is None:
        return
    try:
        await stop_engine(store, timeout=15)
    except Exception:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
