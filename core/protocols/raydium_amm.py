"""Raydium AMM v4: the 752-byte `AmmInfo` pool account and the four swap instructions.

Sources (raydium-io/raydium-amm, `program/src/`): `state.rs` (`AmmInfo`, `Fees`, `StateData`,
`#[repr(C, packed)]`, little-endian, no discriminator), `instruction.rs` (swap data: tag u8 then two
u64; account lists of `swap_base_in`, `swap_base_out`, `swap_base_in_v2`, `swap_base_out_v2`),
`processor.rs` (`AUTHORITY_AMM`, `authority_id`) and `error.rs` (`AmmError`: the position in the enum
is the custom error number the program returns).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.errors import DecodeError
from core.protocols.layout import check_length

AMM_INFO_LEN = 752
AUTHORITY_AMM_SEED = b"amm authority"

SWAP_BASE_IN_TAG = 9
SWAP_BASE_OUT_TAG = 11
SWAP_BASE_IN_V2_TAG = 16
SWAP_BASE_OUT_V2_TAG = 17

# 17 accounts, or 18 with the target_orders account the program no longer reads.
SWAP_ACCOUNTS_LEN = 17
SWAP_V2_ACCOUNTS_LEN = 8


class AmmStatus(IntEnum):
    UNINITIALIZED = 0
    INITIALIZED = 1
    DISABLED = 2
    WITHDRAW_ONLY = 3
    LIQUIDITY_ONLY = 4
    ORDER_BOOK_ONLY = 5
    SWAP_ONLY = 6
    WAITING_TRADE = 7


# `AmmStatus::swap_permission`; WAITING_TRADE additionally needs unix_timestamp >= pool_open_time.
SWAP_STATUSES = frozenset({AmmStatus.INITIALIZED, AmmStatus.SWAP_ONLY, AmmStatus.WAITING_TRADE})


class AmmError(IntEnum):
    """`AmmError` of raydium-amm `error.rs`: returned as `ProgramError::Custom(position)`."""

    ALREADY_IN_USE = 0
    INVALID_PROGRAM_ADDRESS = 1
    EXPECTED_MINT = 2
    EXPECTED_ACCOUNT = 3
    INVALID_COIN_VAULT = 4
    INVALID_PC_VAULT = 5
    INVALID_TOKEN_LP = 6
    INVALID_DEST_TOKEN_COIN = 7
    INVALID_DEST_TOKEN_PC = 8
    INVALID_POOL_MINT = 9
    INVALID_OPEN_ORDERS = 10
    INVALID_MARKET = 11
    INVALID_MARKET_PROGRAM = 12
    INVALID_TARGET_ORDERS = 13
    ACCOUNT_NEED_WRITEABLE = 14
    ACCOUNT_NEED_READ_ONLY = 15
    INVALID_COIN_MINT = 16
    INVALID_PC_MINT = 17
    INVALID_OWNER = 18
    INVALID_SUPPLY = 19
    INVALID_DELEGATE = 20
    INVALID_SIGN_ACCOUNT = 21
    INVALID_STATUS = 22
    INVALID_INSTRUCTION = 23
    WRONG_ACCOUNTS_NUMBER = 24
    INVALID_TARGET_ACCOUNT_OWNER = 25
    INVALID_TARGET_OWNER = 26
    INVALID_AMM_ACCOUNT_OWNER = 27
    INVALID_PARAMS_SET = 28
    INVALID_INPUT = 29
    EXCEEDED_SLIPPAGE = 30
    CALCULATION_EX_RATE_FAILURE = 31
    CHECKED_SUB_OVERFLOW = 32
    CHECKED_ADD_OVERFLOW = 33
    CHECKED_MUL_OVERFLOW = 34
    CHECKED_DIV_OVERFLOW = 35
    CHECKED_EMPTY_FUNDS = 36
    CALC_PNL_ERROR = 37
    INVALID_SPL_TOKEN_PROGRAM = 38
    TAKE_PNL_ERROR = 39
    INSUFFICIENT_FUNDS = 40
    CONVERSION_FAILURE = 41
    INVALID_USER_TOKEN = 42
    INVALID_SRM_MINT = 43
    INVALID_SRM_TOKEN = 44
    TOO_MANY_OPEN_ORDERS = 45
    ORDER_AT_SLOT_IS_PLACED = 46
    INVALID_SYS_PROGRAM_ADDRESS = 47
    INVALID_FEE = 48
    REPEAT_CREATE_AMM = 49
    NOT_ALLOW_ZERO_LP = 50
    INVALID_CLOSE_AUTHORITY = 51
    INVALID_FREEZE_AUTHORITY = 52
    INVALID_REFER_PC_MINT = 53
    INVALID_CONFIG_ACCOUNT = 54
    REPEAT_CREATE_CONFIG_ACCOUNT = 55
    MARKET_LOT_SIZE_IS_TOO_LARGE = 56
    INIT_LP_AMOUNT_TOO_LESS = 57
    UNKNOWN_AMM_ERROR = 58
    NOT_ALLOWED = 59


@dataclass(frozen=True, slots=True)
class Fees:
    min_separate_numerator: int
    min_separate_denominator: int
    trade_fee_numerator: int
    trade_fee_denominator: int
    pnl_numerator: int
    pnl_denominator: int
    swap_fee_numerator: int
    swap_fee_denominator: int


@dataclass(frozen=True, slots=True)
class StateData:
    need_take_pnl_coin: int
    need_take_pnl_pc: int
    total_pnl_pc: int
    total_pnl_coin: int
    pool_open_time: int
    padding: tuple[int, int]
    orderbook_to_init_time: int
    swap_coin_in_amount: int
    swap_pc_out_amount: int
    swap_acc_pc_fee: int
    swap_pc_in_amount: int
    swap_coin_out_amount: int
    swap_acc_coin_fee: int


@dataclass(frozen=True, slots=True)
class AmmInfo:
    status: int
    nonce: int
    order_num: int
    depth: int
    coin_decimals: int
    pc_decimals: int
    state: int
    reset_flag: int
    min_size: int
    vol_max_cut_ratio: int
    amount_wave: int
    coin_lot_size: int
    pc_lot_size: int
    min_price_multiplier: int
    max_price_multiplier: int
    sys_decimal_value: int
    fees: Fees
    state_data: StateData
    coin_vault: Pubkey
    pc_vault: Pubkey
    coin_vault_mint: Pubkey
    pc_vault_mint: Pubkey
    lp_mint: Pubkey
    open_orders: Pubkey
    market: Pubkey
    market_program: Pubkey
    target_orders: Pubkey
    padding1: tuple[int, ...]
    amm_owner: Pubkey
    lp_amount: int
    client_order_id: int
    recent_epoch: int
    padding2: int


# u128 fields are packed as 16 raw bytes and converted separately.
_LAYOUT = struct.Struct(
    "<16Q"  # status .. sys_decimal_value
    "8Q"  # fees
    "5Q2QQ16s16sQ16s16sQ"  # state_data
    "32s32s32s32s32s32s32s32s32s"  # coin_vault .. target_orders
    "8Q"  # padding1
    "32sQQQQ"  # amm_owner, lp_amount, client_order_id, recent_epoch, padding2
)
assert _LAYOUT.size == AMM_INFO_LEN

_U128_MAX = (1 << 128) - 1


def _u128(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def decode_amm_info(data: bytes, account: object = None) -> AmmInfo:
    """Decode a pool account; raise DecodeError for data no live pool can hold."""
    check_length(data, AMM_INFO_LEN, account, "raydium_amm_info")
    v = _LAYOUT.unpack(bytes(data))
    status, nonce = v[0], v[1]
    if status > AmmStatus.WAITING_TRADE:
        raise DecodeError(account, "raydium_amm_info", f"status {status} is not an AmmStatus")
    if nonce > 255:
        raise DecodeError(account, "raydium_amm_info", f"nonce {nonce} does not fit the u8 PDA bump")
    fees = Fees(*v[16:24])
    # Fees::validate forbids numerator >= denominator and a zero denominator.
    if fees.swap_fee_denominator == 0 or fees.swap_fee_numerator >= fees.swap_fee_denominator:
        raise DecodeError(
            account,
            "raydium_amm_info",
            f"swap fee {fees.swap_fee_numerator}/{fees.swap_fee_denominator} is not a fraction below 1",
        )
    sd = v[24:38]
    state_data = StateData(
        need_take_pnl_coin=sd[0],
        need_take_pnl_pc=sd[1],
        total_pnl_pc=sd[2],
        total_pnl_coin=sd[3],
        pool_open_time=sd[4],
        padding=(sd[5], sd[6]),
        orderbook_to_init_time=sd[7],
        swap_coin_in_amount=_u128(sd[8]),
        swap_pc_out_amount=_u128(sd[9]),
        swap_acc_pc_fee=sd[10],
        swap_pc_in_amount=_u128(sd[11]),
        swap_coin_out_amount=_u128(sd[12]),
        swap_acc_coin_fee=sd[13],
    )
    keys = [Pubkey.from_bytes(b) for b in v[38:47]]
    return AmmInfo(
        *v[0:16],
        fees=fees,
        state_data=state_data,
        coin_vault=keys[0],
        pc_vault=keys[1],
        coin_vault_mint=keys[2],
        pc_vault_mint=keys[3],
        lp_mint=keys[4],
        open_orders=keys[5],
        market=keys[6],
        market_program=keys[7],
        target_orders=keys[8],
        padding1=tuple(v[47:55]),
        amm_owner=Pubkey.from_bytes(v[55]),
        lp_amount=v[56],
        client_order_id=v[57],
        recent_epoch=v[58],
        padding2=v[59],
    )


def _u128_bytes(value: int, name: str) -> bytes:
    if not 0 <= value <= _U128_MAX:
        raise ValueError(f"{name}={value} does not fit a u128")
    return value.to_bytes(16, "little")


def encode_amm_info(info: AmmInfo) -> bytes:
    """The exact account bytes of `info` (inverse of decode_amm_info); ValueError if a field overflows."""
    f, s = info.fees, info.state_data
    if len(info.padding1) != 8:
        raise ValueError("padding1 must hold 8 u64")
    try:
        return _LAYOUT.pack(
            info.status, info.nonce, info.order_num, info.depth, info.coin_decimals, info.pc_decimals,
            info.state, info.reset_flag, info.min_size, info.vol_max_cut_ratio, info.amount_wave,
            info.coin_lot_size, info.pc_lot_size, info.min_price_multiplier, info.max_price_multiplier,
            info.sys_decimal_value,
            f.min_separate_numerator, f.min_separate_denominator, f.trade_fee_numerator,
            f.trade_fee_denominator, f.pnl_numerator, f.pnl_denominator, f.swap_fee_numerator,
            f.swap_fee_denominator,
            s.need_take_pnl_coin, s.need_take_pnl_pc, s.total_pnl_pc, s.total_pnl_coin, s.pool_open_time,
            s.padding[0], s.padding[1], s.orderbook_to_init_time,
            _u128_bytes(s.swap_coin_in_amount, "swap_coin_in_amount"),
            _u128_bytes(s.swap_pc_out_amount, "swap_pc_out_amount"),
            s.swap_acc_pc_fee,
            _u128_bytes(s.swap_pc_in_amount, "swap_pc_in_amount"),
            _u128_bytes(s.swap_coin_out_amount, "swap_coin_out_amount"),
            s.swap_acc_coin_fee,
            bytes(info.coin_vault), bytes(info.pc_vault), bytes(info.coin_vault_mint),
            bytes(info.pc_vault_mint), bytes(info.lp_mint), bytes(info.open_orders), bytes(info.market),
            bytes(info.market_program), bytes(info.target_orders),
            *info.padding1,
            bytes(info.amm_owner), info.lp_amount, info.client_order_id, info.recent_epoch, info.padding2,
        )
    except struct.error as exc:
        raise ValueError(f"AmmInfo field out of range: {exc}") from None


def amm_authority(nonce: int, program_id: Pubkey = ids.RAYDIUM_AMM_V4) -> Pubkey:
    """The pool's vault authority; ValueError if the nonce gives an on-curve point (no valid PDA)."""
    try:
        return Pubkey.create_program_address([AUTHORITY_AMM_SEED, bytes([nonce])], program_id)
    except Exception as exc:  # solders raises its own PubkeyError
        raise ValueError(f"nonce {nonce} gives no amm authority: {exc}") from None


def pool_authority(info: AmmInfo, program_id: Pubkey = ids.RAYDIUM_AMM_V4) -> Pubkey:
    return amm_authority(info.nonce, program_id)


@dataclass(frozen=True, slots=True)
class MarketKeys:
    """The OpenBook/Serum accounts the 17/18-account swap forms carry (read, unchecked since 27f461d)."""

    bids: Pubkey
    asks: Pubkey
    event_queue: Pubkey
    coin_vault: Pubkey
    pc_vault: Pubkey
    vault_signer: Pubkey


def _swap_data(tag: int, a: int, b: int) -> bytes:
    try:
        return struct.pack("<BQQ", tag, a, b)
    except struct.error:
        raise ValueError(f"swap amounts must be u64, got {a} and {b}") from None


def _legacy_swap_metas(
    amm: Pubkey,
    info: AmmInfo,
    market: MarketKeys,
    user_source: Pubkey,
    user_destination: Pubkey,
    user_owner: Pubkey,
    with_target_orders: bool,
    program_id: Pubkey,
) -> list[AccountMeta]:
    metas = [
        AccountMeta(ids.TOKEN_PROGRAM, is_signer=False, is_writable=False),
        AccountMeta(amm, is_signer=False, is_writable=True),
        AccountMeta(pool_authority(info, program_id), is_signer=False, is_writable=False),
        AccountMeta(info.open_orders, is_signer=False, is_writable=True),
    ]
    if with_target_orders:
        metas.append(AccountMeta(info.target_orders, is_signer=False, is_writable=True))
    metas += [
        AccountMeta(info.coin_vault, is_signer=False, is_writable=True),
        AccountMeta(info.pc_vault, is_signer=False, is_writable=True),
        AccountMeta(info.market_program, is_signer=False, is_writable=False),
        AccountMeta(info.market, is_signer=False, is_writable=True),
        AccountMeta(market.bids, is_signer=False, is_writable=True),
        AccountMeta(market.asks, is_signer=False, is_writable=True),
        AccountMeta(market.event_queue, is_signer=False, is_writable=True),
        AccountMeta(market.coin_vault, is_signer=False, is_writable=True),
        AccountMeta(market.pc_vault, is_signer=False, is_writable=True),
        AccountMeta(market.vault_signer, is_signer=False, is_writable=False),
        AccountMeta(user_source, is_signer=False, is_writable=True),
        AccountMeta(user_destination, is_signer=False, is_writable=True),
        AccountMeta(user_owner, is_signer=True, is_writable=False),
    ]
    return metas


def _v2_swap_metas(
    amm: Pubkey, info: AmmInfo, user_source: Pubkey, user_destination: Pubkey, user_owner: Pubkey,
    program_id: Pubkey,
) -> list[AccountMeta]:
    return [
        AccountMeta(ids.TOKEN_PROGRAM, is_signer=False, is_writable=False),
        AccountMeta(amm, is_signer=False, is_writable=True),
        AccountMeta(pool_authority(info, program_id), is_signer=False, is_writable=False),
        AccountMeta(info.coin_vault, is_signer=False, is_writable=True),
        AccountMeta(info.pc_vault, is_signer=False, is_writable=True),
        AccountMeta(user_source, is_signer=False, is_writable=True),
        AccountMeta(user_destination, is_signer=False, is_writable=True),
        AccountMeta(user_owner, is_signer=True, is_writable=False),
    ]


def swap_base_in(
    amm: Pubkey,
    info: AmmInfo,
    market: MarketKeys,
    user_source: Pubkey,
    user_destination: Pubkey,
    user_owner: Pubkey,
    amount_in: int,
    minimum_amount_out: int,
    *,
    with_target_orders: bool = False,
    program_id: Pubkey = ids.RAYDIUM_AMM_V4,
) -> Instruction:
    """SwapBaseIn (tag 9): 17 accounts, or 18 with `with_target_orders`."""
    metas = _legacy_swap_metas(
        amm, info, market, user_source, user_destination, user_owner, with_target_orders, program_id
    )
    return Instruction(program_id, _swap_data(SWAP_BASE_IN_TAG, amount_in, minimum_amount_out), metas)


def swap_base_out(
    amm: Pubkey,
    info: AmmInfo,
    market: MarketKeys,
    user_source: Pubkey,
    user_destination: Pubkey,
    user_owner: Pubkey,
    max_amount_in: int,
    amount_out: int,
    *,
    with_target_orders: bool = False,
    program_id: Pubkey = ids.RAYDIUM_AMM_V4,
) -> Instruction:
    """SwapBaseOut (tag 11): data is max_amount_in then amount_out; same accounts as tag 9."""
    metas = _legacy_swap_metas(
        amm, info, market, user_source, user_destination, user_owner, with_target_orders, program_id
    )
    return Instruction(program_id, _swap_data(SWAP_BASE_OUT_TAG, max_amount_in, amount_out), metas)


def swap_base_in_v2(
    amm: Pubkey,
    info: AmmInfo,
    user_source: Pubkey,
    user_destination: Pubkey,
    user_owner: Pubkey,
    amount_in: int,
    minimum_amount_out: int,
    *,
    program_id: Pubkey = ids.RAYDIUM_AMM_V4,
) -> Instruction:
    """SwapBaseInV2 (tag 16): the 8-account form without market accounts."""
    metas = _v2_swap_metas(amm, info, user_source, user_destination, user_owner, program_id)
    return Instruction(program_id, _swap_data(SWAP_BASE_IN_V2_TAG, amount_in, minimum_amount_out), metas)


def swap_base_out_v2(
    amm: Pubkey,
    info: AmmInfo,
    user_source: Pubkey,
    user_destination: Pubkey,
    user_owner: Pubkey,
    max_amount_in: int,
    amount_out: int,
    *,
    program_id: Pubkey = ids.RAYDIUM_AMM_V4,
) -> Instruction:
    """SwapBaseOutV2 (tag 17): the 8-account form without market accounts."""
    metas = _v2_swap_metas(amm, info, user_source, user_destination, user_owner, program_id)
    return Instruction(program_id, _swap_data(SWAP_BASE_OUT_V2_TAG, max_amount_in, amount_out), metas)
