"""A single-node Solana cluster over LiteSVM: slot clock, blockhash ageing, commitment, history.

LiteSVM executes transactions; this class adds what a validator adds around them, measured to
match mainnet: a slot every `slot_ms` (Clock, SlotHashes and blockhash roll), blockhashes valid
for 150 blocks (`lastValidBlockHeight`), statuses processed → confirmed (next slot) → finalized
(32 slots), transaction records for `getTransaction`, priority fees per writable account, and
state as of the confirmed / finalized slot (an undo log of the last 32 slots).

Everything runs on the event loop thread: LiteSVM is not thread-safe, and its calls take tens of µs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import importlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solders.account import Account
from solders.clock import Clock
from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import TransactionErrorFieldless, TransactionErrorType

from core.localnet import tx_inspect
from core.localnet.faults import Faults
from core.localnet.token_balances import MintDecimals, token_balances
from core.localnet.tx_errors import error_json, error_text
from core.localnet.tx_json import inner_instructions_json, return_data_json, with_blockhash
from core.protocols import ids

log = logging.getLogger(__name__)

MAX_PROCESSING_AGE = 150  # blocks a blockhash stays usable for transactions
MAX_RECENT_BLOCKHASHES = 300  # blocks a blockhash stays in the queue (getFeeForMessage)
MAX_SLOT_HASHES = 512
FINALIZATION_DEPTH = 32
STATUS_CACHE_SLOTS = 300  # getSignatureStatuses without searchTransactionHistory
ADDRESS_HISTORY = 10_000  # signatures remembered per address for getSignaturesForAddress
ADDRESS_SWEEP_EVERY = 10_000  # evicted records between sweeps of the address index
PRIORITY_FEE_SLOTS = 150
DEFAULT_HISTORY_CAPACITY = 50_000  # transaction records kept for getTransaction (a few KB each)
# Duplicate suppression is the cluster's own status cache (it must cover every signature of the
# last 150+ blocks, and LiteSVM skips its history check when sigverify is off); LiteSVM's history
# is only a backstop, kept small because it holds every result's logs.
SVM_HISTORY_CAPACITY = 20_000
FAUCET_LAMPORTS = 500_000_000 * 1_000_000_000
OPERATOR_LAMPORTS = 1_000 * 1_000_000_000


# -- events shared with PubSub / simulator (see notes/cluster-interface.md) ----------------------
@dataclass(frozen=True)
class SlotEvent:
    slot: int
    parent: int
    root: int


@dataclass(frozen=True)
class TxEvent:
    signature: Signature
    slot: int
    err: TransactionErrorType | None
    logs: list[str]
    # Post-state of every account the transaction stored: all it write-locked on success, only
    # the fee payer on failure (as the runtime commits a failed transaction).
    accounts: dict[Pubkey, Account | None]
    mentions: frozenset[Pubkey]  # every key it loaded, static and from lookup tables


@dataclass(frozen=True)
class CommitmentEvent:
    slot: int
    commitment: str


ClusterEvent = SlotEvent | TxEvent | CommitmentEvent


# -- records --------------------------------------------------------------------------------------
@dataclass
class TxRecord:
    """Everything getTransaction / getSignatureStatuses report about a landed transaction.

    The account snapshots are kept as taken; the JSON views of them (token balances, inner
    instructions) are built on first read, off the landing path.
    """

    signature: Signature
    slot: int
    tx: VersionedTransaction
    err: TransactionErrorType | None
    err_json: Any
    fee: int
    logs: list[str]
    compute_units: int
    loaded: tx_inspect.LoadedKeys
    pre_balances: list[int]
    post_balances: list[int]
    return_data: dict[str, Any] | None
    block_time: int
    pre_accounts: list[Account | None] = field(repr=False)
    post_accounts: list[Account | None] = field(repr=False)
    meta: TransactionMetadata = field(repr=False)
    decimals: MintDecimals = field(repr=False)

    @functools.cached_property
    def pre_token_balances(self) -> list[dict[str, Any]]:
        return token_balances(self.loaded.keys, self.pre_accounts, self.decimals)

    @functools.cached_property
    def post_token_balances(self) -> list[dict[str, Any]]:
        return token_balances(self.loaded.keys, self.post_accounts, self.decimals)

    @functools.cached_property
    def inner_instructions(self) -> list[dict[str, Any]]:
        return inner_instructions_json(self.meta)


@dataclass
class Simulation:
    """simulateTransaction / preflight outcome (not committed)."""

    err: TransactionErrorType | None
    err_json: Any
    logs: list[str]
    units_consumed: int
    return_data: dict[str, Any] | None
    inner_instructions: list[dict[str, Any]]
    loaded: tx_inspect.LoadedKeys | None
    post_accounts: dict[Pubkey, Account | None]
    fee: int
    pre_balances: list[int] = field(default_factory=list)
    post_balances: list[int] = field(default_factory=list)
    replacement_blockhash: tuple[Hash, int] | None = None


@dataclass(frozen=True)
class Block:
    slot: int
    parent_slot: int
    blockhash: Hash
    previous_blockhash: Hash
    block_height: int
    block_time: int
    transactions: list[TxRecord]


class TxRejected(Exception):
    """The transaction never made it into a block (no fee, no record), as BlockhashNotFound does."""

    def __init__(self, err: TransactionErrorType) -> None:
        self.err = err
        self.err_json = error_json(err)
        self.text = error_text(self.err_json)
        super().__init__(self.text)


@dataclass(frozen=True)
class _BlockInfo:
    slot: int
    block_height: int
    blockhash: Hash
    block_time: int


def _keypair_for(seed: int, role: str) -> Keypair:
    return Keypair.from_seed(hashlib.sha256(f"arbtui-localnet/{role}/{seed}".encode()).digest())


def optional_module(module: str) -> Any:
    """A sibling module built by another part of the project, or None while it is absent/broken."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            log.error("%s cannot be imported: %s", module, exc)
        return None
    except Exception as exc:
        log.error("%s cannot be imported: %s: %s", module, type(exc).__name__, exc)
        return None


class Cluster:
    def __init__(
        self,
        *,
        seed: int = 0,
        slot_ms: float = 400.0,
        store_dir: Path | None = None,
        faults: Faults | None = None,
        ledger_path: Path | None = None,
        history_capacity: int = DEFAULT_HISTORY_CAPACITY,
    ) -> None:
        self.seed = seed
        self.slot_ms = slot_ms
        self.store_dir = store_dir
        self.faults = faults if faults is not None else Faults()
        self.ledger_path = ledger_path
        self.history_capacity = history_capacity
        # LiteSVM's own blockhash check only accepts the latest hash; the 150-block window is ours.
        self.svm = (
            LiteSVM()
            .with_sigverify(True)
            .with_blockhash_check(False)
            .with_transaction_history(SVM_HISTORY_CAPACITY)
        )
        self.slot = 0
        self.block_height = 0
        self.ready = False
        self.scenario: Any = None
        self.faucet = _keypair_for(seed, "faucet")
        self.identity = _keypair_for(seed, "identity").pubkey()
        self.genesis_hash = Hash.default()
        self.genesis_time = 0
        self.transaction_count = 0
        self.first_available_slot = 0
        self.ledger: Any = None  # set by core.localnet.ledger.attach_ledger for --ledger
        self._listeners: list[Callable[[ClusterEvent], None]] = []
        self._blocks: dict[int, _BlockInfo] = {}  # slot -> block, last MAX_RECENT_BLOCKHASHES
        self._hash_index: dict[Hash, _BlockInfo] = {}
        self._slot_hashes: deque[tuple[int, Hash]] = deque(maxlen=MAX_SLOT_HASHES)
        self._records: OrderedDict[Signature, TxRecord] = OrderedDict()
        # The status cache: signatures landed in the last STATUS_CACHE_SLOTS slots (duplicates).
        self._status_cache: dict[Signature, int] = {}
        self._status_by_slot: deque[tuple[int, list[Signature]]] = deque()
        self._block_times: list[int] = []  # index = slot
        self._block_hashes: list[Hash] = []  # index = slot
        self._block_heights: list[int] = []  # index = slot
        self._slot_txs: dict[int, list[Signature]] = {}  # landing order, for getBlock
        self._by_address: dict[Pubkey, deque[Signature]] = {}
        self._evicted = 0
        self._undo: dict[int, dict[Pubkey, Account | None]] = {}
        self._fees: deque[tuple[int, int | None, dict[Pubkey, int]]] = deque(maxlen=PRIORITY_FEE_SLOTS)
        self._slot_fees: tuple[int | None, dict[Pubkey, int]] = (None, {})
        self._decimals = MintDecimals(self.svm.get_account)
        self._clock_task: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        self._load_programs()
        self._load_genesis()
        self.genesis_time = int(time.time())
        self.svm.warp_to_slot(0)
        self.svm.set_slot_hashes([])
        self._set_clock(0)
        self._record_block(0, 0, self.svm.latest_blockhash())
        self.genesis_hash = self._compute_genesis_hash()
        # Block 0 is genesis itself; transactions land from slot 1 on, as on a fresh validator.
        self.advance_slot()
        self._attach_ledger()
        self.ready = True
        self._clock_task = asyncio.get_running_loop().create_task(self._run_clock(), name="slot-clock")
        log.info("localnet cluster ready: seed=%s slot_ms=%s genesis=%s", self.seed, self.slot_ms,
                 self.genesis_hash)

    async def stop(self) -> None:
        self.ready = False
        if self._clock_task is not None:
            self._clock_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock_task
            self._clock_task = None
        if self.ledger is not None and hasattr(self.ledger, "close"):
            self.ledger.close()
            self.ledger = None

    def _load_programs(self) -> None:
        programs = optional_module("core.localnet.programs")
        loader = getattr(programs, "load_programs", None) if programs is not None else None
        if loader is None:
            log.warning("core.localnet.programs.load_programs not available: no emulator programs loaded")
            return
        loader(self.svm)

    def _load_genesis(self) -> None:
        genesis = optional_module("core.localnet.genesis")
        self.svm.set_account(
            self.faucet.pubkey(), Account(FAUCET_LAMPORTS, b"", ids.SYSTEM_PROGRAM, False, 0)
        )
        if genesis is not None and hasattr(genesis, "build_genesis"):
            self.scenario = genesis.build_genesis(self.svm, self.seed, self.store_dir)
            return
        log.warning("core.localnet.genesis not available: minimal genesis (native mint + operator)")
        from core.localnet.accounts import set_mint

        set_mint(self.svm, ids.NATIVE_MINT, 9)
        operator = self._fallback_operator()
        self.svm.set_account(operator.pubkey(), Account(OPERATOR_LAMPORTS, b"", ids.SYSTEM_PROGRAM, False, 0))
        self.scenario = {"operator": str(operator.pubkey())}

    def _fallback_operator(self) -> Keypair:
        if self.store_dir is None:
            return _keypair_for(self.seed, "operator")
        path = Path(self.store_dir) / "localnet-operator.json"
        if path.exists():
            import json

            return Keypair.from_bytes(bytes(json.loads(path.read_text())))
        keypair = _keypair_for(self.seed, "operator")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(list(bytes(keypair))))
        path.chmod(0o600)
        return keypair

    def _compute_genesis_hash(self) -> Hash:
        summary = self.scenario.to_json() if hasattr(self.scenario, "to_json") else repr(self.scenario)
        digest = hashlib.sha256()
        digest.update(f"arbtui-localnet/genesis/{self.seed}".encode())
        digest.update(bytes(self.svm.latest_blockhash()))
        digest.update(str(summary).encode())
        return Hash(digest.digest())

    def _attach_ledger(self) -> None:
        if self.ledger_path is None:
            return
        ledger = optional_module("core.localnet.ledger")
        attach = getattr(ledger, "attach_ledger", None) if ledger is not None else None
        if attach is None:
            log.warning("--ledger given but core.localnet.ledger.attach_ledger is not available")
            return
        attach(self, self.ledger_path)

    # -- listeners -------------------------------------------------------------------------------
    def add_listener(self, fn: Callable[[ClusterEvent], None]) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[ClusterEvent], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(fn)

    def _emit(self, event: ClusterEvent) -> None:
        for fn in list(self._listeners):
            try:
                fn(event)
            except Exception:
                log.exception("cluster listener %r failed on %r", fn, type(event).__name__)

    # -- slot clock ------------------------------------------------------------------------------
    async def _run_clock(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.slot_ms / 1000.0
        deadline = loop.time()
        while True:
            deadline += period
            delay = deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                deadline = loop.time()  # fell behind: carry on from now rather than bursting slots
                await asyncio.sleep(0)
            stall = self.faults.take_stall_ms()
            if stall > 0:
                await asyncio.sleep(stall / 1000.0)
                deadline = loop.time()
            try:
                self.advance_slot()
            except Exception:
                log.exception("slot advance failed")

    def advance_slot(self) -> None:
        """Close the current slot and open the next one (called by the clock; tests may call it)."""
        parent = self.slot
        self._fees.append((parent, *self._slot_fees))
        self._slot_fees = (None, {})
        new = parent + 1
        self.svm.warp_to_slot(new)
        # SlotHashes in bank N holds its ancestors, newest first (the parent's hash on top).
        self._slot_hashes.appendleft((parent, self._blocks[parent].blockhash))
        self.svm.set_slot_hashes(list(self._slot_hashes))
        self.svm.expire_blockhash()
        self.block_height += 1
        self.slot = new
        self._set_clock(new)
        self._record_block(new, self.block_height, self.svm.latest_blockhash())
        root = max(new - FINALIZATION_DEPTH, 0)
        for slot in [s for s in self._undo if s <= root]:
            del self._undo[slot]
        while self._status_by_slot and self._status_by_slot[0][0] < new - STATUS_CACHE_SLOTS:
            for signature in self._status_by_slot.popleft()[1]:
                self._status_cache.pop(signature, None)
        self._emit(SlotEvent(new, parent, root))
        self._emit(CommitmentEvent(parent, "confirmed"))
        if new >= FINALIZATION_DEPTH:
            self._emit(CommitmentEvent(root, "finalized"))

    def _set_clock(self, slot: int) -> None:
        schedule = self.svm.get_epoch_schedule()
        epoch, _ = schedule.get_epoch_and_slot_index(slot)
        self.svm.set_clock(Clock(slot, self.genesis_time, epoch, epoch + 1, int(time.time())))

    def _record_block(self, slot: int, height: int, blockhash: Hash) -> None:
        block = _BlockInfo(slot, height, blockhash, int(time.time()))
        self._blocks[slot] = block
        self._block_times.append(block.block_time)
        self._block_hashes.append(blockhash)
        self._block_heights.append(height)
        self._hash_index[blockhash] = block
        stale = slot - MAX_RECENT_BLOCKHASHES
        old = self._blocks.pop(stale, None)
        if old is not None:
            self._hash_index.pop(old.blockhash, None)

    # -- commitment views ------------------------------------------------------------------------
    def commitment_slot(self, commitment: str | None = None) -> int:
        """The slot of the bank a query at `commitment` reads (agave's default is finalized)."""
        commitment = commitment or "finalized"
        if commitment == "processed":
            return self.slot
        if commitment == "confirmed":
            return max(self.slot - 1, 0)
        return max(self.slot - FINALIZATION_DEPTH, 0)

    def block_height_at(self, slot: int) -> int:
        block = self._blocks.get(slot)
        return block.block_height if block is not None else slot

    def block_time(self, slot: int) -> int | None:
        return self._block_times[slot] if 0 <= slot < len(self._block_times) else None

    def latest_blockhash(self, commitment: str | None = None) -> tuple[Hash, int]:
        """(blockhash, lastValidBlockHeight) of the bank at `commitment`."""
        block = self._blocks[self.commitment_slot(commitment)]
        return block.blockhash, block.block_height + MAX_PROCESSING_AGE

    def is_blockhash_valid(self, blockhash: Hash, commitment: str | None = None,
                           max_age: int = MAX_PROCESSING_AGE) -> bool:
        block = self._hash_index.get(blockhash)
        if block is None:
            return False
        at_slot = self.commitment_slot(commitment)
        return block.slot <= at_slot and self.block_height_at(at_slot) - block.block_height <= max_age

    def last_valid_block_height(self, blockhash: Hash) -> int | None:
        block = self._hash_index.get(blockhash)
        return None if block is None else block.block_height + MAX_PROCESSING_AGE

    def get_account(self, pubkey: Pubkey, commitment: str | None = "processed") -> Account | None:
        target = self.commitment_slot(commitment)
        for slot in range(target + 1, self.slot + 1):
            changes = self._undo.get(slot)
            if changes is not None and pubkey in changes:
                return changes[pubkey]
        return self.svm.get_account(pubkey)

    def program_accounts(
        self, program: Pubkey, commitment: str | None = "processed"
    ) -> list[tuple[Pubkey, Account]]:
        current = dict(self.svm.get_program_accounts(program))
        target = self.commitment_slot(commitment)
        changed: set[Pubkey] = set()
        for slot in range(target + 1, self.slot + 1):
            changed.update(self._undo.get(slot, ()))
        for pubkey in changed:
            old = self.get_account(pubkey, commitment)
            if old is None or old.owner != program:
                current.pop(pubkey, None)
            else:
                current[pubkey] = old
        return list(current.items())

    # -- transactions ----------------------------------------------------------------------------
    def submit(self, tx: VersionedTransaction, *, signatures_verified: bool = False) -> TxRecord:
        """Land `tx` in the current slot, or raise TxRejected when no block would include it.

        `signatures_verified`: the caller (RPC preflight) already checked every signature.
        """
        if len(bytes(tx)) > tx_inspect.PACKET_DATA_SIZE:
            raise TxRejected(TransactionErrorFieldless.SanitizeFailure)
        message = tx.message
        if not self.is_blockhash_valid(message.recent_blockhash, "processed"):
            raise TxRejected(TransactionErrorFieldless.BlockhashNotFound)
        signature = tx.signatures[0]
        if signature in self._status_cache:
            raise TxRejected(TransactionErrorFieldless.AlreadyProcessed)
        get = self.svm.get_account
        loaded = tx_inspect.load_keys(message, get)
        pre = [get(k) for k in loaded.keys]
        if signatures_verified:
            self.svm.with_sigverify(False)
            try:
                result = self.svm.send_transaction(tx)
            finally:
                self.svm.with_sigverify(True)
        else:
            result = self.svm.send_transaction(tx)
        post = [get(k) for k in loaded.keys]
        pre_balances = [a.lamports if a is not None else 0 for a in pre]
        post_balances = [a.lamports if a is not None else 0 for a in post]
        if isinstance(result, FailedTransactionMetadata):
            err = result.err()
            meta = result.meta()
            # Only a charged fee means the block included it; everything else never landed.
            if not pre_balances or pre_balances[0] == post_balances[0]:
                raise TxRejected(err)
        else:
            err = None
            meta = result
        return self._commit(tx, signature, err, meta, loaded, pre, post, pre_balances, post_balances)

    def _commit(
        self,
        tx: VersionedTransaction,
        signature: Signature,
        err: TransactionErrorType | None,
        meta: TransactionMetadata,
        loaded: tx_inspect.LoadedKeys,
        pre: list[Account | None],
        post: list[Account | None],
        pre_balances: list[int],
        post_balances: list[int],
    ) -> TxRecord:
        slot = self.slot
        keys = loaded.keys
        record = TxRecord(
            signature=signature,
            slot=slot,
            tx=tx,
            err=err,
            err_json=error_json(err),
            # A failed transaction pays only its fee, so the fee payer's change is the fee.
            fee=pre_balances[0] - post_balances[0] if err is not None else meta.fee(),
            logs=list(meta.logs()),
            compute_units=meta.compute_units_consumed(),
            loaded=loaded,
            pre_balances=pre_balances,
            post_balances=post_balances,
            return_data=return_data_json(meta),
            block_time=self._blocks[slot].block_time,
            pre_accounts=pre,
            post_accounts=post,
            meta=meta,
            decimals=self._decimals,
        )
        self._records[signature] = record
        self._status_cache[signature] = slot
        if not self._status_by_slot or self._status_by_slot[-1][0] != slot:
            self._status_by_slot.append((slot, []))
        self._status_by_slot[-1][1].append(signature)
        for key in set(keys):
            history = self._by_address.get(key)
            if history is None:
                history = self._by_address[key] = deque(maxlen=ADDRESS_HISTORY)
            history.append(signature)
        self._slot_txs.setdefault(slot, []).append(signature)
        while len(self._records) > self.history_capacity:
            _, oldest = self._records.popitem(last=False)
            if oldest.slot > self.first_available_slot:
                for gone in range(self.first_available_slot, oldest.slot):
                    self._slot_txs.pop(gone, None)
                self.first_available_slot = oldest.slot
            self._evicted += 1
            if self._evicted % ADDRESS_SWEEP_EVERY == 0:
                self._sweep_address_index()
        self.transaction_count += 1
        undo = self._undo.setdefault(slot, {})
        locked = [i for i, is_w in enumerate(loaded.writable) if is_w]
        # A failed transaction stores only its fee payer (charged the fee); a successful one
        # stores every account it write-locked, changed or not.
        stored = locked if err is None else [0]
        written: dict[Pubkey, Account | None] = {}
        for i in stored:
            undo.setdefault(keys[i], pre[i])
            written[keys[i]] = post[i]
        self._note_priority_fee(tx.message, [keys[i] for i in locked])
        self._emit(TxEvent(signature, slot, err, record.logs, written, frozenset(keys)))
        return record

    def land_executed(
        self,
        tx: VersionedTransaction,
        meta: TransactionMetadata,
        loaded: tx_inspect.LoadedKeys,
        pre: list[Account | None],
        post: list[Account | None],
    ) -> TxRecord:
        """Land a successful transaction whose effects the caller already applied to the SVM.

        For bundles (core/localnet/bundles.py): they run uncommitted, then land all or none;
        landing records, caches and notifies exactly as `submit` does.
        """
        pre_balances = [a.lamports if a is not None else 0 for a in pre]
        post_balances = [a.lamports if a is not None else 0 for a in post]
        return self._commit(tx, tx.signatures[0], None, meta, loaded, pre, post, pre_balances, post_balances)

    def _note_priority_fee(self, message: Message | MessageV0, write_locked: list[Pubkey]) -> None:
        price = tx_inspect.compute_budget(message).unit_price
        block_min, per_account = self._slot_fees
        block_min = price if block_min is None else min(block_min, price)
        for key in write_locked:
            current = per_account.get(key)
            per_account[key] = price if current is None else min(current, price)
        self._slot_fees = (block_min, per_account)

    def simulate(
        self,
        tx: VersionedTransaction,
        *,
        commitment: str | None = None,
        sig_verify: bool = False,
        replace_blockhash: bool = False,
        detail: bool = True,
    ) -> Simulation:
        """Run `tx` against the current state without committing it.

        `detail=False` (preflight) reports only the outcome, logs, units and return data.
        """
        replacement: tuple[Hash, int] | None = None
        if replace_blockhash:
            replacement = self.latest_blockhash(commitment)
            tx = with_blockhash(tx, replacement[0])
        message = tx.message
        get = self.svm.get_account
        loaded = tx_inspect.load_keys(message, get) if detail else None
        fee = tx_inspect.fee_for(message)
        if not self.is_blockhash_valid(message.recent_blockhash, commitment):
            return Simulation(TransactionErrorFieldless.BlockhashNotFound, "BlockhashNotFound", [], 0, None,
                              [], loaded, {}, fee, replacement_blockhash=replacement)
        landed = self._status_cache.get(tx.signatures[0])
        if landed is not None and landed <= self.commitment_slot(commitment):
            return Simulation(TransactionErrorFieldless.AlreadyProcessed, "AlreadyProcessed", [], 0, None,
                              [], loaded, {}, fee, replacement_blockhash=replacement)
        self.svm.with_sigverify(sig_verify)
        try:
            result = self.svm.simulate_transaction(tx)
        finally:
            self.svm.with_sigverify(True)
        if loaded is None:
            meta = result.meta()
            err = result.err() if isinstance(result, FailedTransactionMetadata) else None
            return Simulation(err, error_json(err), list(meta.logs()), meta.compute_units_consumed(),
                              return_data_json(meta), [], None, {}, fee)
        pre = [get(k) for k in loaded.keys]
        pre_balances = [a.lamports if a is not None else 0 for a in pre]
        if isinstance(result, FailedTransactionMetadata):
            meta = result.meta()
            err = result.err()
            post_accounts: dict[Pubkey, Account | None] = dict(zip(loaded.keys, pre, strict=True))
        else:
            meta = result.meta()
            err = None
            post_accounts = dict(zip(loaded.keys, pre, strict=True))
            post_accounts.update(dict(result.post_accounts()))
        post_balances = [
            (a.lamports if (a := post_accounts.get(k)) is not None else 0) for k in loaded.keys
        ]
        return Simulation(
            err=err,
            err_json=error_json(err),
            logs=list(meta.logs()),
            units_consumed=meta.compute_units_consumed(),
            return_data=return_data_json(meta),
            inner_instructions=inner_instructions_json(meta),
            loaded=loaded,
            post_accounts=post_accounts,
            fee=fee,
            pre_balances=pre_balances,
            post_balances=post_balances,
            replacement_blockhash=replacement,
        )

    def airdrop(self, to: Pubkey, lamports: int) -> TxRecord:
        """A faucet transfer, landed like any other transaction (as the test validator's faucet)."""
        blockhash = self._blocks[self.slot].blockhash
        ix = transfer(TransferParams(from_pubkey=self.faucet.pubkey(), to_pubkey=to, lamports=lamports))
        message = MessageV0.try_compile(self.faucet.pubkey(), [ix], [], blockhash)
        tx = VersionedTransaction(message, [self.faucet])
        # An identical request under the same blockhash is the same transaction: the node drops
        # the duplicate and the caller gets the same signature back.
        existing = self._records.get(tx.signatures[0])
        return existing if existing is not None else self.submit(tx)

    def block(self, slot: int) -> Block | None:
        """A past slot's block (None for the open slot and beyond what the ledger keeps)."""
        if not self.first_available_slot <= slot < self.slot:
            return None
        records = [r for sig in self._slot_txs.get(slot, ()) if (r := self._records.get(sig)) is not None]
        return Block(
            slot=slot,
            parent_slot=max(slot - 1, 0),
            blockhash=self._block_hashes[slot],
            previous_blockhash=self._block_hashes[max(slot - 1, 0)],
            block_height=self._block_heights[slot],
            block_time=self._block_times[slot],
            transactions=records,
        )

    def _sweep_address_index(self) -> None:
        """Forget addresses none of whose transactions is still in history (bounds the index)."""
        for address in [a for a, sigs in self._by_address.items() if sigs[-1] not in self._records]:
            del self._by_address[address]

    def signatures_for_address(self, address: Pubkey) -> list[TxRecord]:
        """Records that loaded `address`, newest first (as far as history reaches)."""
        history = self._by_address.get(address, ())
        return [r for sig in reversed(history) if (r := self._records.get(sig)) is not None]

    def mint_decimals(self, mint: Pubkey) -> int | None:
        return self._decimals.get(mint)

    def transaction(self, signature: Signature) -> TxRecord | None:
        return self._records.get(signature)

    def status_cache_has(self, record: TxRecord) -> bool:
        return record.signature in self._status_cache

    def confirmation_status(self, slot: int) -> str:
        if slot <= self.commitment_slot("finalized"):
            return "finalized"
        if slot <= self.commitment_slot("confirmed") and slot < self.slot:
            return "confirmed"
        return "processed"

    def prioritization_fees(self, accounts: Iterable[Pubkey]) -> list[tuple[int, int]]:
        wanted = list(accounts)
        out = []
        for slot, block_min, per_account in self._fees:
            fee = block_min or 0
            for key in wanted:
                account_fee = per_account.get(key)
                if account_fee is not None:
                    fee = max(fee, account_fee)
            out.append((slot, fee))
        return out

    def fee_for_message(self, message: Message | MessageV0, commitment: str | None = None) -> int | None:
        if not self.is_blockhash_valid(message.recent_blockhash, commitment, MAX_RECENT_BLOCKHASHES):
            return None
        return tx_inspect.fee_for(message)

    def epoch_info(self, commitment: str | None = None) -> dict[str, int]:
        slot = self.commitment_slot(commitment)
        schedule = self.svm.get_epoch_schedule()
        epoch, index = schedule.get_epoch_and_slot_index(slot)
        return {
            "absoluteSlot": slot,
            "blockHeight": self.block_height_at(slot),
            "epoch": epoch,
            "slotIndex": index,
            "slotsInEpoch": schedule.get_slots_in_epoch(epoch),
            "transactionCount": self.transaction_count,
        }
