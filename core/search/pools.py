"""One pool as the search sees it: who it is, what it trades, and the state it was quoted from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey


@dataclass(frozen=True, slots=True)
class Pool:
    """A pool snapshot. `state` is the immutable object the dex's exact quoter takes.

    `a_to_b` in a quote means mint_a in, mint_b out (Raydium: coin → pc; Whirlpool: token A → B).
    `slot` is the slot the state was observed at, carried into every opportunity it produces.
    """

    id: Pubkey
    dex: str
    mint_a: Pubkey
    mint_b: Pubkey
    state: Any
    slot: int

    def __post_init__(self) -> None:
        if self.mint_a == self.mint_b:
            raise ValueError(f"pool {self.id}: mint_a and mint_b are the same mint {self.mint_a}")
