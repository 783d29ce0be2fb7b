"""Orca Whirlpool: the 653-byte pool account, tick arrays, their PDAs and the swap instructions.

Sources (orca-so/whirlpools, `programs/whirlpool/src/`): `state/whirlpool.rs` (`Whirlpool`, Borsh,
`LEN = 8 + 261 + 384`, `seeds()`), `state/fixed_tick_array.rs` (`TickArray`, `#[repr(C, packed)]`,
`LEN = 8 + 36 + 113 * 88`), `state/tick.rs` (`Tick`, 113 bytes), `state/dynamic_tick_array.rs`,
`util/sparse_swap.rs` (`get_start_tick_indexes`, `derive_tick_array_pda`), `instructions/swap.rs`,
`instructions/v2/swap.rs` (account lists), `math/tick_math.rs` (MIN/MAX sqrt price),
`math/token_math.rs` (`MAX_FEE_RATE`, `MAX_PROTOCOL_FEE_RATE`) and `errors.rs` (`ErrorCode`, Anchor
custom errors from 6000 in declaration order).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.errors import DecodeError
from core.protocols.layout import check_length

WHIRLPOOL_DISCRIMINATOR = bytes.fromhex("3f95d10ce1806309")
TICK_ARRAY_DISCRIMINATOR = bytes.fromhex("4561bdbe6e0742bb")
DYNAMIC_TICK_ARRAY_DISCRIMINATOR = bytes.fromhex("11d8f68ee1c7da38")
SWAP_DISCRIMINATOR = bytes.fromhex("f8c69e91e17587c8")
SWAP_V2_DISCRIMINATOR = bytes.fromhex("2b04ed0b1ac91e62")

WHIRLPOOL_LEN = 653
TICK_LEN = 113
TICK_ARRAY_SIZE = 88
TICK_ARRAY_LEN = 8 + 36 + TICK_LEN * TICK_ARRAY_SIZE  # 9988
NUM_REWARDS = 3
REWARD_INFO_LEN = 128
DYNAMIC_TICK_ARRAY_HEADER_LEN = 60
DYNAMIC_TICK_DATA_LEN = 112

MIN_TICK_INDEX = -443636
MAX_TICK_INDEX = 443636
MIN_SQRT_PRICE_X64 = 4295048016
MAX_SQRT_PRICE_X64 = 79226673515401279992447579055
MAX_FEE_RATE = 60_000
MAX_PROTOCOL_FEE_RATE = 2_500
NO_EXPLICIT_SQRT_PRICE_LIMIT = 0

SWAP_ACCOUNTS_LEN = 11
SWAP_V2_ACCOUNTS_LEN = 15

U64_MAX = (1 << 64) - 1
U128_MAX = (1 << 128) - 1
I128_MIN = -(1 << 127)
I128_MAX = (1 << 127) - 1


class WhirlpoolErrorCode(IntEnum):
    """`ErrorCode` of `errors.rs` (Anchor numbers custom errors from 6000 in declaration order)."""

    INVALID_ENUM = 6000
    INVALID_START_TICK = 6001
    TICK_ARRAY_EXIST_IN_POOL = 6002
    TICK_ARRAY_INDEX_OUTOF_BOUNDS = 6003
    INVALID_TICK_SPACING = 6004
    CLOSE_POSITION_NOT_EMPTY = 6005
    DIVIDE_BY_ZERO = 6006
    NUMBER_CAST_ERROR = 6007
    NUMBER_DOWN_CAST_ERROR = 6008
    TICK_NOT_FOUND = 6009
    INVALID_TICK_INDEX = 6010
    SQRT_PRICE_OUT_OF_BOUNDS = 6011
    LIQUIDITY_ZERO = 6012
    LIQUIDITY_TOO_HIGH = 6013
    LIQUIDITY_OVERFLOW = 6014
    LIQUIDITY_UNDERFLOW = 6015
    LIQUIDITY_NET_ERROR = 6016
    TOKEN_MAX_EXCEEDED = 6017
    TOKEN_MIN_SUBCEEDED = 6018
    INVALID_TIMESTAMP_CONVERSION = 6021
    INVALID_TIMESTAMP = 6022
    INVALID_TICK_ARRAY_SEQUENCE = 6023
    INVALID_TOKEN_MINT_ORDER = 6024
    FEE_RATE_MAX_EXCEEDED = 6028
    PROTOCOL_FEE_RATE_MAX_EXCEEDED = 6029
    MULTIPLICATION_SHIFT_RIGHT_OVERFLOW = 6030
    MUL_DIV_OVERFLOW = 6031
    MUL_DIV_INVALID_INPUT = 6032
    MULTIPLICATION_OVERFLOW = 6033
    INVALID_SQRT_PRICE_LIMIT_DIRECTION = 6034
    ZERO_TRADABLE_AMOUNT = 6035
    AMOUNT_OUT_BELOW_MINIMUM = 6036
    AMOUNT_IN_ABOVE_MAXIMUM = 6037
    TICK_ARRAY_SEQUENCE_INVALID_INDEX = 6038
    AMOUNT_CALC_OVERFLOW = 6039
    AMOUNT_REMAINING_OVERFLOW = 6040
    UNSUPPORTED_TOKEN_MINT = 6047
    REMAINING_ACCOUNTS_INVALID_SLICE = 6048
    REMAINING_ACCOUNTS_INSUFFICIENT = 6049
    TOO_MANY_SUPPLEMENTAL_TICK_ARRAYS = 6055
    DIFFERENT_WHIRLPOOL_TICK_ARRAY_ACCOUNT = 6056
    PARTIAL_FILL_ERROR = 6057
    TRADE_IS_NOT_ENABLED = 6064


class AnchorErrorCode(IntEnum):
    """Anchor framework errors (`anchor-lang` `error.rs`) the swap accounts can fail with."""

    INSTRUCTION_MISSING = 100
    INSTRUCTION_FALLBACK_NOT_FOUND = 101
    INSTRUCTION_DID_NOT_DESERIALIZE = 102
    CONSTRAINT_MUT = 2000
    CONSTRAINT_HAS_ONE = 2001
    CONSTRAINT_SIGNER = 2002
    CONSTRAINT_RAW = 2003
    CONSTRAINT_OWNER = 2004
    CONSTRAINT_SEEDS = 2006
    CONSTRAINT_ADDRESS = 2012
    ACCOUNT_DISCRIMINATOR_NOT_FOUND = 3001
    ACCOUNT_DISCRIMINATOR_MISMATCH = 3002
    ACCOUNT_DID_NOT_DESERIALIZE = 3003
    ACCOUNT_NOT_ENOUGH_KEYS = 3005
    ACCOUNT_NOT_MUTABLE = 3006
    ACCOUNT_OWNED_BY_WRONG_PROGRAM = 3007
    INVALID_PROGRAM_ID = 3008
    ACCOUNT_NOT_SIGNER = 3010


@dataclass(frozen=True, slots=True)
class WhirlpoolRewardInfo:
    mint: Pubkey
    vault: Pubkey
    authority: Pubkey
    emissions_per_second_x64: int
    growth_global_x64: int

    @property
    def initialized(self) -> bool:
        return self.mint != Pubkey.default()


@dataclass(frozen=True, slots=True)
class Whirlpool:
    whirlpools_config: Pubkey
    whirlpool_bump: int
    tick_spacing: int
    fee_tier_index_seed: int  # the two seed bytes read as u16 LE; == tick_spacing unless adaptive-fee
    fee_rate: int
    protocol_fee_rate: int
    liquidity: int
    sqrt_price: int
    tick_current_index: int
    protocol_fee_owed_a: int
    protocol_fee_owed_b: int
    token_mint_a: Pubkey
    token_vault_a: Pubkey
    fee_growth_global_a: int
    token_mint_b: Pubkey
    token_vault_b: Pubkey
    fee_growth_global_b: int
    reward_last_updated_timestamp: int
    reward_infos: tuple[WhirlpoolRewardInfo, ...]

    @property
    def is_initialized_with_adaptive_fee_tier(self) -> bool:
        return self.fee_tier_index_seed != self.tick_spacing


@dataclass(frozen=True, slots=True)
class Tick:
    initialized: bool
    liquidity_net: int
    liquidity_gross: int
    fee_growth_outside_a: int
    fee_growth_outside_b: int
    reward_growths_outside: tuple[int, int, int]


EMPTY_TICK = Tick(False, 0, 0, 0, 0, (0, 0, 0))


@dataclass(frozen=True, slots=True)
class TickArray:
    """A fixed (88 ticks) or dynamic tick array; `ticks[i]` is tick `start + i * tick_spacing`."""

    start_tick_index: int
    ticks: tuple[Tick, ...]
    whirlpool: Pubkey
    is_dynamic: bool = False


# -- decode / encode ---------------------------------------------------------------------------

_WHIRLPOOL_HEAD = struct.Struct("<32sBHHHH16s16si QQ 32s32s16s 32s32s16s Q")
_REWARD = struct.Struct("<32s32s32s16s16s")
_TICK = struct.Struct("<B16s16s16s16s16s16s16s")


def _u128(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def _i128(raw: bytes) -> int:
    return int.from_bytes(raw, "little", signed=True)


def decode_whirlpool(data: bytes, account: object = None) -> Whirlpool:
    kind = "whirlpool"
    check_length(data, WHIRLPOOL_LEN, account, kind)
    if bytes(data[:8]) != WHIRLPOOL_DISCRIMINATOR:
        raise DecodeError(account, kind, f"wrong discriminator {bytes(data[:8]).hex()}")
    (
        config,
        bump,
        tick_spacing,
        seed,
        fee_rate,
        protocol_fee_rate,
        liquidity,
        sqrt_price,
        tick,
        owed_a,
        owed_b,
        mint_a,
        vault_a,
        growth_a,
        mint_b,
        vault_b,
        growth_b,
        reward_ts,
    ) = _WHIRLPOOL_HEAD.unpack_from(data, 8)
    rewards = tuple(
        WhirlpoolRewardInfo(Pubkey(m), Pubkey(v), Pubkey(a), _u128(e), _u128(g))
        for m, v, a, e, g in (
            _REWARD.unpack_from(data, 269 + i * REWARD_INFO_LEN) for i in range(NUM_REWARDS)
        )
    )
    pool = Whirlpool(
        whirlpools_config=Pubkey(config),
        whirlpool_bump=bump,
        tick_spacing=tick_spacing,
        fee_tier_index_seed=seed,
        fee_rate=fee_rate,
        protocol_fee_rate=protocol_fee_rate,
        liquidity=_u128(liquidity),
        sqrt_price=_u128(sqrt_price),
        tick_current_index=tick,
        protocol_fee_owed_a=owed_a,
        protocol_fee_owed_b=owed_b,
        token_mint_a=Pubkey(mint_a),
        token_vault_a=Pubkey(vault_a),
        fee_growth_global_a=_u128(growth_a),
        token_mint_b=Pubkey(mint_b),
        token_vault_b=Pubkey(vault_b),
        fee_growth_global_b=_u128(growth_b),
        reward_last_updated_timestamp=reward_ts,
        reward_infos=rewards,
    )
    _check_whirlpool(pool, account)
    return pool


def _check_whirlpool(pool: Whirlpool, account: object) -> None:
    kind = "whirlpool"
    if pool.tick_spacing == 0:
        raise DecodeError(account, kind, "tick_spacing 0")
    if pool.fee_rate > MAX_FEE_RATE:
        raise DecodeError(account, kind, f"fee_rate {pool.fee_rate} above {MAX_FEE_RATE}")
    if pool.protocol_fee_rate > MAX_PROTOCOL_FEE_RATE:
        raise DecodeError(
            account, kind, f"protocol_fee_rate {pool.protocol_fee_rate} above {MAX_PROTOCOL_FEE_RATE}"
        )
    if not MIN_SQRT_PRICE_X64 <= pool.sqrt_price <= MAX_SQRT_PRICE_X64:
        raise DecodeError(account, kind, f"sqrt_price {pool.sqrt_price} out of bounds")
    # After an a_to_b swap that stops on a tick the current index is that tick - 1.
    if not MIN_TICK_INDEX - 1 <= pool.tick_current_index <= MAX_TICK_INDEX:
        raise DecodeError(account, kind, f"tick_current_index {pool.tick_current_index} out of bounds")


def _check_range(value: int, low: int, high: int, name: str) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} {value} out of range")


def encode_whirlpool(pool: Whirlpool) -> bytes:
    def u128(v: int, name: str) -> bytes:
        _check_range(v, 0, U128_MAX, name)
        return v.to_bytes(16, "little")

    if len(pool.reward_infos) != NUM_REWARDS:
        raise ValueError("reward_infos must hold 3 entries")
    head = _WHIRLPOOL_HEAD.pack(
        bytes(pool.whirlpools_config),
        pool.whirlpool_bump,
        pool.tick_spacing,
        pool.fee_tier_index_seed,
        pool.fee_rate,
        pool.protocol_fee_rate,
        u128(pool.liquidity, "liquidity"),
        u128(pool.sqrt_price, "sqrt_price"),
        pool.tick_current_index,
        pool.protocol_fee_owed_a,
        pool.protocol_fee_owed_b,
        bytes(pool.token_mint_a),
        bytes(pool.token_vault_a),
        u128(pool.fee_growth_global_a, "fee_growth_global_a"),
        bytes(pool.token_mint_b),
        bytes(pool.token_vault_b),
        u128(pool.fee_growth_global_b, "fee_growth_global_b"),
        pool.reward_last_updated_timestamp,
    )
    rewards = b"".join(
        _REWARD.pack(
            bytes(r.mint),
            bytes(r.vault),
            bytes(r.authority),
            u128(r.emissions_per_second_x64, "emissions_per_second_x64"),
            u128(r.growth_global_x64, "growth_global_x64"),
        )
        for r in pool.reward_infos
    )
    out = WHIRLPOOL_DISCRIMINATOR + head + rewards
    assert len(out) == WHIRLPOOL_LEN
    return out


def _decode_tick_body(raw: bytes, offset: int, initialized: bool) -> Tick:
    net, gross, fa, fb, r0, r1, r2 = struct.unpack_from("<16s16s16s16s16s16s16s", raw, offset)
    return Tick(
        initialized, _i128(net), _u128(gross), _u128(fa), _u128(fb), (_u128(r0), _u128(r1), _u128(r2))
    )


def _check_start(start: int, account: object, kind: str) -> None:
    # A valid start satisfies start < MAX_TICK_INDEX and start + 88 * spacing > MIN_TICK_INDEX.
    if not MIN_TICK_INDEX - TICK_ARRAY_SIZE * 0xFFFF < start < MAX_TICK_INDEX:
        raise DecodeError(account, kind, f"start_tick_index {start} out of bounds")


def decode_tick_array(data: bytes, account: object = None) -> TickArray:
    """A fixed TickArray (9988 bytes) or, by discriminator, a DynamicTickArray."""
    if bytes(data[:8]) == DYNAMIC_TICK_ARRAY_DISCRIMINATOR:
        return decode_dynamic_tick_array(data, account)
    kind = "whirlpool_tick_array"
    check_length(data, TICK_ARRAY_LEN, account, kind)
    if bytes(data[:8]) != TICK_ARRAY_DISCRIMINATOR:
        raise DecodeError(account, kind, f"wrong discriminator {bytes(data[:8]).hex()}")
    (start,) = struct.unpack_from("<i", data, 8)
    _check_start(start, account, kind)
    ticks = []
    for i in range(TICK_ARRAY_SIZE):
        off = 12 + i * TICK_LEN
        flag = data[off]
        if flag > 1:
            raise DecodeError(account, kind, f"tick {i}: initialized byte {flag} is not a bool")
        ticks.append(_decode_tick_body(data, off + 1, flag == 1))
    whirlpool = Pubkey(bytes(data[TICK_ARRAY_LEN - 32 :]))
    return TickArray(start, tuple(ticks), whirlpool)


def decode_dynamic_tick_array(data: bytes, account: object = None) -> TickArray:
    kind = "whirlpool_dynamic_tick_array"
    if len(data) < DYNAMIC_TICK_ARRAY_HEADER_LEN + TICK_ARRAY_SIZE:
        raise DecodeError(account, kind, f"{len(data)} bytes is shorter than an empty dynamic array")
    if bytes(data[:8]) != DYNAMIC_TICK_ARRAY_DISCRIMINATOR:
        raise DecodeError(account, kind, f"wrong discriminator {bytes(data[:8]).hex()}")
    (start,) = struct.unpack_from("<i", data, 8)
    _check_start(start, account, kind)
    whirlpool = Pubkey(bytes(data[12:44]))
    bitmap = _u128(bytes(data[44:60]))
    ticks: list[Tick] = []
    off = DYNAMIC_TICK_ARRAY_HEADER_LEN
    for i in range(TICK_ARRAY_SIZE):
        if off >= len(data):
            raise DecodeError(account, kind, f"data ends before tick {i}")
        tag = data[off]
        if tag == 0:
            ticks.append(EMPTY_TICK)
            off += 1
        elif tag == 1:
            if off + 1 + DYNAMIC_TICK_DATA_LEN > len(data):
                raise DecodeError(account, kind, f"data ends inside tick {i}")
            ticks.append(_decode_tick_body(data, off + 1, True))
            off += 1 + DYNAMIC_TICK_DATA_LEN
        else:
            raise DecodeError(account, kind, f"tick {i}: tag {tag} is neither 0 nor 1")
        if bool(bitmap >> i & 1) != (tag == 1):
            raise DecodeError(account, kind, f"tick {i}: bitmap disagrees with the tick tag")
    return TickArray(start, tuple(ticks), whirlpool, is_dynamic=True)


def _encode_tick_body(tick: Tick) -> bytes:
    _check_range(tick.liquidity_net, I128_MIN, I128_MAX, "liquidity_net")
    parts = [tick.liquidity_net.to_bytes(16, "little", signed=True)]
    for name, v in (
        ("liquidity_gross", tick.liquidity_gross),
        ("fee_growth_outside_a", tick.fee_growth_outside_a),
        ("fee_growth_outside_b", tick.fee_growth_outside_b),
        *(("reward_growths_outside", r) for r in tick.reward_growths_outside),
    ):
        _check_range(v, 0, U128_MAX, name)
        parts.append(v.to_bytes(16, "little"))
    return b"".join(parts)


def encode_tick_array(array: TickArray) -> bytes:
    """The fixed 9988-byte layout (also for arrays decoded from the dynamic layout)."""
    if len(array.ticks) != TICK_ARRAY_SIZE:
        raise ValueError(f"a tick array holds {TICK_ARRAY_SIZE} ticks, got {len(array.ticks)}")
    body = b"".join(bytes([1 if t.initialized else 0]) + _encode_tick_body(t) for t in array.ticks)
    out = TICK_ARRAY_DISCRIMINATOR + struct.pack("<i", array.start_tick_index) + body + bytes(array.whirlpool)
    assert len(out) == TICK_ARRAY_LEN
    return out


def encode_dynamic_tick_array(array: TickArray) -> bytes:
    bitmap = sum(1 << i for i, t in enumerate(array.ticks) if t.initialized)
    body = b"".join(b"\x01" + _encode_tick_body(t) if t.initialized else b"\x00" for t in array.ticks)
    return (
        DYNAMIC_TICK_ARRAY_DISCRIMINATOR
        + struct.pack("<i", array.start_tick_index)
        + bytes(array.whirlpool)
        + bitmap.to_bytes(16, "little")
        + body
    )


def empty_tick_array(start_tick_index: int, whirlpool: Pubkey) -> TickArray:
    return TickArray(start_tick_index, (EMPTY_TICK,) * TICK_ARRAY_SIZE, whirlpool)


# -- PDAs and tick-array selection ----------------------------------------------------------------


def whirlpool_address(
    whirlpools_config: Pubkey,
    token_mint_a: Pubkey,
    token_mint_b: Pubkey,
    fee_tier_index_seed: int,
    program_id: Pubkey = ids.ORCA_WHIRLPOOL,
) -> tuple[Pubkey, int]:
    """`[b"whirlpool", config, mint_a, mint_b, fee_tier_index_seed u16 LE]` (seed == tick_spacing
    for pools created from a plain fee tier)."""
    return Pubkey.find_program_address(
        [
            b"whirlpool",
            bytes(whirlpools_config),
            bytes(token_mint_a),
            bytes(token_mint_b),
            fee_tier_index_seed.to_bytes(2, "little"),
        ],
        program_id,
    )


def tick_array_address(
    whirlpool: Pubkey, start_tick_index: int, program_id: Pubkey = ids.ORCA_WHIRLPOOL
) -> Pubkey:
    return Pubkey.find_program_address(
        [b"tick_array", bytes(whirlpool), str(start_tick_index).encode()], program_id
    )[0]


def oracle_address(whirlpool: Pubkey, program_id: Pubkey = ids.ORCA_WHIRLPOOL) -> Pubkey:
    return Pubkey.find_program_address([b"oracle", bytes(whirlpool)], program_id)[0]


def start_tick_index(tick_index: int, tick_spacing: int) -> int:
    """Start of the array holding `tick_index` (Python's // is the Euclidean floor the SDK uses)."""
    ticks_in_array = TICK_ARRAY_SIZE * tick_spacing
    return tick_index // ticks_in_array * ticks_in_array


def _is_valid_start_tick_index(start: int, ticks_in_array: int) -> bool:
    return start + ticks_in_array > MIN_TICK_INDEX and start < MAX_TICK_INDEX


def get_start_tick_indexes(tick_current_index: int, tick_spacing: int, a_to_b: bool) -> list[int]:
    """The arrays a swap walks, in order (`util/sparse_swap.rs`): a_to_b 0,-1,-2; b_to_a 0,+1,+2,
    or +1,+2,+3 when the next usable tick is already in the following array."""
    ticks_in_array = TICK_ARRAY_SIZE * tick_spacing
    base = start_tick_index(tick_current_index, tick_spacing)
    if a_to_b:
        offsets: tuple[int, ...] = (0, -1, -2)
    elif tick_current_index + tick_spacing >= base + ticks_in_array:
        offsets = (1, 2, 3)
    else:
        offsets = (0, 1, 2)
    starts = (base + o * ticks_in_array for o in offsets)
    return [s for s in starts if _is_valid_start_tick_index(s, ticks_in_array)]


def swap_tick_array_addresses(whirlpool: Pubkey, pool: Whirlpool, a_to_b: bool) -> list[Pubkey]:
    """Three tick-array accounts for a v1/v2 swap; near the price bounds, fewer valid arrays exist
    and the last one is repeated (the program dedups by key)."""
    keys = [
        tick_array_address(whirlpool, s)
        for s in get_start_tick_indexes(pool.tick_current_index, pool.tick_spacing, a_to_b)
    ]
    while len(keys) < 3:
        keys.append(keys[-1])
    return keys


# -- instructions ------------------------------------------------------------------------------


def _swap_args(
    amount: int,
    other_amount_threshold: int,
    sqrt_price_limit: int,
    amount_specified_is_input: bool,
    a_to_b: bool,
) -> bytes:
    _check_range(amount, 0, U64_MAX, "amount")
    _check_range(other_amount_threshold, 0, U64_MAX, "other_amount_threshold")
    _check_range(sqrt_price_limit, 0, U128_MAX, "sqrt_price_limit")
    return (
        struct.pack("<QQ", amount, other_amount_threshold)
        + sqrt_price_limit.to_bytes(16, "little")
        + bytes([int(amount_specified_is_input), int(a_to_b)])
    )


@dataclass(frozen=True, slots=True)
class SwapArgs:
    amount: int
    other_amount_threshold: int
    sqrt_price_limit: int
    amount_specified_is_input: bool
    a_to_b: bool


def decode_swap_args(data: bytes) -> tuple[bool, SwapArgs]:
    """(is_v2, args) of a swap / swap_v2 instruction's data; ValueError if it is neither."""
    disc = bytes(data[:8])
    if disc not in (SWAP_DISCRIMINATOR, SWAP_V2_DISCRIMINATOR) or len(data) < 42:
        raise ValueError("not a whirlpool swap instruction")
    amount, threshold = struct.unpack_from("<QQ", data, 8)
    limit = _u128(bytes(data[24:40]))
    return disc == SWAP_V2_DISCRIMINATOR, SwapArgs(amount, threshold, limit, data[40] != 0, data[41] != 0)


def swap(
    *,
    whirlpool: Pubkey,
    token_authority: Pubkey,
    token_owner_account_a: Pubkey,
    token_vault_a: Pubkey,
    token_owner_account_b: Pubkey,
    token_vault_b: Pubkey,
    tick_arrays: Sequence[Pubkey],
    amount: int,
    other_amount_threshold: int,
    sqrt_price_limit: int,
    amount_specified_is_input: bool,
    a_to_b: bool,
    oracle: Pubkey | None = None,
    program_id: Pubkey = ids.ORCA_WHIRLPOOL,
) -> Instruction:
    """`swap` (v1, SPL Token only): 11 accounts, 42 data bytes. The oracle goes writable, which
    adaptive-fee pools require and plain pools accept."""
    if len(tick_arrays) != 3:
        raise ValueError("swap takes exactly three tick arrays")
    metas = [
        AccountMeta(ids.TOKEN_PROGRAM, False, False),
        AccountMeta(token_authority, True, False),
        AccountMeta(whirlpool, False, True),
        AccountMeta(token_owner_account_a, False, True),
        AccountMeta(token_vault_a, False, True),
        AccountMeta(token_owner_account_b, False, True),
        AccountMeta(token_vault_b, False, True),
        *(AccountMeta(t, False, True) for t in tick_arrays),
        AccountMeta(oracle if oracle is not None else oracle_address(whirlpool, program_id), False, True),
    ]
    data = SWAP_DISCRIMINATOR + _swap_args(
        amount, other_amount_threshold, sqrt_price_limit, amount_specified_is_input, a_to_b
    )
    return Instruction(program_id, data, metas)


def swap_v2(
    *,
    whirlpool: Pubkey,
    token_authority: Pubkey,
    token_mint_a: Pubkey,
    token_mint_b: Pubkey,
    token_owner_account_a: Pubkey,
    token_vault_a: Pubkey,
    token_owner_account_b: Pubkey,
    token_vault_b: Pubkey,
    tick_arrays: Sequence[Pubkey],
    amount: int,
    other_amount_threshold: int,
    sqrt_price_limit: int,
    amount_specified_is_input: bool,
    a_to_b: bool,
    token_program_a: Pubkey = ids.TOKEN_PROGRAM,
    token_program_b: Pubkey = ids.TOKEN_PROGRAM,
    oracle: Pubkey | None = None,
    program_id: Pubkey = ids.ORCA_WHIRLPOOL,
) -> Instruction:
    """`swap_v2`: 15 accounts; `remaining_accounts_info` None (no transfer hooks, no supplemental
    tick arrays)."""
    if len(tick_arrays) != 3:
        raise ValueError("swap_v2 takes exactly three tick arrays")
    metas = [
        AccountMeta(token_program_a, False, False),
        AccountMeta(token_program_b, False, False),
        AccountMeta(ids.MEMO_PROGRAM, False, False),
        AccountMeta(token_authority, True, False),
        AccountMeta(whirlpool, False, True),
        AccountMeta(token_mint_a, False, False),
        AccountMeta(token_mint_b, False, False),
        AccountMeta(token_owner_account_a, False, True),
        AccountMeta(token_vault_a, False, True),
        AccountMeta(token_owner_account_b, False, True),
        AccountMeta(token_vault_b, False, True),
        *(AccountMeta(t, False, True) for t in tick_arrays),
        AccountMeta(oracle if oracle is not None else oracle_address(whirlpool, program_id), False, True),
    ]
    data = (
        SWAP_V2_DISCRIMINATOR
        + _swap_args(amount, other_amount_threshold, sqrt_price_limit, amount_specified_is_input, a_to_b)
        + b"\x00"
    )
    return Instruction(program_id, data, metas)


def swap_for_pool(
    address: Pubkey,
    pool: Whirlpool,
    *,
    token_authority: Pubkey,
    token_owner_account_a: Pubkey,
    token_owner_account_b: Pubkey,
    amount: int,
    other_amount_threshold: int,
    a_to_b: bool,
    amount_specified_is_input: bool = True,
    sqrt_price_limit: int = NO_EXPLICIT_SQRT_PRICE_LIMIT,
    v2: bool = False,
) -> Instruction:
    """A swap on a decoded pool, with the tick arrays the program will walk from its current tick."""
    common = dict(
        whirlpool=address,
        token_authority=token_authority,
        token_owner_account_a=token_owner_account_a,
        token_vault_a=pool.token_vault_a,
        token_owner_account_b=token_owner_account_b,
        token_vault_b=pool.token_vault_b,
        tick_arrays=swap_tick_array_addresses(address, pool, a_to_b),
        amount=amount,
        other_amount_threshold=other_amount_threshold,
        sqrt_price_limit=sqrt_price_limit,
        amount_specified_is_input=amount_specified_is_input,
        a_to_b=a_to_b,
    )
    if v2:
        return swap_v2(token_mint_a=pool.token_mint_a, token_mint_b=pool.token_mint_b, **common)  # type: ignore[arg-type]
    return swap(**common)  # type: ignore[arg-type]
