"""`arbtui doctor`: what an operator needs before going live, one check per line with a fix.

Every check talks to the real endpoints of the configuration (RPC, PubSub, each block-engine
region) or reads the real files (keypair, store), and says in its fix what to change. On the
embedded local cluster every check passes, so a failing line there is a bug, not the operator's.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import websockets
from solders.pubkey import Pubkey

from core.config import AppConfig, redact_url
from core.execution.jito_client import MAINNET_TIP_FLOOR_URL
from core.execution.rpc import JsonRpc, RpcError
from core.keypair import KeypairError, load_keypair
from core.mode import keypair_path
from core.protocols import ids
from core.protocols.ids import JITO_TIP_ACCOUNTS

HTTP_TIMEOUT_S = 5.0
SLOT_ADVANCE_WAIT_S = 3.0
WS_TIMEOUT_S = 5.0
MIN_WALLET_LAMPORTS = 10_000_000  # 0.01 SOL: a few hundred bundles' fees and minimum tips
MAX_CLOCK_SKEW_S = 10.0
ALT_PROGRAM = "AddressLookupTab1e1111111111111111111111111"
RATE_LIMIT_RETRY_S = 1.1  # Jito's default limit is one request per second per region


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "✓" if self.ok else "✗"
        text = f"{mark} {self.name}: {self.detail}"
        return text if self.ok or not self.fix else f"{text}\n    fix: {self.fix}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


class Doctor:
    def __init__(self, config: AppConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http
        self.rpc = JsonRpc(http)
        self.rpc_url = config.cluster.rpc_url
        self.tip_accounts: set[Pubkey] | None = None

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        return await self.rpc.call(self.rpc_url, method, params)

    # ------------------------------------------------------------------ checks

    async def check_rpc(self) -> Check:
        where = redact_url(self.rpc_url)
        fix = f"check cluster.rpc_url ({where}) — is the node running and reachable from here?"
        try:
            started = time.perf_counter()
            first = await self.call("getSlot", [{"commitment": "processed"}])
            latency_ms = (time.perf_counter() - started) * 1000
            deadline = time.monotonic() + SLOT_ADVANCE_WAIT_S
            slot = first
            while slot <= first and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                slot = await self.call("getSlot", [{"commitment": "processed"}])
        except RpcError as exc:
            return Check("rpc", False, f"{where} not answering: {exc.message}", fix)
        if slot <= first:
            return Check(
                "rpc",
                False,
                f"{where} answers but its slot stays at {first} for {SLOT_ADVANCE_WAIT_S:g}s",
                "the node is stalled or catching up: use another RPC",
            )
        return Check("rpc", True, f"{where} slot {first} → {slot}, {latency_ms:.0f} ms")

    async def check_websocket(self) -> Check:
        url = self.config.cluster.ws_url
        where = redact_url(url)
        fix = f"check cluster.ws_url ({where}); it is usually the RPC port + 1 (wss for https)"
        try:
            async with (
                asyncio.timeout(WS_TIMEOUT_S),
                websockets.connect(url, open_timeout=WS_TIMEOUT_S) as ws,
            ):
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "slotSubscribe"}))
                reply = json.loads(await ws.recv())
                if not isinstance(reply.get("result"), int):
                    return Check(
                        "websocket", False, f"{where} refused slotSubscribe: {reply.get('error')}", fix
                    )
                note = json.loads(await ws.recv())
                slot = note.get("params", {}).get("result", {}).get("slot")
        except (OSError, TimeoutError, websockets.WebSocketException, ValueError) as exc:
            return Check("websocket", False, f"{where}: {type(exc).__name__}: {exc}", fix)
        return Check("websocket", True, f"{where} slotSubscribe delivered slot {slot}")

    async def check_regions(self) -> list[Check]:
        regions = self.config.jito.regions
        if not regions:
            return [
                Check(
                    "block engine",
                    False,
                    f"no jito.regions for cluster {self.config.cluster.name}",
                    "set jito.regions (name = URL) in arb.toml",
                )
            ]
        return list(await asyncio.gather(*(self._region(name, url) for name, url in regions.items())))

    async def _region(self, name: str, url: str) -> Check:
        base = url.rstrip("/").removesuffix("/api/v1")
        fix = f"region {name} ({base}) unreachable: remove it from jito.regions or check the network"
        for attempt in range(3):
            started = time.perf_counter()
            try:
                accounts = await self.rpc.call(f"{base}/api/v1/bundles", "getTipAccounts")
            except RpcError as exc:
                if exc.rate_limited and attempt < 2:
                    await asyncio.sleep(RATE_LIMIT_RETRY_S)
                    continue
                if exc.rate_limited:
                    return Check(f"region {name}", True, f"reachable but rate limited (429) at {base}")
                return Check(f"region {name}", False, f"{base}: {exc.message}", fix)
            latency_ms = (time.perf_counter() - started) * 1000
            try:
                self.tip_accounts = {Pubkey.from_string(a) for a in accounts}
            except (TypeError, ValueError):
                return Check(
                    f"region {name}", False, f"{base}: getTipAccounts answered {accounts!r:.80}", fix
                )
            return Check(f"region {name}", True, f"{latency_ms:.0f} ms")
        raise AssertionError("unreachable")

    async def check_tip_floor(self) -> Check:
        regions = list(self.config.jito.regions.values())
        if self.config.cluster.name == "mainnet-beta" or not regions:
            url = MAINNET_TIP_FLOOR_URL
        else:
            url = regions[0].rstrip("/").removesuffix("/api/v1") + "/api/v1/bundles/tip_floor"
        try:
            started = time.perf_counter()
            response = await self.http.get(url)
            response.raise_for_status()
            payload = response.json()
            latency_ms = (time.perf_counter() - started) * 1000
            entry = payload[0] if isinstance(payload, list) else payload
            p50 = float(entry["landed_tips_50th_percentile"])
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            return Check(
                "tip floor",
                False,
                f"{url}: {type(exc).__name__}: {exc}",
                "the tip policy needs the tip floor: check the network or the first region",
            )
        return Check("tip floor", True, f"p50 {p50:g} SOL, {latency_ms:.0f} ms")

    def check_tip_accounts(self) -> Check:
        if self.tip_accounts is None:
            return Check(
                "tip accounts",
                False,
                "no region answered getTipAccounts",
                "fix the block-engine regions above first",
            )
        expected = set(JITO_TIP_ACCOUNTS)
        if self.tip_accounts != expected:
            unknown = sorted(str(a) for a in self.tip_accounts - expected)
            missing = sorted(str(a) for a in expected - self.tip_accounts)
            return Check(
                "tip accounts",
                False,
                f"differ from Jito's mainnet set (unknown {unknown[:2]}, missing {len(missing)})",
                "a block engine that is not Jito's: tips sent to it would be lost — check jito.regions",
            )
        return Check("tip accounts", True, f"the {len(expected)} mainnet tip accounts")

    async def check_wallet(self) -> Check:
        path = keypair_path(self.config)
        try:
            signer = load_keypair(path, for_live=True)
        except KeypairError as exc:
            fix = (
                f"chmod 600 {path}"
                if "permissions" in exc.reason
                else (
                    "on localnet the cluster creates it in store.dir: start `arbtui` once"
                    if self.config.cluster.name == "localnet"
                    else f"point wallet.keypair at your Solana CLI keypair (solana-keygen new -o {path})"
                )
            )
            return Check("wallet", False, f"{path}: {exc.reason}", fix)
        try:
            lamports = (await self.call("getBalance", [str(signer.pubkey), {"commitment": "confirmed"}]))[
                "value"
            ]
        except (RpcError, KeyError, TypeError) as exc:
            return Check(
                "wallet", False, f"{signer.short}: balance unknown ({exc})", "fix the rpc check first"
            )
        if lamports < MIN_WALLET_LAMPORTS:
            return Check(
                "wallet",
                False,
                f"{signer.short} holds {lamports / 1e9:g} SOL",
                f"send at least {MIN_WALLET_LAMPORTS / 1e9:g} SOL to {signer.pubkey} for fees and tips",
            )
        return Check("wallet", True, f"{signer.short} 0600, {lamports / 1e9:,.3f} SOL")

    async def check_lookup_tables(self) -> Check:
        from core.store import StoreError, StoreReader, store_exists

        mode = "dry-run" if self.config.mode.dry_run else "live"
        store_dir = self.config.store.dir
        if not store_exists(store_dir, mode):
            return Check("lookup tables", True, "none recorded yet (created with the first bundle)")
        try:
            with StoreReader(store_dir, mode) as reader:
                tables = reader.lookup_tables()
        except StoreError as exc:
            return Check("lookup tables", False, f"store unreadable: {exc}", "see the store check")
        if not tables:
            return Check("lookup tables", True, "none recorded yet (created with the first bundle)")
        addresses = [t.address for t in tables]
        try:
            reply = await self.call("getMultipleAccounts", [addresses, {"encoding": "base64"}])
        except RpcError as exc:
            return Check(
                "lookup tables", False, f"cannot read them: {exc.message}", "fix the rpc check first"
            )
        gone = [
            a
            for a, acc in zip(addresses, reply["value"], strict=True)
            if acc is None or acc.get("owner") != ALT_PROGRAM
        ]
        if gone:
            return Check(
                "lookup tables",
                False,
                f"{len(gone)} of {len(addresses)} missing on chain (first {gone[0]})",
                "they were closed or belong to another cluster: the engine "
                "recreates them; remove their rows or use a fresh store.dir for this cluster",
            )
        return Check("lookup tables", True, f"{len(addresses)} present on chain")

    async def check_flash_loans(self) -> Check:
        """Off localnet: every configured lending account, pool and the profit guard is on the
        cluster and owned by the program it claims to be (a typo or another cluster's address
        fails here, not in the first simulation)."""
        from core.config import mint_table_keys
        from core.flashloan.configured_setup import missing_keys

        fl = self.config.flash_loan
        name = "flash loans"
        if not fl.enabled:
            return Check(name, True, "off (flash_loan.enabled = false): opportunities shown, not traded")
        if self.config.cluster.name == "localnet":
            return Check(name, True, "lenders, pools and wallet from the local cluster's genesis")
        missing = missing_keys(self.config)
        if missing:
            return Check(name, False, "not configured: nothing will be traded", "set " + "; ".join(missing))
        wanted: list[tuple[str, str, str | None]] = [  # (key, address, owner program; None: executable)
            ("flash_loan.profit_guard_program", fl.profit_guard_program, None),
            ("flash_loan.sol_usdc_pool", fl.sol_usdc_pool, str(ids.RAYDIUM_AMM_V4)),
        ]
        for key, table, program in (("flash_loan.solend_reserves", fl.solend_reserves, ids.SOLEND),
                                     ("flash_loan.kamino_reserves", fl.kamino_reserves, ids.KAMINO_LEND),
                                     ("flash_loan.marginfi_banks", fl.marginfi_banks, ids.MARGINFI_V2),
                                     ("flash_loan.sol_pools", fl.sol_pools, ids.RAYDIUM_AMM_V4)):
            wanted += [(f"{key}.{mint}", str(address), str(program))
                       for mint, address in mint_table_keys(table).items()]
        if fl.marginfi_banks and fl.marginfi_account:
            wanted.append(("flash_loan.marginfi_account", fl.marginfi_account, str(ids.MARGINFI_V2)))
        try:
            addresses = [address for _, address, _ in wanted]
            reply = await self.call("getMultipleAccounts", [addresses, {"encoding": "base64"}])
        except RpcError as exc:
            return Check(name, False, f"cannot read the accounts: {exc.message}", "fix the rpc check first")
        for (key, address, program), account in zip(wanted, reply["value"], strict=True):
            if account is None:
                return Check(name, False, f"{key} {address}: no such account on {self.config.cluster.name}",
                             f"check {key} (an address of another cluster, or a typo)")
            if program is None and not account.get("executable"):
                return Check(name, False, f"{key} {address} is not a program",
                             f"deploy the profit guard; set {key}")
            if program is not None and account.get("owner") != program:
                owner = account.get("owner")
                return Check(name, False, f"{key} {address} is owned by {owner}, not {program}",
                             f"check {key}")
        return Check(name, True, f"{len(wanted)} accounts present, owned as configured")

    def check_store(self) -> Check:
        store_dir = Path(self.config.store.dir)
        fix = f"make {store_dir} a directory this user can write (or set store.dir)"
        try:
            store_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=store_dir, prefix=".doctor-") as probe:
                probe.write(b"ok")
                probe.flush()
                os.fsync(probe.fileno())
            free = os.statvfs(store_dir)
        except OSError as exc:
            return Check("store", False, f"{store_dir}: {exc.strerror or exc}", fix)
        free_mb = free.f_bavail * free.f_frsize / 1e6
        if free_mb < 100:
            return Check("store", False, f"{store_dir}: only {free_mb:.0f} MB free", "free disk space")
        return Check("store", True, f"{store_dir} writable, {free_mb:,.0f} MB free")

    async def check_clock(self) -> Check:
        try:
            slot = await self.call("getSlot", [{"commitment": "confirmed"}])
            block_time = await self.call("getBlockTime", [slot])
        except RpcError as exc:
            return Check(
                "clock", False, f"cannot read the cluster's time: {exc.message}", "fix the rpc check first"
            )
        if not isinstance(block_time, int):
            return Check(
                "clock", False, f"no block time for slot {slot}", "use an RPC that serves getBlockTime"
            )
        skew = time.time() - block_time
        if abs(skew) > MAX_CLOCK_SKEW_S:
            return Check(
                "clock",
                False,
                f"local clock {skew:+.1f}s off the cluster's block time",
                "enable NTP (timedatectl set-ntp true); expiry and tip timing depend on it",
            )
        return Check("clock", True, f"{skew:+.1f}s from the cluster's block time")

    # ------------------------------------------------------------------ all

    async def run(self) -> list[Check]:
        rpc, ws, regions = await asyncio.gather(
            self.check_rpc(), self.check_websocket(), self.check_regions()
        )
        return [
            rpc,
            ws,
            *regions,
            await self.check_tip_floor(),
            self.check_tip_accounts(),
            await self.check_wallet(),
            await self.check_lookup_tables(),
            await self.check_flash_loans(),
            self.check_store(),
            await self.check_clock(),
        ]


def config_check(config: AppConfig) -> Check:
    """The configuration loaded and validated (a broken one never gets this far: its problems are listed)."""
    where = str(config.config_path) if config.config_path else "built-in defaults"
    if not config.mode.dry_run and config.cluster.name != "localnet":
        try:
            load_keypair(config.wallet.keypair_path, for_live=True)
        except KeypairError as exc:
            return Check(
                "config",
                False,
                f"mode.dry_run = false but wallet.keypair is unusable: {exc.reason}",
                f"fix wallet.keypair in {where}, or set mode.dry_run = true",
            )
    return Check("config", True, f"valid ({where}; cluster {config.cluster.name})")


async def diagnose(config: AppConfig) -> list[Check]:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as http:
        return [config_check(config), *await Doctor(config, http).run()]
