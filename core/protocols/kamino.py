"""Kamino lending (klend): the account layouts the flash-loan path reads, its instructions and fee math.

Sources (Kamino-Finance/klend, read through the code index; the newest stored versions, edd5ff5 /
c02bcf7 / dcc5561): `programs/klend/src/state/{reserve,lending_market}.rs` (zero_copy `#[repr(C)]`
layouts behind an 8-byte Anchor discriminator), `handlers/handler_flash_{borrow,repay}_reserve_
liquidity.rs` (the 12-account lists and the order of the checks), `lending_market/flash_ixs.rs`
(instructions-sysvar checks), `lending_market/lending_checks.rs`, `lending_market/lending_operations.rs`
(`flash_borrow_reserve_liquidity`, `flash_repay_reserve_liquidity`), `utils/fraction.rs` (`Fraction` =
U68F60, `to_round` = round half away from zero) and the generated `KaminoLendingError` list (6000+).
Offsets of the flash-path fields agree with protocols.md §3.2, which checked them against a mainnet
reserve.

What remains uncertain (no source read settles it):
- the withdraw-queue offset (6968) is derived from the struct's field sizes (`config_padding [u64;114]`,
  `padding [u64;204]`, 8624 bytes in all), not from real data;
- the referral share multiplies two U68F60 numbers; the `fixed` crate is taken to truncate that
  product (it only matters with a referrer, and moves the result by at most one base unit when the
  exact share lands within 2^-60 below an integer);
- `LastUpdate.price_status` handling on a refresh without a price is modelled only by the emulator;
- interest accrual (`accrue_interest`, mirrored by the emulator) takes the `fixed` crate's
  Fraction × Fraction and Fraction ÷ Fraction to truncate; this was not read in the crate's source;
- Anchor framework error numbers (100-102, 2000-2022, 3001-3010) are anchor_lang's `ErrorCode`
  (read in the index); which one the real program raises first for a doubly-wrong account list
  follows Anchor's field-then-constraint order, measured only for 2000/2001/2006 (protocols.md §3.3).
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.anchor import AnchorError as AnchorError
from core.protocols.anchor import anchor_discriminator, check_account
from core.protocols.errors import DecodeError, ProgramRefusal
from core.protocols.layout import U64_MAX, check_u64

PROGRAM_VERSION = 1
RESERVE_LEN = 8624
LENDING_MARKET_LEN = 4664
FRACTION_BITS = 60
FRACTION_ONE = 1 << FRACTION_BITS
_FRACTION_HALF = 1 << (FRACTION_BITS - 1)
# A reserve whose flash_loan_fee_sf is u64::MAX has flash loans switched off.
FLASH_LOANS_DISABLED_FEE_SF = U64_MAX
LENDING_MARKET_AUTH_SEED = b"lma"
BORROW_RATE_CURVE_POINTS = 11


RESERVE_DISCRIMINATOR = anchor_discriminator("account", "Reserve")
LENDING_MARKET_DISCRIMINATOR = anchor_discriminator("account", "LendingMarket")
FLASH_BORROW_DISCRIMINATOR = anchor_discriminator("global", "flash_borrow_reserve_liquidity")
FLASH_REPAY_DISCRIMINATOR = anchor_discriminator("global", "flash_repay_reserve_liquidity")
assert RESERVE_DISCRIMINATOR.hex() == "2bf2ccca1af73b7f"
assert LENDING_MARKET_DISCRIMINATOR.hex() == "f6723262489d1c78"
assert FLASH_BORROW_DISCRIMINATOR.hex() == "87e734a70734d4c1"
assert FLASH_REPAY_DISCRIMINATOR.hex() == "b97500cb60f5b4ba"


class ReserveStatus(IntEnum):
    ACTIVE = 0
    OBSOLETE = 1
    HIDDEN = 2


class LendingError(IntEnum):
    """klend `LendingError` (Anchor `#[error_code]`, offset 6000): the custom error number."""

    INVALID_MARKET_AUTHORITY = 6000
    INVALID_MARKET_OWNER = 6001
    INVALID_ACCOUNT_OWNER = 6002
    INVALID_AMOUNT = 6003
    INVALID_CONFIG = 6004
    INVALID_SIGNER = 6005
    INVALID_ACCOUNT_INPUT = 6006
    MATH_OVERFLOW = 6007
    INSUFFICIENT_LIQUIDITY = 6008
    RESERVE_STALE = 6009
    WITHDRAW_TOO_SMALL = 6010
    WITHDRAW_TOO_LARGE = 6011
    BORROW_TOO_SMALL = 6012
    BORROW_TOO_LARGE = 6013
    FLASH_BORROW_CPI = 6031
    NO_FLASH_REPAY_FOUND = 6032
    INVALID_FLASH_REPAY = 6033
    FLASH_REPAY_CPI = 6034
    MULTIPLE_FLASH_BORROWS = 6035
    FLASH_LOANS_DISABLED = 6036
    GLOBAL_EMERGENCY_MODE = 6042
    INTEGER_OVERFLOW = 6049
    INVALID_BORROW_RATE_CURVE_POINT = 6060
    INVALID_UTILIZATION_RATE = 6061
    RESERVE_DEPRECATED = 6073
    REFERRER_ACCOUNT_NOT_INITIALIZED = 6074
    REFERRER_ACCOUNT_MINT_MISSMATCH = 6075
    REFERRER_ACCOUNT_WRONG_ADDRESS = 6076
    REFERRER_ACCOUNT_REFERRER_MISSMATCH = 6077
    RESERVE_OBSOLETE = 6082
    RESERVE_TOKEN_BALANCE_MISMATCH = 6095
    RESERVE_VAULT_BALANCE_MISMATCH = 6096
    RESERVE_ACCOUNTING_MISMATCH = 6097


class KaminoError(ProgramRefusal):
    """What the program would refuse with, found while computing off-chain."""

    error: LendingError


# ---------------------------------------------------------------------------------------------
# Layouts: each account is a table of (field, offset, kind); bytes no field covers are kept in
# `extra` so an account re-encodes byte for byte.

_KINDS: dict[str, int] = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "u128": 16, "u256": 32, "pubkey": 32,
                          "bytes32": 32, "curve": 8 * BORROW_RATE_CURVE_POINTS}


def _read(data: bytes, offset: int, kind: str) -> Any:
    raw = data[offset : offset + _KINDS[kind]]
    if kind == "pubkey":
        return Pubkey(raw)
    if kind == "bytes32":
        return bytes(raw)
    if kind == "curve":
        pairs = struct.unpack(f"<{2 * BORROW_RATE_CURVE_POINTS}I", raw)
        return tuple(zip(pairs[0::2], pairs[1::2], strict=True))
    return int.from_bytes(raw, "little")


def _write(buf: bytearray, offset: int, kind: str, value: Any, name: str) -> None:
    size = _KINDS[kind]
    if kind == "pubkey":
        raw = bytes(value)
    elif kind == "bytes32":
        raw = bytes(value)
        if len(raw) != 32:
            raise ValueError(f"{name} must be 32 bytes")
    elif kind == "curve":
        points = tuple(value)
        if len(points) != BORROW_RATE_CURVE_POINTS:
            raise ValueError(f"{name} must have {BORROW_RATE_CURVE_POINTS} points")
        raw = struct.pack(f"<{2 * BORROW_RATE_CURVE_POINTS}I", *(v for point in points for v in point))
    else:
        if not 0 <= value < 1 << (8 * size):
            raise ValueError(f"{name} {value} does not fit {kind}")
        raw = int(value).to_bytes(size, "little")
    buf[offset : offset + size] = raw


def _encode(obj: Any, table: tuple[tuple[str, int, str], ...], length: int, disc: bytes) -> bytes:
    if len(obj.extra) != length:
        raise ValueError(f"extra must be {length} bytes")
    buf = bytearray(obj.extra)
    buf[:8] = disc
    for name, offset, kind in table:
        _write(buf, offset, kind, getattr(obj, name), name)
    return bytes(buf)


def _decode_fields(
    data: bytes, table: tuple[tuple[str, int, str], ...], length: int, disc: bytes, account: object, kind: str
) -> tuple[dict[str, Any], bytes]:
    check_account(data, length, disc, account, kind)
    data = bytes(data)
    values = {name: _read(data, offset, k) for name, offset, k in table}
    extra = bytearray(data)
    extra[:8] = bytes(8)
    for _, offset, k in table:
        extra[offset : offset + _KINDS[k]] = bytes(_KINDS[k])
    return values, bytes(extra)


_ZERO_KEY = Pubkey.default()
_LINEAR_CURVE: tuple[tuple[int, int], ...] = ((0, 0), (10_000, 1_000)) + ((10_000, 1_000),) * 9

# Reserve (8624 bytes). Offsets include the 8-byte discriminator.
_RESERVE_FIELDS: tuple[tuple[str, int, str], ...] = (
    ("version", 8, "u64"),
    ("last_update_slot", 16, "u64"),
    ("last_update_stale", 24, "u8"),
    ("last_update_price_status", 25, "u8"),
    ("lending_market", 32, "pubkey"),
    ("farm_collateral", 64, "pubkey"),
    ("farm_debt", 96, "pubkey"),
    ("liquidity_mint_pubkey", 128, "pubkey"),
    ("liquidity_supply_vault", 160, "pubkey"),
    ("liquidity_fee_vault", 192, "pubkey"),
    ("liquidity_total_available_amount", 224, "u64"),
    ("liquidity_borrowed_amount_sf", 232, "u128"),
    ("liquidity_market_price_sf", 248, "u128"),
    ("liquidity_market_price_last_updated_ts", 264, "u64"),
    ("liquidity_mint_decimals", 272, "u64"),
    ("liquidity_deposit_limit_crossed_timestamp", 280, "u64"),
    ("liquidity_borrow_limit_crossed_timestamp", 288, "u64"),
    ("liquidity_cumulative_borrow_rate_bsf", 296, "u256"),  # BigFractionBytes.value; 16 padding bytes follow
    ("liquidity_accumulated_protocol_fees_sf", 344, "u128"),
    ("liquidity_accumulated_referrer_fees_sf", 360, "u128"),
    ("liquidity_pending_referrer_fees_sf", 376, "u128"),
    ("liquidity_absolute_referral_rate_sf", 392, "u128"),
    ("liquidity_token_program", 408, "pubkey"),
    ("collateral_mint_pubkey", 2560, "pubkey"),
    ("collateral_mint_total_supply", 2592, "u64"),
    ("collateral_supply_vault", 2600, "pubkey"),
    ("config_status", 4856, "u8"),
    ("config_host_fixed_interest_rate_bps", 4858, "u16"),
    ("config_protocol_take_rate_pct", 4870, "u8"),
    ("config_protocol_liquidation_fee_pct", 4871, "u8"),
    ("config_loan_to_value_pct", 4872, "u8"),
    ("config_liquidation_threshold_pct", 4873, "u8"),
    ("config_origination_fee_sf", 4896, "u64"),
    ("config_flash_loan_fee_sf", 4904, "u64"),
    ("config_borrow_rate_curve", 4920, "curve"),
    ("config_borrow_factor_pct", 5008, "u64"),
    ("config_deposit_limit", 5016, "u64"),
    ("config_borrow_limit", 5024, "u64"),
    ("config_token_info_name", 5032, "bytes32"),
    ("config_token_info_max_age_price_seconds", 5096, "u64"),
    ("config_token_info_max_age_twap_seconds", 5104, "u64"),
    ("withdraw_queue_queued_collateral_amount", 6968, "u64"),
)

# Byte offsets the on-chain emulator and the tests read directly.
RESERVE_OFFSETS: dict[str, int] = {name: offset for name, offset, _ in _RESERVE_FIELDS}


@dataclass(frozen=True)
class Reserve:
    """A klend Reserve, flat: `liquidity_*`, `collateral_*` and `config_*` are the nested structs."""

    lending_market: Pubkey
    liquidity_mint_pubkey: Pubkey
    liquidity_supply_vault: Pubkey
    liquidity_fee_vault: Pubkey
    version: int = PROGRAM_VERSION
    last_update_slot: int = 0
    last_update_stale: int = 0
    last_update_price_status: int = 0
    farm_collateral: Pubkey = _ZERO_KEY
    farm_debt: Pubkey = _ZERO_KEY
    liquidity_total_available_amount: int = 0
    liquidity_borrowed_amount_sf: int = 0
    liquidity_market_price_sf: int = 0
    liquidity_market_price_last_updated_ts: int = 0
    liquidity_mint_decimals: int = 6
    liquidity_deposit_limit_crossed_timestamp: int = 0
    liquidity_borrow_limit_crossed_timestamp: int = 0
    liquidity_cumulative_borrow_rate_bsf: int = FRACTION_ONE
    liquidity_accumulated_protocol_fees_sf: int = 0
    liquidity_accumulated_referrer_fees_sf: int = 0
    liquidity_pending_referrer_fees_sf: int = 0
    liquidity_absolute_referral_rate_sf: int = 0
    liquidity_token_program: Pubkey = ids.TOKEN_PROGRAM
    collateral_mint_pubkey: Pubkey = _ZERO_KEY
    collateral_mint_total_supply: int = 0
    collateral_supply_vault: Pubkey = _ZERO_KEY
    config_status: int = ReserveStatus.ACTIVE
    config_host_fixed_interest_rate_bps: int = 0
    config_protocol_take_rate_pct: int = 0
    config_protocol_liquidation_fee_pct: int = 0
    config_loan_to_value_pct: int = 0
    config_liquidation_threshold_pct: int = 0
    config_origination_fee_sf: int = 0
    config_flash_loan_fee_sf: int = 0
    config_borrow_rate_curve: tuple[tuple[int, int], ...] = _LINEAR_CURVE
    config_borrow_factor_pct: int = 100
    config_deposit_limit: int = U64_MAX
    config_borrow_limit: int = U64_MAX
    config_token_info_name: bytes = bytes(32)
    config_token_info_max_age_price_seconds: int = U64_MAX
    config_token_info_max_age_twap_seconds: int = U64_MAX
    withdraw_queue_queued_collateral_amount: int = 0
    extra: bytes = field(default=bytes(RESERVE_LEN), repr=False)

    @property
    def flash_loans_enabled(self) -> bool:
        return self.config_flash_loan_fee_sf != FLASH_LOANS_DISABLED_FEE_SF

    @property
    def token_program(self) -> Pubkey:
        """The program that owns the liquidity mint (reserves made before the field read zero)."""
        if self.liquidity_token_program == _ZERO_KEY:
            return ids.TOKEN_PROGRAM
        return self.liquidity_token_program

    @property
    def utilization_bps(self) -> int:
        """borrowed / (borrowed + available) in basis points (fees left out; for health checks)."""
        borrowed = self.liquidity_borrowed_amount_sf >> FRACTION_BITS
        total = borrowed + self.liquidity_total_available_amount
        return 0 if total == 0 else borrowed * 10_000 // total


def decode_reserve(data: bytes, account: object = None) -> Reserve:
    kind = "kamino_reserve"
    values, extra = _decode_fields(data, _RESERVE_FIELDS, RESERVE_LEN, RESERVE_DISCRIMINATOR, account, kind)
    if values["config_status"] > max(ReserveStatus):
        # ReserveConfig::status() unwraps the conversion: the program would panic on it.
        raise DecodeError(account, kind, f"config.status {values['config_status']} is not a ReserveStatus")
    return Reserve(**values, extra=extra)


def encode_reserve(r: Reserve) -> bytes:
    return _encode(r, _RESERVE_FIELDS, RESERVE_LEN, RESERVE_DISCRIMINATOR)


# LendingMarket (4664 bytes): the fields in front of the elevation groups.
_LENDING_MARKET_FIELDS: tuple[tuple[str, int, str], ...] = (
    ("version", 8, "u64"),
    ("bump_seed", 16, "u64"),
    ("lending_market_owner", 24, "pubkey"),
    ("lending_market_owner_cached", 56, "pubkey"),
    ("quote_currency", 88, "bytes32"),
    ("referral_fee_bps", 120, "u16"),
    ("emergency_mode", 122, "u8"),
    ("autodeleverage_enabled", 123, "u8"),
    ("borrow_disabled", 124, "u8"),
    ("price_refresh_trigger_to_max_age_pct", 125, "u8"),
    ("liquidation_max_debt_close_factor_pct", 126, "u8"),
    ("insolvency_risk_unhealthy_ltv_pct", 127, "u8"),
    ("min_full_liquidation_value_threshold", 128, "u64"),
    ("max_liquidatable_debt_market_value_at_once", 136, "u64"),
    ("global_allowed_borrow_value", 152, "u64"),
    ("emergency_council", 160, "pubkey"),
)
LENDING_MARKET_OFFSETS: dict[str, int] = {name: offset for name, offset, _ in _LENDING_MARKET_FIELDS}


@dataclass(frozen=True)
class LendingMarket:
    """A klend LendingMarket; the flash path reads the discriminator, `bump_seed` and `emergency_mode`."""

    bump_seed: int
    lending_market_owner: Pubkey
    version: int = PROGRAM_VERSION
    lending_market_owner_cached: Pubkey = _ZERO_KEY
    quote_currency: bytes = b"USD".ljust(32, b"\0")
    referral_fee_bps: int = 0
    emergency_mode: int = 0
    autodeleverage_enabled: int = 0
    borrow_disabled: int = 0
    price_refresh_trigger_to_max_age_pct: int = 0
    liquidation_max_debt_close_factor_pct: int = 0
    insolvency_risk_unhealthy_ltv_pct: int = 0
    min_full_liquidation_value_threshold: int = 0
    max_liquidatable_debt_market_value_at_once: int = 0
    global_allowed_borrow_value: int = 0
    emergency_council: Pubkey = _ZERO_KEY
    extra: bytes = field(default=bytes(LENDING_MARKET_LEN), repr=False)


def decode_lending_market(data: bytes, account: object = None) -> LendingMarket:
    values, extra = _decode_fields(
        data, _LENDING_MARKET_FIELDS, LENDING_MARKET_LEN, LENDING_MARKET_DISCRIMINATOR, account,
        "kamino_lending_market",
    )
    return LendingMarket(**values, extra=extra)


def encode_lending_market(m: LendingMarket) -> bytes:
    return _encode(m, _LENDING_MARKET_FIELDS, LENDING_MARKET_LEN, LENDING_MARKET_DISCRIMINATOR)


def lending_market_authority(market: Pubkey, program_id: Pubkey = ids.KAMINO_LEND) -> tuple[Pubkey, int]:
    """The PDA `["lma", market]` that owns every supply vault of `market`, and its bump."""
    return Pubkey.find_program_address([LENDING_MARKET_AUTH_SEED, bytes(market)], program_id)


# ---------------------------------------------------------------------------------------------
# Instructions


def _flash_accounts(
    *,
    user_transfer_authority: Pubkey,
    lending_market: Pubkey,
    reserve: Pubkey,
    reserve_liquidity_mint: Pubkey,
    reserve_liquidity: Pubkey,
    user_liquidity: Pubkey,
    reserve_liquidity_fee_receiver: Pubkey,
    referrer_token_state: Pubkey | None,
    referrer_account: Pubkey | None,
    lending_market_authority_pubkey: Pubkey | None,
    token_program: Pubkey,
    program_id: Pubkey,
) -> list[AccountMeta]:
    authority = lending_market_authority_pubkey or lending_market_authority(lending_market, program_id)[0]

    def optional(key: Pubkey | None) -> AccountMeta:
        # Anchor's Option<Account>: None is the program id itself, read-only.
        if key is None:
            return AccountMeta(program_id, is_signer=False, is_writable=False)
        return AccountMeta(key, is_signer=False, is_writable=True)

    return [
        AccountMeta(user_transfer_authority, is_signer=True, is_writable=False),
        AccountMeta(authority, is_signer=False, is_writable=False),
        AccountMeta(lending_market, is_signer=False, is_writable=False),
        AccountMeta(reserve, is_signer=False, is_writable=True),
        AccountMeta(reserve_liquidity_mint, is_signer=False, is_writable=False),
        AccountMeta(reserve_liquidity, is_signer=False, is_writable=True),
        AccountMeta(user_liquidity, is_signer=False, is_writable=True),
        AccountMeta(reserve_liquidity_fee_receiver, is_signer=False, is_writable=True),
        optional(referrer_token_state),
        optional(referrer_account),
        AccountMeta(ids.SYSVAR_INSTRUCTIONS, is_signer=False, is_writable=False),
        AccountMeta(token_program, is_signer=False, is_writable=False),
    ]


def flash_borrow_reserve_liquidity(
    *,
    liquidity_amount: int,
    user_transfer_authority: Pubkey,
    lending_market: Pubkey,
    reserve: Pubkey,
    reserve_liquidity_mint: Pubkey,
    reserve_source_liquidity: Pubkey,
    user_destination_liquidity: Pubkey,
    reserve_liquidity_fee_receiver: Pubkey,
    referrer_token_state: Pubkey | None = None,
    referrer_account: Pubkey | None = None,
    lending_market_authority_pubkey: Pubkey | None = None,
    token_program: Pubkey = ids.TOKEN_PROGRAM,
    program_id: Pubkey = ids.KAMINO_LEND,
) -> Instruction:
    """flash_borrow_reserve_liquidity: `reserve_source_liquidity` is the reserve's supply vault."""
    check_u64(liquidity_amount, "liquidity_amount")
    accounts = _flash_accounts(
        user_transfer_authority=user_transfer_authority, lending_market=lending_market, reserve=reserve,
        reserve_liquidity_mint=reserve_liquidity_mint, reserve_liquidity=reserve_source_liquidity,
        user_liquidity=user_destination_liquidity,
        reserve_liquidity_fee_receiver=reserve_liquidity_fee_receiver,
        referrer_token_state=referrer_token_state, referrer_account=referrer_account,
        lending_market_authority_pubkey=lending_market_authority_pubkey, token_program=token_program,
        program_id=program_id,
    )
    return Instruction(program_id, FLASH_BORROW_DISCRIMINATOR + struct.pack("<Q", liquidity_amount), accounts)


def flash_repay_reserve_liquidity(
    *,
    liquidity_amount: int,
    borrow_instruction_index: int,
    user_transfer_authority: Pubkey,
    lending_market: Pubkey,
    reserve: Pubkey,
    reserve_liquidity_mint: Pubkey,
    reserve_destination_liquidity: Pubkey,
    user_source_liquidity: Pubkey,
    reserve_liquidity_fee_receiver: Pubkey,
    referrer_token_state: Pubkey | None = None,
    referrer_account: Pubkey | None = None,
    lending_market_authority_pubkey: Pubkey | None = None,
    token_program: Pubkey = ids.TOKEN_PROGRAM,
    program_id: Pubkey = ids.KAMINO_LEND,
) -> Instruction:
    """flash_repay_reserve_liquidity. `borrow_instruction_index` is the absolute top-level index of
    the borrow in the final transaction (ComputeBudget instructions count). The borrow checks that
    this repay lists exactly the same 12 pubkeys in the same order."""
    check_u64(liquidity_amount, "liquidity_amount")
    if not 0 <= borrow_instruction_index <= 255:
        raise ValueError(f"borrow_instruction_index {borrow_instruction_index} is not a u8")
    accounts = _flash_accounts(
        user_transfer_authority=user_transfer_authority, lending_market=lending_market, reserve=reserve,
        reserve_liquidity_mint=reserve_liquidity_mint, reserve_liquidity=reserve_destination_liquidity,
        user_liquidity=user_source_liquidity, reserve_liquidity_fee_receiver=reserve_liquidity_fee_receiver,
        referrer_token_state=referrer_token_state, referrer_account=referrer_account,
        lending_market_authority_pubkey=lending_market_authority_pubkey, token_program=token_program,
        program_id=program_id,
    )
    data = FLASH_REPAY_DISCRIMINATOR + struct.pack("<QB", liquidity_amount, borrow_instruction_index)
    return Instruction(program_id, data, accounts)


def flash_loan_instructions(
    *,
    reserve_address: Pubkey,
    reserve: Reserve,
    liquidity_amount: int,
    borrow_instruction_index: int,
    user_token_account: Pubkey,
    user_transfer_authority: Pubkey,
    program_id: Pubkey = ids.KAMINO_LEND,
) -> tuple[Instruction, Instruction]:
    """The (borrow, repay) pair for `reserve`, with mint, vaults and token program read from it.

    Place the borrow at top-level index `borrow_instruction_index` and the repay after it; the
    user's token account must hold `liquidity_amount` + the fee when the repay runs.
    """
    common: dict[str, Any] = dict(
        liquidity_amount=liquidity_amount,
        user_transfer_authority=user_transfer_authority,
        lending_market=reserve.lending_market,
        reserve=reserve_address,
        reserve_liquidity_mint=reserve.liquidity_mint_pubkey,
        reserve_liquidity_fee_receiver=reserve.liquidity_fee_vault,
        token_program=reserve.token_program,
        program_id=program_id,
    )
    borrow = flash_borrow_reserve_liquidity(
        reserve_source_liquidity=reserve.liquidity_supply_vault,
        user_destination_liquidity=user_token_account,
        **common,
    )
    repay = flash_repay_reserve_liquidity(
        borrow_instruction_index=borrow_instruction_index,
        reserve_destination_liquidity=reserve.liquidity_supply_vault,
        user_source_liquidity=user_token_account,
        **common,
    )
    return borrow, repay


# ---------------------------------------------------------------------------------------------
# Fee math


def referral_rate_sf(referral_fee_bps: int) -> int:
    """`Fraction::from_bps`: from_num(bps) / 10_000, the fixed-point division truncating."""
    return (referral_fee_bps << FRACTION_BITS) // 10_000


def flash_loan_fees(
    amount: int, flash_loan_fee_sf: int, referral_fee_bps: int = 0, has_referrer: bool = False
) -> tuple[int, int]:
    """(protocol fee, referral fee) the repay of a flash loan of `amount` charges.

    `ReserveFees::calculate_fees` with `FeeCalculation::Exclusive` in U68F60 (`Fraction`) arithmetic:
    Fraction(amount) × from_bits(fee_sf) is exactly amount·fee_sf in bits; at least one token; the
    borrow is refused (BorrowTooSmall) when that reaches the amount; the user pays the total
    rounded half away from zero. The protocol fee goes to the fee vault, the referral fee (only with a
    referrer and a market `referral_fee_bps`) back into the supply vault for the referrer.
    """
    check_u64(amount, "amount")
    check_u64(flash_loan_fee_sf, "flash_loan_fee_sf")
    if not 0 <= referral_fee_bps <= 0xFFFF:
        raise ValueError(f"referral_fee_bps {referral_fee_bps} is not a u16")
    if flash_loan_fee_sf == 0 or amount == 0:
        return 0, 0
    fee_bits = max(amount * flash_loan_fee_sf, FRACTION_ONE)
    if fee_bits >= amount << FRACTION_BITS:
        raise KaminoError(LendingError.BORROW_TOO_SMALL, f"fee on {amount} is not below the amount")
    total = (fee_bits + _FRACTION_HALF) >> FRACTION_BITS
    referral = 0
    if has_referrer and referral_fee_bps > 0:
        if referral_fee_bps == 10_000:
            referral = total
        else:
            referral = (fee_bits * referral_rate_sf(referral_fee_bps) >> FRACTION_BITS) >> FRACTION_BITS
    if referral > total:  # `origination_fee - referral_fee` is an unchecked u64 subtraction
        raise KaminoError(LendingError.MATH_OVERFLOW, "referral fee exceeds the fee")
    return total - referral, referral


def flash_loan_fee(amount: int, flash_loan_fee_sf: int) -> int:
    """What the user pays on top of `amount` without a referrer (all of it to the fee vault)."""
    protocol, referral = flash_loan_fees(amount, flash_loan_fee_sf)
    return protocol + referral


def check_flash_borrow(reserve: Reserve, amount: int) -> None:
    """The reserve-state checks of a flash borrow, in the program's order."""
    if reserve.version != PROGRAM_VERSION:
        raise KaminoError(LendingError.RESERVE_DEPRECATED, f"reserve version {reserve.version}")
    if reserve.config_status == ReserveStatus.OBSOLETE:
        raise KaminoError(LendingError.RESERVE_OBSOLETE, "reserve is obsolete")
    if not reserve.flash_loans_enabled:
        raise KaminoError(LendingError.FLASH_LOANS_DISABLED, "flash_loan_fee_sf is u64::MAX")
    if amount > reserve.liquidity_total_available_amount:
        available = reserve.liquidity_total_available_amount
        raise KaminoError(LendingError.INSUFFICIENT_LIQUIDITY, f"{amount} > available {available}")


def flash_loan_cost(reserve: Reserve, amount: int) -> int:
    """The fee for borrowing `amount` from `reserve` (no referrer), after the borrow's checks."""
    check_flash_borrow(reserve, amount)
    return flash_loan_fee(amount, reserve.config_flash_loan_fee_sf)



# ---------------------------------------------------------------------------------------------
# Interest accrual (`Reserve::accrue_interest`, run by the flash borrow's refresh_reserve)
#
# `Fraction` is U68F60: bits / 2^60. Fraction × Fraction and Fraction ÷ Fraction are taken to
# truncate (the `fixed` crate's wide product shifted down); Fraction × / ÷ integer act on the bits
# exactly / truncating. `BigFraction` (cumulative borrow rate) is a U256 with the same 60 bits.
# Where the program would panic (a u128 / U256 overflow or underflow) this raises KaminoPanic.

SLOTS_PER_YEAR = 63_072_000  # klend utils/consts.rs: 2 slots/s × 60 × 60 × 24 × 365
_U128_LIMIT = 1 << 128
_U256_LIMIT = 1 << 256
FULL_BPS = 10_000


class KaminoPanic(Exception):
    """The program would panic here (arithmetic overflow, a failed unwrap)."""


def _u128(value: int, what: str) -> int:
    if not 0 <= value < _U128_LIMIT:
        raise KaminoPanic(f"{what} out of u128")
    return value


def _fmul(a: int, b: int) -> int:
    return _u128((a * b) >> FRACTION_BITS, "fraction product")


def _fmul_int(a: int, n: int) -> int:
    return _u128(a * n, "fraction × integer")


def fraction_from_bps(bps: int) -> int:
    return (bps << FRACTION_BITS) // FULL_BPS


def fraction_from_percent(pct: int) -> int:
    return (pct << FRACTION_BITS) // 100


def total_supply_sf(r: Reserve) -> int:
    """`ReserveLiquidity::total_supply`: available + borrowed − protocol, referrer and pending fees."""
    total = (
        (r.liquidity_total_available_amount << FRACTION_BITS) + r.liquidity_borrowed_amount_sf
        - r.liquidity_accumulated_protocol_fees_sf - r.liquidity_accumulated_referrer_fees_sf
        - r.liquidity_pending_referrer_fees_sf
    )
    return _u128(total, "total supply")


def utilization_rate_sf(r: Reserve) -> int:
    total = total_supply_sf(r)
    if total == 0:
        return 0
    return _u128((r.liquidity_borrowed_amount_sf << FRACTION_BITS) // total, "utilization")


def borrow_rate_sf(curve: tuple[tuple[int, int], ...], utilization_sf: int) -> int:
    """`BorrowRateCurve::get_borrow_rate`: the segment holding the utilisation (in bps, rounded
    half away from zero) interpolated in Fraction arithmetic; exact at the points."""
    utilization_sf = min(utilization_sf, FRACTION_ONE)
    bps = (utilization_sf * FULL_BPS + _FRACTION_HALF) >> FRACTION_BITS
    segment = next(((a, b) for a, b in itertools.pairwise(curve) if a[0] <= bps <= b[0]), None)
    if segment is None:  # `.find(..).unwrap()`
        raise KaminoPanic("no curve segment holds the utilization")
    (u0, r0), (u1, r1) = segment
    if bps == u0:
        return fraction_from_bps(r0)
    if bps == u1:
        return fraction_from_bps(r1)
    if r1 < r0 or u1 <= u0:
        raise KaminoError(LendingError.INVALID_BORROW_RATE_CURVE_POINT, "curve is not increasing")
    coef = utilization_sf - fraction_from_bps(u0)
    if coef < 0:
        raise KaminoError(LendingError.INVALID_UTILIZATION_RATE, "utilization below the segment")
    return _u128(_fmul_int(coef, r1 - r0) // (u1 - u0) + fraction_from_bps(r0), "borrow rate")


def approximate_compounded_interest(rate_sf: int, elapsed_slots: int) -> int:
    """klend's third-order approximation of (1 + rate / SLOTS_PER_YEAR) ^ elapsed_slots."""
    base = rate_sf // SLOTS_PER_YEAR
    one_plus = _u128(FRACTION_ONE + base, "1 + base")
    if elapsed_slots == 0:
        return FRACTION_ONE
    if elapsed_slots == 1:
        return one_plus
    if elapsed_slots == 2:
        return _fmul(one_plus, one_plus)
    if elapsed_slots == 3:
        return _fmul(_fmul(one_plus, one_plus), one_plus)
    if elapsed_slots == 4:
        square = _fmul(one_plus, one_plus)
        return _fmul(square, square)
    n = elapsed_slots
    base2 = _fmul(base, base)
    base3 = _fmul(base2, base)
    first = _fmul_int(base, n)
    second = _fmul_int(_fmul_int(base2, n), n - 1) // 2
    third = _fmul_int(_fmul_int(_fmul_int(base3, n), n - 1), n - 2) // 6
    return _u128(FRACTION_ONE + first + second + third, "compounded rate")


def accrue_interest(r: Reserve, current_slot: int, referral_fee_bps: int = 0) -> Reserve:
    """The reserve after `Reserve::accrue_interest` at `current_slot` (`compound_interest` when
    slots elapsed; last_update is left to the caller). MathOverflow when the reserve is from a
    later slot, KaminoPanic where the program panics."""
    elapsed = current_slot - r.last_update_slot
    if elapsed < 0:
        raise KaminoError(LendingError.MATH_OVERFLOW, "current slot is before the reserve's last update")
    if elapsed == 0:
        return r
    rate = borrow_rate_sf(r.config_borrow_rate_curve, utilization_rate_sf(r))
    fixed = fraction_from_bps(r.config_host_fixed_interest_rate_bps)
    take = fraction_from_percent(r.config_protocol_take_rate_pct)
    referral = fraction_from_bps(referral_fee_bps)
    compounded = approximate_compounded_interest(_u128(rate + fixed, "rate"), elapsed)
    compounded_fixed = approximate_compounded_interest(fixed, elapsed)
    cumulative = (r.liquidity_cumulative_borrow_rate_bsf * compounded) >> FRACTION_BITS
    if cumulative >= _U256_LIMIT or r.liquidity_cumulative_borrow_rate_bsf * compounded >= _U256_LIMIT:
        raise KaminoPanic("cumulative borrow rate out of U256")
    debt = r.liquidity_borrowed_amount_sf
    new_debt = _fmul(debt, compounded)
    fixed_host_fee = _u128(_fmul(debt, compounded_fixed) - debt, "fixed host fee")
    net_new_variable = _u128(new_debt - debt - fixed_host_fee, "new variable debt")
    variable_protocol_fee = _fmul(net_new_variable, take)
    absolute_referral = _fmul(take, referral)
    max_referrers_fees = _fmul(net_new_variable, absolute_referral)
    protocol_fees = _u128(
        r.liquidity_accumulated_protocol_fees_sf + fixed_host_fee + variable_protocol_fee
        - max_referrers_fees,
        "protocol fees",
    )
    return replace(
        r,
        liquidity_cumulative_borrow_rate_bsf=cumulative,
        liquidity_pending_referrer_fees_sf=_u128(
            r.liquidity_pending_referrer_fees_sf + max_referrers_fees, "pending referrer fees"
        ),
        liquidity_accumulated_protocol_fees_sf=protocol_fees,
        liquidity_borrowed_amount_sf=new_debt,
        liquidity_absolute_referral_rate_sf=absolute_referral,
    )
