"""Providers and prices for the local cluster's genesis: what the engine needs to run the flash-loan
executor against `arbtui localnet` (mainnet deployments configure reserves/banks instead).

An engine in another process reads the running cluster's scenario over RPC (`arbtui_getScenario`,
public keys only) with `fetch_scenario`; the providers and the pricer accept that view as they
accept the in-process `Scenario`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from solders.pubkey import Pubkey

from core.flashloan.kamino import KaminoProvider
from core.flashloan.marginfi import MarginfiProvider
from core.flashloan.profitability import PoolPricer
from core.flashloan.provider import FlashLoanProvider
from core.flashloan.solend import SolendProvider
from core.localnet.genesis import RaydiumPool, SolendReserve
from core.localnet.genesis_kamino import kamino_reserves
from core.localnet.genesis_marginfi import marginfi_account, marginfi_banks
from core.protocols import ids
from core.search.dex_raydium import RAYDIUM_AMM_V4


def providers_from_scenario(scenario: Any) -> list[FlashLoanProvider]:
    """Every provider the genesis funded, in config order (solend, marginfi, kamino)."""
    providers: list[FlashLoanProvider] = [
        SolendProvider({r.liquidity_mint: r.address for r in scenario.solend_reserves})
    ]
    banks = marginfi_banks(scenario)
    account = marginfi_account(scenario)
    if banks and account is not None:
        providers.append(MarginfiProvider({b.mint: b.address for b in banks}, account))
    reserves = kamino_reserves(scenario)
    if reserves:
        providers.append(KaminoProvider({r.liquidity_mint: r.address for r in reserves}))
    return providers


def pricer_from_scenario(scenario: Any) -> PoolPricer:
    """Prices from the deepest Raydium SOL/USDC pool and, per other mint, its deepest SOL pool
    (genesis lists each pair's pools deepest first)."""
    sol_usdc: Pubkey | None = None
    sol_pools: dict[Pubkey, tuple[Pubkey, str]] = {}
    for pool in scenario.raydium_pools:
        mints = {pool.coin_mint, pool.pc_mint}
        if ids.NATIVE_MINT not in mints:
            continue
        other = (mints - {ids.NATIVE_MINT}).pop()
        if other == ids.USDC_MINT and sol_usdc is None:
            sol_usdc = pool.address
        sol_pools.setdefault(other, (pool.address, RAYDIUM_AMM_V4))
    if sol_usdc is None:
        raise ValueError("the scenario has no Raydium SOL/USDC pool to price lamports with")
    return PoolPricer((sol_usdc, RAYDIUM_AMM_V4), sol_pools)


class ScenarioUnavailable(Exception):
    """The cluster at the RPC URL did not describe its genesis (not a local cluster, or too old)."""


@dataclass(frozen=True)
class ScenarioView:
    """What the engine needs of a local cluster's genesis, rebuilt from `Scenario.to_dict()`."""

    seed: int
    wallet: Pubkey
    raydium_pools: tuple[RaydiumPool, ...]
    solend_reserves: tuple[SolendReserve, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)
    tokens: tuple[tuple[Pubkey, str, int], ...] = ()  # (mint, symbol, decimals)


def _record(cls: Any, row: Mapping[str, Any]) -> Any:
    values = {}
    for f in dataclasses.fields(cls):
        value = row[f.name]
        values[f.name] = Pubkey.from_string(value) if f.type == "Pubkey" else value
    return cls(**values)


def scenario_from_dict(data: Mapping[str, Any]) -> ScenarioView:
    try:
        return ScenarioView(
            seed=int(data["seed"]),
            wallet=Pubkey.from_string(data["wallet"]),
            raydium_pools=tuple(_record(RaydiumPool, p) for p in data["raydium_pools"]),
            solend_reserves=tuple(_record(SolendReserve, r) for r in data["solend_reserves"]),
            extra=data.get("extra") or {},
            tokens=tuple(
                (Pubkey.from_string(t["mint"]), str(t["symbol"]), int(t["decimals"]))
                for t in data.get("tokens", ())
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioUnavailable(f"scenario description incomplete: {type(exc).__name__}: {exc}") from exc


async def fetch_scenario(rpc_url: str, *, timeout: float = 10.0) -> ScenarioView:
    """The running local cluster's scenario, over its `arbtui_getScenario` RPC method."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "arbtui_getScenario", "params": []}
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            reply = (await http.post(rpc_url, json=body)).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ScenarioUnavailable(f"{rpc_url}: {type(exc).__name__}: {exc}") from exc
    result = reply.get("result") if isinstance(reply, dict) else None
    if not isinstance(result, dict) or "wallet" not in result:
        error = reply.get("error") if isinstance(reply, dict) else reply
        raise ScenarioUnavailable(f"{rpc_url} does not describe a local genesis: {error}")
    return scenario_from_dict(result)
