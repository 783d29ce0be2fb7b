"""The commands a console (or any other front end) may send the engine, and the stream it reads.

The console holds only an `EngineLink`: in one process it is the engine's own `Runtime`; across
processes it is `core.daemon.client.EngineClient` with the same methods, so the console never
knows which.
"""

from __future__ import annotations

from typing import Protocol

from core.approvals import Outcome
from core.events import Event, Subscription
from core.mode import LivePreview
from core.store import Mode


class EngineLink(Protocol):
    @property
    def mode(self) -> Mode: ...

    @property
    def state(self) -> str: ...  # running / paused / stopped / killed

    def subscribe(self) -> Subscription: ...

    def snapshot(self) -> list[Event]:
        """Events that rebuild the current view from nothing (header, pending, recent opportunities)."""
        ...

    def in_flight(self) -> int: ...

    async def approve(self, opportunity_id: int, key: str = "a") -> Outcome: ...

    async def approve_all(self, key: str = "A") -> list[Outcome]: ...

    async def reject(self, opportunity_id: int, key: str = "r") -> Outcome: ...

    def preview_live(self) -> LivePreview: ...

    async def switch_to_live(self, typed: str) -> None:
        """Raises core.mode.ModeSwitchRefused with the reason when it does not switch."""
        ...

    async def switch_to_dry_run(self) -> None: ...

    async def pause(self) -> None: ...

    async def resume(self, *, reset: bool = False, by: str = "", reason: str = "") -> None:
        """Paused → running; killed → running only with reset=True, who (`by`) and why (`reason`)."""
        ...

    async def kill(self, reason: str) -> None: ...
