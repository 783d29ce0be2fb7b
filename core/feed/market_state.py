"""The feed's copy of the market: raw pool, vault and tick-array state, and the search Pools built from it.

Every account update carries a version `(slot, rank)`: rank 0 for an RPC fetch, 1 for a websocket
notification. An update older than what is held is ignored. The ranks settle the one real race: a
fetch answered at slot R and a notification from the same slot R may arrive in either order, and
since subscriptions are always opened before the fetch, a notification at slot ≥ R is never older
than the fetch (the transaction it reports landed after the subscription), while one at a slot < R
always is.

Malformed data raises `DecodeError` inside the decoders; here it is logged and counted and the pool
it belongs to leaves the search until a good update arrives.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.errors import DecodeError
from core.protocols.raydium_amm import AMM_INFO_LEN, AmmInfo, amm_authority, decode_amm_info
from core.protocols.spl_token import decode_token_account
from core.protocols.whirlpool import (
    DYNAMIC_TICK_ARRAY_DISCRIMINATOR,
    TICK_ARRAY_DISCRIMINATOR,
    TICK_ARRAY_SIZE,
    WHIRLPOOL_DISCRIMINATOR,
    TickArray,
    Whirlpool,
    decode_tick_array,
    decode_whirlpool,
    start_tick_index,
    tick_array_address,
)
from core.quote.raydium_amm import RaydiumSwapError, check_swap_status
from core.search.dex_raydium import RAYDIUM_AMM_V4, RaydiumState
from core.search.dex_whirlpool import WHIRLPOOL, WhirlpoolState
from core.search.pools import Pool

log = logging.getLogger(__name__)

FETCHED = 0
NOTIFIED = 1
# Tick arrays kept per Whirlpool, either side of the one holding the current tick: a swap walks
# at most three, starting one array ahead in the "shifted" b→a case.
TICK_ARRAY_WINDOW = 3
DEXES = (RAYDIUM_AMM_V4, WHIRLPOOL)
PROGRAM_OF_DEX = {RAYDIUM_AMM_V4: ids.RAYDIUM_AMM_V4, WHIRLPOOL: ids.ORCA_WHIRLPOOL}

Version = tuple[int, int]


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """One account as a fetch or a notification saw it; `data is None` means it does not exist."""

    pubkey: Pubkey
    owner: Pubkey | None
    data: bytes | None
    slot: int
    rank: int


@dataclass(slots=True)
class RaydiumEntry:
    id: Pubkey
    info: AmmInfo | None = None
    coin_amount: int | None = None
    pc_amount: int | None = None
    slot: int = 0
    broken: str = ""  # why the last data could not be used


@dataclass(slots=True)
class WhirlpoolEntry:
    id: Pubkey
    pool: Whirlpool | None = None
    arrays: dict[int, TickArray] = field(default_factory=dict)  # by start tick index
    slot: int = 0
    broken: str = ""


Entry = RaydiumEntry | WhirlpoolEntry


class MarketState:
    """Pools of the configured dexes, the accounts they depend on, and which pools changed."""

    def __init__(self, dexes: Iterable[str] = DEXES) -> None:
        self.dexes = frozenset(dexes)
        unknown = self.dexes - set(DEXES)
        if unknown:
            raise ValueError(f"no feed support for dex {sorted(unknown)}")
        self.entries: dict[Pubkey, Entry] = {}
        self._versions: dict[Pubkey, Version] = {}
        self._vault_pool: dict[Pubkey, Pubkey] = {}  # vault -> Raydium pool
        self._array_key: dict[tuple[Pubkey, int], Pubkey] = {}  # (whirlpool, start) -> PDA
        self._array_pool: dict[Pubkey, tuple[Pubkey, int]] = {}  # PDA -> (whirlpool, start)
        self._raw: dict[Pubkey, bytes] = {}  # last data applied, to skip unchanged re-reports
        self.decode_errors: Counter[str] = Counter()
        self.last_decode_error: DecodeError | None = None

    # ------------------------------------------------------------------ reads

    @property
    def decode_error_count(self) -> int:
        return sum(self.decode_errors.values())

    def pool_ids(self, dex: str | None = None) -> list[Pubkey]:
        return [k for k, e in self.entries.items() if dex is None or _dex_of(e) == dex]

    def vaults(self) -> list[Pubkey]:
        return list(self._vault_pool)

    def vaults_by_owner(self) -> dict[Pubkey, list[Pubkey]]:
        """Vault owner → the tracked vaults it owns (Raydium's owner is one PDA for every pool)."""
        owners: dict[Pubkey, list[Pubkey]] = {}
        for entry in self.entries.values():
            if isinstance(entry, RaydiumEntry) and entry.info is not None:
                owner = _authority(entry.info.nonce)
                owners.setdefault(owner, []).extend((entry.info.coin_vault, entry.info.pc_vault))
        return owners

    def window_arrays(self) -> list[Pubkey]:
        """Tick-array PDAs every tracked Whirlpool needs around its current tick."""
        out: list[Pubkey] = []
        for entry in self.entries.values():
            if isinstance(entry, WhirlpoolEntry) and entry.pool is not None:
                out.extend(self._array_pda(entry.id, s) for s in _window(entry.pool))
        return out

    def needed_accounts(self) -> list[Pubkey]:
        """Vaults and window tick arrays never seen yet: what a fetch must bring in."""
        needed = [v for v in self._vault_pool if v not in self._versions]
        needed += [a for a in self.window_arrays() if a not in self._versions]
        return needed

    def tracked_accounts(self) -> list[Pubkey]:
        """Every vault and window tick array: what a resync refetches."""
        return [*self._vault_pool, *self.window_arrays()]

    def pool(self, pool_id: Pubkey) -> Pool | None:
        """The search's view of a pool, or None while it cannot be quoted (missing data, closed)."""
        entry = self.entries.get(pool_id)
        if entry is None or entry.broken:
            return None
        if isinstance(entry, RaydiumEntry):
            return _raydium_pool(entry)
        return _whirlpool_pool(entry)

    def pools(self) -> list[Pool]:
        return [p for k in self.entries if (p := self.pool(k)) is not None]

    # ------------------------------------------------------------------ writes

    def apply(self, update: AccountUpdate) -> set[Pubkey]:
        """Apply one account update; returns the pools whose search view may have changed."""
        key = update.pubkey
        held = self._versions.get(key)
        version = (update.slot, update.rank)
        if held is not None and version < held:
            return set()
        if update.data is not None and held is not None and self._raw.get(key) == update.data:
            self._versions[key] = version
            return set()  # write-locked but unchanged (every swap re-reports its pool and tick arrays)
        self._versions[key] = version
        if update.data is None:
            self._raw.pop(key, None)
            changed = self._delete(key, update.slot)
        else:
            self._raw[key] = update.data
            try:
                changed = self._route(update)
            except DecodeError as exc:
                self.decode_errors[exc.kind] += 1
                self.last_decode_error = exc
                log.warning("feed: %s", exc)
                changed = self._mark_broken(key, update.slot, str(exc))
        if not self._tracked(key):
            # Accounts of pools not followed (another pool's vault under the same owner, ...).
            self._versions.pop(key, None)
            self._raw.pop(key, None)
        return changed

    def _tracked(self, key: Pubkey) -> bool:
        if key in self.entries or key in self._vault_pool:
            return True
        located = self._array_pool.get(key)
        if located is None:
            return False
        entry = self.entries.get(located[0])
        if not isinstance(entry, WhirlpoolEntry) or entry.pool is None:
            return False
        return located[1] in _window(entry.pool)

    def forget_missing_pools(self, dex: str, present: set[Pubkey], slot: int) -> set[Pubkey]:
        """After a full program listing at `slot`: drop pools of `dex` it no longer holds."""
        gone = [k for k, e in self.entries.items() if _dex_of(e) == dex and k not in present
                and self._versions.get(k, (0, 0)) < (slot, NOTIFIED)]
        changed: set[Pubkey] = set()
        for key in gone:
            changed |= self._delete(key, slot)
        return changed

    def _route(self, update: AccountUpdate) -> set[Pubkey]:
        key, data, owner = update.pubkey, update.data, update.owner
        assert data is not None
        if key in self._vault_pool:
            return self._apply_vault(key, data, update.slot)
        if key in self._array_pool or (owner == ids.ORCA_WHIRLPOOL and data[:8] in _ARRAY_DISCS):
            return self._apply_tick_array(key, data, update.slot)
        if owner == ids.RAYDIUM_AMM_V4 and RAYDIUM_AMM_V4 in self.dexes:
            if len(data) != AMM_INFO_LEN and key not in self.entries:
                return set()  # open orders, target orders, ...: not pools
            return self._apply_raydium(key, data, update.slot)
        if owner == ids.ORCA_WHIRLPOOL and WHIRLPOOL in self.dexes:
            if data[:8] != WHIRLPOOL_DISCRIMINATOR and key not in self.entries:
                return set()  # configs, positions, fee tiers, ...
            return self._apply_whirlpool(key, data, update.slot)
        if key in self.entries:
            return self._delete(key, update.slot)  # reassigned to another program: no longer a pool
        return set()

    def _apply_raydium(self, key: Pubkey, data: bytes, slot: int) -> set[Pubkey]:
        info = decode_amm_info(data, key)
        entry = self.entries.get(key)
        if not isinstance(entry, RaydiumEntry):
            entry = self.entries[key] = RaydiumEntry(key)
        if entry.info is not None and entry.info.coin_vault != info.coin_vault:
            self._vault_pool.pop(entry.info.coin_vault, None)
        if entry.info is not None and entry.info.pc_vault != info.pc_vault:
            self._vault_pool.pop(entry.info.pc_vault, None)
        entry.info = info
        entry.broken = ""
        entry.slot = max(entry.slot, slot)
        self._vault_pool[info.coin_vault] = key
        self._vault_pool[info.pc_vault] = key
        return {key}

    def _apply_vault(self, key: Pubkey, data: bytes, slot: int) -> set[Pubkey]:
        pool_id = self._vault_pool[key]
        entry = self.entries.get(pool_id)
        if not isinstance(entry, RaydiumEntry) or entry.info is None:
            return set()
        token = decode_token_account(data, key)
        if key == entry.info.coin_vault:
            entry.coin_amount = token.amount
        else:
            entry.pc_amount = token.amount
        entry.slot = max(entry.slot, slot)
        if entry.broken.startswith("vault"):
            entry.broken = ""
        return {pool_id}

    def _apply_whirlpool(self, key: Pubkey, data: bytes, slot: int) -> set[Pubkey]:
        pool = decode_whirlpool(data, key)
        entry = self.entries.get(key)
        if not isinstance(entry, WhirlpoolEntry):
            entry = self.entries[key] = WhirlpoolEntry(key)
        entry.pool = pool
        entry.broken = ""
        entry.slot = max(entry.slot, slot)
        # Arrays that fell out of the window are dropped, so a pool never quotes from one that
        # stopped being refreshed (it is re-fetched if the price comes back).
        keep = set(_window(pool))
        for start in [s for s in entry.arrays if s not in keep]:
            del entry.arrays[start]
            pda = self._array_pda(key, start)
            self._versions.pop(pda, None)
            self._raw.pop(pda, None)
        return {key}

    def _apply_tick_array(self, key: Pubkey, data: bytes, slot: int) -> set[Pubkey]:
        array = decode_tick_array(data, key)
        entry = self.entries.get(array.whirlpool)
        if not isinstance(entry, WhirlpoolEntry) or entry.pool is None:
            return set()  # an array of a pool not tracked (yet), or outside its window: not kept
        if array.start_tick_index not in _window(entry.pool):
            return set()
        entry.arrays[array.start_tick_index] = array
        self._array_pool[key] = (array.whirlpool, array.start_tick_index)
        entry.slot = max(entry.slot, slot)
        return {entry.id}

    def _delete(self, key: Pubkey, slot: int) -> set[Pubkey]:
        if key in self.entries:
            entry = self.entries.pop(key)
            if isinstance(entry, RaydiumEntry) and entry.info is not None:
                for vault in (entry.info.coin_vault, entry.info.pc_vault):
                    if self._vault_pool.get(vault) == key:
                        del self._vault_pool[vault]
            return {key}
        if key in self._vault_pool:
            return self._mark_broken(self._vault_pool[key], slot, "vault closed")
        located = self._array_pool.get(key)
        if located is not None:
            entry = self.entries.get(located[0])
            if isinstance(entry, WhirlpoolEntry) and entry.arrays.pop(located[1], None) is not None:
                entry.slot = max(entry.slot, slot)
                return {entry.id}
        return set()

    def _mark_broken(self, key: Pubkey, slot: int, reason: str) -> set[Pubkey]:
        pool_id = self._vault_pool.get(key, key)
        located = self._array_pool.get(key)
        if located is not None:
            pool_id = located[0]
        entry = self.entries.get(pool_id)
        if entry is None:
            return set()
        if located is not None and isinstance(entry, WhirlpoolEntry):
            entry.arrays.pop(located[1], None)
        else:
            entry.broken = ("vault: " if key in self._vault_pool else "") + reason
        entry.slot = max(entry.slot, slot)
        return {pool_id}

    def _array_pda(self, whirlpool: Pubkey, start: int) -> Pubkey:
        cached = self._array_key.get((whirlpool, start))
        if cached is None:
            cached = self._array_key[(whirlpool, start)] = tick_array_address(whirlpool, start)
            self._array_pool[cached] = (whirlpool, start)
        return cached


_ARRAY_DISCS = (TICK_ARRAY_DISCRIMINATOR, DYNAMIC_TICK_ARRAY_DISCRIMINATOR)


@functools.cache
def _authority(nonce: int) -> Pubkey:
    return amm_authority(nonce)


def _dex_of(entry: Entry) -> str:
    return RAYDIUM_AMM_V4 if isinstance(entry, RaydiumEntry) else WHIRLPOOL


def _window(pool: Whirlpool) -> list[int]:
    span = TICK_ARRAY_SIZE * pool.tick_spacing
    base = start_tick_index(pool.tick_current_index, pool.tick_spacing)
    return [base + k * span for k in range(-TICK_ARRAY_WINDOW, TICK_ARRAY_WINDOW + 1)]


def _raydium_pool(entry: RaydiumEntry) -> Pool | None:
    info = entry.info
    if info is None or entry.coin_amount is None or entry.pc_amount is None:
        return None
    try:
        # The wall clock stands in for the cluster's: it only matters for pools opening later.
        check_swap_status(info, int(time.time()))
        state = RaydiumState.from_pool(info, entry.coin_amount, entry.pc_amount)
    except RaydiumSwapError:
        return None
    if info.coin_vault_mint == info.pc_vault_mint:
        return None
    return Pool(entry.id, RAYDIUM_AMM_V4, info.coin_vault_mint, info.pc_vault_mint, state, entry.slot)


def _whirlpool_pool(entry: WhirlpoolEntry) -> Pool | None:
    pool = entry.pool
    if pool is None or pool.token_mint_a == pool.token_mint_b:
        return None
    if start_tick_index(pool.tick_current_index, pool.tick_spacing) not in entry.arrays:
        return None
    arrays = tuple(entry.arrays[s] for s in sorted(entry.arrays))
    state = WhirlpoolState(pool, arrays)
    return Pool(entry.id, WHIRLPOOL, pool.token_mint_a, pool.token_mint_b, state, entry.slot)
