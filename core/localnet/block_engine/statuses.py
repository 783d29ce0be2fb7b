"""Bundle records and the two status views: getInflightBundleStatuses and getBundleStatuses."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionErrorType

PENDING = "Pending"
LANDED = "Landed"
FAILED = "Failed"
INVALID = "Invalid"


def bundle_id(txs: list[VersionedTransaction]) -> str:
    """sha256 of the comma-joined base58 first signatures, lowercase hex (jito-solana derive_bundle_id)."""
    return hashlib.sha256(",".join(str(tx.signatures[0]) for tx in txs).encode()).hexdigest()


@dataclass
class BundleRecord:
    bundle_id: str
    txs: list[VersionedTransaction] = field(repr=False)
    tip_lamports: int
    requested_cu: int
    locks: frozenset[Pubkey] = field(repr=False)
    received: float  # engine clock (monotonic seconds) when it reached the engine
    seq: int  # arrival order: ties in the auction go to the earlier bundle
    source: str  # region name, or the competitor's name
    regions: set[str] = field(default_factory=set)
    state: str = PENDING
    landed_slot: int | None = None
    lost_slot: int | None = None  # the last slot it lost an auction in (it waits for the next)
    auctions_lost: int = 0
    failed_index: int | None = None
    err: TransactionErrorType | None = None
    failure: str | None = None  # why it failed, for logs and the console

    signatures: list[str] = field(default_factory=list)  # first signatures, kept after `txs` is let go

    def __post_init__(self) -> None:
        if not self.signatures:
            self.signatures = [str(tx.signatures[0]) for tx in self.txs]

    def release(self) -> None:
        """Drop the transactions once the bundle is final: the 5-minute lookback keeps only statuses."""
        self.txs = []

    @property
    def tip_per_cu(self) -> float:
        return self.tip_lamports / max(self.requested_cu, 1)


class BundleBook:
    """Every bundle the engine accepted in the lookback window, by id (oldest first)."""

    def __init__(self, lookback_s: float = 300.0) -> None:
        self.lookback_s = lookback_s
        self._records: OrderedDict[str, BundleRecord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> list[BundleRecord]:
        """Every record in the lookback window, oldest first."""
        return list(self._records.values())

    def get(self, bid: str) -> BundleRecord | None:
        return self._records.get(bid)

    def add(self, record: BundleRecord) -> None:
        self._records[record.bundle_id] = record

    def prune(self, now: float) -> None:
        while self._records:
            oldest = next(iter(self._records.values()))
            if now - oldest.received <= self.lookback_s or oldest.state == PENDING:
                break
            self._records.popitem(last=False)

    def inflight_status(self, bid: str, current_slot: int) -> dict[str, Any] | None:
        record = self._records.get(bid)
        if record is None:
            return None
        status = record.state
        # The engine learns a bundle landed once the leader's block is out, not while it is built.
        if status == LANDED and record.landed_slot is not None and current_slot <= record.landed_slot:
            status = PENDING
        landed_slot = record.landed_slot if status == LANDED else None
        return {"bundle_id": bid, "status": status, "landed_slot": landed_slot}

    def landed_status(self, bid: str, current_slot: int, confirmation: str) -> dict[str, Any] | None:
        record = self._records.get(bid)
        if record is None or record.state != LANDED or record.landed_slot is None:
            return None
        if current_slot <= record.landed_slot:
            return None
        return {
            "bundle_id": bid,
            "transactions": record.signatures,
            "slot": record.landed_slot,
            "confirmation_status": confirmation,
            "err": {"Ok": None},
        }
