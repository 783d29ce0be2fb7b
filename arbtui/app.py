"""The operator console (Textual). Renders core's state; never computes trading decisions itself.

For now: the header (cluster, mode, wallet, engine state), the five panes laid out for 80×24 and
up, `?` help and `q` quit; the Trades pane shows the most recent bundle attempts from the store.
On `localnet` with nothing listening on the RPC port, the console starts the embedded cluster in
a child process and stops it on exit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from core.config import AppConfig
from core.keypair import KeypairError, load_keypair, localnet_keypair_path
from core.logs import configure_logging
from core.store import BundleAttempt, Mode, StoreError, StoreReader

if TYPE_CHECKING:
    from core.localnet.launcher import ClusterHandle

log = logging.getLogger(__name__)

TRADES_SHOWN = 50
TRADES_POLL_SECONDS = 1.0


def mode_of(config: AppConfig) -> Mode:
    return "dry-run" if config.mode.dry_run else "live"


def wallet_label(config: AppConfig) -> tuple[str, bool]:
    """What the header shows for the wallet, and whether it is a problem. Dry-run loads no signer."""
    if config.mode.dry_run:
        return "no signer (dry-run)", False
    path = (
        localnet_keypair_path(config.store.dir)
        if config.cluster.name == "localnet"
        else config.wallet.keypair_path
    )
    try:
        return load_keypair(path, for_live=True).short, False
    except KeypairError as exc:
        return f"wallet unusable: {exc.reason}", True


class StatusHeader(Static):
    """One line: cluster · mode · wallet · engine state."""

    def __init__(self, config: AppConfig, engine_state: str = "not started") -> None:
        super().__init__(id="status")
        self.config = config
        self.engine_state = engine_state
        self.cluster_state = ""
        self.plain = ""

    def on_mount(self) -> None:
        self.refresh_status()

    def refresh_status(self) -> None:
        wallet, wallet_bad = wallet_label(self.config)
        text = Text()
        text.append(f" {self.config.cluster.name} ", style="bold reverse")
        if self.cluster_state:
            bad = self.cluster_state.startswith(("failed", "unavailable"))
            text.append(f" {self.cluster_state}", style="bold red" if bad else "")
        text.append(" ")
        if self.config.mode.dry_run:
            text.append(" DRY-RUN ", style="bold black on yellow")
        else:
            text.append(" LIVE ", style="bold white on red blink")
        text.append("  wallet ")
        text.append(wallet, style="bold red" if wallet_bad else "bold")
        text.append("  engine ")
        text.append(self.engine_state, style="bold")
        self.plain = text.plain
        self.update(text)


class Pane(Vertical):
    """A titled, bordered pane holding one table."""

    def __init__(self, title: str, columns: tuple[str, ...], pane_id: str, placeholder: str) -> None:
        super().__init__(id=pane_id, classes="pane")
        self.border_title = title
        self.columns = columns
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_columns(*self.columns)
        yield table
        yield Static(self.placeholder, classes="placeholder")

    @property
    def table(self) -> DataTable[str]:
        return self.query_one(DataTable)


class HelpScreen(ModalScreen[None]):
    """Every key the console answers to."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = bindings

    def compose(self) -> ComposeResult:
        lines = ["[b]Keys[/b]", ""] + [f"  [b]{key:<8}[/b] {description}" for key, description in self.keys]
        lines += ["", "Press escape to close."]
        yield Static("\n".join(lines), id="help-body")


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
    .pane DataTable { height: 1fr; }
    .placeholder { color: $text-muted; height: auto; padding: 0 1; }
    HelpScreen { align: center middle; }
    #help-body { width: 60; height: auto; border: round $accent; background: $surface; padding: 1 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("tab", "focus_next", "Next pane", show=False),
    ]

    def __init__(self, config: AppConfig, *, start_cluster: bool = True) -> None:
        super().__init__()
        self.config = config
        self.mode: Mode = mode_of(config)
        self.start_cluster = start_cluster
        self.cluster: ClusterHandle | None = None
        self._trade_keys: tuple[tuple[str, str, float | None], ...] = ()
        self._reader: StoreReader | None = None

    def compose(self) -> ComposeResult:
        yield StatusHeader(self.config)
        with Grid(id="panes"):
            yield Pane(
                "Opportunities",
                ("route", "size", "gross", "fees", "tip", "net", "age", "state"),
                "opportunities",
                "waiting for the engine…",
            )
            yield Pane(
                "Flash-loan validations", ("attempt", "check", "result", "value"), "validations", "none yet"
            )
            yield Pane(
                "Jito inclusion", ("region", "incl %", "latency", "429s"), "inclusion", "no bundles yet"
            )
            yield Pane("Retries", ("attempt", "#", "next", "reason", "bump"), "retries", "nothing in flight")
            yield Pane(
                "Trades", ("time", "state", "provider", "size $", "P&L $", "tip"), "trades", "no trades yet"
            )
        yield Footer()

    async def on_mount(self) -> None:
        self.sub_title = f"{self.config.cluster.name} · {self.mode}"
        if self.start_cluster:
            self.run_worker(self.connect_cluster(), group="cluster", exclusive=True)
        await self.refresh_trades()
        self.set_interval(TRADES_POLL_SECONDS, self.refresh_trades)

    def on_unmount(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self.cluster is not None:
            self.cluster.stop()  # only stops a cluster this console started

    async def connect_cluster(self) -> None:
        """On localnet with nothing listening, start the embedded cluster in a child process."""
        header = self.query_one(StatusHeader)
        header.cluster_state = "starting…" if self.config.cluster.name == "localnet" else ""
        header.refresh_status()
        try:
            from core.localnet.launcher import LocalnetStartError, ensure_cluster_async
        except ImportError as exc:
            log.error("local cluster unavailable: %s", exc)
            header.cluster_state = "unavailable"
            header.refresh_status()
            return
        try:
            self.cluster = await ensure_cluster_async(self.config)
        except LocalnetStartError as exc:
            log.error("local cluster failed to start: %s", exc)
            header.cluster_state = "failed (see localnet.log)"
        else:
            header.cluster_state = "up"
            if self.config.cluster.name != "localnet":
                header.cluster_state = ""
        header.refresh_status()

    async def refresh_trades(self) -> None:
        try:
            attempts = await asyncio.to_thread(self._read_trades)
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
        pane.query_one(".placeholder", Static).display = not attempts

    def _read_trades(self) -> list[BundleAttempt]:
        if self._reader is None:
            self._reader = StoreReader(self.config.store.dir, self.mode)
        return self._reader.recent_attempts(TRADES_SHOWN)

    def action_help(self) -> None:
        keys = [
            (b.key_display or b.key, b.description)
            for b in self.BINDINGS
            if isinstance(b, Binding) and b.description and b.show
        ]
        keys.append(("tab", "Move between panes"))
        self.push_screen(HelpScreen(keys))

    async def action_quit(self) -> None:
        self.exit(0)


def trade_row(attempt: BundleAttempt) -> tuple[str, ...]:
    when = dt.datetime.fromtimestamp(attempt.created_at, dt.UTC).strftime("%H:%M:%S")
    size = f"{attempt.flash_amount_usd:,.0f}" if attempt.flash_amount_usd is not None else "—"
    pnl_value = attempt.realised_profit_usd if attempt.realised_profit_usd is not None else None
    pnl = f"{pnl_value:+,.2f}" if pnl_value is not None else "—"
    tip = f"{attempt.tip_lamports:,}" if attempt.tip_lamports is not None else "—"
    return (when, attempt.state, attempt.provider or "—", size, pnl, tip)


def run_console(config: AppConfig) -> int:
    """Start the console in this terminal; returns the process exit code."""
    configure_logging(config.store.dir)
    log.info("console starting: cluster=%s mode=%s", config.cluster.name, mode_of(config))
    app = ArbConsole(config)
    try:
        result = app.run()
    finally:
        if app.cluster is not None:
            app.cluster.stop()
    return int(result or app.return_code or 0)
