"""The console starts, shows the mode loudly, lists trades from the store, and quits on q."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from pathlib import Path

import pytest
from textual.widgets import DataTable

from arbtui.app import FOLD_CHUNK, ArbConsole, HelpScreen, Pane, StatusHeader
from core.config import load_config
from core.keypair import generate_localnet_keypair, load_keypair, localnet_keypair_path
from core.store import BundleAttempt, StoreWriter

pytestmark = pytest.mark.usefixtures("clean_env")


def config_for(tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    return load_config(None, {"store.dir": str(tmp_path / "store"), **overrides}, search_default_paths=False)


async def test_console_starts_in_dry_run_and_quits_on_q(tmp_path: Path) -> None:
    app = ArbConsole(config_for(tmp_path), start_cluster=False)
    async with app.run_test(size=(80, 24)) as pilot:
        header = app.query_one(StatusHeader)
        assert "DRY-RUN" in header.plain
        assert "localnet" in header.plain
        assert "no signer" in header.plain
        titles = [pane.border_title for pane in app.query(Pane)]
        assert titles == ["Opportunities", "Flash-loan validations", "Jito inclusion", "Retries", "Trades"]
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_help_opens_on_question_mark_and_closes_on_escape(tmp_path: Path) -> None:
    app = ArbConsole(config_for(tmp_path), start_cluster=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")


async def test_trades_pane_shows_recent_attempts_from_the_store(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    writer = StoreWriter(config.store.dir, "dry-run")
    for i in range(3):
        writer.save_attempt(
            BundleAttempt(
                id=f"a{i}",
                opportunity_id=f"o{i}",
                mode="dry-run",
                created_at=1_700_000_000.0 + i,
                state="landed",
                provider="solend",
                flash_amount_usd=1000.0,
                realised_profit_usd=1.5,
                tip_lamports=12_000,
            )
        )
    await writer.close()
    app = ArbConsole(config, start_cluster=False)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one("#trades", Pane).query_one(DataTable)
        assert table.row_count == 3
        assert table.get_row("a2")[1:] == ["landed", "solend", "1,000", "+1.50", "12,000"]
        await pilot.press("q")


async def test_live_header_is_loud_and_names_the_wallet(tmp_path: Path) -> None:
    config = config_for(tmp_path, **{"mode.dry_run": False})
    generate_localnet_keypair(config.store.dir)
    signer = load_keypair(localnet_keypair_path(config.store.dir))
    app = ArbConsole(config, start_cluster=False)
    async with app.run_test(size=(80, 24)) as pilot:
        header = app.query_one(StatusHeader)
        assert " LIVE " in header.plain
        assert "DRY-RUN" not in header.plain
        assert signer.short in header.plain
        await pilot.press("q")


async def test_live_header_flags_an_unusable_wallet(tmp_path: Path) -> None:
    config = config_for(tmp_path, **{"mode.dry_run": False})
    app = ArbConsole(config, start_cluster=False)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "wallet unusable: file not found" in app.query_one(StatusHeader).plain
        await pilot.press("q")


def free_port_pair() -> int:
    """A port p with p and p + 1 free (RPC and PubSub)."""
    import socket

    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair")


async def test_console_starts_the_background_engine_and_q_only_detaches(tmp_path: Path) -> None:
    from core.daemon.client import EngineClient
    from core.daemon.lock import holder
    from core.daemon.process import stop_engine
    from core.localnet.launcher import is_listening

    port = free_port_pair()
    config = config_for(tmp_path, **{"cluster.rpc_url": f"http://127.0.0.1:{port}"})
    store = config.store.dir
    app = ArbConsole(config)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            header = app.query_one(StatusHeader)
            for _ in range(1200):  # engine + child cluster start; bounded by the test timeout, not asserted
                if header.cluster_state == "up" or header.engine_state.startswith("unavailable"):
                    break
                await pilot.pause(0.05)
            assert header.cluster_state == "up", header.plain
            assert isinstance(app.link, EngineClient) and app.link.engine_pid == holder(store)
            await pilot.press("q")
        # The engine and its cluster outlive the console: quitting only detached.
        assert holder(store) is not None and is_listening("127.0.0.1", port)
    finally:
        await stop_engine(store)
    assert holder(store) is None and not is_listening("127.0.0.1", port)


async def test_engine_events_are_folded_as_they_come_a_bounded_chunk_per_turn(tmp_path: Path) -> None:
    from core.events import SlotTick
    from core.runtime import Runtime

    config = config_for(tmp_path)
    runtime = Runtime(config, with_engine=False)
    await runtime.start()
    app = ArbConsole(config, link=runtime)
    app.redraw = lambda: None  # type: ignore[method-assign]  # only the fold consumes events here
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        base = app.view.applied
        sent = 3 * FOLD_CHUNK + 10
        for i in range(sent):
            runtime.bus.publish(SlotTick(100 + i))
        folded = [0]
        async with asyncio.timeout(10):
            while folded[-1] < sent:
                await asyncio.sleep(0)  # one turn of the loop: the fold gets one turn too
                folded.append(app.view.applied - base)
        steps = [after - before for before, after in pairwise(folded) if after > before]
        assert max(steps) <= FOLD_CHUNK  # a key or a paint never waits behind more than a chunk
        assert len(steps) >= 4 and app.view.slot == 100 + sent - 1
        await pilot.press("q")
    await runtime.close()
