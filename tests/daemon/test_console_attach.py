"""The console (Pilot) on a background engine: approve by key, quit detaches, a new console sees it all."""

from __future__ import annotations

import asyncio

from arbtui.app import ArbConsole, Pane
from core.config import AppConfig
from core.daemon.client import EngineClient
from core.daemon.lock import holder
from core.daemon.process import ensure_engine, stop_engine
from core.store import StoreReader
from tests.daemon.conftest import SCRIPTED


async def console_until_pending(app: ArbConsole, pilot: object, count: int) -> None:
    async with asyncio.timeout(10):
        while len(app.view.pending_ids()) != count:
            await pilot.pause(0.05)  # type: ignore[attr-defined]


async def test_console_approves_over_the_socket_detaches_on_q_and_reattaches_to_the_same_state(
    config: AppConfig,
) -> None:
    client = await ensure_engine(config, factory=SCRIPTED, start_cluster=False, timeout=30)
    engine_pid = client.engine_pid
    app = ArbConsole(config, link=client)
    async with app.run_test(size=(120, 40)) as pilot:
        await console_until_pending(app, pilot, 3)
        table = app.query_one("#opportunities", Pane).table
        table.move_cursor(row=table.get_row_index("3"), animate=False)
        await pilot.press("a")
        await console_until_pending(app, pilot, 2)
        assert str(table.get_row("3")[-1]) == "approved"
        await pilot.press("q")
    assert app.return_code == 0
    await client.close()
    assert holder(config.store.dir) == engine_pid  # the engine did not notice the console leave

    again = await EngineClient.connect(config.store.dir)
    app = ArbConsole(config, link=again)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await console_until_pending(app, pilot, 2)
            assert sorted(app.view.pending_ids()) == [1, 2]
            assert app.query_one("#opportunities", Pane).table.row_count == 3
            await pilot.press("q")
    finally:
        await again.close()
    await stop_engine(config.store.dir)  # the store's writer flushes on the way out
    with StoreReader(config.store.dir, "dry-run") as reader:
        operator = [(a.opportunity_id, a.decision, a.key) for a in reader.approvals() if a.key != "engine"]
    assert operator == [("3", "approved", "a")]


async def test_console_header_says_stopped_when_the_engine_is_stopped_under_it(config: AppConfig) -> None:
    from arbtui.app import StatusHeader

    client = await ensure_engine(config, factory=SCRIPTED, start_cluster=False, timeout=30)
    app = ArbConsole(config, link=client)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await console_until_pending(app, pilot, 3)
            await stop_engine(config.store.dir)  # `arbtui stop` from another terminal
            header = app.query_one(StatusHeader)
            async with asyncio.timeout(10):
                while not header.engine_state.startswith("stopped"):
                    await pilot.pause(0.05)
            assert "engine stopped" in header.engine_state
            assert client.state == "stopped" and not client.connected
            await pilot.press("q")
    finally:
        await client.close()
