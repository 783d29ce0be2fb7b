"""Snapshots of the main screen, detail, help and the live modal at 80×24 and 160×48.

Accepted SVGs live in tests/__snapshots__/; after an intended change, review and refresh them with
`pytest tests/test_console_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from textual.pilot import Pilot

from arbtui.app import ArbConsole
from core.approvals import Candidate
from core.config import load_config
from core.events import CheckResult, EngineState, FeedHealth, RegionStats, TipPolicy, ValidationResult
from core.keypair import localnet_keypair_path
from core.protocols import ids
from core.runtime import Runtime
from core.search.fees import FeeBreakdown
from core.search.opportunities import Hop, Opportunity

SIZES = [(80, 24), (160, 48)]


@pytest.fixture(autouse=True)
def utc_clean_env(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")


def fixed_opportunity(oid: int, net: int) -> Opportunity:
    fees = FeeBreakdown(
        flash_fee=50_000, network_fee=10_000, network_fee_lamports=10_000, tip=5_000, tip_lamports=20_000
    )
    route = (
        Hop(Pubkey(bytes([oid]) * 32), "raydium_amm_v4", True, ids.USDC_MINT, ids.NATIVE_MINT),
        Hop(Pubkey(bytes([oid + 100]) * 32), "whirlpool", False, ids.NATIVE_MINT, ids.USDC_MINT),
    )
    gross = net + fees.total
    return Opportunity(
        oid, oid, ids.USDC_MINT, route, 250_000_000, 250_000_000 + gross, gross, fees, net, 40, (40, 40), 0
    )


class Staged:
    async def prepare(self, opp: Opportunity, mode: str) -> Candidate | None:
        return Candidate(opp, f"att-{opp.id}", 250.0, opp.net / 1e6)

    async def recheck(self, candidate: Candidate) -> str | None:
        return None

    async def dispatch(self, candidate: Candidate, mode: str, signer: Any) -> None:
        return None


def app_for(tmp_path: Path) -> tuple[ArbConsole, Any]:
    store = tmp_path / "store"
    store.mkdir()
    key = localnet_keypair_path(store)
    key.write_text(json.dumps(list(bytes(Keypair.from_seed(bytes(range(32)))))))
    key.chmod(0o600)
    config = load_config(None, {"store.dir": str(store)}, search_default_paths=False)
    app = ArbConsole(config, start_cluster=False)

    async def stage(pilot: Pilot[Any]) -> None:
        runtime = Runtime(config, pipeline=Staged(), with_engine=False)
        await runtime.start()
        pilot.app.attach(runtime)  # type: ignore[attr-defined]
        bus = runtime.bus
        bus.publish(EngineState("running", "dry-run", cluster="localnet"))
        for oid, net in ((1, 3_210_000), (2, 1_500_000), (3, 870_000)):
            opp = fixed_opportunity(oid, net)
            bus.publish(opp)
            if oid != 3:
                await runtime.handle(opp)
        # After the queue took the quotes (at their slot 40): the runtime learns slot 42 by
        # following the bus, and whether it had yet must not decide the expiry the image shows.
        bus.publish(FeedHealth(connected=True, slot=42, stale_slots=0, pools=30))
        checks = (
            CheckResult("liquidity", True, "250.00", ">= 250.00"),
            CheckResult("net_profit", True, "$3.21", ">= $0.50"),
            CheckResult("compute_units", True, "212,400", "<= 400,000"),
            CheckResult("slippage", False, "0.62%", "<= 0.50%"),
            CheckResult("reserve_health", True, "util 41%", "< 95%"),
        )
        bus.publish(ValidationResult(1, "att-1", "solend", 250_000_000, checks))
        for region, sent, landed, p50 in (
            ("ny", 20, 14, 38.0),
            ("frankfurt", 12, 6, 95.0),
            ("tokyo", 8, 2, 170.0),
        ):
            bus.publish(RegionStats(region, sent, landed, 1, 0, p50, landed / sent))
        bus.publish(TipPolicy(5.0, 1.5, 1.1, 10_000, 24_000))
        await pilot.pause(0.3)
        pilot.app.redraw()  # type: ignore[attr-defined]
        await pilot.pause(0.1)

    return app, stage


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app, stage = app_for(tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=stage)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_detail_screen(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app, stage = app_for(tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=stage, press=["enter", "_"])


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app, stage = app_for(tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=stage, press=["question_mark", "_"])


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_live_modal(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app, stage = app_for(tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=stage, press=["d", "_"])
