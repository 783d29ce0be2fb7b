"""Jito bundles on the local cluster: decode, sanitize, execute atomically, simulate.

Interface shared with the block-engine server (notes/bundle-interface.md). A bundle is up to 5
signed transactions that land in order in one slot, or not at all: when one fails, every
account the bundle touched is restored and nothing is charged, recorded or notified.

Rejection texts are Jito's where they are known ("Bundles must write lock at least one tip
account to be eligible for the auction.", "exceeded maximum number of transactions",
"transaction <sig> is invalid", jito-solana's bundle sanitizer errors); the rest name the rule.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionErrorFieldless, TransactionErrorType

from core.localnet import tx_inspect
from core.localnet.bundle_execution import (
    TIP_ACCOUNTS,
    UncommittedRun,
    lookup_table_keys,
    static_write_locks,
    top_level_tip_lamports,
)
from core.localnet.bundle_simulation import AccountsConfig, parse_accounts_configs, simulate
from core.localnet.cluster import Cluster, TxRecord
from core.localnet.rpc_errors import RpcError
from core.localnet.rpc_methods import API_VERSION
from core.localnet.rpc_params import decode_transaction
from core.protocols import ids

MAX_PACKETS_PER_BUNDLE = 5
MIN_TIP_LAMPORTS = 1_000
BUNDLE_ENCODINGS = ("base58", "base64")
# The tip-payment program itself is blacklisted: bundles may pay its PDAs, never invoke it.
BLACKLISTED_ACCOUNTS = frozenset({ids.JITO_TIP_PAYMENT_PROGRAM})

# Write locks resolved while sanitizing, by first signature (see `write_locks`); bounded.
_SANITIZED_LOCKS: OrderedDict[Signature, frozenset[Pubkey]] = OrderedDict()
_SANITIZED_LOCKS_CAPACITY = 10_000

NO_TIP = "Bundles must write lock at least one tip account to be eligible for the auction."


class BundleRejected(Exception):
    """The sanitizer refused the bundle; `reason` is the JSON-RPC error message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class BundleResult:
    landed: bool
    slot: int
    failed_index: int | None  # index of the failing transaction, None if landed
    err: TransactionErrorType | None  # solders error of the failing transaction
    records: list[TxRecord]  # records of the landed transactions ([] when failed)
    tip_lamports: int  # lamports transferred to tip accounts (top-level + CPI)
    compute_units: int  # total CU consumed (simulated when failed)


# -- decoding --------------------------------------------------------------------------------------
def decode_bundle(params: list[Any], encoding: str) -> list[VersionedTransaction]:
    """The bundle's transactions from sendBundle's first param (a list of encoded transactions).

    Also accepts the whole sendBundle params (`[[tx, ...], {...}]`). Raises BundleRejected for
    anything that is not ≤ 5 well-formed, structurally sane transactions in `encoding`.
    """
    if isinstance(params, list) and params and isinstance(params[0], list):
        params = params[0]
    if encoding not in BUNDLE_ENCODINGS:
        raise BundleRejected(f"unsupported encoding: {encoding}. Supported encodings: base58, base64")
    if not isinstance(params, list):
        raise BundleRejected("bundle must be an array of encoded transactions")
    _check_count(len(params))
    txs = []
    for index, encoded in enumerate(params):
        try:
            _, tx = decode_transaction(encoded, encoding)
        except RpcError as exc:
            raise BundleRejected(f"transaction {index} could not be decoded: {exc.message}") from None
        _check_structure(tx)
        txs.append(tx)
    return txs


def _check_count(n: int) -> None:
    if n == 0:
        raise BundleRejected("Bundle is empty: it must contain at least one transaction")
    if n > MAX_PACKETS_PER_BUNDLE:
        raise BundleRejected(
            f"Bundle exceeded maximum number of transactions: {n} > {MAX_PACKETS_PER_BUNDLE}"
        )


def _check_structure(tx: VersionedTransaction) -> None:
    try:
        tx.sanitize()
        sane = len(tx.signatures) == tx.message.header.num_required_signatures
    except Exception:  # solders raises its own SanitizeError type
        sane = False
    if not sane:
        raise BundleRejected(f"transaction {_first_signature(tx)} is invalid: failed to sanitize")


def _first_signature(tx: VersionedTransaction) -> str:
    return str(tx.signatures[0]) if tx.signatures else str(Signature.default())


# -- sanitizing ------------------------------------------------------------------------------------
def sanitize_bundle(cluster: Cluster, txs: list[VersionedTransaction]) -> int:
    """Apply the block engine's checks; returns the bundle's tip in lamports.

    The tip is measured by running the bundle (uncommitted, then rolled back): a CPI into a tip
    account is only visible that way. When the run fails, transactions it never reached count
    with their top-level transfers; the bundle is accepted and will fail atomically on landing.
    """
    _check_count(len(txs))
    for tx in txs:
        _check_structure(tx)
        _check_signatures(tx)
    hashes = [tx.message.hash() for tx in txs]
    if len(set(hashes)) != len(hashes) or len({tx.signatures[0] for tx in txs}) != len(txs):
        raise BundleRejected("Bundle contains a duplicate transaction")
    for tx in txs:
        if any(key in BLACKLISTED_ACCOUNTS for key in tx.message.account_keys):
            raise BundleRejected("Bundle mentions blacklisted account")
        signature = tx.signatures[0]
        if not cluster.is_blockhash_valid(tx.message.recent_blockhash, "processed"):
            raise BundleRejected(
                f"transaction {signature} has an expired or unknown blockhash "
                f"{tx.message.recent_blockhash} (BlockhashNotFound)"
            )
        if _already_processed(cluster, signature):
            raise BundleRejected(f"transaction {signature} has already been processed (AlreadyProcessed)")
        if any(key in TIP_ACCOUNTS for key in lookup_table_keys(tx, cluster.svm.get_account)):
            raise BundleRejected(
                f"transaction {signature} loads a tip account through an address lookup table; "
                "tip accounts must be static keys"
            )
    if not any(key in TIP_ACCOUNTS for tx in txs for key in static_write_locks(tx)):
        raise BundleRejected(NO_TIP)
    tip = _measure_tip(cluster, txs)
    for tx in txs:
        _resolve_write_locks(cluster, tx)
    if tip < MIN_TIP_LAMPORTS:
        raise BundleRejected(
            f"{NO_TIP} Bundle tips {tip} lamports; the minimum tip is {MIN_TIP_LAMPORTS} lamports"
        )
    return tip


def _check_signatures(tx: VersionedTransaction) -> None:
    if any(sig == Signature.default() for sig in tx.signatures):
        raise BundleRejected(f"transaction {_first_signature(tx)} is invalid: not signed")
    if not all(tx.verify_with_results()):
        raise BundleRejected(
            f"transaction {_first_signature(tx)} is invalid: signature verification failed"
        )


def _already_processed(cluster: Cluster, signature: Signature) -> bool:
    record = cluster.transaction(signature)
    return record is not None and cluster.status_cache_has(record)


def _measure_tip(cluster: Cluster, txs: Sequence[VersionedTransaction]) -> int:
    run = UncommittedRun(cluster.svm)
    try:
        for tx in txs:
            if run.execute(tx).err is not None:
                break
        return _offered_tip(run, txs)
    finally:
        run.rollback()


def _offered_tip(run: UncommittedRun, txs: Sequence[VersionedTransaction]) -> int:
    """Tips paid by the transactions that ran, plus the top-level tips of those that did not."""
    failed = run.failed
    if failed is None:
        return run.tip_lamports()
    return run.tip_lamports() + top_level_tip_lamports(txs[run.steps.index(failed):])


# -- execution -------------------------------------------------------------------------------------
def execute_bundle(cluster: Cluster, txs: list[VersionedTransaction]) -> BundleResult:
    """Land `txs` in order in the current slot, all of them or none.

    The bank's own checks are repeated here (time passes between sanitizing and the auction):
    a bad signature, an expired blockhash or an already-processed transaction fails the bundle
    like an execution error. On failure every account is restored, nothing is recorded.
    """
    run = UncommittedRun(cluster.svm)
    seen: set[Signature] = set()
    try:
        for tx in txs:
            refusal = _bank_check(cluster, tx, seen)
            step = run.refuse(tx, refusal) if refusal is not None else run.execute(tx)
            seen.add(tx.signatures[0])
            if step.err is not None:
                break
        tip = _offered_tip(run, txs)
    except BaseException:
        run.rollback()
        raise
    failed = run.failed
    if failed is not None:
        run.rollback()
        return BundleResult(
            landed=False,
            slot=cluster.slot,
            failed_index=run.steps.index(failed),
            err=failed.err,
            records=[],
            tip_lamports=tip,
            compute_units=run.compute_units,
        )
    records = []
    for step in run.steps:
        assert step.meta is not None  # a step without meta was refused, hence failed
        records.append(cluster.land_executed(step.tx, step.meta, step.loaded, step.pre, step.post))
    return BundleResult(
        landed=True,
        slot=cluster.slot,
        failed_index=None,
        err=None,
        records=records,
        tip_lamports=tip,
        compute_units=run.compute_units,
    )


def _bank_check(
    cluster: Cluster, tx: VersionedTransaction, seen: set[Signature]
) -> TransactionErrorType | None:
    try:
        tx.sanitize()
    except Exception:  # solders raises its own SanitizeError type
        return TransactionErrorFieldless.SanitizeFailure
    if not tx.signatures or not all(tx.verify_with_results()):
        return TransactionErrorFieldless.SignatureFailure
    if not cluster.is_blockhash_valid(tx.message.recent_blockhash, "processed"):
        return TransactionErrorFieldless.BlockhashNotFound
    signature = tx.signatures[0]
    if signature in seen or _already_processed(cluster, signature):
        return TransactionErrorFieldless.AlreadyProcessed
    return None


# -- auction support ------------------------------------------------------------------------------
def write_locks(txs: list[VersionedTransaction], cluster: Cluster | None = None) -> frozenset[Pubkey]:
    """Every account the bundle write-locks, lookup-table addresses included.

    Lookup tables are read from `cluster`; without it, from what `sanitize_bundle` resolved for
    the same transactions (so `write_locks(txs)` after sanitizing sees lookup-table keys too),
    and failing both only static keys count.
    """
    locks: set[Pubkey] = set()
    for tx in txs:
        if cluster is not None:
            locks.update(_resolve_write_locks(cluster, tx))
        else:
            cached = _SANITIZED_LOCKS.get(tx.signatures[0]) if tx.signatures else None
            locks.update(cached if cached is not None else static_write_locks(tx))
    return frozenset(locks)


def _resolve_write_locks(cluster: Cluster, tx: VersionedTransaction) -> frozenset[Pubkey]:
    locks = frozenset(tx_inspect.writable_keys(tx_inspect.load_keys(tx.message, cluster.svm.get_account)))
    if tx.signatures:
        _SANITIZED_LOCKS[tx.signatures[0]] = locks
        _SANITIZED_LOCKS.move_to_end(tx.signatures[0])
        while len(_SANITIZED_LOCKS) > _SANITIZED_LOCKS_CAPACITY:
            _SANITIZED_LOCKS.popitem(last=False)
    return locks


# -- simulation ------------------------------------------------------------------------------------
def simulate_bundle(
    cluster: Cluster,
    txs: list[VersionedTransaction],
    pre_configs: list[Any] | None = None,
    post_configs: list[Any] | None = None,
    skip_sig_verify: bool = False,
    replace_recent_blockhash: bool = False,
) -> dict[str, Any]:
    """simulateBundle's JSON `result` (context + value) for already-decoded transactions.

    `pre_configs` / `post_configs`: one item per transaction, None or
    `{"addresses": [...], "encoding": "base64"}` as in the JSON-RPC request. Raises RpcError
    for what the RPC method refuses (config lengths, encodings, signatures). Never changes state.
    """
    pre: list[AccountsConfig | None] = parse_accounts_configs(pre_configs, len(txs), "pre")
    post: list[AccountsConfig | None] = parse_accounts_configs(post_configs, len(txs), "post")
    value = simulate(
        cluster,
        txs,
        pre,
        post,
        skip_sig_verify=skip_sig_verify,
        replace_recent_blockhash=replace_recent_blockhash,
    )
    return {"context": {"slot": cluster.slot, "apiVersion": API_VERSION}, "value": value}

