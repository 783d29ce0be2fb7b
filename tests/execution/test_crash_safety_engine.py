"""Crash safety of the WHOLE engine process: `python -m core.daemon --no-cluster` (the real Runtime =
Engine + FlashLoanPipeline, live, auto approval) trades against this test's local cluster and block
engine over loopback; the test keeps opening price gaps with real swaps, SIGKILLs the engine at
seeded random moments, restarts it on the same store (lock and socket takeover), stops it cleanly at
the end and checks that no attempt is lost or left half-done, nothing reached the block engine
twice, every bundle the block engine saw is in the store, and the store's realised profit is
exactly the wallet's USDC change.

Size: the run keeps opening gaps until at least TARGET_SETTLED live trades have landed and
settled across KILLS + 1 engine lives (each gap yields a few trades: the engine sends one bundle
per pool at a time, and the cycles through the moved pool are quoted again after each landing).
The test asserts the count of settled trades it reached, never a duration.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from solana.rpc.commitment import Processed
from solana.rpc.core import RPCException
from solders.transaction import VersionedTransaction

from core.config import AppConfig, load_config
from core.daemon.client import EngineClient, EngineUnavailable
from core.daemon.process import spawn_engine, stop_engine, tail
from core.execution.jito_client import bundle_id_of
from core.store import FINAL_STATES, BundleAttempt, StoreReader, store_exists
from tests.feed.live import WAIT, Live, pool_by, start_live, stop_live, swap, units
from tests.localnet.conftest import LocalBlockEngine, start_block_engine, stop_block_engine
from tests.test_pipeline import operator_store

pytestmark = pytest.mark.timeout(300)

SEED = 20261126
KILLS = 8
TARGET_SETTLED = 200
GAPS_PER_LIFE = (6, 10)  # gaps opened in one engine life before its kill (inclusive range)
MAX_GAPS = 150  # the last life, which ends in a clean stop, opens gaps until TARGET_SETTLED
GAP_USDC = 400_000
REGIONS = ("ny", "frankfurt")
QUIET_S = 2.0  # 40 slots without a new row or anything in flight before the final clean stop


class Harness:
    def __init__(self, live: Live, be: LocalBlockEngine, store: Path) -> None:
        self.live = live
        self.be = be
        self.store = store
        # Server-side count of sendBundle intake per (bundle id, region): what "sent twice" means.
        self.sends: Counter[tuple[str, str]] = Counter()
        original = be.engine.submit

        def counting_submit(txs: list[VersionedTransaction], region: str = "default", **kw: object) -> str:
            if "source" not in kw:  # the engine's bundles, not simulated competitors
                self.sends[(bundle_id_of(txs), region)] += 1
            return original(txs, region, **kw)  # type: ignore[arg-type]

        be.engine.submit = counting_submit  # type: ignore[method-assign]

    def config(self) -> AppConfig:
        return load_config(None, {
            "store.dir": str(self.store),
            "cluster.name": "localnet",
            "cluster.rpc_url": self.live.rpc_url,
            "cluster.ws_url": self.live.ws_url,
            "jito.regions": {name: self.be.url(name) for name in REGIONS},
            # The local block engine here has no rate limit; at Jito's 1 request/s per region the
            # 200 trades would take minutes (each bundle goes to every region).
            "jito.rate_limit_per_s": 1000,
            "flash_loan.enabled": True,
            "flash_loan.provider": "solend",
            "flash_loan.min_profit_usd": 1.0,
            "search.loan_mints": ["USDC"],
            "mode.dry_run": False,
            "mode.approval": "auto",
            "mode.auto_min_profit_usd": 1.0,
            "mode.auto_max_amount_usdc": 10_000,
            "mode.approval_ttl_slots": 1000,
            # The failure thresholds stay at their defaults. The local market's gaps are worth
            # thousands of dollars a trade, so the tips they pay would trip the hourly tip budget.
            "risk.max_tip_spend_sol_per_hour": 1e6,
        }, search_default_paths=False)

    async def start_engine(self) -> subprocess.Popen[bytes]:
        process = spawn_engine(self.config(), start_cluster=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while True:
            try:
                client = await EngineClient.connect(self.store)
            except EngineUnavailable:
                assert process.poll() is None, f"engine exited {process.returncode}:\n{tail(self.store)}"
                assert loop.time() < deadline, f"engine never answered:\n{tail(self.store)}"
                await asyncio.sleep(0.05)
                continue
            await client.close()
            return process

    async def usdc(self) -> int:
        ata = self.live.scenario.wallet_token_accounts["USDC"]
        async with self.live.local.client("processed") as client:
            return int((await client.get_token_account_balance(ata, Processed)).value.amount)

    async def open_gap(self, n: int) -> None:
        """Alternate directions on SOL/USDC pool 0 so the market does not drift one way for ever;
        each pair of gaps from its own noise trader, so none runs out of either token."""
        scenario = self.live.scenario
        pool = pool_by(scenario, "SOL", "USDC", 0)
        for retry in range(5):
            try:
                trader = n // 2 % len(scenario.traders)
                if n % 2 == 0:
                    await swap(self.live, pool, units(scenario, "USDC", GAP_USDC), coin_to_pc=False,
                               trader=trader)
                else:  # at most GAP_USDC worth of SOL (genesis prices SOL at 150-250 USD)
                    await swap(self.live, pool, units(scenario, "SOL", GAP_USDC / 250), coin_to_pc=True,
                               trader=trader)
                return
            except RPCException:
                # The engine's own trade moved the pool between the quote and the swap (slippage).
                if retry == 4:
                    raise
                await asyncio.sleep(0.05)

    async def attempts(self) -> list[BundleAttempt]:
        # Off the event loop: the cluster and the block engine the engine talks to run on it.
        return await asyncio.to_thread(self._attempts)

    def _attempts(self) -> list[BundleAttempt]:
        if not store_exists(self.store, "live"):
            return []
        with StoreReader(self.store, "live") as reader:
            return list(reader.iter_attempts())

    async def wait_settled_beyond(self, count: int, timeout: float) -> None:
        """Until more than `count` live attempts settled, or `timeout` (a gap may yield no trade)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if sum(a.state == "settled" for a in await self.attempts()) > count:
                return
            await asyncio.sleep(0.05)


    def book_state(self, bid: str | None) -> str | None:
        record = self.be.engine.book.get(bid) if bid else None
        return None if record is None else record.state

    async def wait_quiet(self, timeout: float, quiet_s: float = QUIET_S) -> None:
        """Until, for QUIET_S on end, no bundle of ours is pending at the block engine, no live row
        is unsettled and no new row appears: the market has been arbitraged flat and the engine has
        nothing left to do (a stop that races a fresh opportunity is not what this test is about)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet_since: float | None = None
        seen = -1
        while loop.time() < deadline:
            ours = {bid for bid, _ in self.sends}
            pending = any(self.book_state(bid) == "Pending" for bid in ours)
            rows = await self.attempts()
            if pending or len(rows) != seen or any(a.state not in FINAL_STATES for a in rows):
                quiet_since, seen = None, len(rows)
            elif quiet_since is None:
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= quiet_s:
                return
            await asyncio.sleep(0.1)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    live = await start_live()
    be = await start_block_engine(live.local)
    store = operator_store(tmp_path, live)
    h = Harness(live, be, store)
    try:
        yield h
    finally:
        try:
            await stop_engine(store, timeout=30)
        finally:
            await stop_block_engine(be)
            await stop_live(live)


async def test_sigkilled_engine_process_restarts_on_its_store_losing_and_resending_nothing(
    harness: Harness,
) -> None:
    rng = random.Random(SEED)
    before = await harness.usdc()
    gaps = 0
    kills = 0
    settled_at_kill: list[int] = []
    open_at_kill: list[int] = []  # rows a kill left half-way: what the restarts must reconcile
    for _ in range(KILLS):
        process = await harness.start_engine()
        try:
            for _ in range(rng.randint(*GAPS_PER_LIFE) - 1):
                settled = sum(a.state == "settled" for a in await harness.attempts())
                await harness.open_gap(gaps)
                gaps += 1
                await harness.wait_settled_beyond(settled, timeout=5)
            # The last gap of this life: kill at a random moment while its trade is on the way
            # (detected, validated, approved, simulated, submitted, landed or settling).
            await harness.open_gap(gaps)
            gaps += 1
            await asyncio.sleep(rng.uniform(0.0, 0.6))
            assert process.poll() is None, f"engine died on its own:\n{tail(harness.store)}"
            process.kill()  # SIGKILL: no cleanup, no flush, no finally
            kills += 1
        finally:
            if process.poll() is None:
                process.kill()
            await asyncio.to_thread(process.wait)
        rows = await harness.attempts()
        settled_at_kill.append(sum(a.state == "settled" for a in rows))
        open_at_kill.append(sum(a.state not in FINAL_STATES for a in rows))

    # The last life trades until the run holds TARGET_SETTLED trades, then stops cleanly:
    # in-flight bundles settle first.
    process = await harness.start_engine()
    settled = sum(a.state == "settled" for a in await harness.attempts())
    while settled < TARGET_SETTLED and gaps < MAX_GAPS:
        await harness.open_gap(gaps)
        gaps += 1
        await harness.wait_settled_beyond(settled, timeout=5)
        # Each landing moves pools and opens smaller gaps elsewhere: let the engine take them.
        await harness.wait_quiet(timeout=10, quiet_s=0.5)
        settled = sum(a.state == "settled" for a in await harness.attempts())
    # Let every bundle still out be decided by the block engine (landed, or its blockhash expired)
    # and followed into the store, so the clean stop has nothing left in flight.
    await harness.wait_quiet(timeout=40)
    assert await stop_engine(harness.store, timeout=60) == process.pid
    assert await asyncio.to_thread(process.wait, WAIT) == 0, tail(harness.store)
    assert kills == KILLS
    assert any(open_at_kill), f"no kill caught a trade in flight: {open_at_kill}"

    attempts = await harness.attempts()
    settled_rows = [a for a in attempts if a.state == "settled"]
    print(f"gaps opened {gaps}, attempts {len(attempts)}, settled {len(settled_rows)}, "
          f"settled at each kill {settled_at_kill}, open at each kill {open_at_kill}, "
          f"states {Counter(a.state for a in attempts)}")
    assert len(settled_rows) >= TARGET_SETTLED, Counter(a.state for a in attempts)
    # Nothing lost half-way: every attempt of every life reached a final state.
    open_rows = [(a.state, a.opportunity_id, a.created_at, harness.book_state(a.bundle_id)) for a in attempts
                 if a.state not in FINAL_STATES]
    assert not open_rows, (Counter(a.state for a in attempts), open_rows[:10])
    # Nothing sent twice: each bundle reached each region once (counted by the block engine itself),
    # and no signature rode in two landed bundles.
    assert harness.sends, "the engine never submitted a bundle"
    assert all(n == 1 for n in harness.sends.values()), harness.sends.most_common(3)
    ours = {bid for bid, _ in harness.sends}
    records = [r for r in harness.be.engine.book.records() if r.bundle_id in ours]
    landed_sigs = Counter(sig for r in records if r.state == "Landed" for sig in r.signatures)
    assert all(n == 1 for n in landed_sigs.values()), landed_sigs.most_common(3)
    # Every bundle the block engine saw is in the store, and every settled row's bundle landed there.
    assert ours <= {a.bundle_id for a in attempts}
    landed = {r.bundle_id for r in records if r.state == "Landed"}
    assert {a.bundle_id for a in settled_rows} <= landed
    assert len(settled_rows) == len(landed)
    # The money: the store's realised profit is exactly what the wallet's USDC did.
    realised = sum(a.realised_profit or 0 for a in settled_rows)
    assert realised == await harness.usdc() - before
