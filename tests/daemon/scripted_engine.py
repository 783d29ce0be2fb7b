"""An engine host for daemon tests: a real `Runtime` (queue, mode, store) fed scripted events.

`python -m core.daemon --factory tests.daemon.scripted_engine:build --no-cluster` runs it in the
background exactly as the real engine runs. At start it offers opportunities 1..3 for approval,
then ticks a slot every SLOT_S; every approval is dispatched as a bundle that lands at once.
"""

from __future__ import annotations

import asyncio
import contextlib

from solders.pubkey import Pubkey

from core.approvals import Candidate
from core.config import AppConfig
from core.events import AttemptUpdate, FeedHealth, SlotTick
from core.keypair import Signer
from core.protocols import ids
from core.runtime import Runtime
from core.search.fees import FeeBreakdown
from core.search.opportunities import Hop, Opportunity
from core.store import Mode

SLOT_S = 0.2
OFFERED = (1, 2, 3)


def opportunity(oid: int, slot: int) -> Opportunity:
    fees = FeeBreakdown(flash_fee=50_000, network_fee=10_000, network_fee_lamports=10_000, tip=5_000,
                        tip_lamports=20_000)
    route = (
        Hop(Pubkey.new_unique(), "raydium_amm_v4", True, ids.USDC_MINT, ids.NATIVE_MINT),
        Hop(Pubkey.new_unique(), "whirlpool", False, ids.NATIVE_MINT, ids.USDC_MINT),
    )
    net = oid * 1_000_000
    gross = net + fees.total
    return Opportunity(oid, oid, ids.USDC_MINT, route, 100_000_000, 100_000_000 + gross, gross, fees, net,
                       slot, (slot, slot), 0)


class LandingPipeline:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def prepare(self, opp: Opportunity, mode: Mode) -> Candidate | None:
        return Candidate(opp, f"att-{opp.id}", amount_usd=100.0, net_usd=opp.net / 1e6)

    async def recheck(self, candidate: Candidate) -> str | None:
        return None

    async def dispatch(self, candidate: Candidate, mode: Mode, signer: Signer | None) -> None:
        bus = self.runtime.bus
        bus.publish(AttemptUpdate(candidate.attempt_id, candidate.opportunity_id, "submitted"))
        bus.publish(AttemptUpdate(candidate.attempt_id, candidate.opportunity_id, "landed", realized_pnl=1))


class ScriptedEngine:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self, reason: str = "") -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        bus = self.runtime.bus
        slot = 10
        bus.publish(FeedHealth(connected=True, slot=slot, stale_slots=0, pools=22))
        while self.runtime.state != "running":
            await asyncio.sleep(0.01)
        for oid in OFFERED:
            opp = opportunity(oid, slot)
            bus.publish(opp)
            await self.runtime.handle(opp)
        while True:
            await asyncio.sleep(SLOT_S)
            slot += 1
            bus.publish(SlotTick(slot))


def build(config: AppConfig) -> Runtime:
    runtime = Runtime(config, with_engine=False)
    runtime.pipeline = LandingPipeline(runtime)
    runtime.engine = ScriptedEngine(runtime)
    return runtime
