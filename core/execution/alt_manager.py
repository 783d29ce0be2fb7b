"""Address lookup tables for the bot's routes: which accounts, when to create, when usable, when stale.

The manager counts the accounts the bot's routes mention (pools, vaults, reserves, programs,
sysvars); those seen in at least `min_uses` routes go into tables the bot owns. Never tip
accounts (Jito refuses bundles that look them up, protocols.md §1.4) and never signers (a signer
must be a static key). Tables are created and extended in batches of ≤ 20 addresses (one
transaction each, well under 1232 bytes), and an address is only used once the slot after its
extension has begun (`current_slot > last_extended_slot`, protocols.md §6.3). Every table is
persisted (address, contents, creation and extension slots) so a restart reuses it, and stale
ones are deactivated and, 512 slots later, closed to recover their rent.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from solders.address_lookup_table_account import (
    LOOKUP_TABLE_MAX_ADDRESSES,
    AddressLookupTable,
    AddressLookupTableAccount,
)
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import (
    CloseLookupTableParams,
    CreateLookupTableParams,
    DeactivateLookupTableParams,
    ExtendLookupTableParams,
    close_lookup_table,
    create_lookup_table,
    deactivate_lookup_table,
    extend_lookup_table,
)
from solders.transaction import VersionedTransaction

from core.execution.rpc import JsonRpc, RpcError
from core.protocols import ids
from core.store import LookupTableRecord, StoreReader, StoreWriter

EXTEND_BATCH = 20
DEACTIVATION_COOLDOWN_SLOTS = 512  # SlotHashes entries: a table is closable once its slot left them
NEVER_IN_TABLES = frozenset(ids.JITO_TIP_ACCOUNTS)


class LookupTableError(Exception):
    """A table transaction failed or did not confirm."""


@dataclass
class ManagedTable:
    address: Pubkey
    created_slot: int
    addresses: list[Pubkey]
    last_extended_slot: int
    deactivated_slot: int | None = None
    last_used_at: float = field(default_factory=time.time)
    # Where the last extension's addresses start (the program's last_extended_slot_start_index):
    # the ones before it stay usable in the extension's own slot. 0 for a table loaded from the
    # store, which is then treated as if all of it were new (older than a slot in practice).
    extended_from: int = 0

    def account(self) -> AddressLookupTableAccount:
        return AddressLookupTableAccount(self.address, list(self.addresses))

    def active_addresses(self, slot: int) -> list[Pubkey]:
        """What a transaction executed at `slot` may look up: addresses appended in that very slot
        are not active until the next (the ALT program's get_active_addresses_len)."""
        if self.deactivated_slot is not None:
            return []
        if slot > self.last_extended_slot:
            return list(self.addresses)
        return self.addresses[: self.extended_from]


class LookupTableManager:
    def __init__(
        self,
        rpc: JsonRpc,
        rpc_url: str,
        authority: Keypair | Pubkey,
        *,
        writer: StoreWriter | None = None,
        min_uses: int = 2,
        batch: int = EXTEND_BATCH,
        poll_s: float = 0.02,
        timeout_s: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 1 <= batch <= EXTEND_BATCH:
            raise ValueError(f"extend batches hold 1..{EXTEND_BATCH} addresses, got {batch}")
        self.rpc = rpc
        self.rpc_url = rpc_url
        self.authority = authority
        # Dry-run holds no signing key: it may count routes and use the tables that exist, and
        # `signer` is set (by the live path) before anything is created, extended or closed.
        self.owner = authority.pubkey() if isinstance(authority, Keypair) else authority
        self.signer: Keypair | None = authority if isinstance(authority, Keypair) else None
        self.writer = writer
        self.min_uses = min_uses
        self.batch = batch
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self._sleep = sleep
        self.uses: Counter[Pubkey] = Counter()
        self.tables: list[ManagedTable] = []

    # -- what goes in -----------------------------------------------------------------------------

    def observe(self, route_accounts: Iterable[Pubkey], signers: Iterable[Pubkey] = ()) -> None:
        """Count one route's accounts (each at most once per route)."""
        excluded = NEVER_IN_TABLES | {self.owner, *signers}
        for key in set(route_accounts) - excluded:
            self.uses[key] += 1

    def observe_instructions(self, ixs: Sequence[Instruction]) -> None:
        keys: set[Pubkey] = set()
        signers: set[Pubkey] = set()
        for ix in ixs:
            keys.add(ix.program_id)
            for meta in ix.accounts:
                (signers if meta.is_signer else keys).add(meta.pubkey)
        self.observe(keys - signers, signers)

    def stored(self) -> set[Pubkey]:
        return {a for t in self.tables if t.deactivated_slot is None for a in t.addresses}

    def candidates(self) -> list[Pubkey]:
        """Recurring accounts not yet in a table, most used first (ties by address, for stability)."""
        have = self.stored()
        recurring = [(n, str(k), k) for k, n in self.uses.items() if n >= self.min_uses and k not in have]
        return [k for _, _, k in sorted(recurring, key=lambda t: (-t[0], t[1]))]

    # -- persistence ------------------------------------------------------------------------------

    def load(self, reader: StoreReader) -> None:
        for record in reader.lookup_tables():
            if record.authority != str(self.owner):
                continue
            self.tables.append(ManagedTable(
                Pubkey.from_string(record.address), record.created_slot,
                [Pubkey.from_string(a) for a in record.addresses], record.last_extended_slot,
                record.deactivated_slot,
            ))

    def _save(self, table: ManagedTable, *, closed: bool = False) -> None:
        if self.writer is None:
            return
        self.writer.save_lookup_table(LookupTableRecord(
            address=str(table.address),
            authority=str(self.owner),
            created_slot=table.created_slot,
            addresses=[str(a) for a in table.addresses],
            last_extended_slot=table.last_extended_slot,
            deactivated_slot=table.deactivated_slot,
            closed_at=time.time() if closed else None,
        ))

    async def verify(self) -> list[ManagedTable]:
        """Drop (and return) loaded tables whose on-chain contents differ from the store's."""
        gone = []
        for table in list(self.tables):
            onchain = await self.fetch(table.address)
            if onchain is None or list(onchain.addresses[: len(table.addresses)]) != table.addresses:
                self.tables.remove(table)
                gone.append(table)
        return gone

    async def fetch(self, address: Pubkey) -> AddressLookupTable | None:
        reply = await self.rpc.call(self.rpc_url, "getAccountInfo",
                                    [str(address), {"encoding": "base64", "commitment": "processed"}])
        value = reply.get("value") if isinstance(reply, dict) else None
        if not value:
            return None
        return AddressLookupTable.deserialize(base64.b64decode(value["data"][0]))

    # -- creating and extending -------------------------------------------------------------------

    async def sync(self) -> list[ManagedTable]:
        """Put every candidate into a table (new tables as needed), then wait for the warm-up."""
        pending = self.candidates()
        touched: list[ManagedTable] = []
        while pending:
            table = next((t for t in self.tables if t.deactivated_slot is None
                          and len(t.addresses) < LOOKUP_TABLE_MAX_ADDRESSES), None)
            room = LOOKUP_TABLE_MAX_ADDRESSES - (len(table.addresses) if table else 0)
            chunk, pending = pending[: min(self.batch, room)], pending[min(self.batch, room):]
            table = await (self._create(chunk) if table is None else self._extend(table, chunk))
            if table not in touched:
                touched.append(table)
        if touched:
            await self.wait_usable(max(t.last_extended_slot for t in touched))
        return touched

    async def _create(self, first: list[Pubkey]) -> ManagedTable:
        recent_slot = await self._slot("finalized")
        create_ix, address = create_lookup_table(CreateLookupTableParams(
            authority_address=self.owner, payer_address=self.owner,
            recent_slot=recent_slot,
        ))
        slot = await self._send([create_ix, self._extend_ix(address, first)])
        table = ManagedTable(address, slot, list(first), slot)
        self.tables.append(table)
        self._save(table)
        return table

    async def _extend(self, table: ManagedTable, more: list[Pubkey]) -> ManagedTable:
        slot = await self._send([self._extend_ix(table.address, more)])
        if slot > table.last_extended_slot:
            table.extended_from = len(table.addresses)
        table.addresses.extend(more)
        table.last_extended_slot = slot
        self._save(table)
        return table

    def _extend_ix(self, table: Pubkey, addresses: list[Pubkey]) -> Instruction:
        return extend_lookup_table(ExtendLookupTableParams(
            payer_address=self.owner, lookup_table_address=table,
            authority_address=self.owner, new_addresses=addresses,
        ))

    async def wait_usable(self, last_extended_slot: int) -> None:
        deadline = time.monotonic() + self.timeout_s
        while await self._slot("processed") <= last_extended_slot:
            if time.monotonic() > deadline:
                raise LookupTableError(f"slot never passed {last_extended_slot}")
            await self._sleep(self.poll_s)

    # -- using ------------------------------------------------------------------------------------

    async def usable(self) -> list[AddressLookupTableAccount]:
        if not self.tables:
            return []
        slot = await self._slot("processed")
        # A table being extended stays in use with what it held before the extension.
        return [AddressLookupTableAccount(t.address, active) for t in self.tables
                if (active := t.active_addresses(slot))]

    async def compile(self, payer: Pubkey, ixs: Sequence[Instruction], blockhash: Hash) -> MessageV0:
        """A v0 message looking up every account the warm tables hold."""
        tables = await self.usable()
        used = {m.pubkey for ix in ixs for m in ix.accounts} | {ix.program_id for ix in ixs}
        now = time.time()
        for table in self.tables:
            if used.intersection(table.addresses):
                table.last_used_at = now
        return MessageV0.try_compile(payer, list(ixs), tables, blockhash)

    # -- retiring ---------------------------------------------------------------------------------

    def retiring(self, max_idle_s: float) -> bool:
        """Whether a table is due for deactivation, or deactivated and waiting to be closed."""
        now = time.time()
        return any(t.deactivated_slot is not None or now - t.last_used_at > max_idle_s for t in self.tables)

    async def deactivate_stale(self, max_idle_s: float) -> list[ManagedTable]:
        now = time.time()
        stale = [t for t in self.tables if t.deactivated_slot is None and now - t.last_used_at > max_idle_s]
        for table in stale:
            table.deactivated_slot = await self._send([deactivate_lookup_table(DeactivateLookupTableParams(
                lookup_table_address=table.address, authority_address=self.owner))])
            self._save(table)
        return stale

    async def close_deactivated(self) -> list[ManagedTable]:
        """Close tables whose deactivation left SlotHashes; their rent returns to the authority."""
        slot = await self._slot("processed")
        ready = [t for t in self.tables if t.deactivated_slot is not None
                 and slot > t.deactivated_slot + DEACTIVATION_COOLDOWN_SLOTS]
        for table in ready:
            await self._send([close_lookup_table(CloseLookupTableParams(
                lookup_table_address=table.address, authority_address=self.owner,
                recipient_address=self.owner))])
            self.tables.remove(table)
            self._save(table, closed=True)
        return ready

    # -- transport --------------------------------------------------------------------------------

    async def _slot(self, commitment: str) -> int:
        return int(await self.rpc.call(self.rpc_url, "getSlot", [{"commitment": commitment}]))

    async def _send(self, ixs: list[Instruction]) -> int:
        """Send one table transaction and return the slot it landed in."""
        if self.signer is None or self.signer.pubkey() != self.owner:
            raise LookupTableError(f"no signing key for the table authority {self.owner}")
        latest = await self.rpc.call(self.rpc_url, "getLatestBlockhash", [{"commitment": "processed"}])
        blockhash = Hash.from_string(latest["value"]["blockhash"])
        tx = VersionedTransaction(MessageV0.try_compile(self.owner, ixs, [], blockhash),
                                  [self.signer])
        encoded = base64.b64encode(bytes(tx)).decode()
        try:
            config = {"encoding": "base64", "preflightCommitment": "processed"}
            signature = await self.rpc.call(self.rpc_url, "sendTransaction", [encoded, config])
        except RpcError as exc:
            raise LookupTableError(f"lookup-table transaction refused: {exc.message}") from exc
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            reply = await self.rpc.call(self.rpc_url, "getSignatureStatuses", [[signature]])
            status = (reply.get("value") or [None])[0]
            if isinstance(status, dict):
                if status.get("err") is not None:
                    raise LookupTableError(f"lookup-table transaction failed: {status['err']}")
                return int(status["slot"])
            await self._sleep(self.poll_s)
        raise LookupTableError(f"lookup-table transaction {signature} did not confirm")
