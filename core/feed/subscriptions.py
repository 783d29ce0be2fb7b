"""Which websocket subscriptions keep the market current, and turning their notifications into updates.

Pools: one `programSubscribe` per pool kind, filtered like the initial getProgramAccounts (Raydium
by its 752-byte size, Whirlpool by the account discriminator), so new pools show up by themselves.
Whirlpool tick arrays: one `programSubscribe` per tick-array discriminator (fixed and dynamic).

Vaults (Raydium only; a Whirlpool swap quotes from the pool and its tick arrays alone): every
Raydium v4 vault is owned by the same PDA, `amm authority` with the pool's nonce (254 for all
live pools), so one SPL Token `programSubscribe` filtered on that owner (memcmp at offset 32,
dataSize 165) covers every vault of every pool with one subscription, where `accountSubscribe`
would need two per pool — thousands on mainnet, past most providers' per-connection limits. An
owner holding only a few tracked vaults gets per-vault `accountSubscribe`s instead, so the feed
does not take a whole owner's traffic for a couple of accounts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import base58
from solana.rpc.models import MemcmpOpts
from solana.rpc.websocket_api import SolanaWsClient
from solders.pubkey import Pubkey
from solders.rpc.responses import (
    AccountNotification,
    Notification,
    ProgramNotification,
    SlotNotification,
)

from core.feed.loader import POOL_FILTERS
from core.feed.market_state import NOTIFIED, AccountUpdate
from core.protocols import ids
from core.protocols.spl_token import TOKEN_ACCOUNT_LEN
from core.protocols.whirlpool import DYNAMIC_TICK_ARRAY_DISCRIMINATOR, TICK_ARRAY_DISCRIMINATOR
from core.search.dex_whirlpool import WHIRLPOOL

log = logging.getLogger(__name__)

# An owner with at least this many tracked vaults is followed with one filtered programSubscribe.
OWNER_SUBSCRIPTION_MIN_VAULTS = 8
_TOKEN_OWNER_OFFSET = 32
_ENCODING = "base64"
_COMMITMENT = "processed"


def _memcmp(offset: int, raw: bytes) -> MemcmpOpts:
    return MemcmpOpts(offset=offset, bytes=base58.b58encode(raw).decode())


@dataclass
class Subscriptions:
    """The subscriptions of one websocket connection; a new connection starts a new one."""

    ws: SolanaWsClient
    account_of: dict[int, Pubkey] = field(default_factory=dict)  # accountSubscribe id -> pubkey
    owners: set[Pubkey] = field(default_factory=set)
    accounts: set[Pubkey] = field(default_factory=set)
    count: int = 0

    async def open_market(self, dexes: Iterable[str]) -> None:
        """Slots, pool programs and tick arrays: everything not tied to a particular pool."""
        await self.ws.slot_subscribe()
        self.count += 1
        for dex in dexes:
            program, filters = POOL_FILTERS[dex]
            opts = [f if isinstance(f, int) else _memcmp(*f) for f in filters]
            await self.ws.program_subscribe(
                program_id=program, commitment=_COMMITMENT, encoding=_ENCODING, filters=opts
            )
            self.count += 1
            if dex == WHIRLPOOL:
                for disc in (TICK_ARRAY_DISCRIMINATOR, DYNAMIC_TICK_ARRAY_DISCRIMINATOR):
                    await self.ws.program_subscribe(
                        program_id=program, commitment=_COMMITMENT, encoding=_ENCODING,
                        filters=[_memcmp(0, disc)],
                    )
                    self.count += 1

    async def cover_vaults(self, vaults_by_owner: dict[Pubkey, list[Pubkey]]) -> int:
        """Subscribe whatever tracked vault is not followed yet; returns how many subscriptions were added."""
        added = 0
        for owner, vaults in vaults_by_owner.items():
            if owner in self.owners:
                continue
            if len(vaults) >= OWNER_SUBSCRIPTION_MIN_VAULTS:
                await self.ws.program_subscribe(
                    program_id=ids.TOKEN_PROGRAM, commitment=_COMMITMENT, encoding=_ENCODING,
                    filters=[TOKEN_ACCOUNT_LEN, _memcmp(_TOKEN_OWNER_OFFSET, bytes(owner))],
                )
                self.owners.add(owner)
                added += 1
                continue
            for vault in vaults:
                if vault in self.accounts:
                    continue
                sub = await self.ws.account_subscribe(
                    pubkey=vault, commitment=_COMMITMENT, encoding=_ENCODING
                )
                self.account_of[sub.subscription_id] = vault
                self.accounts.add(vault)
                added += 1
        self.count += added
        return added


def to_update(note: Notification, account_of: dict[int, Pubkey]) -> AccountUpdate | int | None:
    """An account notification as an AccountUpdate, a slot notification as its slot, else None."""
    if isinstance(note, SlotNotification):
        return int(note.result.slot)
    if isinstance(note, ProgramNotification):
        keyed = note.result.value
        return _update(keyed.pubkey, keyed.account, note.result.context.slot)
    if isinstance(note, AccountNotification):
        key = account_of.get(note.subscription)
        if key is None:
            return None
        return _update(key, note.result.value, note.result.context.slot)
    return None


def _update(key: Pubkey, account: object, slot: int) -> AccountUpdate:
    lamports = getattr(account, "lamports", 0)
    owner = getattr(account, "owner", None)
    if lamports == 0 or (owner == ids.SYSTEM_PROGRAM and not bytes(getattr(account, "data", b""))):
        return AccountUpdate(key, None, None, slot, NOTIFIED)  # closed: agave shows 0 lamports, system-owned
    return AccountUpdate(key, owner, bytes(getattr(account, "data", b"")), slot, NOTIFIED)
