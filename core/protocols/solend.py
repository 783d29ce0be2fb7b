"""Solend (Save) token-lending: account layouts, flash-loan instructions and fee math.

Sources (solendprotocol/solana-program-library, branch `mainnet`): `token-lending/sdk/src/state/
reserve.rs` and `lending_market.rs` (Pack layouts), `rate_limiter.rs`, `instruction.rs`
(hand-packed data: 1-byte tag + little-endian fields), `math/decimal.rs` (WAD-scaled U192) and
`error.rs` (LendingError; the enum position is the custom error number).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from enum import IntEnum

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.errors import DecodeError, ProgramRefusal
from core.protocols.layout import U64_MAX as U64_MAX
from core.protocols.layout import check_length, check_u64

PROGRAM_VERSION = 1
RESERVE_LEN = 619
LENDING_MARKET_LEN = 290
RATE_LIMITER_LEN = 56

WAD = 10**18
HALF_WAD = WAD // 2
PERCENT_SCALER = 10**16
# A reserve whose flash_loan_fee_wad is u64::MAX has flash loans switched off.
FLASH_LOANS_DISABLED_FEE_WAD = U64_MAX

FLASH_BORROW_RESERVE_LIQUIDITY_TAG = 19
FLASH_REPAY_RESERVE_LIQUIDITY_TAG = 20
FLASH_LOAN_DEPRECATED_TAG = 13


class LendingError(IntEnum):
    """`LendingError` of token-lending: `ProgramError::Custom(position in the enum)`."""

    INSTRUCTION_UNPACK_ERROR = 0
    ALREADY_INITIALIZED = 1
    NOT_RENT_EXEMPT = 2
    INVALID_MARKET_AUTHORITY = 3
    INVALID_MARKET_OWNER = 4
    INVALID_ACCOUNT_OWNER = 5
    INVALID_TOKEN_OWNER = 6
    INVALID_TOKEN_ACCOUNT = 7
    INVALID_TOKEN_MINT = 8
    INVALID_TOKEN_PROGRAM = 9
    INVALID_AMOUNT = 10
    INVALID_CONFIG = 11
    INVALID_SIGNER = 12
    INVALID_ACCOUNT_INPUT = 13
    MATH_OVERFLOW = 14
    TOKEN_INITIALIZE_MINT_FAILED = 15
    TOKEN_INITIALIZE_ACCOUNT_FAILED = 16
    TOKEN_TRANSFER_FAILED = 17
    TOKEN_MINT_TO_FAILED = 18
    TOKEN_BURN_FAILED = 19
    INSUFFICIENT_LIQUIDITY = 20
    RESERVE_COLLATERAL_DISABLED = 21
    RESERVE_STALE = 22
    WITHDRAW_TOO_SMALL = 23
    WITHDRAW_TOO_LARGE = 24
    BORROW_TOO_SMALL = 25
    BORROW_TOO_LARGE = 26
    REPAY_TOO_SMALL = 27
    LIQUIDATION_TOO_SMALL = 28
    OBLIGATION_HEALTHY = 29
    OBLIGATION_STALE = 30
    OBLIGATION_RESERVE_LIMIT = 31
    INVALID_OBLIGATION_OWNER = 32
    OBLIGATION_DEPOSITS_EMPTY = 33
    OBLIGATION_BORROWS_EMPTY = 34
    OBLIGATION_DEPOSITS_ZERO = 35
    OBLIGATION_BORROWS_ZERO = 36
    INVALID_OBLIGATION_COLLATERAL = 37
    INVALID_OBLIGATION_LIQUIDITY = 38
    OBLIGATION_COLLATERAL_EMPTY = 39
    OBLIGATION_LIQUIDITY_EMPTY = 40
    NEGATIVE_INTEREST_RATE = 41
    INVALID_ORACLE_CONFIG = 42
    INVALID_FLASH_LOAN_RECEIVER_PROGRAM = 43
    NOT_ENOUGH_LIQUIDITY_AFTER_FLASH_LOAN = 44
    NULL_ORACLE_CONFIG = 45
    INSUFFICIENT_PROTOCOL_FEES_TO_REDEEM = 46
    FLASH_BORROW_CPI = 47
    NO_FLASH_REPAY_FOUND = 48
    INVALID_FLASH_REPAY = 49
    FLASH_REPAY_CPI = 50
    MULTIPLE_FLASH_BORROWS = 51
    FLASH_LOANS_DISABLED = 52
    DEPRECATED_INSTRUCTION = 53
    OUTFLOW_RATE_LIMIT_EXCEEDED = 54


class SolendError(ProgramRefusal):
    """What the program would refuse with, found while computing off-chain."""

    error: LendingError


# ---------------------------------------------------------------------------------------------
# Layouts


@dataclass(frozen=True)
class RateLimiter:
    """56-byte outflow limiter inside both Reserve and LendingMarket (`rate_limiter.rs`)."""

    max_outflow: int = U64_MAX
    window_duration: int = 1
    prev_qty: int = 0  # Decimal, WAD-scaled
    window_start: int = 0
    cur_qty: int = 0  # Decimal, WAD-scaled


_RATE_LIMITER = struct.Struct("<QQ16sQ16s")
assert _RATE_LIMITER.size == RATE_LIMITER_LEN


def _u128(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def _p128(value: int) -> bytes:
    return value.to_bytes(16, "little")


def _decode_rate_limiter(raw: bytes) -> RateLimiter:
    max_outflow, window_duration, prev_qty, window_start, cur_qty = _RATE_LIMITER.unpack(raw)
    return RateLimiter(max_outflow, window_duration, _u128(prev_qty), window_start, _u128(cur_qty))


def _encode_rate_limiter(r: RateLimiter) -> bytes:
    return _RATE_LIMITER.pack(
        r.max_outflow, r.window_duration, _p128(r.prev_qty), r.window_start, _p128(r.cur_qty)
    )


_ZERO_KEY = Pubkey.default()

# Reserve (619 bytes). Offsets: protocols.md §2.4, checked against reserve.rs array_refs.
_RESERVE = struct.Struct(
    "<"
    "B"  # 0 version
    "Q"  # 1 last_update_slot
    "B"  # 9 last_update_stale
    "32s"  # 10 lending_market
    "32s"  # 42 liquidity_mint_pubkey
    "B"  # 74 liquidity_mint_decimals
    "32s"  # 75 liquidity_supply_pubkey
    "32s"  # 107 liquidity_pyth_oracle_pubkey
    "32s"  # 139 liquidity_switchboard_oracle_pubkey
    "Q"  # 171 available_amount
    "16s"  # 179 borrowed_amount_wads
    "16s"  # 195 cumulative_borrow_rate_wads
    "16s"  # 211 market_price
    "32s"  # 227 collateral_mint_pubkey
    "Q"  # 259 collateral_mint_total_supply
    "32s"  # 267 collateral_supply_pubkey
    "7B"  # 299 optimal_utilization_rate, loan_to_value_ratio, liquidation_bonus,
    #        liquidation_threshold, min_borrow_rate, optimal_borrow_rate, max_borrow_rate
    "Q"  # 306 borrow_fee_wad
    "Q"  # 314 flash_loan_fee_wad
    "B"  # 322 host_fee_percentage
    "Q"  # 323 deposit_limit
    "Q"  # 331 borrow_limit
    "32s"  # 339 fee_receiver
    "B"  # 371 protocol_liquidation_fee
    "B"  # 372 protocol_take_rate
    "16s"  # 373 accumulated_protocol_fees_wads
    "56s"  # 389 rate_limiter
    "Q"  # 445 added_borrow_weight_bps
    "16s"  # 453 smoothed_market_price
    "B"  # 469 reserve_type
    "B"  # 470 max_utilization_rate
    "Q"  # 471 super_max_borrow_rate
    "B"  # 479 max_liquidation_bonus
    "B"  # 480 max_liquidation_threshold
    "q"  # 481 scaled_price_offset_bps
    "32s"  # 489 extra_oracle_pubkey
    "B"  # 521 extra_market_price flag
    "16s"  # 522 extra_market_price
    "16s"  # 538 attributed_borrow_value
    "Q"  # 554 attributed_borrow_limit_open
    "Q"  # 562 attributed_borrow_limit_close
    "49s"  # 570 padding
)
assert _RESERVE.size == RESERVE_LEN

# Byte offsets the on-chain emulator and the tests read directly.
RESERVE_AVAILABLE_AMOUNT_OFFSET = 171
RESERVE_BORROWED_AMOUNT_WADS_OFFSET = 179
RESERVE_FLASH_LOAN_FEE_WAD_OFFSET = 314


@dataclass(frozen=True)
class Reserve:
    """A token-lending Reserve account, flat, with the program's field names."""

    lending_market: Pubkey
    liquidity_mint_pubkey: Pubkey
    liquidity_supply_pubkey: Pubkey
    fee_receiver: Pubkey
    version: int = PROGRAM_VERSION
    last_update_slot: int = 0
    last_update_stale: bool = False
    liquidity_mint_decimals: int = 6
    liquidity_pyth_oracle_pubkey: Pubkey = _ZERO_KEY
    liquidity_switchboard_oracle_pubkey: Pubkey = _ZERO_KEY
    available_amount: int = 0
    borrowed_amount_wads: int = 0
    cumulative_borrow_rate_wads: int = WAD
    market_price: int = 0
    collateral_mint_pubkey: Pubkey = _ZERO_KEY
    collateral_mint_total_supply: int = 0
    collateral_supply_pubkey: Pubkey = _ZERO_KEY
    optimal_utilization_rate: int = 0
    loan_to_value_ratio: int = 0
    liquidation_bonus: int = 0
    liquidation_threshold: int = 0
    min_borrow_rate: int = 0
    optimal_borrow_rate: int = 0
    max_borrow_rate: int = 0
    borrow_fee_wad: int = 0
    flash_loan_fee_wad: int = 0
    host_fee_percentage: int = 0
    deposit_limit: int = U64_MAX
    borrow_limit: int = U64_MAX
    protocol_liquidation_fee: int = 0
    protocol_take_rate: int = 0
    accumulated_protocol_fees_wads: int = 0
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    added_borrow_weight_bps: int = 0
    smoothed_market_price: int = 0
    reserve_type: int = 0  # 0 Regular, 1 Isolated
    max_utilization_rate: int = 0
    super_max_borrow_rate: int = 0
    max_liquidation_bonus: int = 0
    max_liquidation_threshold: int = 0
    scaled_price_offset_bps: int = 0
    extra_oracle_pubkey: Pubkey = _ZERO_KEY  # all zeros = none
    extra_market_price: int | None = None
    attributed_borrow_value: int = 0
    attributed_borrow_limit_open: int = U64_MAX
    attributed_borrow_limit_close: int = U64_MAX
    padding: bytes = bytes(49)

    @property
    def flash_loans_enabled(self) -> bool:
        return self.flash_loan_fee_wad != FLASH_LOANS_DISABLED_FEE_WAD


def _bool(raw: int, name: str, account: object, kind: str) -> bool:
    if raw > 1:
        raise DecodeError(account, kind, f"{name} is {raw}, not a bool")
    return raw == 1


def _check_version(version: int, account: object, kind: str) -> None:
    if version == 0:
        raise DecodeError(account, kind, "uninitialized (version 0)")
    if version > PROGRAM_VERSION:
        raise DecodeError(account, kind, f"version {version} is newer than {PROGRAM_VERSION}")


def decode_reserve(data: bytes, account: object = None) -> Reserve:
    kind = "solend_reserve"
    check_length(data, RESERVE_LEN, account, kind)
    f = _RESERVE.unpack(bytes(data))
    _check_version(f[0], account, kind)
    (opt_util, ltv, liq_bonus, liq_threshold, min_rate, opt_rate, max_rate) = f[16:23]
    reserve_type = f[35]
    if reserve_type > 1:
        raise DecodeError(account, kind, f"reserve_type {reserve_type} is neither Regular nor Isolated")
    host_fee_percentage = f[25]
    if host_fee_percentage > 100:
        raise DecodeError(account, kind, f"host_fee_percentage {host_fee_percentage} > 100")
    has_extra_price = _bool(f[42], "extra_market_price flag", account, kind)
    return Reserve(
        version=f[0],
        last_update_slot=f[1],
        last_update_stale=_bool(f[2], "last_update_stale", account, kind),
        lending_market=Pubkey(f[3]),
        liquidity_mint_pubkey=Pubkey(f[4]),
        liquidity_mint_decimals=f[5],
        liquidity_supply_pubkey=Pubkey(f[6]),
        liquidity_pyth_oracle_pubkey=Pubkey(f[7]),
        liquidity_switchboard_oracle_pubkey=Pubkey(f[8]),
        available_amount=f[9],
        borrowed_amount_wads=_u128(f[10]),
        cumulative_borrow_rate_wads=_u128(f[11]),
        market_price=_u128(f[12]),
        collateral_mint_pubkey=Pubkey(f[13]),
        collateral_mint_total_supply=f[14],
        collateral_supply_pubkey=Pubkey(f[15]),
        optimal_utilization_rate=opt_util,
        loan_to_value_ratio=ltv,
        liquidation_bonus=liq_bonus,
        liquidation_threshold=liq_threshold,
        min_borrow_rate=min_rate,
        optimal_borrow_rate=opt_rate,
        max_borrow_rate=max_rate,
        borrow_fee_wad=f[23],
        flash_loan_fee_wad=f[24],
        host_fee_percentage=host_fee_percentage,
        deposit_limit=f[26],
        borrow_limit=f[27],
        fee_receiver=Pubkey(f[28]),
        protocol_liquidation_fee=f[29],
        protocol_take_rate=f[30],
        accumulated_protocol_fees_wads=_u128(f[31]),
        rate_limiter=_decode_rate_limiter(f[32]),
        added_borrow_weight_bps=f[33],
        smoothed_market_price=_u128(f[34]),
        reserve_type=reserve_type,
        max_utilization_rate=f[36],
        super_max_borrow_rate=f[37],
        max_liquidation_bonus=f[38],
        max_liquidation_threshold=f[39],
        scaled_price_offset_bps=f[40],
        extra_oracle_pubkey=Pubkey(f[41]),
        extra_market_price=_u128(f[43]) if has_extra_price else None,
        attributed_borrow_value=_u128(f[44]),
        attributed_borrow_limit_open=f[45],
        attributed_borrow_limit_close=f[46],
        padding=f[47],
    )


def encode_reserve(r: Reserve) -> bytes:
    if len(r.padding) != 49:
        raise ValueError("Reserve.padding must be 49 bytes")
    return _RESERVE.pack(
        r.version,
        r.last_update_slot,
        int(r.last_update_stale),
        bytes(r.lending_market),
        bytes(r.liquidity_mint_pubkey),
        r.liquidity_mint_decimals,
        bytes(r.liquidity_supply_pubkey),
        bytes(r.liquidity_pyth_oracle_pubkey),
        bytes(r.liquidity_switchboard_oracle_pubkey),
        r.available_amount,
        _p128(r.borrowed_amount_wads),
        _p128(r.cumulative_borrow_rate_wads),
        _p128(r.market_price),
        bytes(r.collateral_mint_pubkey),
        r.collateral_mint_total_supply,
        bytes(r.collateral_supply_pubkey),
        r.optimal_utilization_rate,
        r.loan_to_value_ratio,
        r.liquidation_bonus,
        r.liquidation_threshold,
        r.min_borrow_rate,
        r.optimal_borrow_rate,
        r.max_borrow_rate,
        r.borrow_fee_wad,
        r.flash_loan_fee_wad,
        r.host_fee_percentage,
        r.deposit_limit,
        r.borrow_limit,
        bytes(r.fee_receiver),
        r.protocol_liquidation_fee,
        r.protocol_take_rate,
        _p128(r.accumulated_protocol_fees_wads),
        _encode_rate_limiter(r.rate_limiter),
        r.added_borrow_weight_bps,
        _p128(r.smoothed_market_price),
        r.reserve_type,
        r.max_utilization_rate,
        r.super_max_borrow_rate,
        r.max_liquidation_bonus,
        r.max_liquidation_threshold,
        r.scaled_price_offset_bps,
        bytes(r.extra_oracle_pubkey),
        int(r.extra_market_price is not None),
        _p128(r.extra_market_price or 0),
        _p128(r.attributed_borrow_value),
        r.attributed_borrow_limit_open,
        r.attributed_borrow_limit_close,
        r.padding,
    )


_LENDING_MARKET = struct.Struct("<BB32s32s32s32s32s56s32s32s8s")
assert _LENDING_MARKET.size == LENDING_MARKET_LEN


@dataclass(frozen=True)
class LendingMarket:
    """A token-lending LendingMarket account (290 bytes)."""

    bump_seed: int
    owner: Pubkey
    version: int = PROGRAM_VERSION
    quote_currency: bytes = b"USD".ljust(32, b"\0")
    token_program_id: Pubkey = ids.TOKEN_PROGRAM
    oracle_program_id: Pubkey = _ZERO_KEY
    switchboard_oracle_program_id: Pubkey = _ZERO_KEY
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    whitelisted_liquidator: Pubkey | None = None
    risk_authority: Pubkey = _ZERO_KEY
    padding: bytes = bytes(8)


def decode_lending_market(data: bytes, account: object = None) -> LendingMarket:
    kind = "solend_lending_market"
    check_length(data, LENDING_MARKET_LEN, account, kind)
    f = _LENDING_MARKET.unpack(bytes(data))
    _check_version(f[0], account, kind)
    liquidator = Pubkey(f[8])
    return LendingMarket(
        version=f[0],
        bump_seed=f[1],
        owner=Pubkey(f[2]),
        quote_currency=f[3],
        token_program_id=Pubkey(f[4]),
        oracle_program_id=Pubkey(f[5]),
        switchboard_oracle_program_id=Pubkey(f[6]),
        rate_limiter=_decode_rate_limiter(f[7]),
        whitelisted_liquidator=None if liquidator == _ZERO_KEY else liquidator,
        risk_authority=Pubkey(f[9]),
        padding=f[10],
    )


def encode_lending_market(m: LendingMarket) -> bytes:
    if len(m.quote_currency) != 32 or len(m.padding) != 8:
        raise ValueError("LendingMarket.quote_currency must be 32 bytes and padding 8")
    return _LENDING_MARKET.pack(
        m.version,
        m.bump_seed,
        bytes(m.owner),
        m.quote_currency,
        bytes(m.token_program_id),
        bytes(m.oracle_program_id),
        bytes(m.switchboard_oracle_program_id),
        _encode_rate_limiter(m.rate_limiter),
        bytes(m.whitelisted_liquidator or _ZERO_KEY),
        bytes(m.risk_authority),
        m.padding,
    )


def lending_market_authority(market: Pubkey, program_id: Pubkey = ids.SOLEND) -> tuple[Pubkey, int]:
    """The PDA that owns every supply account of `market`, and its bump (`bump_seed`)."""
    return Pubkey.find_program_address([bytes(market)], program_id)


# ---------------------------------------------------------------------------------------------
# Instructions


def flash_borrow_reserve_liquidity(
    *,
    liquidity_amount: int,
    source_liquidity: Pubkey,
    destination_liquidity: Pubkey,
    reserve: Pubkey,
    lending_market: Pubkey,
    lending_market_authority_pubkey: Pubkey | None = None,
    token_program: Pubkey = ids.TOKEN_PROGRAM,
    program_id: Pubkey = ids.SOLEND,
) -> Instruction:
    """FlashBorrowReserveLiquidity (tag 19): `source_liquidity` is the reserve's supply account."""
    check_u64(liquidity_amount, "liquidity_amount")
    authority = lending_market_authority_pubkey or lending_market_authority(lending_market, program_id)[0]
    accounts = [
        AccountMeta(source_liquidity, is_signer=False, is_writable=True),
        AccountMeta(destination_liquidity, is_signer=False, is_writable=True),
        AccountMeta(reserve, is_signer=False, is_writable=True),
        AccountMeta(lending_market, is_signer=False, is_writable=False),
        AccountMeta(authority, is_signer=False, is_writable=False),
        AccountMeta(ids.SYSVAR_INSTRUCTIONS, is_signer=False, is_writable=False),
        AccountMeta(token_program, is_signer=False, is_writable=False),
    ]
    data = struct.pack("<BQ", FLASH_BORROW_RESERVE_LIQUIDITY_TAG, liquidity_amount)
    return Instruction(program_id, data, accounts)


def flash_repay_reserve_liquidity(
    *,
    liquidity_amount: int,
    borrow_instruction_index: int,
    source_liquidity: Pubkey,
    destination_liquidity: Pubkey,
    reserve_liquidity_fee_receiver: Pubkey,
    host_fee_receiver: Pubkey,
    reserve: Pubkey,
    lending_market: Pubkey,
    user_transfer_authority: Pubkey,
    token_program: Pubkey = ids.TOKEN_PROGRAM,
    program_id: Pubkey = ids.SOLEND,
) -> Instruction:
    """FlashRepayReserveLiquidity (tag 20). `borrow_instruction_index` is the absolute top-level
    index of the borrow in the final transaction (ComputeBudget instructions count)."""
    check_u64(liquidity_amount, "liquidity_amount")
    if not 0 <= borrow_instruction_index <= 255:
        raise ValueError(f"borrow_instruction_index {borrow_instruction_index} is not a u8")
    accounts = [
        AccountMeta(source_liquidity, is_signer=False, is_writable=True),
        AccountMeta(destination_liquidity, is_signer=False, is_writable=True),
        AccountMeta(reserve_liquidity_fee_receiver, is_signer=False, is_writable=True),
        AccountMeta(host_fee_receiver, is_signer=False, is_writable=True),
        AccountMeta(reserve, is_signer=False, is_writable=True),
        AccountMeta(lending_market, is_signer=False, is_writable=False),
        AccountMeta(user_transfer_authority, is_signer=True, is_writable=False),
        AccountMeta(ids.SYSVAR_INSTRUCTIONS, is_signer=False, is_writable=False),
        AccountMeta(token_program, is_signer=False, is_writable=False),
    ]
    data = struct.pack("<BQB", FLASH_REPAY_RESERVE_LIQUIDITY_TAG, liquidity_amount, borrow_instruction_index)
    return Instruction(program_id, data, accounts)


def flash_loan_instructions(
    *,
    reserve_address: Pubkey,
    reserve: Reserve,
    liquidity_amount: int,
    borrow_instruction_index: int,
    user_token_account: Pubkey,
    user_transfer_authority: Pubkey,
    host_fee_receiver: Pubkey,
    token_program: Pubkey = ids.TOKEN_PROGRAM,
    program_id: Pubkey = ids.SOLEND,
) -> tuple[Instruction, Instruction]:
    """The (borrow, repay) pair for `reserve`, with the supply and fee receiver read from it.

    Place the borrow at top-level index `borrow_instruction_index` and the repay after it; the
    user's token account must hold `liquidity_amount` + the fee when the repay runs.
    """
    borrow = flash_borrow_reserve_liquidity(
        liquidity_amount=liquidity_amount,
        source_liquidity=reserve.liquidity_supply_pubkey,
        destination_liquidity=user_token_account,
        reserve=reserve_address,
        lending_market=reserve.lending_market,
        token_program=token_program,
        program_id=program_id,
    )
    repay = flash_repay_reserve_liquidity(
        liquidity_amount=liquidity_amount,
        borrow_instruction_index=borrow_instruction_index,
        source_liquidity=user_token_account,
        destination_liquidity=reserve.liquidity_supply_pubkey,
        reserve_liquidity_fee_receiver=reserve.fee_receiver,
        host_fee_receiver=host_fee_receiver,
        reserve=reserve_address,
        lending_market=reserve.lending_market,
        user_transfer_authority=user_transfer_authority,
        token_program=token_program,
        program_id=program_id,
    )
    return borrow, repay


# ---------------------------------------------------------------------------------------------
# Fee math


def _round_u64(scaled: int) -> int:
    """`Decimal::try_round_u64`: round half up from a WAD-scaled value."""
    value = (scaled + HALF_WAD) // WAD
    if value > U64_MAX:
        raise SolendError(LendingError.MATH_OVERFLOW, "rounded value exceeds u64")
    return value


def flash_loan_fees(amount: int, flash_loan_fee_wad: int, host_fee_percentage: int) -> tuple[int, int]:
    """(total fee, host fee) the repay of a flash loan of `amount` charges.

    `ReserveFees::calculate_fees` with `FeeCalculation::Exclusive`, in the program's Decimal
    arithmetic: a WAD-scaled integer where `Decimal * Rate` floors after each product. The
    origination fee (to the reserve's fee receiver) is total − host.
    """
    check_u64(amount, "amount")
    check_u64(flash_loan_fee_wad, "flash_loan_fee_wad")
    if not 0 <= host_fee_percentage <= 255:
        raise ValueError(f"host_fee_percentage {host_fee_percentage} is not a u8")
    if flash_loan_fee_wad == 0 or amount == 0:
        return 0, 0
    need_host_fee = host_fee_percentage > 0
    minimum_fee = 2 if need_host_fee else 1  # one token to the owner, one to the host
    # Decimal(amount) * Rate(fee_wad) = (amount·WAD · fee_wad) // WAD, exact.
    fee_scaled = max(amount * flash_loan_fee_wad, minimum_fee * WAD)
    if fee_scaled >= amount * WAD:
        raise SolendError(LendingError.BORROW_TOO_SMALL, f"fee on {amount} is not below the amount")
    total = _round_u64(fee_scaled)
    host = 0
    if need_host_fee:
        host = max(_round_u64(fee_scaled * (host_fee_percentage * PERCENT_SCALER) // WAD), 1)
    if host > total:  # origination = total − host is a checked_sub on-chain
        raise SolendError(LendingError.MATH_OVERFLOW, "host fee exceeds total fee")
    return total, host


def flash_loan_cost(reserve: Reserve, amount: int) -> tuple[int, int]:
    """(total, host) for borrowing `amount` from `reserve`, with the checks the borrow makes first."""
    if not reserve.flash_loans_enabled:
        raise SolendError(LendingError.FLASH_LOANS_DISABLED, "flash_loan_fee_wad is u64::MAX")
    if amount > reserve.available_amount:
        raise SolendError(
            LendingError.INSUFFICIENT_LIQUIDITY, f"{amount} > available {reserve.available_amount}"
        )
    return flash_loan_fees(amount, reserve.flash_loan_fee_wad, reserve.host_fee_percentage)


# ---------------------------------------------------------------------------------------------
# Interest accrual (`_refresh_reserve_interest`, run by every flash borrow)
#
# Rate is a WAD-scaled U128 and Decimal a WAD-scaled U192 on-chain; every product floors and
# every overflow is MathOverflow. `Reserve::unpack` raises max_utilization_rate and
# super_max_borrow_rate to at least their optimal/max counterparts, which is reproduced here.

SLOTS_PER_YEAR = 63_072_000  # DEFAULT_TICKS_PER_SECOND / DEFAULT_TICKS_PER_SLOT * 86_400 * 365
_U128_MAX = 2**128 - 1
_U192_MAX = 2**192 - 1


def _overflow(what: str) -> SolendError:
    return SolendError(LendingError.MATH_OVERFLOW, what)


def _rate(value: int) -> int:
    if not 0 <= value <= _U128_MAX:
        raise _overflow("rate out of u128")
    return value


def _decimal(value: int) -> int:
    if not 0 <= value <= _U192_MAX:
        raise _overflow("decimal out of u192")
    return value


def _rate_mul(a: int, b: int) -> int:
    return _rate(a * b) // WAD


def _rate_div(a: int, b: int) -> int:
    if b == 0:
        raise _overflow("rate division by zero")
    return _rate(a * WAD) // b


def _rate_pow(base: int, exp: int) -> int:
    """`Rate::try_pow`: square-and-multiply, squaring once more after the last bit."""
    ret = base if exp % 2 else WAD
    while exp > 0:
        exp //= 2
        base = _rate_mul(base, base)
        if exp % 2:
            ret = _rate_mul(ret, base)
    return ret


def _decimal_mul(a: int, b: int) -> int:
    return _decimal(a * b) // WAD


def _decimal_div(a: int, b: int) -> int:
    if b == 0:
        raise _overflow("decimal division by zero")
    return _decimal(a * WAD) // b


def utilization_rate(r: Reserve) -> int:
    """`ReserveLiquidity::utilization_rate` as a WAD-scaled Rate."""
    total_supply = (
        _decimal(r.available_amount * WAD + r.borrowed_amount_wads) - r.accumulated_protocol_fees_wads
    )
    if total_supply < 0:
        raise _overflow("accumulated protocol fees exceed the total supply")
    if total_supply == 0 or r.borrowed_amount_wads == 0:
        return 0
    denominator = _decimal(r.borrowed_amount_wads + r.available_amount * WAD)
    return _rate(_decimal_div(r.borrowed_amount_wads, denominator))


def current_borrow_rate(r: Reserve) -> int:
    """`Reserve::current_borrow_rate` (annual, WAD-scaled Rate)."""
    pct = PERCENT_SCALER
    utilization = utilization_rate(r)
    optimal_utilization = r.optimal_utilization_rate * pct
    max_utilization = max(r.optimal_utilization_rate, r.max_utilization_rate) * pct
    if utilization <= optimal_utilization:
        min_rate = r.min_borrow_rate * pct
        if optimal_utilization == 0:
            return min_rate
        if r.optimal_borrow_rate < r.min_borrow_rate:
            raise _overflow("optimal borrow rate below min borrow rate")
        normalized = _rate_div(utilization, optimal_utilization)
        rate_range = (r.optimal_borrow_rate - r.min_borrow_rate) * pct
        return _rate(_rate_mul(normalized, rate_range) + min_rate)
    if utilization <= max_utilization:
        weight = _rate_div(utilization - optimal_utilization, max_utilization - optimal_utilization)
        optimal_rate = r.optimal_borrow_rate * pct
        max_rate = r.max_borrow_rate * pct
        if max_rate < optimal_rate:
            raise _overflow("max borrow rate below optimal borrow rate")
        return _rate(_rate_mul(weight, max_rate - optimal_rate) + optimal_rate)
    max_utilization_pct = max(r.optimal_utilization_rate, r.max_utilization_rate)
    if max_utilization_pct > 100:
        raise _overflow("max utilization above 100 %")
    weight = _rate_div(utilization - max_utilization, (100 - max_utilization_pct) * pct)
    max_rate = r.max_borrow_rate * pct
    super_max_rate = _rate(max(r.max_borrow_rate, r.super_max_borrow_rate) * pct)
    return _rate(_decimal(_decimal_mul(weight, super_max_rate - max_rate) + max_rate))


def accrue_interest(r: Reserve, current_slot: int) -> Reserve:
    """The reserve after `_refresh_reserve_interest` at `current_slot` (interest compounded per
    slot, last_update set to the slot and not stale). Raises MathOverflow like the program."""
    if current_slot < r.last_update_slot:
        raise _overflow("current slot is before the reserve's last update")
    slots_elapsed = current_slot - r.last_update_slot
    if slots_elapsed == 0:
        return replace(r, last_update_slot=current_slot, last_update_stale=False)
    slot_rate = current_borrow_rate(r) // SLOTS_PER_YEAR
    compounded = _rate_pow(_rate(WAD + slot_rate), slots_elapsed)
    cumulative = _decimal_mul(r.cumulative_borrow_rate_wads, compounded)
    net_new_debt = _decimal_mul(r.borrowed_amount_wads, compounded) - r.borrowed_amount_wads
    accumulated = _decimal(
        _decimal_mul(net_new_debt, r.protocol_take_rate * PERCENT_SCALER) + r.accumulated_protocol_fees_wads
    )
    borrowed = _decimal(r.borrowed_amount_wads + net_new_debt)
    if max(cumulative, accumulated, borrowed) > _U128_MAX:
        raise _overflow("reserve decimal no longer fits its 16-byte field")  # pack_decimal panics
    return replace(
        r,
        last_update_slot=current_slot,
        last_update_stale=False,
        cumulative_borrow_rate_wads=cumulative,
        accumulated_protocol_fees_wads=accumulated,
        borrowed_amount_wads=borrowed,
    )
