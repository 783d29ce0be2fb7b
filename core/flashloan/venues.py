"""The pools of a route as the builder needs them: decoded keys for the swap instruction, and the
state the exact quoter takes (the same state objects the search quotes from)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Processed
from solders.instruction import Instruction
from solders.pubkey import Pubkey

from core.protocols import ids, raydium_amm, spl_token, whirlpool
from core.protocols.errors import DecodeError
from core.search.dex_raydium import RAYDIUM_AMM_V4, RaydiumState
from core.search.dex_raydium import quote as raydium_quote
from core.search.dex_whirlpool import WHIRLPOOL, WhirlpoolState
from core.search.dex_whirlpool import quote as whirlpool_quote

TokenAccountFor = Callable[[Pubkey], Pubkey]


class VenueError(Exception):
    """A pool of the route cannot be used (missing, foreign owner, layout changed, vault mismatch)."""


@dataclass(frozen=True)
class Venue:
    """One pool. `mint_a`/`mint_b` follow the search's convention (Raydium coin/pc, Whirlpool A/B)."""

    address: Pubkey
    dex: str
    mint_a: Pubkey
    mint_b: Pubkey
    keys: Any  # raydium_amm.AmmInfo | whirlpool.Whirlpool
    state: Any  # RaydiumState | WhirlpoolState
    slot: int = 0

    def with_state(self, state: Any) -> Venue:
        return replace(self, state=state)

    def quote(self, a_to_b: bool, amount_in: int) -> int:
        if self.dex == RAYDIUM_AMM_V4:
            return raydium_quote(self.state, a_to_b, amount_in)
        if self.dex == WHIRLPOOL:
            return whirlpool_quote(self.state, a_to_b, amount_in)
        raise VenueError(f"{self.address}: unsupported dex {self.dex!r}")

    def swap_instruction(
        self, *, a_to_b: bool, owner: Pubkey, token_account: TokenAccountFor, amount_in: int, min_out: int
    ) -> Instruction:
        """Exact-in swap of `amount_in` with `min_out` as the program's own slippage floor."""
        ata_a, ata_b = token_account(self.mint_a), token_account(self.mint_b)
        if self.dex == RAYDIUM_AMM_V4:
            source, destination = (ata_a, ata_b) if a_to_b else (ata_b, ata_a)
            return raydium_amm.swap_base_in_v2(
                self.address, self.keys, source, destination, owner, amount_in, min_out
            )
        if self.dex == WHIRLPOOL:
            # The pool may have moved since the keys were read; the tick arrays follow the state.
            pool = self.state.pool if isinstance(self.state, WhirlpoolState) else self.keys
            return whirlpool.swap_for_pool(
                self.address, pool, token_authority=owner, token_owner_account_a=ata_a,
                token_owner_account_b=ata_b, amount=amount_in, other_amount_threshold=min_out, a_to_b=a_to_b,
            )
        raise VenueError(f"{self.address}: unsupported dex {self.dex!r}")

    def accounts(self) -> list[Pubkey]:
        """Pool-side accounts every swap on this pool touches (for lookup tables)."""
        if self.dex == RAYDIUM_AMM_V4:
            info: raydium_amm.AmmInfo = self.keys
            return [ids.RAYDIUM_AMM_V4, self.address, raydium_amm.pool_authority(info), info.coin_vault,
                    info.pc_vault, ids.TOKEN_PROGRAM]
        pool: whirlpool.Whirlpool = self.state.pool if isinstance(self.state, WhirlpoolState) else self.keys
        keys = [ids.ORCA_WHIRLPOOL, self.address, pool.token_vault_a, pool.token_vault_b,
                whirlpool.oracle_address(self.address), ids.TOKEN_PROGRAM]
        for a_to_b in (True, False):
            arrays = whirlpool.swap_tick_array_addresses(self.address, pool, a_to_b)
            keys += [k for k in arrays if k not in keys]
        return keys


async def _accounts(client: AsyncClient, keys: Sequence[Pubkey]) -> tuple[int, list[Any]]:
    out: list[Any] = []
    slot = 0
    for i in range(0, len(keys), 100):
        resp = await client.get_multiple_accounts(list(keys[i : i + 100]), commitment=Processed)
        slot = max(slot, resp.context.slot)
        out += resp.value
    return slot, out


def _token_amount(account: Any, address: Pubkey, mint: Pubkey) -> int:
    if account is None:
        raise VenueError(f"vault {address} does not exist")
    try:
        decoded = spl_token.decode_token_account(bytes(account.data), address)
    except DecodeError as exc:
        raise VenueError(str(exc)) from exc
    if decoded.mint != mint:
        raise VenueError(f"vault {address} holds {decoded.mint}, not {mint}")
    return int(decoded.amount)


AccountsFetch = Callable[[Sequence[Pubkey]], Sequence[Any]]


def _decode_pools(
    wanted: Sequence[tuple[Pubkey, str]], accounts: Sequence[Any]
) -> dict[Pubkey, tuple[str, Any]]:
    decoded: dict[Pubkey, tuple[str, Any]] = {}
    for (address, dex), account in zip(wanted, accounts, strict=True):
        if account is None:
            raise VenueError(f"pool {address} does not exist")
        try:
            if dex == RAYDIUM_AMM_V4:
                if account.owner != ids.RAYDIUM_AMM_V4:
                    raise VenueError(f"pool {address} is owned by {account.owner}")
                decoded[address] = (dex, raydium_amm.decode_amm_info(bytes(account.data), address))
            elif dex == WHIRLPOOL:
                if account.owner != ids.ORCA_WHIRLPOOL:
                    raise VenueError(f"pool {address} is owned by {account.owner}")
                decoded[address] = (dex, whirlpool.decode_whirlpool(bytes(account.data), address))
            else:
                raise VenueError(f"pool {address}: unsupported dex {dex!r}")
        except DecodeError as exc:
            raise VenueError(str(exc)) from exc
    return decoded


def _dependent_keys(decoded: dict[Pubkey, tuple[str, Any]]) -> list[Pubkey]:
    """Vaults (and tick arrays) each pool's state needs, in a stable order."""
    extra: list[Pubkey] = []
    for address, (dex, keys) in decoded.items():
        if dex == RAYDIUM_AMM_V4:
            extra += [keys.coin_vault, keys.pc_vault]
        else:
            extra += [keys.token_vault_a, keys.token_vault_b]
            for a_to_b in (True, False):
                extra += whirlpool.swap_tick_array_addresses(address, keys, a_to_b)
    return list(dict.fromkeys(extra))


def _assemble(
    decoded: dict[Pubkey, tuple[str, Any]], by_key: dict[Pubkey, Any], slot: int
) -> dict[Pubkey, Venue]:
    out: dict[Pubkey, Venue] = {}
    for address, (dex, keys) in decoded.items():
        if dex == RAYDIUM_AMM_V4:
            coin = _token_amount(by_key[keys.coin_vault], keys.coin_vault, keys.coin_vault_mint)
            pc = _token_amount(by_key[keys.pc_vault], keys.pc_vault, keys.pc_vault_mint)
            try:
                state: Any = RaydiumState.from_pool(keys, coin, pc)
            except Exception as exc:
                raise VenueError(f"pool {address}: {exc}") from exc
            out[address] = Venue(address, dex, keys.coin_vault_mint, keys.pc_vault_mint, keys, state, slot)
            continue
        # A vault that no longer matches the pool's mints means the pool changed under us.
        _token_amount(by_key[keys.token_vault_a], keys.token_vault_a, keys.token_mint_a)
        _token_amount(by_key[keys.token_vault_b], keys.token_vault_b, keys.token_mint_b)
        arrays = []
        seen = set()
        for a_to_b in (True, False):
            for key in whirlpool.swap_tick_array_addresses(address, keys, a_to_b):
                acc = by_key.get(key)
                if acc is None or key in seen:
                    continue
                seen.add(key)
                data = bytes(acc.data)
                try:
                    if data[:8] == whirlpool.DYNAMIC_TICK_ARRAY_DISCRIMINATOR:
                        arrays.append(whirlpool.decode_dynamic_tick_array(data, key))
                    else:
                        arrays.append(whirlpool.decode_tick_array(data, key))
                except DecodeError as exc:
                    raise VenueError(str(exc)) from exc
        out[address] = Venue(address, dex, keys.token_mint_a, keys.token_mint_b, keys,
                             WhirlpoolState(keys, tuple(arrays)), slot)
    return out


def venues_from_accounts(
    pools: Iterable[tuple[Pubkey, str]], fetch: AccountsFetch, slot: int = 0
) -> dict[Pubkey, Venue]:
    """The same decoding as `load_venues`, from any account source (e.g. a LiteSVM's get_account)."""
    wanted = list(dict.fromkeys(pools))
    decoded = _decode_pools(wanted, fetch([p for p, _ in wanted]))
    extra = _dependent_keys(decoded)
    return _assemble(decoded, dict(zip(extra, fetch(extra), strict=True)), slot)


async def load_venues(client: AsyncClient, pools: Iterable[tuple[Pubkey, str]]) -> dict[Pubkey, Venue]:
    """Read and decode each (pool, dex) with its vaults (and tick arrays): two RPC round trips."""
    wanted = list(dict.fromkeys(pools))
    slot, accounts = await _accounts(client, [p for p, _ in wanted])
    decoded = _decode_pools(wanted, accounts)
    extra = _dependent_keys(decoded)
    slot2, extra_accounts = await _accounts(client, extra)
    return _assemble(decoded, dict(zip(extra, extra_accounts, strict=True)), max(slot, slot2))
