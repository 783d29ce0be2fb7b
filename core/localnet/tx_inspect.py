"""What a transaction loads, locks and pays, read the way the runtime reads it.

The cluster needs this around every LiteSVM call: the full account list (static keys plus
addresses loaded from lookup tables) for pre/post balances and notifications, which of those are
write-locked (priority-fee accounting, PubSub), and the fee (`getFeeForMessage`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from solders.account import Account
from solders.address_lookup_table_account import AddressLookupTable
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey

from core.protocols import ids

LAMPORTS_PER_SIGNATURE = 5_000
PACKET_DATA_SIZE = 1_232
MAX_COMPUTE_UNIT_LIMIT = 1_400_000
DEFAULT_INSTRUCTION_COMPUTE_UNIT_LIMIT = 200_000
# Builtins get a fixed small reservation instead of 200k (reserve_minimal_cus_for_builtin_instructions).
MAX_BUILTIN_ALLOCATION_COMPUTE_UNIT_LIMIT = 3_000
MICRO_LAMPORTS_PER_LAMPORT = 1_000_000
# Address lookup table account: 56-byte LookupTableMeta header, then 32-byte addresses.
LOOKUP_TABLE_META_SIZE = 56

_BUILTIN_PROGRAMS = frozenset(
    Pubkey.from_string(s)
    for s in (
        "11111111111111111111111111111111",
        "ComputeBudget111111111111111111111111111111",
        "AddressLookupTab1e1111111111111111111111111",
        "Vote111111111111111111111111111111111111111",
        "Stake11111111111111111111111111111111111111",
        "Config1111111111111111111111111111111111111",
        "BPFLoader1111111111111111111111111111111111",
        "BPFLoader2111111111111111111111111111111111",
        "BPFLoaderUpgradeab1e11111111111111111111111",
        "LoaderV411111111111111111111111111111111111",
        "KeccakSecp256k11111111111111111111111111111",
        "Ed25519SigVerify111111111111111111111111111",
    )
)
# Keys the runtime never write-locks even when a message marks them writable (reserved keys).
_RESERVED_KEYS = _BUILTIN_PROGRAMS | frozenset(
    Pubkey.from_string(s)
    for s in (
        "SysvarC1ock11111111111111111111111111111111",
        "SysvarRent111111111111111111111111111111111",
        "SysvarS1otHashes111111111111111111111111111",
        "SysvarS1otHistory11111111111111111111111111",
        "SysvarStakeHistory1111111111111111111111111",
        "SysvarEpochSchedu1e111111111111111111111111",
        "SysvarFees111111111111111111111111111111111",
        "SysvarRecentB1ockHashes11111111111111111111",
        "Sysvar1nstructions1111111111111111111111111",
        "SysvarEpochRewards1111111111111111111111111",
        "SysvarLastRestartS1ot1111111111111111111111",
        "Sysvar1111111111111111111111111111111111111",
    )
)


@dataclass(frozen=True)
class LoadedKeys:
    keys: list[Pubkey]  # static keys, then ALT writable, then ALT readonly (runtime order)
    writable: list[bool]  # write-locked after demotion of programs and reserved keys
    loaded_writable: list[Pubkey]
    loaded_readonly: list[Pubkey]
    complete: bool  # False when a lookup table or index could not be resolved


@dataclass(frozen=True)
class ComputeBudget:
    unit_limit: int
    unit_price: int  # micro-lamports per compute unit


def lookup_table(account: Account | None) -> AddressLookupTable | None:
    """The table an account holds (56-byte meta, then 32-byte addresses), or None if it holds none."""
    if account is None or account.owner != ids.ADDRESS_LOOKUP_TABLE_PROGRAM:
        return None
    data = bytes(account.data)
    if len(data) < LOOKUP_TABLE_META_SIZE or (len(data) - LOOKUP_TABLE_META_SIZE) % 32:
        return None
    try:
        return AddressLookupTable.deserialize(data)
    except ValueError:
        return None


def lookup_table_addresses(account: Account | None) -> list[Pubkey] | None:
    table = lookup_table(account)
    return None if table is None else list(table.addresses)


def active_lookup_addresses(table: AddressLookupTable, current_slot: int) -> int:
    """How many entries a transaction in `current_slot` may use: those extended in this slot wait."""
    meta = table.meta
    if current_slot > meta.last_extended_slot:
        return len(table.addresses)
    return meta.last_extended_slot_start_index


def load_keys(message: Message | MessageV0, get_account: Callable[[Pubkey], Account | None]) -> LoadedKeys:
    static = list(message.account_keys)
    header = message.header
    n_sig = header.num_required_signatures
    n_ro_signed = header.num_readonly_signed_accounts
    n_ro_unsigned = header.num_readonly_unsigned_accounts
    static_writable = [
        (i < n_sig - n_ro_signed) if i < n_sig else (i < len(static) - n_ro_unsigned)
        for i in range(len(static))
    ]
    loaded_w: list[Pubkey] = []
    loaded_r: list[Pubkey] = []
    complete = True
    if isinstance(message, MessageV0):
        for lookup in message.address_table_lookups:
            table = lookup_table_addresses(get_account(lookup.account_key))
            if table is None:
                complete = False
                continue
            for dest, indexes in ((loaded_w, lookup.writable_indexes), (loaded_r, lookup.readonly_indexes)):
                for index in bytes(indexes):
                    if index < len(table):
                        dest.append(table[index])
                    else:
                        complete = False
    keys = static + loaded_w + loaded_r
    writable = static_writable + [True] * len(loaded_w) + [False] * len(loaded_r)
    program_indexes = {ix.program_id_index for ix in message.instructions}
    # The runtime demotes invoked programs (unless the upgradeable loader is present) and reserved keys.
    for i, key in enumerate(keys):
        if writable[i] and (i in program_indexes or key in _RESERVED_KEYS):
            writable[i] = False
    return LoadedKeys(keys, writable, loaded_w, loaded_r, complete)


def compute_budget(message: Message | MessageV0) -> ComputeBudget:
    keys = message.account_keys
    limit: int | None = None
    price = 0
    builtin = 0
    other = 0
    for ix in message.instructions:
        program = keys[ix.program_id_index] if ix.program_id_index < len(keys) else None
        if program == ids.COMPUTE_BUDGET_PROGRAM:
            builtin += 1
            data = bytes(ix.data)
            if len(data) == 5 and data[0] == 2:
                (limit,) = struct.unpack_from("<I", data, 1)
            elif len(data) == 9 and data[0] == 3:
                (price,) = struct.unpack_from("<Q", data, 1)
        elif program in _BUILTIN_PROGRAMS:
            builtin += 1
        else:
            other += 1
    if limit is None:
        limit = (
            builtin * MAX_BUILTIN_ALLOCATION_COMPUTE_UNIT_LIMIT
            + other * DEFAULT_INSTRUCTION_COMPUTE_UNIT_LIMIT
        )
    return ComputeBudget(min(limit, MAX_COMPUTE_UNIT_LIMIT), price)


def fee_for(message: Message | MessageV0, lamports_per_signature: int = LAMPORTS_PER_SIGNATURE) -> int:
    """Base fee per signature plus the prioritization fee, rounded up as the runtime does."""
    budget = compute_budget(message)
    priority = -(-budget.unit_price * budget.unit_limit // MICRO_LAMPORTS_PER_LAMPORT)
    return message.header.num_required_signatures * lamports_per_signature + priority


def writable_keys(loaded: LoadedKeys) -> list[Pubkey]:
    return [k for k, w in zip(loaded.keys, loaded.writable, strict=True) if w]


def snapshot(keys: Sequence[Pubkey], get_account: Callable[[Pubkey], Account | None]) -> list[Account | None]:
    return [get_account(k) for k in keys]
