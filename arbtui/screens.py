"""Modal screens: help, the live-mode confirmation, an opportunity's detail, quit confirmation."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from core.mode import LivePreview
from core.store import BundleAttempt


class HelpScreen(ModalScreen[None]):
    """Every key the console answers to."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = bindings

    def compose(self) -> ComposeResult:
        lines = ["[b]Keys[/b]", ""] + [f"  [b]{key:<8}[/b] {description}" for key, description in self.keys]
        lines += ["", "ctrl+p lists every action. Press escape to close."]
        yield VerticalScroll(Static("\n".join(lines)), id="help-body")


class LiveModal(ModalScreen[str | None]):
    """Going live: states what is at stake and needs the typed word; Enter alone never confirms.

    Focus starts on Cancel, the Go-live button stays disabled until the word matches, and the
    input's own Enter only confirms when the word matches.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, preview: LivePreview) -> None:
        super().__init__()
        self.preview = preview

    def compose(self) -> ComposeResult:
        p = self.preview
        with Vertical(id="live-body"):
            yield Static("[b reverse red] SWITCH TO LIVE [/]  real transactions, real money", id="live-title")
            yield Static(f"cluster  [b]{p.cluster}[/b]\nwallet   [b]{p.wallet}[/b]\ncaps     {p.caps}")
            if p.problem:
                yield Static(f"[b red]cannot go live:[/] {p.problem}", id="live-problem")
            yield Static(f"Type [b]{p.word}[/b] to confirm:")
            yield Input(placeholder=p.word, id="live-word", disabled=bool(p.problem))
            with Horizontal(id="live-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Go live", id="confirm", variant="error", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = event.value.strip() != self.preview.word

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.preview.word:
            self.dismiss(event.value.strip())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self.dismiss(self.query_one("#live-word", Input).value.strip())
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmQuit(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "answer(False)", "Stay"),
        Binding("y", "answer(True)", "Quit"),
    ]

    def __init__(self, in_flight: int) -> None:
        super().__init__()
        self.in_flight = in_flight

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-body"):
            yield Static(
                f"[b]{self.in_flight} bundle(s) in flight.[/b]\n"
                "Quitting stops watching them; the engine reconciles them on its next start.\n\n"
                "Quit anyway?  [b]y[/b] yes   [b]n[/b] no"
            )

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class DetailScreen(ModalScreen[None]):
    """One opportunity: its quote, its validations and the whole lifecycle of its attempts."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(self, title: str, lines: list[str]) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-body"):
            yield Static(f"[b]{self.title_text}[/b]")
            yield Static("\n".join(self.lines), id="detail-lines")

    def add_attempts(self, attempts: list[BundleAttempt]) -> None:
        lines = []
        for a in attempts:
            lines.append(
                f"attempt {a.attempt} {a.id}: {a.state}  cu {a.cu_limit or '—'}  tip {a.tip_lamports or '—'}"
            )
            if a.bundle_id:
                lines.append(f"  bundle {a.bundle_id}")
            for sig in a.signatures or []:
                lines.append(f"  sig {sig}")
            if a.error_class:
                lines.append(f"  error {a.error_class}: {a.error_detail or ''}")
        if lines:
            body = self.query_one("#detail-lines", Static)
            self.lines = [*self.lines, "", "[b]stored attempts[/b]", *lines]
            body.update("\n".join(self.lines))
