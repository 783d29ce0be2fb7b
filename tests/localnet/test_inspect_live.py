"""`arbtui inspect PUBKEY --url` against a running local cluster."""

from __future__ import annotations

import asyncio
import json

import pytest

from arbtui.cli import main
from core.protocols import ids
from tests.localnet.conftest import Localnet


async def run_cli(argv: list[str]) -> int:
    # The cluster serves from this event loop; the CLI runs its own loop in a thread.
    return await asyncio.to_thread(main, argv)


async def test_inspect_decodes_a_live_raydium_pool(
    localnet: Localnet, capsys: pytest.CaptureFixture[str]
) -> None:
    pool = localnet.cluster.scenario.raydium_pools[0]
    assert await run_cli(["inspect", str(pool.address), "--url", localnet.url, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "raydium_amm_v4"
    assert out["program"] == str(ids.RAYDIUM_AMM_V4)
    assert (out["coin_vault"], out["pc_vault"]) == (str(pool.coin_vault), str(pool.pc_vault))
    assert out["nonce"] == pool.nonce
    assert out["fees"]["swap_fee_numerator"] == pool.fee_numerator


async def test_inspect_prints_a_live_reserve_and_its_vault_as_text(
    localnet: Localnet, capsys: pytest.CaptureFixture[str]
) -> None:
    reserve = localnet.cluster.scenario.solend_reserves[0]
    assert await run_cli(["inspect", str(reserve.address), "--url", localnet.url]) == 0
    text = capsys.readouterr().out
    assert "kind:" in text and "solend_reserve" in text
    assert f"{reserve.flash_loan_fee_wad}" in text
    assert await run_cli(["inspect", str(reserve.liquidity_supply), "--url", localnet.url]) == 0
    assert "spl_token_account" in capsys.readouterr().out


async def test_inspect_of_a_missing_or_foreign_live_account_exits_1(
    localnet: Localnet, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
    assert await run_cli(["inspect", missing, "--url", localnet.url]) == 1
    assert "no account" in capsys.readouterr().err
    wallet = localnet.cluster.scenario.wallet  # a system account: no kind arbtui decodes
    assert await run_cli(["inspect", str(wallet), "--url", localnet.url]) == 1
    assert "unknown account" in capsys.readouterr().err


async def test_inspect_url_defaults_to_the_configured_rpc_url(
    localnet: Localnet, capsys: pytest.CaptureFixture[str]
) -> None:
    mint = str(ids.USDC_MINT)
    argv = ["inspect", mint, "--json"]
    argv += ["--set", f'cluster.rpc_url="{localnet.url}"', "--set", 'cluster.name="custom"']
    assert await run_cli(argv) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "spl_mint"
