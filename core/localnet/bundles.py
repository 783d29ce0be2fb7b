"""Jito bundles on the local cluster: decode, sanitize, execute atomically, simulate.

Interface shared with the block-engine server (notes/bundle-interface.md). A bundle is up to 5
signed transactions that land in order in one slot, or not at all: when one fails, every
account the bundle touched is restored and no fee is charged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionErrorType

from core.localnet.cluster import Cluster, TxRecord

MAX_PACKETS_PER_BUNDLE = 5
MIN_TIP_LAMPORTS = 1_000


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


def decode_bundle(params: list[Any], encoding: str) -> list[VersionedTransaction]:
    raise NotImplementedError


def sanitize_bundle(cluster: Cluster, txs: list[VersionedTransaction]) -> int:
    raise NotImplementedError


def execute_bundle(cluster: Cluster, txs: list[VersionedTransaction]) -> BundleResult:
    raise NotImplementedError


def write_locks(txs: list[VersionedTransaction]) -> frozenset[Pubkey]:
    raise NotImplementedError


def simulate_bundle(
    cluster: Cluster,
    txs: list[VersionedTransaction],
    pre_configs: list[Any] | None = None,
    post_configs: list[Any] | None = None,
    skip_sig_verify: bool = False,
    replace_recent_blockhash: bool = False,
) -> dict[str, Any]:
    raise NotImplementedError
