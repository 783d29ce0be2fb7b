"""Wiring of a Submitter over a real store file and the local stack, as the engine wires it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
from solders.pubkey import Pubkey

from core.config import RetryConfig, RiskConfig
from core.events import EventBus
from core.execution.compute import ComputeBudgetPlanner
from core.execution.jito_client import JitoClient
from core.execution.kill_switch import KillSwitch
from core.execution.lifecycle import Lifecycle, TransitionHook
from core.execution.rpc import JsonRpc
from core.execution.submitter import Submitter
from core.store import StoreReader, StoreWriter
from tests.execution.conftest import Stack

FAST_RETRY = RetryConfig(max_attempts=3, base_delay_ms=10, max_delay_ms=50, fee_bump=1.5)


class SimulatedCrash(Exception):
    """Raised from a lifecycle hook: the engine dies right after a state became durable."""


@dataclass
class Wired:
    submitter: Submitter
    writer: StoreWriter
    kill: KillSwitch
    bus: EventBus

    async def shutdown(self) -> None:
        await self.submitter.close()
        await self.writer.close()


async def wire(
    stack: Stack,
    store_dir: Path,
    wallet: Pubkey,
    *,
    hook: TransitionHook | None = None,
    retry: RetryConfig = FAST_RETRY,
    risk: RiskConfig | None = None,
    rate_per_s: float = 100.0,
    outbid_after_slots: int | None = 3,
    jito_http: httpx.AsyncClient | None = None,
    compute: ComputeBudgetPlanner | None = None,
) -> Wired:
    writer = await StoreWriter.open(store_dir, "live")
    bus = EventBus()
    kill = KillSwitch(risk or RiskConfig(max_failure_rate=1.0, max_consecutive_failures=1000),
                      mode="live", bus=bus, writer=writer)
    with StoreReader(store_dir, "live") as reader:
        kill.load(reader)
    submitter = Submitter(
        jito=JitoClient(stack.regions, jito_http or stack.http, rate_per_s=rate_per_s, bus=bus),
        rpc=JsonRpc(stack.http),
        rpc_url=stack.rpc_url,
        lifecycle=Lifecycle(writer, bus=bus, hook=hook),
        kill_switch=kill,
        retry=retry,
        wallet=wallet,
        poll_interval_s=0.01,
        outbid_after_slots=outbid_after_slots,
        compute=compute,
    )
    return Wired(submitter, writer, kill, bus)
