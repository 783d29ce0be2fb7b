"""Every console key against a real Runtime (approval queue, mode controller, SQLite store).

The pipeline stage below the console is a recording double here: these tests are about what the
keys do; tests/test_console_engine.py drives the same keys with the real engine on the local cluster.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from solders.pubkey import Pubkey
from textual.widgets import Footer, Input

from arbtui.app import ArbConsole, Pane, StatusHeader
from arbtui.screens import ConfirmQuit, DetailScreen, HelpScreen, LiveModal
from core.approvals import Candidate
from core.config import load_config
from core.events import AttemptUpdate, CheckResult, FeedHealth, SlotTick, ValidationResult
from core.keypair import Signer, generate_localnet_keypair
from core.protocols import ids
from core.runtime import Runtime
from core.search.fees import FeeBreakdown
from core.search.opportunities import Hop, Opportunity
from core.store import Mode, StoreReader

SOL = ids.NATIVE_MINT
USDC = ids.USDC_MINT


pytestmark = pytest.mark.usefixtures("clean_env")


def config_for(tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    return load_config(None, {"store.dir": str(tmp_path / "store"), **overrides}, search_default_paths=False)


def opportunity(oid: int, net: int = 2_000_000, slot: int = 10) -> Opportunity:
    fees = FeeBreakdown(
        flash_fee=50_000, network_fee=10_000, network_fee_lamports=10_000, tip=5_000, tip_lamports=20_000
    )
    route = (
        Hop(Pubkey.new_unique(), "raydium_amm_v4", True, USDC, SOL),
        Hop(Pubkey.new_unique(), "whirlpool", False, SOL, USDC),
    )
    gross = net + fees.total
    return Opportunity(
        oid, oid, USDC, route, 100_000_000, 100_000_000 + gross, gross, fees, net, slot, (slot, slot), 0
    )


class RecordingPipeline:
    def __init__(self) -> None:
        self.refusal: str | None = None
        self.dispatched: list[tuple[int, Mode, bool]] = []

    async def prepare(self, opp: Opportunity, mode: Mode) -> Candidate | None:
        return Candidate(opp, f"att-{opp.id}", amount_usd=100.0, net_usd=opp.net / 1e6)

    async def recheck(self, candidate: Candidate) -> str | None:
        return self.refusal

    async def dispatch(self, candidate: Candidate, mode: Mode, signer: Signer | None) -> None:
        self.dispatched.append((candidate.opportunity_id, mode, signer is not None))


async def started(tmp_path: Path, **overrides: object) -> tuple[Runtime, RecordingPipeline]:
    pipeline = RecordingPipeline()
    runtime = Runtime(config_for(tmp_path, **overrides), pipeline=pipeline, with_engine=False)
    await runtime.start()
    runtime.bus.publish(FeedHealth(connected=True, slot=10, stale_slots=0, pools=22))
    return runtime, pipeline


async def offer(runtime: Runtime, *oids: int) -> None:
    for oid in oids:
        opp = opportunity(oid, net=oid * 1_000_000)
        runtime.bus.publish(opp)
        await runtime.handle(opp)


def decisions(tmp_path: Path, mode: Mode = "dry-run") -> list[tuple[str, str, str]]:
    with StoreReader(tmp_path / "store", mode) as reader:
        return [(a.opportunity_id, a.decision, a.key) for a in reader.approvals()]


async def test_pending_opportunity_shows_countdown_and_a_approves_it(tmp_path: Path) -> None:
    runtime, pipeline = await started(tmp_path)
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        await offer(runtime, 1)
        await pilot.pause(0.3)
        table = app.query_one("#opportunities", Pane).table
        row = table.get_row("1")
        assert str(row[0]) == "USDC-ray→SOL-orca→USDC"
        assert str(row[-1]) == "wait 20"
        cells = dict(zip(app.query_one("#opportunities", Pane).columns, map(str, row), strict=True))
        assert cells["net"] == "1.0000" and cells["$"] == "1.00"
        assert (
            cells["fees"] == "0.0600" and cells["tip"] == "0.0050" and cells["cost"] == "0.0650"
        )  # 120 wide
        await pilot.press("a")
        await pilot.pause(0.2)
        assert pipeline.dispatched == [(1, "dry-run", False)]
        assert str(table.get_row("1")[-1]) == "approved"
        await pilot.press("q")
    await runtime.close()
    assert decisions(tmp_path) == [("1", "approved", "a")]


async def test_r_rejects_and_A_approves_every_pending(tmp_path: Path) -> None:
    runtime, pipeline = await started(tmp_path)
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        await offer(runtime, 3, 2, 1)
        await pilot.pause(0.3)
        await pilot.press("r")  # cursor on the best (net-sorted) row: 3
        await pilot.press("A")
        await pilot.pause(0.2)
        assert sorted(o for o, _, _ in pipeline.dispatched) == [1, 2]
        await pilot.press("q")
    await runtime.close()
    assert sorted(decisions(tmp_path)) == [
        ("1", "approved", "A"),
        ("2", "approved", "A"),
        ("3", "rejected", "r"),
    ]


async def test_unapproved_opportunity_expires_after_ttl_slots(tmp_path: Path) -> None:
    runtime, pipeline = await started(tmp_path, **{"mode.approval_ttl_slots": 5})
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        await offer(runtime, 1)
        runtime.bus.publish(SlotTick(16))
        await pilot.pause(0.3)
        assert str(app.query_one("#opportunities", Pane).table.get_row("1")[-1]) == "expired"
        await pilot.press("a")  # nothing pending: the key is hidden and does nothing
        await pilot.press("q")
    await runtime.close()
    assert pipeline.dispatched == []
    assert decisions(tmp_path) == [("1", "expired", "ttl")]


async def test_approve_refused_by_re_simulation_says_why(tmp_path: Path) -> None:
    runtime, pipeline = await started(tmp_path)
    pipeline.refusal = "simulated output 99,800,000 < quote 101,000,000 (slippage)"
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        await offer(runtime, 1)
        await pilot.pause(0.3)
        await pilot.press("a")
        await pilot.pause(0.2)
        assert "slippage" in str(app.query_one("#message").render())
        await pilot.press("q")
    await runtime.close()
    assert pipeline.dispatched == []
    assert decisions(tmp_path) == [("1", "rejected", "a")]


async def test_live_modal_cancels_by_default_and_needs_the_word(tmp_path: Path) -> None:
    generate_localnet_keypair(tmp_path / "store")
    runtime, _ = await started(tmp_path)
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(80, 24)) as pilot:
        header = app.query_one(StatusHeader)
        await pilot.press("d")
        assert isinstance(app.screen, LiveModal)
        await pilot.press("enter")  # focus starts on Cancel
        assert not isinstance(app.screen, LiveModal) and runtime.mode == "dry-run"
        await pilot.press("d")
        app.screen.query_one("#live-word", Input).focus()
        await pilot.press(*"yes", "enter")
        assert isinstance(app.screen, LiveModal) and runtime.mode == "dry-run"
        await pilot.press("escape")
        await pilot.press("d")
        app.screen.query_one("#live-word", Input).focus()
        await pilot.press(*"live", "enter")
        await pilot.pause(0.2)
        assert runtime.mode == "live"
        assert " LIVE " in header.plain and runtime.modes.signer is not None
        assert runtime.modes.signer.short in header.plain
        await pilot.press("d")  # back to dry-run: one key, immediate
        await pilot.pause(0.1)
        assert runtime.mode == "dry-run" and "DRY-RUN" in header.plain and runtime.modes.signer is None
        await pilot.press("q")
    await runtime.close()
    with StoreReader(tmp_path / "store", "live") as reader:
        assert [(c.from_mode, c.to_mode) for c in reader.mode_changes()] == [
            ("dry-run", "live"),
            ("live", "dry-run"),
        ]


async def test_live_refused_without_a_safe_keypair(tmp_path: Path) -> None:
    path = generate_localnet_keypair(tmp_path / "store")
    os.chmod(path, 0o644)
    runtime, _ = await started(tmp_path)
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        modal = app.screen
        assert isinstance(modal, LiveModal) and modal.preview.problem
        assert modal.query_one("#live-word", Input).disabled
        await pilot.press("escape")
        assert runtime.mode == "dry-run"
        await pilot.press("q")
    await runtime.close()


async def test_pause_blocks_approval_and_kill_switch_clears_the_queue(tmp_path: Path) -> None:
    runtime, pipeline = await started(tmp_path)
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        await offer(runtime, 1, 2)
        await pilot.pause(0.3)
        await pilot.press("p")
        await pilot.pause(0.2)
        assert runtime.state == "paused"
        assert "paused" in app.query_one(StatusHeader).plain
        await pilot.press("a")
        await pilot.pause(0.1)
        assert pipeline.dispatched == []
        await pilot.press("p")
        await pilot.press("K")
        await pilot.pause(0.2)
        assert runtime.state == "killed"
        assert "killed: operator kill switch" in app.query_one(StatusHeader).plain
        assert runtime.queue.pending() == []
        await offer(runtime, 5)
        assert runtime.queue.pending() == []
        await pilot.press("q")
    await runtime.close()
    assert {d for _, d, _ in decisions(tmp_path)} == {"rejected", "expired"}


async def test_quit_asks_while_bundles_are_in_flight(tmp_path: Path) -> None:
    runtime, _ = await started(tmp_path)
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        runtime.bus.publish(AttemptUpdate("att-9", 9, "submitted", region="ny", tip_lamports=20_000))
        await pilot.pause(0.3)
        assert app.query_one("#retries", Pane).table.row_count == 1
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmQuit)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmQuit)
        await pilot.press("q", "y")
        await pilot.pause(0.1)
    assert app.return_code == 0
    await runtime.close()


async def test_detail_shows_route_fees_and_validations(tmp_path: Path) -> None:
    runtime, _ = await started(tmp_path)
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        await offer(runtime, 1)
        runtime.bus.publish(
            ValidationResult(
                1, "att-1", "solend", 100_000_000, (CheckResult("net_profit", False, "$0.40", "$0.50"),)
            )
        )
        await pilot.pause(0.3)
        validations = app.query_one("#validations", Pane).table
        assert validations.row_count == 1
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, DetailScreen)
        text = "\n".join(app.screen.lines)
        assert "flash fee 50,000" in text and "✗ net_profit: $0.40 (limit $0.50)" in text
        await pilot.press("escape")
        await pilot.press("q")
    await runtime.close()


async def test_sort_filter_and_help(tmp_path: Path) -> None:
    runtime, _ = await started(tmp_path, **{"mode.approval": "auto", "mode.auto_min_profit_usd": 1000.0})
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        await offer(runtime, 1, 3, 2)
        await pilot.pause(0.3)
        pane = app.query_one("#opportunities", Pane)
        assert [r.key.value for r in pane.table.ordered_rows] == ["3", "2", "1"]  # display order
        await pilot.press("s")  # sort by size (all equal) keeps every row
        assert "sort:size" in str(pane.border_title)
        await pilot.press("slash", *"orca", "enter")
        assert "filter:orca" in str(pane.border_title) and pane.table.row_count == 3
        await pilot.press("slash", *"kamino", "enter")
        assert pane.table.row_count == 0
        await pilot.press("escape")
        assert pane.table.row_count == 3
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_keys = {k for k, _ in app.screen.keys}
        assert {"a", "r", "A", "d", "p", "K", "/", "?", "q", "enter", "tab", "s"} <= help_keys
        await pilot.press("escape")
        await pilot.press("q")
    await runtime.close()


async def test_header_shows_stale_feed_and_resize_keeps_state(tmp_path: Path) -> None:
    runtime, _ = await started(tmp_path)
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(80, 24)) as pilot:
        await offer(runtime, 1, 2)
        runtime.bus.publish(FeedHealth(connected=True, slot=12, stale_slots=6, pools=22, stale=True))
        await pilot.pause(0.3)
        header = app.query_one(StatusHeader)
        assert "feed stale 6 slots" in header.plain and "slot 12" in header.plain
        await pilot.resize_terminal(160, 48)
        await pilot.pause(0.2)
        assert app.query_one("#opportunities", Pane).table.row_count == 2
        await pilot.resize_terminal(80, 24)
        runtime.bus.publish(
            FeedHealth(connected=False, slot=12, stale_slots=6, pools=22, stale=True, reason="ws closed")
        )
        await pilot.pause(0.3)
        assert "feed down (ws closed)" in header.plain
        assert app.query_one("#opportunities", Pane).table.row_count == 2
        await pilot.press("q")
    await runtime.close()


async def test_a_console_attaching_late_gets_token_names_and_prices_in_the_snapshot(tmp_path: Path) -> None:
    from core.events import MarketPrices, MintPrice, TokenList, TokenMeta

    runtime, _ = await started(tmp_path)
    bonk = "BonkMint1111111111111111111111111111111111"
    runtime.bus.publish(TokenList((TokenMeta(bonk, "BONK", 5),)))
    runtime.bus.publish(MarketPrices((MintPrice(str(SOL), 150e-9),)))
    await asyncio.sleep(0.1)  # the runtime folds its own stream
    snapshot = runtime.snapshot()
    assert any(isinstance(e, TokenList) for e in snapshot) and any(
        isinstance(e, MarketPrices) for e in snapshot
    )
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.view.tokens.names[bonk] == ("BONK", 5)
        assert app.view.tokens.usd[str(SOL)] == 150e-9
        await pilot.press("q")
    await runtime.close()


async def test_command_palette_lists_every_console_action(tmp_path: Path) -> None:
    from textual.command import CommandPalette

    runtime, _ = await started(tmp_path)
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for key in ("a", "r", "A", "d", "p", "K", "/", "s", "?", "q", "g", "enter"):
            assert any(t.endswith(f" · {key}") for t in titles), key
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        await pilot.press("q")
    await runtime.close()


async def test_no_color_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    runtime, _ = await started(tmp_path)
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        assert "DRY-RUN" in app.query_one(StatusHeader).plain  # the mode still reads in words
        await pilot.press("q")
    await runtime.close()


async def test_footer_offers_approve_only_on_a_pending_row_and_quiet_redraws_leave_it_alone(
    tmp_path: Path,
) -> None:
    runtime, _ = await started(tmp_path)
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        await offer(runtime, 2)  # waits for approval: sorted first, under the cursor
        runtime.bus.publish(opportunity(1, net=1_000_000))  # seen only
        await pilot.pause(0.3)
        footer = app.query_one(Footer)

        def offered() -> set[str]:
            return {str(getattr(key, "action", "")) for key in footer.children}

        assert {"approve", "reject"} <= offered()
        recomposed = 0
        recompose = footer.recompose

        async def counted() -> None:
            nonlocal recomposed
            recomposed += 1
            await recompose()

        footer.recompose = counted  # type: ignore[method-assign]
        for _ in range(3):
            app.redraw()  # nothing changed for any key: the footer is not rebuilt
        await pilot.pause(0.1)
        assert recomposed == 0
        await pilot.press("down")  # onto the row that is only seen
        await pilot.pause(0.2)
        assert recomposed == 1
        assert "approve" not in offered() and "reject" not in offered()
        await pilot.press("q")
    await runtime.close()


async def test_the_first_opportunities_fill_the_pane_without_waiting_for_another_change(
    tmp_path: Path,
) -> None:
    runtime, _ = await started(tmp_path)
    app = ArbConsole(runtime.config, link=runtime)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)  # empty: the placeholder stands where the table will be
        pane = app.query_one("#opportunities", Pane)
        for oid in range(1, 41):  # one burst, then a quiet market
            runtime.bus.publish(opportunity(oid, net=oid * 10_000))
        await pilot.pause(0.5)
        assert pane.table.row_count >= pane.size.height - 3  # every line of the pane holds a row
        await pilot.press("q")
    await runtime.close()
