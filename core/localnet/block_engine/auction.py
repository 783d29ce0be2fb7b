"""One auction tick: bundles whose write locks overlap compete; the best tip per requested CU wins.

Bundles that do not overlap anything all go through (Jito's parallel "local state" auctions).
A loser is out for the rest of the slot and competes again in the next one, until its blockhash
expires. A winner that fails execution frees its locks, so the runner-up still gets its chance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from solders.pubkey import Pubkey

from core.localnet.block_engine.statuses import BundleRecord


def ranking(record: BundleRecord) -> tuple[float, int]:
    return (-record.tip_per_cu, record.seq)


@dataclass
class TickOutcome:
    executed: list[BundleRecord] = field(default_factory=list)  # in execution order
    lost: list[BundleRecord] = field(default_factory=list)


def run_tick(
    candidates: Iterable[BundleRecord], slot: int, execute: Callable[[BundleRecord], bool]
) -> TickOutcome:
    """Rank `candidates`, execute the winners in order; `execute` returns True when it landed."""
    outcome = TickOutcome()
    taken: set[Pubkey] = set()
    for record in sorted(candidates, key=ranking):
        if not taken.isdisjoint(record.locks):
            record.lost_slot = slot
            record.auctions_lost += 1
            outcome.lost.append(record)
            continue
        outcome.executed.append(record)
        if execute(record):
            taken.update(record.locks)
    return outcome
