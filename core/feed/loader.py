"""Bulk reads over JSON-RPC: every pool of a program, then the accounts those pools need.

Each read asks for `minContextSlot` = the newest slot the feed has seen, so a lagging RPC node
(behind a load balancer) can never hand back state older than what the websocket already showed;
a node that is behind answers with an error and the read is retried shortly after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import base58
from solana.exceptions import SolanaRpcException
from solana.rpc.async_http_provider import AsyncHTTPProvider
from solana.rpc.core import RPCException
from solders.account import Account
from solders.account_decoder import UiAccountEncoding
from solders.commitment_config import CommitmentLevel
from solders.pubkey import Pubkey
from solders.rpc.config import RpcAccountInfoConfig, RpcContextConfig, RpcProgramAccountsConfig
from solders.rpc.filter import Memcmp
from solders.rpc.requests import GetMultipleAccounts, GetProgramAccounts, GetSlot
from solders.rpc.responses import GetMultipleAccountsResp, GetProgramAccountsWithContextResp, GetSlotResp

from core.feed.market_state import FETCHED, AccountUpdate
from core.protocols import ids
from core.protocols.raydium_amm import AMM_INFO_LEN
from core.protocols.whirlpool import WHIRLPOOL_DISCRIMINATOR
from core.search.dex_raydium import RAYDIUM_AMM_V4
from core.search.dex_whirlpool import WHIRLPOOL

log = logging.getLogger(__name__)

MAX_MULTIPLE_ACCOUNTS = 100  # getMultipleAccounts' per-call limit on every agave node
MIN_CONTEXT_RETRIES = 20
MIN_CONTEXT_RETRY_S = 0.05

# A filter as both APIs take it: a dataSize, or (offset, bytes) for a memcmp.
Filter = int | tuple[int, bytes]

# The pool accounts of each dex, as getProgramAccounts / programSubscribe filters.
POOL_FILTERS: dict[str, tuple[Pubkey, tuple[Filter, ...]]] = {
    RAYDIUM_AMM_V4: (ids.RAYDIUM_AMM_V4, (AMM_INFO_LEN,)),
    WHIRLPOOL: (ids.ORCA_WHIRLPOOL, ((0, WHIRLPOOL_DISCRIMINATOR),)),
}


def _rpc_filter(f: Filter) -> int | Memcmp:
    # base58 text: the one memcmp encoding every node (and older agave) accepts.
    return f if isinstance(f, int) else Memcmp(f[0], base58.b58encode(f[1]).decode())

RpcFailure = (SolanaRpcException, RPCException, OSError, TimeoutError)


class RpcReader:
    """getProgramAccounts / getMultipleAccounts / getSlot at `processed`, with minContextSlot."""

    def __init__(self, rpc_url: str, *, timeout: float = 10.0) -> None:
        self.provider = AsyncHTTPProvider(rpc_url, timeout=timeout, http2=False)
        self.requests = 0

    async def close(self) -> None:
        await self.provider.close()

    def _account_config(self, min_slot: int | None) -> RpcAccountInfoConfig:
        return RpcAccountInfoConfig(
            UiAccountEncoding.Base64, None, CommitmentLevel.Processed, min_slot or None
        )

    async def get_slot(self) -> int:
        self.requests += 1
        request = GetSlot(RpcContextConfig(CommitmentLevel.Processed))
        resp = await self.provider.make_request(request, GetSlotResp)
        return int(resp.value)

    async def program_accounts(
        self, program: Pubkey, filters: Sequence[Filter], min_slot: int | None = None
    ) -> tuple[int, list[AccountUpdate]]:
        """Every account of `program` matching `filters`, and the slot the node answered at."""
        for attempt in range(MIN_CONTEXT_RETRIES):
            config = RpcProgramAccountsConfig(
                self._account_config(min_slot), [_rpc_filter(f) for f in filters], True
            )
            try:
                self.requests += 1
                resp = await self.provider.make_request(
                    GetProgramAccounts(program, config), GetProgramAccountsWithContextResp
                )
            except RPCException as exc:
                if not _behind(exc) or attempt == MIN_CONTEXT_RETRIES - 1:
                    raise
                await asyncio.sleep(MIN_CONTEXT_RETRY_S)
                continue
            slot = resp.context.slot
            return slot, [
                AccountUpdate(k.pubkey, k.account.owner, bytes(k.account.data), slot, FETCHED)
                for k in resp.value
            ]
        raise AssertionError("unreachable")

    async def multiple_accounts(
        self, keys: Sequence[Pubkey], min_slot: int | None = None
    ) -> tuple[int, list[AccountUpdate]]:
        """The accounts (None data where absent), in calls of at most 100 keys; the lowest answer slot."""
        updates: list[AccountUpdate] = []
        lowest: int | None = None
        for i in range(0, len(keys), MAX_MULTIPLE_ACCOUNTS):
            chunk = list(keys[i : i + MAX_MULTIPLE_ACCOUNTS])
            slot, accounts = await self._multiple(chunk, min_slot)
            lowest = slot if lowest is None else min(lowest, slot)
            for key, acc in zip(chunk, accounts, strict=True):
                if acc is None:
                    updates.append(AccountUpdate(key, None, None, slot, FETCHED))
                else:
                    updates.append(AccountUpdate(key, acc.owner, bytes(acc.data), slot, FETCHED))
        return (lowest or 0), updates

    async def _multiple(self, chunk: list[Pubkey], min_slot: int | None) -> tuple[int, list[Account | None]]:
        for attempt in range(MIN_CONTEXT_RETRIES):
            try:
                self.requests += 1
                resp = await self.provider.make_request(
                    GetMultipleAccounts(chunk, self._account_config(min_slot)), GetMultipleAccountsResp
                )
            except RPCException as exc:
                if not _behind(exc) or attempt == MIN_CONTEXT_RETRIES - 1:
                    raise
                await asyncio.sleep(MIN_CONTEXT_RETRY_S)
                continue
            return resp.context.slot, list(resp.value)
        raise AssertionError("unreachable")


def _behind(exc: RPCException) -> bool:
    # agave's "Minimum context slot has not been reached" (-32016).
    return "-32016" in str(exc) or "Minimum context slot" in str(exc)
