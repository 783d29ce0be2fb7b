"""Compute budget: CU limits learned per route shape, priority fees from recent cluster fees.

The CU limit is the p95 of the last `compute.history` measured units of the same route shape ×
`margin` (a too-low limit fails the bundle, a too-high one costs priority fee, which is charged on
the *requested* limit — protocols.md §6). Before any history: `default_cu_per_swap` per swap +
`overhead_cu`. Never above `max_compute_units`. Measurements come from simulations and landed
transactions and are persisted, so a restart keeps what it learned.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Literal

from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import Instruction
from solders.pubkey import Pubkey

from core.config import ComputeConfig
from core.execution.rpc import JsonRpc
from core.store import ComputeSample, StoreReader, StoreWriter

Urgency = Literal["low", "medium", "high", "critical"]
MAX_FEE_ADDRESSES = 128


def percentile(values: Sequence[int], p: float) -> int:
    """Nearest-rank percentile (an observed value, never an interpolation); 0 for no values."""
    if not values:
        return 0
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def route_shape(provider: str, venues: Sequence[str]) -> str:
    """Routes with the same provider and venue sequence consume about the same compute."""
    return f"{provider}:{'>'.join(venues)}"


class ComputeBudgetPlanner:
    def __init__(self, config: ComputeConfig, writer: StoreWriter | None = None) -> None:
        self.config = config
        self.writer = writer  # where `record` persists unless told otherwise
        self._samples: dict[str, deque[int]] = defaultdict(lambda: deque(maxlen=config.history))

    def load(self, reader: StoreReader) -> None:
        for shape in reader.compute_shapes():
            self._samples[shape].extend(s.units for s in reader.compute_samples(shape, self.config.history))

    def record(self, shape: str, units: int, source: str = "simulation",
               writer: StoreWriter | None = None) -> None:
        """One measurement; persisted to `writer` (the mode's store it was measured in) or the default."""
        if units <= 0:
            return
        self._samples[shape].append(units)
        target = writer if writer is not None else self.writer
        if target is not None:
            target.add_compute_sample(ComputeSample(shape=shape, units=units, at=time.time(), source=source))

    def samples(self, shape: str) -> list[int]:
        return list(self._samples.get(shape, ()))

    def cu_limit(self, shape: str, swaps: int) -> int:
        history = self._samples.get(shape)
        if history:
            # ceil, but not of float noise (118_000 × 1.1 is 129800.00000000001)
            limit = math.ceil(percentile(list(history), 95) * self.config.margin - 1e-6)
        else:
            limit = self.config.default_cu_per_swap * swaps + self.config.overhead_cu
        return max(1, min(limit, self.config.max_compute_units))

    def fee_percentile(self, urgency: Urgency) -> int:
        return int(getattr(self.config.fee_percentile, urgency))


async def priority_fee(
    rpc: JsonRpc, rpc_url: str, writable: Sequence[Pubkey], percentile_: int
) -> int:
    """Micro-lamports per CU at `percentile_` of getRecentPrioritizationFees over these accounts."""
    keys = [str(k) for k in list(dict.fromkeys(writable))[:MAX_FEE_ADDRESSES]]
    result = await rpc.call(rpc_url, "getRecentPrioritizationFees", [keys])
    fees = [int(entry["prioritizationFee"]) for entry in result or () if isinstance(entry, dict)]
    return percentile(fees, percentile_)


def budget_instructions(cu_limit: int, cu_price_micro_lamports: int) -> list[Instruction]:
    """The two ComputeBudget instructions, first in the transaction (they shift later indexes)."""
    ixs = [set_compute_unit_limit(cu_limit)]
    if cu_price_micro_lamports > 0:
        ixs.append(set_compute_unit_price(cu_price_micro_lamports))
    return ixs


def priority_fee_lamports(cu_limit: int, cu_price_micro_lamports: int) -> int:
    """ceil(price × limit / 1e6): what the leader is paid (agave `get_prioritization_fee`)."""
    return -(-cu_price_micro_lamports * cu_limit // 1_000_000)
