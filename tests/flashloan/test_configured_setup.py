"""Flash loans off localnet: providers, pricer and owner from the configuration.

The loopback tests run the local cluster but configure the engine as `cluster.name = "custom"`
with the reserves, banks, pricing pool and wallet named in the configuration (taken from the
genesis, which uses the mainnet program ids and real layouts): exactly the path an operator on
mainnet-beta takes, with nothing read from `arbtui_getScenario`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from core.config import LOAN_MINT_SYMBOLS, ConfigError, load_config, mint_table_keys
from core.events import EventBus, TokenList
from core.flashloan.configured_setup import (
    ConfiguredSetupError,
    configured_setup,
    missing_keys,
    providers_from_config,
)
from core.keypair import localnet_keypair_path
from core.localnet.genesis import Scenario
from core.localnet.genesis_kamino import kamino_reserves
from core.localnet.genesis_marginfi import marginfi_account, marginfi_banks
from core.localnet.programs import program_bytes
from core.mode import ModeSwitchRefused, StoreSet
from core.pipeline import default_pipeline
from core.protocols import ids
from core.store import StoreReader
from tests.feed.live import Live, pool_by
from tests.test_pipeline import Stack, attempt_row, open_stack, rehearse, trade

REPO = Path(__file__).resolve().parents[2]
SOLEND_USDC = "So1endDq2YkqhipRh3WViPa8hdiSpxWy6z3Z6tMCpAo"  # any valid base58 key serves here
SOME_KEY = "HmpMfL8942u22htC4EMiWgLX931g3sacXFR6KjuLgKLV"


def config(**overrides: object):  # type: ignore[no-untyped-def]
    return load_config(None, {"cluster.name": "mainnet-beta", **overrides}, search_default_paths=False)


def problems(**overrides: object) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        config(**overrides)
    return raised.value.lines()


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize(("key", "value"), [
    ("wallet.pubkey", "not-a-key"),
    ("flash_loan.marginfi_account", "0OIl"),
    ("flash_loan.sol_usdc_pool", ""),
    ("flash_loan.solend_reserves", {"USDC": "nope"}),
    ("flash_loan.kamino_reserves", {"USDC": "0" * 44}),
    ("flash_loan.marginfi_banks", {"USDT": "x"}),
    ("flash_loan.sol_pools", {"USDT": "bad pool"}),
])
def test_a_bad_base58_address_is_an_error_naming_its_key(key: str, value: object) -> None:
    (line,) = problems(**{key: value})
    assert line.startswith(f"{key}: ")
    if isinstance(value, dict):
        assert "USDC" in line or "USDT" in line  # the table entry is named too


def test_a_mint_table_rejects_an_unknown_symbol_and_a_mint_named_twice() -> None:
    (unknown,) = problems(**{"flash_loan.solend_reserves": {"BONK": SOME_KEY}})
    assert unknown.startswith("flash_loan.solend_reserves: ") and "'BONK'" in unknown
    (twice,) = problems(**{"flash_loan.kamino_reserves": {"usdc": SOME_KEY, str(ids.USDC_MINT): SOME_KEY}})
    assert twice.startswith("flash_loan.kamino_reserves: ") and "same mint" in twice


def test_mint_symbols_resolve_in_any_case_beside_base58_mints() -> None:
    other = Pubkey.from_string(SOLEND_USDC)
    table = {"usdc": SOME_KEY, "Sol": SOLEND_USDC, str(other): SOME_KEY}
    cfg = config(**{"flash_loan.solend_reserves": table})
    assert mint_table_keys(cfg.flash_loan.solend_reserves) == {
        ids.USDC_MINT: Pubkey.from_string(SOME_KEY),
        ids.NATIVE_MINT: Pubkey.from_string(SOLEND_USDC),
        other: Pubkey.from_string(SOME_KEY),
    }


def test_config_check_exits_2_naming_a_bad_reserve_key(tmp_path: Path) -> None:
    toml = tmp_path / "arb.toml"
    toml.write_text('[cluster]\nname = "mainnet-beta"\n[flash_loan.solend_reserves]\nUSDC = "bad"\n')
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "arbtui", "config", "check", "--config", str(toml)],
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "flash_loan.solend_reserves" in run.stdout + run.stderr
    assert "Traceback" not in run.stderr


def test_mainnet_marginfi_banks_default_to_the_documented_usdt_bank_and_other_clusters_to_none() -> None:
    assert config().flash_loan.marginfi_banks == {"USDT": "HmpMfL8942u22htC4EMiWgLX931g3sacXFR6KjuLgKLV"}
    custom = load_config(None, {"cluster.name": "custom", "cluster.rpc_url": "http://127.0.0.1:1"},
                         search_default_paths=False)
    assert custom.flash_loan.marginfi_banks == {}
    assert config().flash_loan.sol_usdc_pool == "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2"


def test_missing_keys_name_the_wallet_and_the_reserves() -> None:
    missing = missing_keys(config(**{"flash_loan.enabled": True}))
    assert any(m.startswith("wallet.pubkey") for m in missing)
    # mainnet's derived USDT bank alone is no provider: the MarginFi account is what is missing.
    assert any("flash_loan.marginfi_account" in m for m in missing)
    with pytest.raises(ConfiguredSetupError) as raised:
        configured_setup(config(**{"wallet.pubkey": SOME_KEY}))
    assert raised.value.missing and "flash_loan.marginfi_account" in str(raised.value)
    # Every flash-loan transaction ends with the profit guard: off localnet it must be named.
    assert any(m.startswith("flash_loan.profit_guard_program") for m in missing)


def test_providers_follow_the_configured_tables_in_config_order() -> None:
    cfg = config(**{
        "wallet.pubkey": SOME_KEY,
        "flash_loan.profit_guard_program": SOME_KEY,
        "flash_loan.kamino_reserves": {"USDC": SOME_KEY},
        "flash_loan.solend_reserves": {"USDC": SOME_KEY},
        "flash_loan.marginfi_account": SOLEND_USDC,
    })
    assert [p.name for p in providers_from_config(cfg)] == ["solend", "marginfi", "kamino"]
    setup = configured_setup(cfg)
    assert setup.owner == Pubkey.from_string(SOME_KEY)
    assert setup.pricer.sol_usdc_pool[0] == Pubkey.from_string("58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2")


async def test_default_pipeline_without_wallet_pubkey_is_none_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(**{"flash_loan.enabled": True, "flash_loan.solend_reserves": {"USDC": SOME_KEY},
                    "store.dir": str(tmp_path)})
    stores = StoreSet(tmp_path)
    bus = EventBus()
    shown = bus.subscribe()
    try:
        with caplog.at_level(logging.WARNING, logger="core.pipeline"):
            assert await default_pipeline(cfg, stores, bus, None) is None
    finally:
        await stores.close()
    # Not traded, but shown: the console still names the loan mints.
    (tokens,) = list(shown.drain())
    assert isinstance(tokens, TokenList)
    assert {(t.symbol, t.decimals) for t in tokens.tokens} == {("USDC", 6), ("SOL", 9), ("USDT", 6)}
    (record,) = [r for r in caplog.records if "no flash-loan providers" in r.getMessage()]
    assert "wallet.pubkey" in record.getMessage() and "mainnet-beta" in record.getMessage()
    assert "solend_reserves" not in record.getMessage()  # configured: not named as missing


# ---------------------------------------------------------------- the configured path on loopback


def mint_name(mint: Pubkey) -> str:
    """The configuration's spelling: a symbol where one exists, else base58 (exercises both)."""
    for symbol, key in LOAN_MINT_SYMBOLS.items():
        if key == mint:
            return symbol
    return str(mint)


def lending_config(scenario: Scenario) -> dict[str, object]:
    """The scenario's lending accounts as an operator writes them into arb.toml."""
    account = marginfi_account(scenario)
    assert account is not None
    return {
        "wallet.pubkey": str(scenario.wallet),
        "flash_loan.solend_reserves": {mint_name(r.liquidity_mint): str(r.address)
                                       for r in scenario.solend_reserves},
        "flash_loan.kamino_reserves": {mint_name(r.liquidity_mint): str(r.address)
                                       for r in kamino_reserves(scenario)},
        "flash_loan.marginfi_banks": {mint_name(b.mint): str(b.address) for b in marginfi_banks(scenario)},
        "flash_loan.marginfi_account": str(account),
        "flash_loan.sol_usdc_pool": str(pool_by(scenario, "SOL", "USDC", 0).address),
        # The guard the operator deployed: here the local cluster's, at its own id.
        "flash_loan.profit_guard_program": str(ids.PROFIT_GUARD),
    }


@contextlib.asynccontextmanager
async def custom_stack(tmp_path: Path, provider: str, *, keypair: Path | None = None,
                       guard: Pubkey | None = None) -> AsyncIterator[Stack]:
    """The console's Runtime on a `custom` cluster that happens to be the local one; `keypair`
    replaces the operator's key file (wallet.pubkey stays the operator's); `guard`: the profit
    guard deployed again at this id, as an operator deploys their own."""

    def custom(live: Live, store: Path) -> dict[str, object]:
        if guard is not None:
            live.local.cluster.svm.add_program(guard, program_bytes("profit_guard"))
        return {
            "cluster.name": "custom",
            "wallet.keypair": str(keypair or localnet_keypair_path(store)),  # off localnet: from here
            "flash_loan.provider": provider,
            **lending_config(live.scenario),
            **({"flash_loan.profit_guard_program": str(guard)} if guard is not None else {}),
        }

    async with open_stack(tmp_path, settings=custom) as stack:
        yield stack


async def test_configured_dry_run_builds_validates_and_simulates_without_reading_the_scenario(
    tmp_path: Path,
) -> None:
    async with custom_stack(tmp_path, "auto") as stack:
        pipeline = stack.pipeline
        assert pipeline.owner == stack.wallet
        assert [p.name for p in pipeline.executor.providers] == ["solend", "marginfi", "kamino"]
        assert "arbtui_getScenario" not in stack.request_log()  # nothing came from the genesis
        await rehearse(stack)


@pytest.mark.parametrize("provider", ["solend", "marginfi", "kamino"])
async def test_configured_live_approval_lands_and_the_wallet_gains_the_recorded_profit(
    tmp_path: Path, provider: str
) -> None:
    async with custom_stack(tmp_path, provider) as stack:
        await stack.runtime.switch_to_live("custom")  # off localnet the word is the cluster's name
        candidate, gain = await trade(stack)
        row = attempt_row(stack.store, "live", candidate.attempt_id)
        assert row.state == "settled", (row.state, row.error_detail)
        assert row.provider == provider
        assert row.realised_profit == gain > 0
        assert len(stack.be.engine.book.records()) == 1
        with StoreReader(stack.store, "live") as reader:
            assert json.dumps(reader.attempt(candidate.attempt_id).validation_results)  # recorded


async def test_a_profit_guard_deployed_at_the_operators_own_id_guards_the_trade(tmp_path: Path) -> None:
    guard = Pubkey.new_unique()
    async with custom_stack(tmp_path, "solend", guard=guard) as stack:
        await stack.runtime.switch_to_live("custom")
        candidate, _ = await trade(stack)
        row = attempt_row(stack.store, "live", candidate.attempt_id)
        assert row.state == "settled", (row.state, row.error_detail)
        checks = {c["name"]: c for c in row.validation_results["checks"]}
        assert checks["profit_guard"]["passed"]
        record = stack.live.local.cluster.transaction(Signature.from_string(row.signatures[0]))
        assert record is not None
        message = record.tx.message
        keys = list(message.account_keys)
        programs = {keys[ix.program_id_index] for ix in message.instructions}
        assert guard in programs and ids.PROFIT_GUARD not in programs


async def test_configured_live_refuses_a_keypair_that_is_not_wallet_pubkey(tmp_path: Path) -> None:
    stranger = tmp_path / "stranger.json"
    stranger.write_text(json.dumps(list(bytes(Keypair()))))
    stranger.chmod(0o600)
    async with custom_stack(tmp_path, "solend", keypair=stranger) as stack:
        # Refused at the switch (the live modal shows the same problem), not attempt by attempt.
        assert "not wallet.pubkey" in stack.runtime.preview_live().problem
        with pytest.raises(ModeSwitchRefused, match=str(stack.wallet)):
            await stack.runtime.switch_to_live("custom")
        assert stack.runtime.mode == "dry-run" and stack.runtime.modes.signer is None
        await stack.open_gap()
        await stack.pending()  # the engine goes on rehearsing in dry-run
        assert stack.be.engine.book.records() == []
