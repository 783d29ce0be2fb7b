"""The operator console (Textual). Renders core's events and sends core's commands; decides nothing.

Events are folded into `ConsoleState` as they arrive, a bounded chunk at a time (cheap, and a key
never waits behind a long fold), and panes are redrawn only when dirty at `ui.refresh_hz`, in place
(`TableRows`), so a 20,000-update/s engine never waits on the screen.
The engine runs in its own background process per store dir (`core.daemon`), which on `localnet`
also starts the embedded cluster: the console attaches to it, and quitting only detaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
from collections.abc import Iterable
from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from arbtui.fast_table import FastDataTable
from arbtui.screens import ConfirmQuit, DetailScreen, HelpScreen, LiveModal
from arbtui.state import (
    SORT_KEYS,
    ConsoleState,
    OppRow,
    opp_cells,
    sorted_rows,
    sparkline,
)
from arbtui.table_rows import ShownRow, TableRows
from core.config import AppConfig
from core.events import Subscription
from core.keypair import KeypairError, load_keypair
from core.logs import configure_logging
from core.mode import ModeSwitchRefused, keypair_path
from core.store import BundleAttempt, Mode, StoreError, StoreReader

if TYPE_CHECKING:
    from core.control import EngineLink
    from core.localnet.launcher import ClusterHandle

log = logging.getLogger(__name__)

TRADES_SHOWN = 50
TRADES_POLL_SECONDS = 1.0
OPPORTUNITIES_SHOWN = 60
# Rows drawn past the last visible one: the cursor can move that far down before the next redraw.
ROWS_BELOW = 5
# 80 columns hold the totals; from WIDE_AT columns on, fees and tip get their own columns.
NARROW_COLUMNS = ("route", "size", "gross", "cost", "net", "$", "age", "state")
WIDE_COLUMNS = ("route", "size", "gross", "fees", "tip", "cost", "net", "$", "age", "state")
WIDE_AT = 120
# Events folded per turn of the event loop before a key or a paint gets its turn (~1 ms of folding).
FOLD_CHUNK = 256


def mode_of(config: AppConfig) -> Mode:
    return "dry-run" if config.mode.dry_run else "live"


def wallet_label(config: AppConfig, mode: Mode) -> tuple[str, bool]:
    """What the header shows for the wallet, and whether it is a problem. Dry-run loads no signer."""
    if mode == "dry-run":
        return "no signer", False
    try:
        return load_keypair(keypair_path(config), for_live=True).short, False
    except KeypairError as exc:
        return f"wallet unusable: {exc.reason}", True


class StatusHeader(Static):
    """One line: cluster · mode · wallet · engine state · feed health · slot."""

    def __init__(self, config: AppConfig) -> None:
        super().__init__(id="status")
        self.config = config
        self.mode: Mode = mode_of(config)
        self.engine_state = "not started"
        self.cluster_state = ""
        self.feed = ""
        self.feed_bad = False
        self.slot = 0
        self.plain = ""

    def on_mount(self) -> None:
        self.refresh_status()

    def refresh_status(self) -> None:
        wallet, wallet_bad = wallet_label(self.config, self.mode)
        text = Text()
        text.append(f" {self.config.cluster.name} ", style="bold reverse")
        if self.cluster_state:
            bad = self.cluster_state.startswith(("failed", "unavailable"))
            text.append(f" {self.cluster_state}", style="bold red" if bad else "")
        text.append(" ")
        if self.mode == "dry-run":
            text.append(" DRY-RUN ", style="bold black on yellow")
        else:
            text.append(" LIVE ", style="bold white on red blink")
        text.append(" ")
        text.append(wallet, style="bold red" if wallet_bad else "bold")
        text.append(" · ")
        bad_engine = self.engine_state.startswith(("killed", "stopped"))
        text.append(self.engine_state, style="bold red" if bad_engine else "bold")
        if self.feed:
            text.append(" · feed ")
            text.append(self.feed, style="bold red" if self.feed_bad else "green")
        if self.slot:
            text.append(f" · slot {self.slot}")
        self.plain = text.plain
        self.update(text, layout=False)  # one line, full width: new text never changes its size


class Pane(Vertical):
    """A titled, bordered pane holding one table."""

    def __init__(self, title: str, columns: tuple[str, ...], pane_id: str, placeholder: str) -> None:
        super().__init__(id=pane_id, classes="pane")
        self.border_title = title
        self.columns = columns
        self.placeholder = placeholder
        self._rows: TableRows | None = None
        self._placeholder_shown: bool | None = None

    def compose(self) -> ComposeResult:
        table = FastDataTable(cursor_type="row", zebra_stripes=True)
        table.add_columns(*self.columns)
        yield table
        yield Static(self.placeholder, classes="placeholder")

    @property
    def table(self) -> DataTable[str]:
        return self.query_one(DataTable)

    @property
    def rows(self) -> TableRows:
        """The table's rows, updated in place (made on first use: the table exists once composed)."""
        if self._rows is None:
            self._rows = TableRows(self.query_one(DataTable))
        return self._rows

    def show_placeholder(self, show: bool) -> None:
        # An empty table's header row would cost a line the 80×24 layout cannot spare.
        if self._placeholder_shown is show:
            return  # unchanged: toggling display asks for a layout pass
        self._placeholder_shown = show
        self.query_one(".placeholder", Static).display = show
        self.table.display = not show


class ArbConsole(App[int]):
    """The main screen."""

    TITLE = "arbtui"
    CSS = """
    Screen { layout: vertical; }
    #status { height: 1; background: $panel; }
    #panes {
        layout: grid;
        grid-size: 2 3;
        grid-rows: 2fr 1fr 1fr;
        grid-columns: 1fr 1fr;
        height: 1fr;
    }
    #opportunities { column-span: 2; }
    .pane { border: round $primary; height: 1fr; }
    .pane:focus-within { border: round $accent; }
    .pane DataTable { height: 1fr; scrollbar-size-horizontal: 0; }
    .placeholder { color: $text-muted; height: auto; padding: 0 1; }
    .spark { height: 1; padding: 0 1; color: $success; dock: bottom; }
    #filter { dock: bottom; height: 3; display: none; }
    #filter.visible { display: block; }
    #message { height: 1; color: $warning; padding: 0 1; }
    HelpScreen, LiveModal, ConfirmQuit, DetailScreen { align: center middle; }
    #help-body { width: 64; height: 20; border: round $accent; background: $surface; padding: 0 1; }
    #live-body {
        width: 72; max-width: 100%; height: auto; border: thick $error; background: $surface; padding: 0 1;
    }
    #live-buttons { height: auto; margin-top: 1; }
    #live-buttons Button { margin-right: 2; }
    #quit-body { width: 60; height: auto; border: round $warning; background: $surface; padding: 1 2; }
    #detail-body { width: 90%; height: 90%; border: round $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "help", key_display="?", tooltip="This help"),
        Binding("q", "quit", "quit", tooltip="Leave the console (a background engine keeps running)"),
        Binding("a", "approve", "approve", tooltip="Approve the selected pending trade"),
        Binding("r", "reject", "reject", tooltip="Reject the selected pending trade"),
        Binding(
            "A", "approve_all", "all", key_display="A", tooltip="Approve every pending trade within the caps"
        ),
        Binding("d", "toggle_mode", "live/dry", tooltip="Dry-run ⇄ live (live asks for the typed word)"),
        Binding("p", "pause", "pause", tooltip="Pause / resume the engine"),
        Binding("K", "kill", "KILL", key_display="K", tooltip="Kill switch: stop submitting now"),
        Binding("enter", "detail", "detail", show=False, tooltip="Open the selected opportunity's detail"),
        Binding("s", "sort", "sort", tooltip="Sort opportunities: net, size, age, route"),
        Binding("slash", "filter", "filter", key_display="/", tooltip="Filter opportunities by route text"),
        Binding("tab", "focus_next", "next pane", show=False, tooltip="Move between panes"),
        Binding("g", "first_row", "top", show=False, tooltip="First opportunity (pending sort first)"),
        Binding("escape", "clear_filter", "clear", show=False, tooltip="Clear the filter"),
    ]

    def __init__(
        self, config: AppConfig, *, link: EngineLink | None = None, start_cluster: bool = True
    ) -> None:
        super().__init__()
        self.config = config
        self.link = link
        self.start_cluster = start_cluster
        self.cluster: ClusterHandle | None = None
        self.view = ConsoleState()
        self.sort = SORT_KEYS[0]
        self.text_filter = ""
        self._sub: Subscription | None = None
        self._owns_link = False
        self._trade_keys: tuple[tuple[str, str, float | None], ...] | None = None
        self._readers: dict[Mode, StoreReader] = {}
        self._pnl: list[float] = []
        self._bindings_shown: tuple[bool | None, ...] | None = None

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield StatusHeader(self.config)
        with Grid(id="panes"):
            yield Pane(
                "Opportunities",
                NARROW_COLUMNS,
                "opportunities",
                "waiting for the engine…",
            )
            yield Pane(
                "Flash-loan validations",
                ("opp", "check", "result", "value / limit"),
                "validations",
                "none yet",
            )
            with Pane(
                "Jito inclusion", ("region", "incl %", "p50 ms", "429s", "err"), "inclusion", "no bundles yet"
            ):
                yield Static("", classes="spark", id="inclusion-spark")
            yield Pane(
                "Retries", ("attempt", "#", "state", "next", "reason", "bump"), "retries", "nothing in flight"
            )
            with Pane(
                "Trades", ("time", "state", "provider", "size $", "P&L $", "tip"), "trades", "no trades yet"
            ):
                yield Static("", classes="spark", id="pnl-spark")
        yield Static("", id="message")
        yield Input(placeholder="filter routes (enter to apply, escape to clear)", id="filter")
        yield Footer(compact=True)

    # ------------------------------------------------------------------ lifecycle

    @property
    def mode(self) -> Mode:
        return self.link.mode if self.link is not None else mode_of(self.config)

    async def on_mount(self) -> None:
        # Everything alive now (modules, widgets, styles) lives as long as the console: keep it out
        # of the cyclic garbage collector's full passes, which otherwise pause every key and paint
        # for 50-100 ms at a time under a busy engine (measured by bench/console.py).
        gc.collect()
        gc.freeze()
        self.sub_title = f"{self.config.cluster.name} · {self.mode}"
        self.query_one("#opportunities", Pane).table.focus()
        if self.link is not None:
            self.attach(self.link)
        elif self.start_cluster:
            self.run_worker(self.start_engine(), group="engine", exclusive=True)
        await self.refresh_trades()
        self.set_interval(TRADES_POLL_SECONDS, self.refresh_trades)
        self.set_interval(1 / self.config.ui.refresh_hz, self.redraw)

    def on_resize(self, event: events.Resize) -> None:
        # On a short terminal the lower panes need their rows more than the opportunity list does.
        grid = self.query_one("#panes", Grid)
        grid.styles.grid_rows = "1fr 1fr 1fr" if event.size.height < 36 else "2fr 1fr 1fr"
        columns = WIDE_COLUMNS if event.size.width >= WIDE_AT else NARROW_COLUMNS
        pane = self.query_one("#opportunities", Pane)
        if pane.columns != columns:
            pane.columns = columns
            table = pane.table
            table.clear(columns=True)
            table.add_columns(*columns)
            self.draw_opportunities()

    def attach(self, link: EngineLink) -> None:
        self.link = link
        self._sub = link.subscribe()
        for event in link.snapshot():
            self.view.apply(event)
        self.sync_header()
        self.redraw()
        self.follow()

    def follow(self) -> None:
        """Fold the engine's events into the view as they arrive (the panes redraw at refresh_hz)."""
        self.run_worker(self._fold(), group="fold", exclusive=True)

    async def _fold(self) -> None:
        sub = self._sub
        assert sub is not None
        while True:
            self.view.apply(await sub.get())
            for event in islice(sub.drain(), FOLD_CHUNK - 1):
                self.view.apply(event)
            # Let a key, a paint or the engine run before the next chunk.
            await asyncio.sleep(0)

    async def on_unmount(self) -> None:
        gc.unfreeze()  # what on_mount froze is the collector's again (tests mount many consoles)
        if self._sub is not None:
            self._sub.close()
        for reader in self._readers.values():
            reader.close()
        if self._owns_link and self.link is not None:
            closer = getattr(self.link, "close", None)
            if closer is not None:
                await closer()
        if self.cluster is not None:
            self.cluster.stop()  # only stops a cluster this console started

    async def start_engine(self) -> None:
        """Attach to the store dir's engine, starting it in the background first if none runs.

        The engine (and on localnet the cluster) lives in its own process, so quitting or losing
        the terminal only detaches this console. `link=` keeps the in-process path for tests.
        """
        header = self.query_one(StatusHeader)
        header.engine_state = "attaching…"
        header.refresh_status()
        from core.daemon.client import EngineUnavailable
        from core.daemon.process import EngineStartError, ensure_engine

        try:
            client = await ensure_engine(self.config)
        except (EngineStartError, EngineUnavailable) as exc:
            log.error("engine unavailable: %s", exc)
            header.engine_state = "unavailable (see engine.log)"
            header.refresh_status()
            self.say(str(exc).splitlines()[0])
            return
        if self.config.cluster.name == "localnet":
            header.cluster_state = "up"
        self._owns_link = True
        self.attach(client)
        running_on = client.status.get("cluster")
        if running_on and running_on != self.config.cluster.name:
            self.say(f"attached to the engine already running on {running_on}: `arbtui stop` to change it")

    # ------------------------------------------------------------------ rendering

    def redraw(self) -> None:
        if self._sub is not None:  # normally empty (`_fold` keeps up); for callers that publish, then redraw
            for event in self._sub.drain():
                self.view.apply(event)
        self.view.expire_rows()
        dirty = self.view.take_dirty()
        if not dirty:
            self.sync_bindings()
            return
        if "header" in dirty:
            self.sync_header()
        if "opportunities" in dirty:
            self.draw_opportunities()
        if "validations" in dirty:
            self.draw_validations()
        if "inclusion" in dirty:
            self.draw_inclusion()
        if "retries" in dirty:
            self.draw_retries()
        self.sync_bindings()

    def sync_bindings(self) -> None:
        """Refresh the footer only when a key's availability changed: a refresh recomposes the
        footer and lays the screen out again, far too dear for every frame."""
        shown = tuple(self.check_action(b.action, ()) for b in self.BINDINGS if isinstance(b, Binding))
        if shown != self._bindings_shown:
            self._bindings_shown = shown
            self.refresh_bindings()

    def sync_header(self) -> None:
        header = self.query_one(StatusHeader)
        header.mode = self.mode
        engine = self.view.engine
        if engine is not None:
            header.engine_state = engine.state + (f": {engine.reason}" if engine.reason else "")
        elif self.link is not None:
            header.engine_state = self.link.state
        feed = self.view.feed
        if feed is not None:
            if not feed.connected:
                header.feed, header.feed_bad = f"down ({feed.reason})", True
            elif feed.stale:
                header.feed, header.feed_bad = f"stale {feed.stale_slots} slots", True
            else:
                header.feed, header.feed_bad = f"ok {feed.pools}p", False
        header.slot = self.view.slot
        header.refresh_status()
        self.sub_title = f"{self.config.cluster.name} · {self.mode}"

    def draw_opportunities(self) -> None:
        pane = self.query_one("#opportunities", Pane)
        table = pane.table
        # Only what can be seen (plus a page below the cursor) is drawn: of thousands of cycles
        # the screen holds a few dozen, and the table is patched in place, not rebuilt.
        # The pane's height, not only the table's: a table hidden behind the placeholder has none,
        # and the first rows would otherwise stop at a handful until the next change redraws them.
        visible = max(table.size.height, pane.size.height, table.cursor_row + 1)
        shown = min(OPPORTUNITIES_SHOWN, visible + ROWS_BELOW)
        rows = sorted_rows(self.view, self.sort, self.text_filter, limit=shown)
        total = len(self.view.opportunities)
        wide = pane.columns == WIDE_COLUMNS
        slot, book = self.view.slot, self.view.tokens
        pane.rows.show([
            ShownRow(
                str(row.opp.cycle_id),
                opp_cells(row, slot, book, wide=wide),
                "bold yellow" if row.pending_id is not None else "",
            )
            for row in rows
        ])  # fmt: skip
        pane.show_placeholder(not rows)
        title = f"Opportunities ({total}) sort:{self.sort}" + (
            f" filter:{self.text_filter}" if self.text_filter else ""
        )
        if pane.border_title != title:  # setting it repaints the whole pane, even to the same text
            pane.border_title = title

    def draw_validations(self) -> None:
        pane = self.query_one("#validations", Pane)
        table = pane.table
        table.clear()
        for v in list(self.view.validations)[:8]:
            for check in v.checks:
                style = "" if check.passed else "bold red"
                table.add_row(
                    str(v.opportunity_id),
                    Text(check.name, style=style),
                    Text("pass" if check.passed else "FAIL", style="green" if check.passed else "bold red"),
                    Text(f"{check.measured} / {check.threshold}", style=style),
                )
        pane.show_placeholder(not self.view.validations)

    def draw_inclusion(self) -> None:
        pane = self.query_one("#inclusion", Pane)
        table = pane.table
        table.clear()
        for stats in sorted(self.view.regions.values(), key=lambda s: s.region):
            table.add_row(
                stats.region,
                f"{stats.inclusion_rate * 100:.0f}",
                f"{stats.p50_latency_ms:.0f}",
                str(stats.rate_limited),
                str(stats.errors),
            )
        tip = self.view.tip_policy
        line = (
            f"incl {sparkline(self.view.inclusion_history, 12)} tips {sparkline(self.view.tip_history, 12)}"
        )
        if tip is not None:
            line += (
                f"  {tip.profit_percent:g}%×{tip.inclusion_multiplier:g}×{tip.time_of_day_multiplier:g}"
                f" floor {tip.tip_floor_lamports:,}"
            )
        self.query_one("#inclusion-spark", Static).update(line, layout=False)  # height 1, docked
        pane.show_placeholder(not self.view.regions)

    def draw_retries(self) -> None:
        pane = self.query_one("#retries", Pane)
        table = pane.table
        table.clear()
        now = dt.datetime.now(dt.UTC).timestamp()
        for update in self.view.in_flight.values():
            next_at = "—"
            if update.next_retry_at_ns is not None:
                next_at = f"{max(0.0, update.next_retry_at_ns / 1e9 - now):.1f}s"
            table.add_row(
                update.attempt_id[:10],
                str(update.attempt),
                update.state,
                next_at,
                update.reason[:24],
                f"×{update.fee_bump:g}",
            )
        pane.show_placeholder(not self.view.in_flight)

    async def refresh_trades(self) -> None:
        mode = self.mode
        try:
            attempts = await asyncio.to_thread(self._read_trades, mode)
        except StoreError as exc:
            log.error("trades pane: %s", exc)
            return
        keys = tuple((a.id, a.state, a.updated_at) for a in attempts)
        if keys == self._trade_keys:
            return  # unchanged: skip the redraw
        self._trade_keys = keys
        pane = self.query_one("#trades", Pane)
        table = pane.table
        table.clear()
        for attempt in attempts:
            table.add_row(*trade_row(attempt), key=attempt.id)
        pane.show_placeholder(not attempts)
        pnl = [a.realised_profit_usd for a in reversed(attempts) if a.realised_profit_usd is not None]
        total = 0.0
        cumulative = []
        for value in pnl:
            total += value
            cumulative.append(total)
        self.query_one("#pnl-spark", Static).update(
            f"P&L {sparkline(cumulative, 30)} {total:+,.2f}$" if cumulative else ""
        )

    def _read_trades(self, mode: Mode) -> list[BundleAttempt]:
        if mode not in self._readers:
            self._readers[mode] = StoreReader(self.config.store.dir, mode)
        return self._readers[mode].recent_attempts(TRADES_SHOWN)

    def say(self, message: str) -> None:
        self.query_one("#message", Static).update(message, layout=False)  # height 1

    # ------------------------------------------------------------------ selection

    def selected_key(self) -> str | None:
        table = self.query_one("#opportunities", Pane).table
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return None if key.value is None else str(key.value)

    def selected_row(self) -> OppRow | None:
        key = self.selected_key()  # rows are keyed by cycle: the cursor stays put across re-quotes
        return self.view.opportunities.get(int(key)) if key is not None else None

    def selected_pending(self) -> int | None:
        row = self.selected_row()
        return row.pending_id if row is not None else None

    # ------------------------------------------------------------------ keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide keys that make no sense now (False hides them from the footer)."""
        if action in ("approve", "reject"):
            return self.link is not None and self.selected_pending() is not None
        if action == "approve_all":
            return self.link is not None and bool(self.view.pending_ids())
        if action in ("toggle_mode", "pause", "kill"):
            return self.link is not None and (action != "pause" or self.link.state != "killed")
        if action == "clear_filter":
            return bool(self.text_filter)
        return True

    async def action_approve(self) -> None:
        oid = self.selected_pending()
        if oid is None or self.link is None:
            return
        outcome = await self.link.approve(oid, key="a")
        self.say(f"approved {oid}" if outcome.accepted else f"not approved {oid}: {outcome.reason}")
        self.redraw()

    async def action_reject(self) -> None:
        oid = self.selected_pending()
        if oid is None or self.link is None:
            return
        await self.link.reject(oid, key="r")
        self.say(f"rejected {oid}")
        self.redraw()

    async def action_approve_all(self) -> None:
        if self.link is None:
            return
        outcomes = await self.link.approve_all(key="A")
        approved = sum(o.accepted for o in outcomes)
        self.say(f"approved {approved} of {len(outcomes)} pending")
        self.redraw()

    async def action_toggle_mode(self) -> None:
        if self.link is None:
            return
        if self.link.mode == "live":
            await self.link.switch_to_dry_run()
            self.say("back to DRY-RUN")
            self.sync_header()
            return
        preview = self.link.preview_live()
        refresh = getattr(self.link, "refresh_preview", None)
        if refresh is not None:  # over the socket: ask the engine now, the keypair may have changed
            with contextlib.suppress(Exception):
                preview = await refresh()
        self.push_screen(LiveModal(preview), self._live_answer)

    async def _live_answer(self, typed: str | None) -> None:
        if typed is None or self.link is None:
            self.say("still DRY-RUN")
            return
        try:
            await self.link.switch_to_live(typed)
        except ModeSwitchRefused as exc:
            self.say(f"still DRY-RUN: {exc.reason}")
        else:
            self.say("LIVE")
        self.sync_header()
        self._trade_keys = None
        await self.refresh_trades()

    async def action_pause(self) -> None:
        if self.link is None:
            return
        if self.link.state == "paused":
            await self.link.resume()
            self.say("resumed")
        else:
            await self.link.pause()
            self.say("paused: nothing new is validated or sent")

    async def action_kill(self) -> None:
        if self.link is None:
            return
        await self.link.kill("operator kill switch (K)")
        self.say("KILL SWITCH: engine stopped submitting")

    def action_first_row(self) -> None:
        table = self.query_one("#opportunities", Pane).table
        if table.row_count:
            table.move_cursor(row=0, animate=False)
            table.focus()

    def action_sort(self) -> None:
        self.sort = SORT_KEYS[(SORT_KEYS.index(self.sort) + 1) % len(SORT_KEYS)]
        self.draw_opportunities()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("visible")
        box.value = self.text_filter
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "filter":
            return
        self.text_filter = event.value.strip()
        event.input.remove_class("visible")
        self.query_one("#opportunities", Pane).table.focus()
        self.draw_opportunities()
        self.sync_bindings()

    def action_clear_filter(self) -> None:
        self.text_filter = ""
        self.query_one("#filter", Input).remove_class("visible")
        self.draw_opportunities()
        self.sync_bindings()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # approve / reject apply only to a pending row: the footer follows the cursor.
        if event.data_table is self.query_one("#opportunities", Pane).table:
            self.sync_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # The table takes `enter` itself; a selected opportunity row opens its detail.
        if event.data_table is self.query_one("#opportunities", Pane).table:
            self.action_detail()

    def action_detail(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        oid = row.opp.id
        ids = {oid, row.pending_id}
        opp = row.opp
        mint = opp.loan_mint
        book = self.view.tokens
        lines = [
            f"route      {book.route(opp)}",
            *(
                f"  hop {i + 1}  {h.dex} {h.pool}  {'a→b' if h.a_to_b else 'b→a'}"
                for i, h in enumerate(opp.route)
            ),
            f"amount in  {book.amount(mint, opp.amount_in)}  ({opp.amount_in:,} units)",
            f"expected   {book.amount(mint, opp.expected_out)}  ({opp.expected_out:,} units)",
            f"gross      {opp.gross:,}  flash fee {opp.fees.flash_fee:,}  network {opp.fees.network_fee:,}"
            f"  tip {opp.fees.tip:,} ({opp.fees.tip_lamports:,} lamports)",
            f"net        {opp.net:,} units  state slots {list(opp.state_slots)}",
        ]
        for v in self.view.validations:
            if v.opportunity_id in ids:
                lines.append(f"validation {v.attempt_id} via {v.provider}: {'PASS' if v.passed else 'FAIL'}")
                lines += [
                    f"  {'✓' if c.passed else '✗'} {c.name}: {c.measured} (limit {c.threshold}) {c.detail}"
                    for c in v.checks
                ]
        for update in [u for i in ids if i is not None for u in self.view.attempts_by_opportunity.get(i, [])]:
            lines.append(
                f"attempt {update.attempt_id} #{update.attempt} {update.state} {update.region}"
                f" tip {update.tip_lamports:,} {update.reason}"
            )
        screen = DetailScreen(f"Opportunity {oid}", lines)
        self.push_screen(screen)
        self.run_worker(self._load_stored_attempts(screen, oid), group="detail")

    async def _load_stored_attempts(self, screen: DetailScreen, oid: int) -> None:
        try:
            attempts = await asyncio.to_thread(self._attempts_for, str(oid))
        except StoreError as exc:
            log.error("detail: %s", exc)
            return
        if screen.is_attached:
            screen.add_attempts(attempts)

    def _attempts_for(self, oid: str) -> list[BundleAttempt]:
        mode = self.mode
        if mode not in self._readers:
            self._readers[mode] = StoreReader(self.config.store.dir, mode)
        return self._readers[mode].attempts_for(oid)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """ctrl+p lists every console action (with its key) next to Textual's own commands."""
        yield from super().get_system_commands(screen)
        for b in self.BINDINGS:
            if isinstance(b, Binding) and b.description and b.action not in ("focus_next", "clear_filter"):
                key = b.key_display or b.key
                yield SystemCommand(
                    f"{b.tooltip or b.description} · {key}", f"key {key}", partial(self.run_action, b.action)
                )

    def action_help(self) -> None:
        keys = [
            (b.key_display or b.key, b.tooltip or b.description)
            for b in self.BINDINGS
            if isinstance(b, Binding) and b.description
        ]
        self.push_screen(HelpScreen(keys))

    async def action_quit(self) -> None:
        in_flight = self.link.in_flight() if self.link is not None else 0
        # A background engine keeps its bundles when the console goes: quitting only detaches.
        if in_flight and not getattr(self.link, "detach_only", False):
            self.push_screen(ConfirmQuit(in_flight), self._quit_answer)
            return
        self.exit(0)

    def _quit_answer(self, answer: bool | None) -> None:
        if answer:
            self.exit(0)


def trade_row(attempt: BundleAttempt) -> tuple[str, ...]:
    when = dt.datetime.fromtimestamp(attempt.created_at, dt.UTC).strftime("%H:%M:%S")
    size = f"{attempt.flash_amount_usd:,.0f}" if attempt.flash_amount_usd is not None else "—"
    pnl_value = attempt.realised_profit_usd if attempt.realised_profit_usd is not None else None
    pnl = f"{pnl_value:+,.2f}" if pnl_value is not None else "—"
    tip = f"{attempt.tip_lamports:,}" if attempt.tip_lamports is not None else "—"
    return (when, attempt.state, attempt.provider or "—", size, pnl, tip)


def run_console(config: AppConfig, **kwargs: Any) -> int:
    """Start the console in this terminal; returns the process exit code."""
    configure_logging(config.store.dir)
    log.info("console starting: cluster=%s mode=%s", config.cluster.name, mode_of(config))
    app = ArbConsole(config, **kwargs)
    try:
        result = app.run()
    finally:
        if app.cluster is not None:
            app.cluster.stop()
    return int(result or app.return_code or 0)
