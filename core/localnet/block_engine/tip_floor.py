"""`GET /api/v1/bundles/tip_floor`: percentiles of the tips of bundles that landed locally."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

LAMPORTS_PER_SOL = 1_000_000_000
PERCENTILES = (25, 50, 75, 95, 99)
# With nothing landed yet the floor is the minimum tip the block engine accepts.
MIN_TIP_LAMPORTS = 1_000


def percentile(sorted_values: list[int], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, statistics' "inclusive")."""
    if not sorted_values:
        raise ValueError("no values")
    rank = (len(sorted_values) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


class TipFloor:
    """Landed tips (lamports) of the last `window` bundles, and an EMA of their median per slot."""

    def __init__(self, window: int = 10_000, ema_alpha: float = 0.1,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._tips: deque[int] = deque(maxlen=window)
        self.ema_alpha = ema_alpha
        self.ema_p50: float | None = None
        self.wall_clock = wall_clock

    def record(self, tip_lamports: int) -> None:
        self._tips.append(tip_lamports)

    def close_slot(self) -> None:
        """Fold the current median into the EMA once per slot in which bundles landed."""
        if not self._tips:
            return
        p50 = percentile(sorted(self._tips), 50)
        a = self.ema_alpha
        self.ema_p50 = p50 if self.ema_p50 is None else a * p50 + (1 - a) * self.ema_p50

    @property
    def tips(self) -> list[int]:
        return list(self._tips)

    def to_json(self) -> list[dict[str, Any]]:
        ordered = sorted(self._tips) or [MIN_TIP_LAMPORTS]
        row: dict[str, Any] = {
            "time": datetime.fromtimestamp(self.wall_clock(), UTC).isoformat().replace("+00:00", "Z"),
        }
        for p in PERCENTILES:
            row[f"landed_tips_{p}th_percentile"] = percentile(ordered, p) / LAMPORTS_PER_SOL
        ema = self.ema_p50 if self.ema_p50 is not None else percentile(ordered, 50)
        row["ema_landed_tips_50th_percentile"] = ema / LAMPORTS_PER_SOL
        return [row]
