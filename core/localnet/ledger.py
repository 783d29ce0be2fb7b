"""`--ledger PATH`: every landed transaction as a JSON line, and an exact replay of a run.

The file starts with a header naming the genesis seed; then, in landing order, one `slot` line per
slot (with the clock the slot ran under) and one `tx` line per landed transaction (successful or
failed: both changed state by at least the fee) with its slot, index in the slot, signature and the
base64 wire bytes. `replay` builds a fresh genesis for the seed and re-executes the transactions
slot by slot under the same clock, so the final state matches the recorded run account for account.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from solders.account import Account
from solders.clock import Clock
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from core.localnet.cluster import ClusterEvent, SlotEvent, TxEvent
from core.localnet.genesis import Scenario

LEDGER_VERSION = 1
_NEVER_MS = 1e12  # a replaying cluster's slot clock never ticks by itself


class LedgerError(ValueError):
    """A ledger file that cannot be replayed: bad JSON, a missing header, a line out of order."""


@dataclass(frozen=True)
class LedgerTx:
    slot: int
    index: int
    signature: str
    wire: bytes


class LedgerRecorder:
    """A cluster listener appending what lands to `path` (JSON lines)."""

    def __init__(self, cluster: Any, path: Path, seed: int, wallet: Pubkey | None = None) -> None:
        self.cluster = cluster
        self.path = Path(path)
        self.seed = seed
        self.wallet = wallet
        self._file: IO[str] | None = None
        self._slot = -1
        self._index = 0
        self.transactions = 0

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Line-buffered: the cluster never closes it explicitly, and a killed run keeps every line.
        self._file = self.path.open("w", encoding="utf-8", buffering=1)
        header = {"type": "genesis", "version": LEDGER_VERSION, "seed": self.seed,
                  "wallet": None if self.wallet is None else str(self.wallet)}
        self._write(header)
        self.cluster.add_listener(self.on_event)

    def close(self) -> None:
        with contextlib.suppress(ValueError, KeyError):
            self.cluster.remove_listener(self.on_event)
        if self._file is not None:
            self._file.close()
            self._file = None

    def on_event(self, event: ClusterEvent) -> None:
        if self._file is None:
            return
        if isinstance(event, SlotEvent):
            self._begin_slot(event.slot)
        elif isinstance(event, TxEvent):
            if event.slot != self._slot:
                self._begin_slot(event.slot)
            record = self.cluster.transaction(event.signature)
            if record is None:
                return
            wire = bytes(record.tx)
            self._write({"type": "tx", "slot": event.slot, "index": self._index,
                         "signature": str(event.signature), "tx": base64.b64encode(wire).decode()})
            self._index += 1
            self.transactions += 1

    def _begin_slot(self, slot: int) -> None:
        if slot == self._slot:
            return
        self._slot, self._index = slot, 0
        c = self.cluster.svm.get_clock()
        clock = [c.slot, c.epoch_start_timestamp, c.epoch, c.leader_schedule_epoch, c.unix_timestamp]
        self._write({"type": "slot", "slot": slot, "clock": clock})

    def _write(self, obj: dict[str, Any]) -> None:
        assert self._file is not None
        self._file.write(json.dumps(obj, separators=(",", ":")) + "\n")


def read_ledger(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the slot/tx lines; LedgerError for anything that is not a ledger."""
    lines: list[dict[str, Any]] = []
    header: dict[str, Any] | None = None
    with Path(path).open(encoding="utf-8") as f:
        for n, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError:
                raise LedgerError(f"{path}:{n}: not JSON") from None
            if not isinstance(obj, dict) or obj.get("type") not in ("genesis", "slot", "tx"):
                raise LedgerError(f"{path}:{n}: not a ledger line")
            if obj["type"] == "genesis":
                if header is not None:
                    raise LedgerError(f"{path}:{n}: second header")
                header = obj
            elif header is None:
                raise LedgerError(f"{path}:{n}: line before the header")
            else:
                lines.append(obj)
    if header is None:
        raise LedgerError(f"{path}: empty ledger")
    if header.get("version") != LEDGER_VERSION:
        raise LedgerError(f"{path}: ledger version {header.get('version')} is not {LEDGER_VERSION}")
    return header, lines


def account_hash(account: Account | None) -> str:
    """sha256 over what consensus hashes of an account: lamports, owner, executable, data."""
    if account is None or account.lamports == 0:
        return "none"
    h = hashlib.sha256()
    h.update(account.lamports.to_bytes(8, "little"))
    h.update(bytes(account.owner))
    h.update(b"\x01" if account.executable else b"\x00")
    h.update(bytes(account.data))
    return h.hexdigest()


def account_hashes(get_account: Callable[[Pubkey], Account | None], keys: Iterable[Pubkey]) -> dict[str, str]:
    return {str(k): account_hash(get_account(k)) for k in keys}


def scenario_accounts(scenario: Scenario) -> list[Pubkey]:
    """Every account genesis wrote that transactions can change: pools, vaults, reserves, holders."""
    keys: list[Pubkey] = [t.mint for t in scenario.tokens]
    for p in scenario.raydium_pools:
        keys += [p.address, p.coin_vault, p.pc_vault]
    for r in scenario.solend_reserves:
        keys += [r.address, r.liquidity_supply, r.fee_receiver]
    keys += [scenario.wallet, *scenario.wallet_token_accounts.values()]
    for t in scenario.traders:
        keys += [t.pubkey, *t.token_accounts.values()]
    return keys


async def replay_async(
    ledger_path: Path, seed: int | None = None, *, store_dir: Path | None = None
) -> dict[str, str]:
    """Re-execute a ledger on a fresh cluster for the seed; the final hash of every account touched.

    `seed` defaults to the header's; `store_dir` must be the one the recorded cluster used when the
    operator wallet came from a keypair file there. The replaying cluster is the real `Cluster` with
    its clock stopped: slots advance exactly where the ledger says, under the recorded clock.
    """
    from core.localnet.cluster import Cluster, TxRejected  # the recorded cluster's own rules

    header, lines = read_ledger(Path(ledger_path))
    seed = header["seed"] if seed is None else seed
    cluster = Cluster(seed=seed, slot_ms=_NEVER_MS, store_dir=store_dir)
    await cluster.start()
    try:
        recorded_wallet = header.get("wallet")
        if recorded_wallet is not None and recorded_wallet != str(cluster.scenario.wallet):
            raise LedgerError(f"{ledger_path}: recorded with operator wallet {recorded_wallet}, this genesis "
                              f"has {cluster.scenario.wallet}: pass the store dir the run used")
        touched: dict[Pubkey, None] = dict.fromkeys(scenario_accounts(cluster.scenario))
        for line in lines:
            slot = line.get("slot")
            if not isinstance(slot, int) or slot < cluster.slot:
                raise LedgerError(f"{ledger_path}: slot {slot!r} out of order")
            while cluster.slot < slot:
                cluster.advance_slot()
            if line["type"] == "slot":
                _set_clock(cluster, line.get("clock"))
                continue
            try:
                tx = VersionedTransaction.from_bytes(base64.b64decode(line["tx"], validate=True))
            except (KeyError, TypeError, ValueError) as exc:
                raise LedgerError(f"{ledger_path}: bad transaction at slot {slot}: {exc}") from None
            try:
                cluster.submit(tx)
            except TxRejected as exc:
                sig = line.get("signature")
                raise LedgerError(f"{ledger_path}: {sig} did not land on replay: {exc}") from None
            touched.update(dict.fromkeys(tx.message.account_keys))
        return account_hashes(cluster.get_account, touched)
    finally:
        await cluster.stop()


def replay(ledger_path: Path, seed: int | None = None, *, store_dir: Path | None = None) -> dict[str, str]:
    """`replay_async` for callers outside an event loop (the CLI)."""
    return asyncio.run(replay_async(ledger_path, seed, store_dir=store_dir))


def attach_ledger(cluster: Any, path: Path) -> LedgerRecorder:
    """The hook `Cluster.start()` calls for `--ledger PATH`."""
    scenario = getattr(cluster, "scenario", None)
    recorder = LedgerRecorder(cluster, path, cluster.seed, getattr(scenario, "wallet", None))
    recorder.start()
    cluster.ledger = recorder
    return recorder


def _set_clock(cluster: Any, fields: Any) -> None:
    if not isinstance(fields, list) or len(fields) != 5:
        return
    cluster.svm.set_clock(Clock(*fields))
