"""Reconnect delays: exponential with full jitter, so a fleet of clients never reconnects in step."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    min_s: float
    max_s: float
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.min_s <= self.max_s:
            raise ValueError(f"need 0 < min_s <= max_s, got {self.min_s}, {self.max_s}")

    def next_delay(self) -> float:
        """min_s · 2^attempt capped at max_s, then a uniform draw in [min_s, that]."""
        ceiling = min(self.max_s, self.min_s * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        return self.rng.uniform(self.min_s, ceiling)

    def reset(self) -> None:
        self.attempt = 0
