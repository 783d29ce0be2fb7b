"""Dry-run ⇄ live, enforced in the engine: the signer exists only in live mode.

Going live needs the operator to type the confirmation word and a keypair that `load_keypair`
accepts for live use (0600, owned by the user); going back to dry-run is immediate and drops the
signer. Each switch is written to the store of the mode being left *and* the one entered before
the switch takes effect, so either file's audit trail is complete on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.config import AppConfig
from core.keypair import KeypairError, Signer, load_keypair, localnet_keypair_path
from core.store import Mode, ModeChange, StoreWriter


class ModeSwitchRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def confirmation_word(cluster_name: str) -> str:
    """What the operator types to go live: the cluster's name, or `live` on the local cluster."""
    return "live" if cluster_name == "localnet" else cluster_name


def keypair_path(config: AppConfig) -> Path:
    if config.cluster.name == "localnet":
        return localnet_keypair_path(config.store.dir)
    return config.wallet.keypair_path


def caps_summary(config: AppConfig) -> str:
    rungs = ", ".join(
        f"{c.max_amount_usdc:,} until {c.until_successes}" if c.until_successes else f"{c.max_amount_usdc:,}"
        for c in config.flash_loan.caps
    )
    return f"max {config.flash_loan.max_amount_usdc:,} USDC; rungs: {rungs}"


@dataclass(frozen=True, slots=True)
class LivePreview:
    """What the confirmation modal states before the operator types anything."""

    cluster: str
    wallet: str
    caps: str
    word: str
    problem: str = ""


class StoreSet:
    """One writer per mode, opened on first use: a mode switch switches the file."""

    def __init__(self, store_dir: Path) -> None:
        self.store_dir = store_dir
        self._writers: dict[Mode, StoreWriter] = {}

    def writer(self, mode: Mode) -> StoreWriter:
        if mode not in self._writers:
            self._writers[mode] = StoreWriter(self.store_dir, mode)
        return self._writers[mode]

    async def close(self) -> None:
        for writer in self._writers.values():
            await writer.close()
        self._writers.clear()


class ModeController:
    def __init__(
        self,
        config: AppConfig,
        stores: StoreSet,
        *,
        on_change: Callable[[Mode, str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.stores = stores
        self.on_change = on_change
        self.clock = clock
        self.mode: Mode = "dry-run"
        self.signer: Signer | None = None

    async def start(self) -> None:
        """Configured live still goes through the keypair checks; the typed word is the config itself."""
        if not self.config.mode.dry_run:
            await self._go_live(reason="configured mode.dry_run = false")

    @property
    def writer(self) -> StoreWriter:
        return self.stores.writer(self.mode)

    def preview_live(self) -> LivePreview:
        problem = ""
        wallet = "?"
        try:
            signer = load_keypair(keypair_path(self.config), for_live=True)
            wallet = signer.short
            problem = self._wallet_mismatch(signer)
        except KeypairError as exc:
            problem = str(exc)
        return LivePreview(
            cluster=self.config.cluster.name,
            wallet=wallet,
            caps=caps_summary(self.config),
            word=confirmation_word(self.config.cluster.name),
            problem=problem,
        )

    async def switch_to_live(self, typed: str) -> Signer:
        if self.mode == "live":
            raise ModeSwitchRefused("already live")
        word = confirmation_word(self.config.cluster.name)
        if typed.strip() != word:
            raise ModeSwitchRefused(f"confirmation must be {word!r}")
        return await self._go_live(reason="operator typed confirmation")

    async def switch_to_dry_run(self, reason: str = "operator") -> None:
        if self.mode == "dry-run":
            return
        await self._record("dry-run", wallet=self.signer.short if self.signer else None, reason=reason)
        self.signer = None
        self.mode = "dry-run"
        if self.on_change:
            self.on_change("dry-run", reason)

    async def _go_live(self, reason: str) -> Signer:
        try:
            signer = load_keypair(keypair_path(self.config), for_live=True)
        except KeypairError as exc:
            raise ModeSwitchRefused(str(exc)) from None
        mismatch = self._wallet_mismatch(signer)
        if mismatch:
            raise ModeSwitchRefused(mismatch)
        await self._record("live", wallet=signer.short, reason=reason)
        self.signer = signer
        self.mode = "live"
        if self.on_change:
            self.on_change("live", reason)
        return signer

    def _wallet_mismatch(self, signer: Signer) -> str:
        """Off localnet transactions are built for `wallet.pubkey`: a keypair for another wallet
        could sign none of them, so live is refused up front rather than attempt by attempt."""
        expected = self.config.wallet.pubkey
        if self.config.cluster.name == "localnet" or not expected or str(signer.pubkey) == expected:
            return ""
        return f"keypair {keypair_path(self.config)} is {signer.short}, not wallet.pubkey {expected}"

    async def _record(self, to_mode: Mode, *, wallet: str | None, reason: str) -> None:
        change = ModeChange(
            at=self.clock(),
            from_mode=self.mode,
            to_mode=to_mode,
            cluster=self.config.cluster.name,
            wallet=wallet,
            reason=reason,
        )
        for mode in dict.fromkeys((self.mode, to_mode)):
            writer = self.stores.writer(mode)
            writer.add_mode_change(change)
            await writer.flush()
