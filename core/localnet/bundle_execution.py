"""Run transactions in order against the cluster's SVM without committing them, then undo.

A bundle lands all or nothing, so its transactions cannot go through `Cluster.submit` (which
commits, records and notifies each one as it lands). Instead each one is simulated on the
current state and its written accounts applied by hand, so the next transaction sees them; the
first value of every account written is kept, and `rollback` puts every one of them back —
lamports, data, owner — leaving no fee, no LiteSVM history entry and no event behind.

Only the event loop thread may use this (LiteSVM is not thread-safe), and a run must be rolled
back or landed before control returns to the loop: nobody else may observe the interim state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import decode_transfer, decode_transfer_with_seed
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import TransactionErrorType

from core.localnet import tx_inspect
from core.localnet.tx_errors import error_json
from core.protocols import ids

TIP_ACCOUNTS = frozenset(ids.JITO_TIP_ACCOUNTS)
# The system program's instruction indexes for the two lamport transfers (SystemInstruction enum).
_TRANSFER = 2
_TRANSFER_WITH_SEED = 11
# What LiteSVM stores for "no account": setting a zero-lamport account removes it.
_NO_ACCOUNT = Account(0, b"", ids.SYSTEM_PROGRAM, False, 0)


@dataclass
class Step:
    """One transaction of a run: what it loaded, its state before and after, and its outcome."""

    tx: VersionedTransaction
    loaded: tx_inspect.LoadedKeys
    pre: list[Account | None]
    post: list[Account | None]
    err: TransactionErrorType | None
    meta: TransactionMetadata | None  # None when refused before execution (blockhash, duplicate)

    @property
    def err_json(self) -> Any:
        return error_json(self.err)

    @property
    def compute_units(self) -> int:
        return self.meta.compute_units_consumed() if self.meta is not None else 0

    @property
    def logs(self) -> list[str]:
        return list(self.meta.logs()) if self.meta is not None else []


class UncommittedRun:
    """Transactions executed in order with their effects applied to `svm`, undoable as a whole."""

    def __init__(self, svm: LiteSVM) -> None:
        self.svm = svm
        self.steps: list[Step] = []
        self._saved: dict[Pubkey, Account | None] = {}
        self._tips_before = {key: _lamports(svm.get_account(key)) for key in TIP_ACCOUNTS}

    @property
    def failed(self) -> Step | None:
        return next((s for s in self.steps if s.err is not None), None)

    @property
    def compute_units(self) -> int:
        return sum(s.compute_units for s in self.steps)

    def refuse(self, tx: VersionedTransaction, err: TransactionErrorType) -> Step:
        """Record `tx` as failed without running it (checks the bank makes before execution)."""
        get = self.svm.get_account
        loaded = tx_inspect.load_keys(tx.message, get)
        pre = [get(k) for k in loaded.keys]
        step = Step(tx, loaded, pre, pre, err, None)
        self.steps.append(step)
        return step

    def execute(self, tx: VersionedTransaction) -> Step:
        """Run `tx` on the current state (signatures already checked by the caller)."""
        get = self.svm.get_account
        loaded = tx_inspect.load_keys(tx.message, get)
        pre = [get(k) for k in loaded.keys]
        # Signature checks belong to the caller; with sigverify off LiteSVM also skips its own
        # history lookup, so a transaction rolled back earlier can run again.
        self.svm.with_sigverify(False)
        try:
            result = self.svm.simulate_transaction(tx)
        finally:
            self.svm.with_sigverify(True)
        if isinstance(result, FailedTransactionMetadata):
            step = Step(tx, loaded, pre, pre, result.err(), result.meta())
        else:
            for key, account in result.post_accounts():
                if key not in self._saved:
                    self._saved[key] = get(key)
                self.svm.set_account(key, account)
            step = Step(tx, loaded, pre, [get(k) for k in loaded.keys], None, result.meta())
        self.steps.append(step)
        return step

    def tip_lamports(self) -> int:
        """Lamports the run has moved into tip accounts so far, by any path (top-level or CPI)."""
        now = {key: _lamports(self.svm.get_account(key)) for key in TIP_ACCOUNTS}
        return sum(max(now[key] - self._tips_before[key], 0) for key in TIP_ACCOUNTS)

    def rollback(self) -> None:
        """Put back every account the run wrote, as it was before the run."""
        for key, account in self._saved.items():
            self.svm.set_account(key, account if account is not None else _NO_ACCOUNT)
        self._saved.clear()


def _lamports(account: Account | None) -> int:
    return account.lamports if account is not None else 0


def top_level_tip_lamports(txs: Sequence[VersionedTransaction]) -> int:
    """Lamports the bundle's top-level system transfers send to tip accounts (static view).

    Used only where execution cannot tell (a transaction after the failing one never ran).
    """
    total = 0
    for tx in txs:
        message = tx.message
        keys = list(message.account_keys)
        for ix in message.instructions:
            if ix.program_id_index >= len(keys) or keys[ix.program_id_index] != ids.SYSTEM_PROGRAM:
                continue
            data = bytes(ix.data)
            kind = int.from_bytes(data[:4], "little") if len(data) >= 4 else None
            if kind not in (_TRANSFER, _TRANSFER_WITH_SEED):
                continue
            indexes = bytes(ix.accounts)
            if any(i >= len(keys) for i in indexes):
                continue  # points into a lookup table: not a static tip
            metas = [AccountMeta(keys[i], False, True) for i in indexes]
            instruction = Instruction(ids.SYSTEM_PROGRAM, data, metas)
            try:
                if kind == _TRANSFER:
                    params = decode_transfer(instruction)
                    to, lamports = params["to_pubkey"], params["lamports"]
                else:
                    params_ws = decode_transfer_with_seed(instruction)
                    to, lamports = params_ws["to_pubkey"], params_ws["lamports"]
            except Exception:  # solders raises its own error types for malformed data
                continue
            if to in TIP_ACCOUNTS:
                total += lamports
    return total


def static_write_locks(tx: VersionedTransaction) -> list[Pubkey]:
    """Keys `tx` write-locks through its static account list only (no lookup tables)."""
    # With no account to read, lookup tables resolve to nothing: only static keys remain.
    return tx_inspect.writable_keys(tx_inspect.load_keys(tx.message, lambda _key: None))


def lookup_table_keys(tx: VersionedTransaction, get_account: Any) -> list[Pubkey]:
    """Every address `tx` loads through lookup tables (resolvable ones), writable or not."""
    if not isinstance(tx.message, MessageV0) or not tx.message.address_table_lookups:
        return []
    loaded = tx_inspect.load_keys(tx.message, get_account)
    return loaded.loaded_writable + loaded.loaded_readonly
