"""Orca Whirlpools in the local cluster's genesis: pools, initialized ticks, tick arrays, vaults.

Positions are not created: a swap only reads the ticks, so each position's liquidity is written
straight into its two ticks (`liquidity_net` +L at the lower tick, -L at the upper, `liquidity_gross`
+L at both) and into the pool's `liquidity` when the price is inside it. Vaults hold what the
positions would have deposited (`get_amount_delta_*`, rounded up) plus a margin.

Pools are written at their real PDA (`[b"whirlpool", config, mint_a, mint_b, tick_spacing LE]`), so
the emulator's vault -> user transfer, signed with those seeds, is accepted by SPL Token.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey

from core.localnet import accounts
from core.localnet.accounts import SetTokenAccount, TokenLike
from core.protocols import ids
from core.protocols.whirlpool import (
    MAX_TICK_INDEX,
    MIN_TICK_INDEX,
    NUM_REWARDS,
    TICK_ARRAY_SIZE,
    Tick,
    TickArray,
    Whirlpool,
    WhirlpoolRewardInfo,
    empty_tick_array,
    encode_tick_array,
    encode_whirlpool,
    oracle_address,
    start_tick_index,
    tick_array_address,
    whirlpool_address,
)
from core.quote.whirlpool import (
    sqrt_price_from_tick_index,
    tick_index_from_sqrt_price,
)

# The mainnet WhirlpoolsConfig; any address works, using the real one keeps pool PDAs realistic.
WHIRLPOOLS_CONFIG = Pubkey.from_string("2LecshUwdy9xi7meFgHtFJQNSKk4KdTrcpvaB56dP2NQ")
DEFAULT_PROTOCOL_FEE_RATE = 300  # 3 % of the fee, in basis points of the fee

# Mainnet fee tiers: tick_spacing -> fee_rate (hundredths of a basis point).
FEE_TIERS: dict[int, int] = {1: 100, 2: 200, 4: 400, 8: 500, 16: 1600, 64: 3000, 128: 10_000}

# token a, token b (by symbol, either order), USD depth per side, tick spacing. Pairs overlap the
# Raydium pools of core/localnet/genesis.py so cycles can mix both venues.
DEFAULT_PAIRS: tuple[tuple[str, str, float, int], ...] = (
    ("SOL", "USDC", 4_000_000, 4),
    ("SOL", "USDC", 1_500_000, 64),
    ("USDT", "USDC", 2_500_000, 1),
    ("mSOL", "SOL", 1_500_000, 1),
    ("SOL", "USDT", 800_000, 8),
    ("JUP", "USDC", 600_000, 64),
    ("BONK", "SOL", 500_000, 64),
    ("WIF", "USDC", 500_000, 64),
)

# Liquidity shape around the price, in tick arrays: (half width, share of the pool's depth).
_POSITION_SHAPE: tuple[tuple[float, float], ...] = ((0.25, 0.45), (1.0, 0.35), (2.5, 0.20))
_ARRAYS_AROUND_PRICE = 3  # arrays written on each side of the current one
_VAULT_MARGIN = Fraction(101, 100)
_U64_MAX = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Position:
    tick_lower_index: int
    tick_upper_index: int
    liquidity: int


@dataclass(frozen=True, slots=True)
class WhirlpoolState:
    """A pool and the tick arrays that hold its ticks, ready to be written."""

    address: Pubkey
    pool: Whirlpool
    tick_arrays: dict[int, TickArray]  # by start tick index
    amount_a: int  # tokens the positions hold, rounded up (may exceed u64 for absurd liquidity)
    amount_b: int


@dataclass(frozen=True, slots=True)
class WhirlpoolPool:
    """One genesis pool, for the console and the engine."""

    address: Pubkey
    program: Pubkey
    symbol_a: str
    symbol_b: str
    token_mint_a: Pubkey
    token_mint_b: Pubkey
    token_vault_a: Pubkey
    token_vault_b: Pubkey
    tick_spacing: int
    fee_rate: int
    oracle: Pubkey
    tick_arrays: tuple[Pubkey, ...]


def _token_a_needed(p0: int, p1: int, liquidity: int) -> int:
    # get_amount_delta_a rounded up, without the program's u64 ceiling (a vault just gets capped).
    lower, upper = min(p0, p1), max(p0, p1)
    return -(-(liquidity * (upper - lower) << 64) // (upper * lower))


def _token_b_needed(p0: int, p1: int, liquidity: int) -> int:
    return -(-(liquidity * abs(p1 - p0)) >> 64)


def sqrt_price_for(price_a_in_b: Fraction) -> int:
    """Q64.64 sqrt price of a raw-unit price (units of B per unit of A), floored."""
    return math.isqrt(price_a_in_b.numerator * (1 << 128) // price_a_in_b.denominator)


def build_whirlpool_state(
    *,
    token_mint_a: Pubkey,
    token_mint_b: Pubkey,
    token_vault_a: Pubkey,
    token_vault_b: Pubkey,
    tick_spacing: int,
    fee_rate: int,
    sqrt_price: int,
    positions: Iterable[Position],
    protocol_fee_rate: int = DEFAULT_PROTOCOL_FEE_RATE,
    whirlpools_config: Pubkey = WHIRLPOOLS_CONFIG,
    extra_array_starts: Iterable[int] = (),
    reward_last_updated_timestamp: int = 0,
    program_id: Pubkey = ids.ORCA_WHIRLPOOL,
) -> WhirlpoolState:
    """Pool account and tick arrays for positions at a price (pure; nothing is written)."""
    if bytes(token_mint_a) >= bytes(token_mint_b):
        raise ValueError("token_mint_a must sort before token_mint_b (InvalidTokenMintOrder)")
    address, bump = whirlpool_address(whirlpools_config, token_mint_a, token_mint_b, tick_spacing, program_id)
    tick_current = tick_index_from_sqrt_price(sqrt_price)
    nets: dict[int, int] = {}
    grosses: dict[int, int] = {}
    liquidity = amount_a = amount_b = 0
    for p in positions:
        lo, hi = p.tick_lower_index, p.tick_upper_index
        if not (MIN_TICK_INDEX <= lo < hi <= MAX_TICK_INDEX) or lo % tick_spacing or hi % tick_spacing:
            raise ValueError(f"position [{lo}, {hi}) is not a valid range for tick spacing {tick_spacing}")
        if p.liquidity <= 0:
            continue
        nets[lo] = nets.get(lo, 0) + p.liquidity
        nets[hi] = nets.get(hi, 0) - p.liquidity
        grosses[lo] = grosses.get(lo, 0) + p.liquidity
        grosses[hi] = grosses.get(hi, 0) + p.liquidity
        sp_lo, sp_hi = sqrt_price_from_tick_index(lo), sqrt_price_from_tick_index(hi)
        if tick_current < lo:
            amount_a += _token_a_needed(sp_lo, sp_hi, p.liquidity)
        elif tick_current >= hi:
            amount_b += _token_b_needed(sp_lo, sp_hi, p.liquidity)
        else:
            liquidity += p.liquidity
            amount_a += _token_a_needed(sqrt_price, sp_hi, p.liquidity)
            amount_b += _token_b_needed(sp_lo, sqrt_price, p.liquidity)

    ticks_in_array = TICK_ARRAY_SIZE * tick_spacing
    base = start_tick_index(tick_current, tick_spacing)
    starts = {start_tick_index(t, tick_spacing) for t in grosses}
    starts |= {base + k * ticks_in_array for k in range(-_ARRAYS_AROUND_PRICE, _ARRAYS_AROUND_PRICE + 1)}
    starts |= set(extra_array_starts)
    starts = {s for s in starts if s + ticks_in_array > MIN_TICK_INDEX and s < MAX_TICK_INDEX}
    arrays: dict[int, TickArray] = {}
    for start in sorted(starts):
        array = empty_tick_array(start, address)
        ticks = list(array.ticks)
        for t, gross in grosses.items():
            if start <= t < start + ticks_in_array:
                # Growth outside starts at 0: the pool's global growth is 0 at genesis.
                ticks[(t - start) // tick_spacing] = Tick(True, nets[t], gross, 0, 0, (0, 0, 0))
        arrays[start] = TickArray(start, tuple(ticks), address)

    no_reward = WhirlpoolRewardInfo(Pubkey.default(), Pubkey.default(), whirlpools_config, 0, 0)
    pool = Whirlpool(
        whirlpools_config=whirlpools_config,
        whirlpool_bump=bump,
        tick_spacing=tick_spacing,
        fee_tier_index_seed=tick_spacing,
        fee_rate=fee_rate,
        protocol_fee_rate=protocol_fee_rate,
        liquidity=liquidity,
        sqrt_price=sqrt_price,
        tick_current_index=tick_current,
        protocol_fee_owed_a=0,
        protocol_fee_owed_b=0,
        token_mint_a=token_mint_a,
        token_vault_a=token_vault_a,
        fee_growth_global_a=0,
        token_mint_b=token_mint_b,
        token_vault_b=token_vault_b,
        fee_growth_global_b=0,
        reward_last_updated_timestamp=reward_last_updated_timestamp,
        reward_infos=(no_reward,) * NUM_REWARDS,
    )
    return WhirlpoolState(address, pool, arrays, amount_a, amount_b)


def write_whirlpool_state(
    svm: LiteSVM,
    state: WhirlpoolState,
    *,
    vault_amount_a: int | None = None,
    vault_amount_b: int | None = None,
    set_token_account: SetTokenAccount = accounts.set_token_account,
    program_id: Pubkey = ids.ORCA_WHIRLPOOL,
) -> None:
    """Write the pool, its tick arrays and its two vaults (owned by the pool PDA)."""
    pool = state.pool
    accounts.set_data_account(svm, state.address, program_id, encode_whirlpool(pool))
    for start, array in state.tick_arrays.items():
        accounts.set_data_account(
            svm, tick_array_address(state.address, start, program_id), program_id, encode_tick_array(array)
        )
    amount_a = vault_amount_a if vault_amount_a is not None else math.ceil(state.amount_a * _VAULT_MARGIN)
    amount_b = vault_amount_b if vault_amount_b is not None else math.ceil(state.amount_b * _VAULT_MARGIN)
    amount_a, amount_b = min(amount_a, _U64_MAX), min(amount_b, _U64_MAX)
    set_token_account(svm, pool.token_vault_a, pool.token_mint_a, state.address, amount_a)
    set_token_account(svm, pool.token_vault_b, pool.token_mint_b, state.address, amount_b)


def _aligned(tick: float, tick_spacing: int) -> int:
    return round(tick / tick_spacing) * tick_spacing


def _positions_for_depth(
    tick_current: int, sqrt_price: int, tick_spacing: int, depth_b_units: int
) -> list[Position]:
    """Nested ranges around the price whose token-B side adds up to about `depth_b_units`."""
    ticks_in_array = TICK_ARRAY_SIZE * tick_spacing
    out: list[Position] = []
    for half_width_arrays, share in _POSITION_SHAPE:
        half = max(tick_spacing, _aligned(half_width_arrays * ticks_in_array, tick_spacing))
        lo = max(
            _aligned(tick_current - half, tick_spacing), -(-MIN_TICK_INDEX // tick_spacing) * tick_spacing
        )
        hi = min(_aligned(tick_current + half, tick_spacing), MAX_TICK_INDEX // tick_spacing * tick_spacing)
        if lo > tick_current:
            lo -= tick_spacing
        if hi <= tick_current:
            hi += tick_spacing
        sp_lo = sqrt_price_from_tick_index(lo)
        # b = L * (sp - sp_lo) / 2^64  =>  L = b * 2^64 / (sp - sp_lo)
        liquidity = int(depth_b_units * share) * (1 << 64) // max(sqrt_price - sp_lo, 1)
        out.append(Position(lo, hi, liquidity))
    return out


def add_whirlpools(
    svm: LiteSVM,
    rng: random.Random,
    tokens: Sequence[TokenLike],
    *,
    seed: int,
    pairs: Sequence[tuple[str, str, float, int]] = DEFAULT_PAIRS,
    price_spread: float = 0.004,
    set_token_account: SetTokenAccount = accounts.set_token_account,
    address_for: Callable[[str], Pubkey] | None = None,
) -> tuple[WhirlpoolPool, ...]:
    """Write Whirlpools for `pairs` (symbols of `tokens`) into `svm`.

    Each pool quotes within `price_spread` of the USD-implied price (drawn from `rng`), holds
    `depth` USD per side in three nested ranges, and has the tick arrays around its price. Vault
    addresses come from `address_for(name)` (default: a sha256 of seed and name, as genesis does);
    pass genesis's `supply.token_account` as `set_token_account` so mint supplies count the vaults.
    Mints must exist (or be written afterwards); pairs with an unknown symbol are skipped.
    """
    address_of = address_for or (lambda name: accounts.seeded_address(seed, name))
    by_symbol = {t.symbol: t for t in tokens}
    pools: list[WhirlpoolPool] = []
    seen: set[tuple[bytes, bytes, int]] = set()
    for index, (sym_x, sym_y, depth_usd, tick_spacing) in enumerate(pairs):
        if sym_x not in by_symbol or sym_y not in by_symbol:
            continue
        x, y = by_symbol[sym_x], by_symbol[sym_y]
        a, b = (x, y) if bytes(x.mint) < bytes(y.mint) else (y, x)
        key = (bytes(a.mint), bytes(b.mint), tick_spacing)
        if key in seen:  # same PDA: one pool per pair and tick spacing under one config
            raise ValueError(f"two pools for {a.symbol}/{b.symbol} with tick spacing {tick_spacing}")
        seen.add(key)
        offset = rng.uniform(-price_spread, price_spread)
        # Raw units of B per raw unit of A.
        price = (
            Fraction(a.usd_price).limit_denominator(10**12)
            / Fraction(b.usd_price).limit_denominator(10**12)
            * Fraction(10) ** (b.decimals - a.decimals)
            * Fraction(1 + offset).limit_denominator(10**9)
        )
        sqrt_price = sqrt_price_for(price)
        tick_current = tick_index_from_sqrt_price(sqrt_price)
        depth_b_units = int(
            Fraction(depth_usd).limit_denominator(1)
            / Fraction(b.usd_price).limit_denominator(10**12)
            * 10**b.decimals
        )
        name = f"whirlpool:{a.symbol}-{b.symbol}:{tick_spacing}:{index}"
        state = build_whirlpool_state(
            token_mint_a=a.mint,
            token_mint_b=b.mint,
            token_vault_a=address_of(f"{name}:vault_a"),
            token_vault_b=address_of(f"{name}:vault_b"),
            tick_spacing=tick_spacing,
            fee_rate=FEE_TIERS.get(tick_spacing, 3000),
            sqrt_price=sqrt_price,
            positions=_positions_for_depth(tick_current, sqrt_price, tick_spacing, depth_b_units),
        )
        write_whirlpool_state(svm, state, set_token_account=set_token_account)
        pools.append(
            WhirlpoolPool(
                address=state.address,
                program=ids.ORCA_WHIRLPOOL,
                symbol_a=a.symbol,
                symbol_b=b.symbol,
                token_mint_a=a.mint,
                token_mint_b=b.mint,
                token_vault_a=state.pool.token_vault_a,
                token_vault_b=state.pool.token_vault_b,
                tick_spacing=tick_spacing,
                fee_rate=state.pool.fee_rate,
                oracle=oracle_address(state.address),
                tick_arrays=tuple(tick_array_address(state.address, s) for s in sorted(state.tick_arrays)),
            )
        )
    return tuple(pools)


__all__ = [
    "DEFAULT_PAIRS",
    "FEE_TIERS",
    "WHIRLPOOLS_CONFIG",
    "Position",
    "WhirlpoolPool",
    "WhirlpoolState",
    "add_whirlpools",
    "build_whirlpool_state",
    "sqrt_price_for",
    "write_whirlpool_state",
]
