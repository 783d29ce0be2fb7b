"""Fixtures of the block-engine tests (the cluster ones come from tests/localnet/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.localnet.conftest import LocalBlockEngine, Localnet, start_block_engine, stop_block_engine
from tests.localnet.rpc_helpers import freeze_clock


@pytest.fixture
async def manual_engine(localnet: Localnet) -> AsyncIterator[LocalBlockEngine]:
    """A block engine whose auction ticks only when the test calls `engine.tick()`, clock frozen."""
    await freeze_clock(localnet)
    be = await start_block_engine(localnet, autorun=False)
    try:
        yield be
    finally:
        await stop_block_engine(be)
