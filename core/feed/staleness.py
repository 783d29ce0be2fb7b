"""How old the feed's market state is, in slots, and when it must not be acted on.

`cluster_slot` is the newest slot anyone reported (slot notifications, RPC answers, the watchdog's
getSlot); `synced_slot` is the slot through which every update has been applied — the start of
the newest slot whose slot notification arrived while subscribed, or the slot a resync fetched at.
The state's age is their difference; past `max_age_slots`, or while disconnected, it is stale.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Freshness:
    max_age_slots: int
    cluster_slot: int = 0
    synced_slot: int = 0
    connected: bool = False
    synced: bool = False  # a resync has completed on the current connection

    def saw_slot(self, slot: int) -> None:
        if slot > self.cluster_slot:
            self.cluster_slot = slot

    def synced_to(self, slot: int) -> None:
        self.saw_slot(slot)
        if slot > self.synced_slot:
            self.synced_slot = slot

    @property
    def age_slots(self) -> int:
        return max(0, self.cluster_slot - self.synced_slot)

    @property
    def current(self) -> bool:
        """True when the state may be acted on."""
        return self.connected and self.synced and self.age_slots <= self.max_age_slots
