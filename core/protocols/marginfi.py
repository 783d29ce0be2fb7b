"""MarginFi v2: the account layouts, instructions and fee math of the flash-loan path.

Sources (mrgnlabs/marginfi-v2, read through the code index; protocols.md §3.1 names snapshot
3031ba3): `type-crate/src/types/{bank,group,user_account,emode}.rs` (zero-copy `#[repr(C)]`
layouts, asserted sizes: MarginfiAccount 2304, LendingAccount 1728, Balance 104, MarginfiGroup
1056, BankConfig 544, EmodeSettings 424), `programs/marginfi/src/instructions/marginfi_account/
{flashloan,borrow,repay,initialize}.rs` (Anchor account structs, in order),
`programs/marginfi/src/state/{marginfi_account,risk_engine}.rs` (BankAccountWrapper,
RiskEngine) and `programs/marginfi/src/errors.rs` (MarginfiError = 6000 + position).

Every account starts with Anchor's 8-byte discriminator `sha256("account:<Name>")[:8]`; offsets
below are absolute (discriminator included). Numbers in I80F48 (`WrappedI80F48`, 16 bytes) are
kept as their raw signed 128-bit value: value = raw / 2^48.

The Bank layout up to the emode block and the MarginfiAccount header were checked against real
mainnet accounts (marginfi-v2's test fixtures, copied to tests/fixtures/marginfi_*).

Remaining uncertainty (not confirmed against the source):
- I80F48 products and quotients are taken to truncate (the `fixed` crate); every value on this
  path is non-negative, where truncation and flooring agree.
- Interest follows the classic piecewise-linear curve (interest_rate.rs at 0467f80); newer builds
  may configure multi-point curves in the InterestRateConfig padding, which are not modelled.
- The Bank layout past `fees_destination_account` (offset 1376) and the MarginfiGroup layout past
  `delegate_emissions_admin` (offset 256) changed between program versions; they are kept as raw
  bytes here and the flash path reads nothing from them.
- Account lists follow protocols.md §3.1 (snapshot 3031ba3) and the flashloan.rs version that
  matches it (start/end: `has_one = authority`, CPI refused with NotAllowedInCPI 6091, receivership
  with ForbiddenIx 6089). The newest source adds the group as end_flashloan's second account and
  checks the flags in Anchor constraints; if mainnet runs that build, end_flashloan needs it.
- Error numbers 6000-6102 are from errors.rs of the same era (InvalidGroup 6093,
  InvalidLiquidityVault 6094, NotAllowedInCPI 6091); the first 64 are the same in every build read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from enum import IntEnum

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.anchor import AnchorError as AnchorError
from core.protocols.anchor import anchor_discriminator as anchor_discriminator
from core.protocols.anchor import check_account
from core.protocols.errors import DecodeError, ProgramRefusal
from core.protocols.layout import U64_MAX as U64_MAX
from core.protocols.layout import check_u64

I80F48_ONE = 1 << 48
I128_MIN = -(2**127)
I128_MAX = 2**127 - 1
# constants.rs: ZERO_AMOUNT_THRESHOLD = I80F48!(0.0001), EMPTY_BALANCE_THRESHOLD = I80F48!(1).
ZERO_AMOUNT_THRESHOLD = 28_147_497_671
EMPTY_BALANCE_THRESHOLD = I80F48_ONE

LIQUIDITY_VAULT_SEED = b"liquidity_vault"
LIQUIDITY_VAULT_AUTHORITY_SEED = b"liquidity_vault_auth"
INSURANCE_VAULT_SEED = b"insurance_vault"
INSURANCE_VAULT_AUTHORITY_SEED = b"insurance_vault_auth"
FEE_VAULT_SEED = b"fee_vault"
FEE_VAULT_AUTHORITY_SEED = b"fee_vault_auth"

MAX_ORACLE_KEYS = 5
MAX_LENDING_ACCOUNT_BALANCES = 16

# MarginfiAccount.account_flags (type-crate user_account.rs).
ACCOUNT_DISABLED = 1 << 0
ACCOUNT_IN_FLASHLOAN = 1 << 1
ACCOUNT_FLAG_DEPRECATED = 1 << 2
ACCOUNT_TRANSFER_AUTHORITY_DEPRECATED = 1 << 3
ACCOUNT_IN_RECEIVERSHIP = 1 << 4
ACCOUNT_IN_DELEVERAGE = 1 << 5

# Pyth solana receiver (owner of PriceUpdateV2 accounts).
PYTH_RECEIVER_PROGRAM = Pubkey.from_string("rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ")


# Checked against protocols.md §3.1 by the tests.
START_FLASHLOAN_DISCRIMINATOR = anchor_discriminator("global", "lending_account_start_flashloan")
END_FLASHLOAN_DISCRIMINATOR = anchor_discriminator("global", "lending_account_end_flashloan")
BORROW_DISCRIMINATOR = anchor_discriminator("global", "lending_account_borrow")
REPAY_DISCRIMINATOR = anchor_discriminator("global", "lending_account_repay")
DEPOSIT_DISCRIMINATOR = anchor_discriminator("global", "lending_account_deposit")
ACCOUNT_INITIALIZE_DISCRIMINATOR = anchor_discriminator("global", "marginfi_account_initialize")
BANK_DISCRIMINATOR = anchor_discriminator("account", "Bank")
MARGINFI_ACCOUNT_DISCRIMINATOR = anchor_discriminator("account", "MarginfiAccount")
MARGINFI_GROUP_DISCRIMINATOR = anchor_discriminator("account", "MarginfiGroup")
PRICE_UPDATE_V2_DISCRIMINATOR = anchor_discriminator("account", "PriceUpdateV2")

BANK_LEN = 8 + 1856
MARGINFI_ACCOUNT_LEN = 8 + 2304
MARGINFI_GROUP_LEN = 8 + 1056
BALANCE_LEN = 104
PRICE_UPDATE_V2_LEN = 134


class MarginfiError(IntEnum):
    """`MarginfiError` (errors.rs): Custom(6000 + position). Only the codes this path can meet."""

    INTERNAL_LOGIC_ERROR = 6000
    BANK_NOT_FOUND = 6001
    LENDING_ACCOUNT_BALANCE_NOT_FOUND = 6002
    BANK_ASSET_CAPACITY_EXCEEDED = 6003
    INVALID_TRANSFER = 6004
    MISSING_PYTH_OR_BANK_ACCOUNT = 6005
    MISSING_PYTH_ACCOUNT = 6006
    MISSING_BANK_ACCOUNT = 6007
    INVALID_BANK_ACCOUNT = 6008
    RISK_ENGINE_INIT_REJECTED = 6009
    LENDING_ACCOUNT_BALANCE_SLOTS_FULL = 6010
    BANK_PAUSED = 6016
    BANK_REDUCE_ONLY = 6017
    BANK_ACCOUNT_NOT_FOUND = 6018
    OPERATION_BORROW_ONLY = 6021
    OPERATION_REPAY_ONLY = 6022
    NO_LIABILITY_FOUND = 6024
    INVALID_ORACLE_SETUP = 6025
    ILLEGAL_UTILIZATION_RATIO = 6026
    BANK_LIABILITY_CAPACITY_EXCEEDED = 6027
    INVALID_PRICE = 6028
    ISOLATED_ACCOUNT_ILLEGAL_STATE = 6029
    ACCOUNT_DISABLED = 6035
    ACCOUNT_IN_FLASHLOAN = 6037
    ILLEGAL_FLASHLOAN = 6038
    UNAUTHORIZED = 6042
    PYTH_PUSH_STALE_PRICE = 6050
    WRONG_NUMBER_OF_ORACLE_ACCOUNTS = 6051
    WRONG_ORACLE_ACCOUNT_KEYS = 6052
    PYTH_PUSH_WRONG_ACCOUNT_OWNER = 6053
    PYTH_PUSH_INSUFFICIENT_VERIFICATION_LEVEL = 6056
    PYTH_PUSH_INVALID_ACCOUNT = 6060
    MATH_ERROR = 6062
    PROTOCOL_PAUSED = 6080
    FORBIDDEN_IX = 6089
    NOT_ALLOWED_IN_CPI = 6091
    INVALID_GROUP = 6093
    INVALID_LIQUIDITY_VAULT = 6094


class OperationalState(IntEnum):
    PAUSED = 0
    OPERATIONAL = 1
    REDUCE_ONLY = 2


class OracleSetup(IntEnum):
    NONE = 0
    PYTH_LEGACY = 1
    SWITCHBOARD_V2 = 2
    PYTH_PUSH_ORACLE = 3
    SWITCHBOARD_PULL = 4
    STAKED_WITH_PYTH_PUSH = 5
    KAMINO_PYTH_PUSH = 6
    KAMINO_SWITCHBOARD_PULL = 7
    FIXED = 8


class MarginfiFeeError(ProgramRefusal):
    """What the program would refuse with, found while computing off-chain."""

    error: MarginfiError


_ZERO = Pubkey.default()


# ---------------------------------------------------------------------------------------------
# I80F48 helpers (raw signed 128-bit values)


def _i128(raw: bytes) -> int:
    return int.from_bytes(raw, "little", signed=True)


def _p_i128(value: int, what: str = "I80F48") -> bytes:
    if not I128_MIN <= value <= I128_MAX:
        raise ValueError(f"{what} {value} does not fit a signed 128-bit value")
    return value.to_bytes(16, "little", signed=True)


def i80f48(value: int | float) -> int:
    """Raw I80F48 for a number (exact for ints; floats round to the nearest 2^-48)."""
    return value << 48 if isinstance(value, int) else round(value * I80F48_ONE)


def i80f48_mul(a: int, b: int) -> int:
    """`I80F48::checked_mul` for non-negative operands: the product truncated to 48 fraction bits."""
    return (a * b) >> 48


def i80f48_div(a: int, b: int) -> int:
    """`I80F48::checked_div` for non-negative operands (truncated)."""
    return (a << 48) // b


def i80f48_ceil(raw: int) -> int:
    return -((-raw) >> 48)


# ---------------------------------------------------------------------------------------------
# Bank (1864 bytes)

_BANK_CONFIG = struct.Struct(
    "<"
    "16s16s16s16s"  # asset_weight_init/maint, liability_weight_init/maint        (+0)
    "Q"  # deposit_limit                                                          (+64)
    "16s16s16s16s16s16s16s16s"  # interest_rate_config: optimal_ur, plateau_ir, max_ir,
    #   insurance_fee_fixed_apr, insurance_ir_fee, protocol_fixed_fee_apr, protocol_ir_fee,
    #   protocol_origination_fee                                                 (+72)
    "112s"  # interest_rate_config padding                                       (+200)
    "B"  # operational_state                                                      (+312)
    "B"  # oracle_setup                                                           (+313)
    "160s"  # oracle_keys[5]                                                      (+314)
    "6s"  # _pad0                                                                 (+474)
    "Q"  # borrow_limit                                                           (+480)
    "B"  # risk_tier                                                              (+488)
    "B"  # asset_tag                                                              (+489)
    "6s"  # _pad1                                                                 (+490)
    "Q"  # total_asset_value_init_limit                                           (+496)
    "H"  # oracle_max_age                                                         (+504)
    "38s"  # _padding0 + _padding1                                                (+506)
)
assert _BANK_CONFIG.size == 544

_BANK = struct.Struct(
    "<"
    "8s"  # 0 discriminator
    "32s"  # 8 mint
    "B"  # 40 mint_decimals
    "32s"  # 41 group
    "7s"  # 73 _pad0
    "16s"  # 80 asset_share_value
    "16s"  # 96 liability_share_value
    "32s"  # 112 liquidity_vault
    "B"  # 144 liquidity_vault_bump
    "B"  # 145 liquidity_vault_authority_bump
    "32s"  # 146 insurance_vault
    "B"  # 178 insurance_vault_bump
    "B"  # 179 insurance_vault_authority_bump
    "4s"  # 180 _pad1
    "16s"  # 184 collected_insurance_fees_outstanding
    "32s"  # 200 fee_vault
    "B"  # 232 fee_vault_bump
    "B"  # 233 fee_vault_authority_bump
    "6s"  # 234 _pad2
    "16s"  # 240 collected_group_fees_outstanding
    "16s"  # 256 total_liability_shares
    "16s"  # 272 total_asset_shares
    "q"  # 288 last_update
    "544s"  # 296 config
    "Q"  # 840 flags
    "Q"  # 848 emissions_rate
    "16s"  # 856 emissions_remaining
    "32s"  # 872 emissions_mint
    "16s"  # 904 collected_program_fees_outstanding
    "424s"  # 920 emode
    "32s"  # 1344 fees_destination_account
    "488s"  # 1376 rest (cache, integration accounts, padding: version-dependent)
)
assert _BANK.size == BANK_LEN

# Absolute offsets the emulator (marginfi.c) and tests read.
BANK_MINT = 8
BANK_MINT_DECIMALS = 40
BANK_GROUP = 41
BANK_ASSET_SHARE_VALUE = 80
BANK_LIABILITY_SHARE_VALUE = 96
BANK_LIQUIDITY_VAULT = 112
BANK_LIQUIDITY_VAULT_AUTHORITY_BUMP = 145
BANK_COLLECTED_INSURANCE_FEES = 184
BANK_COLLECTED_GROUP_FEES = 240
BANK_TOTAL_LIABILITY_SHARES = 256
BANK_TOTAL_ASSET_SHARES = 272
BANK_LAST_UPDATE = 288
BANK_CONFIG = 296
BANK_PROTOCOL_ORIGINATION_FEE = BANK_CONFIG + 184
BANK_OPERATIONAL_STATE = BANK_CONFIG + 312
BANK_ORACLE_SETUP = BANK_CONFIG + 313
BANK_ORACLE_KEYS = BANK_CONFIG + 314
BANK_BORROW_LIMIT = BANK_CONFIG + 480
BANK_FLAGS = 840
BANK_COLLECTED_PROGRAM_FEES = 904


@dataclass(frozen=True)
class InterestRateConfig:
    optimal_utilization_rate: int = 0
    plateau_interest_rate: int = 0
    max_interest_rate: int = 0
    insurance_fee_fixed_apr: int = 0
    insurance_ir_fee: int = 0
    protocol_fixed_fee_apr: int = 0
    protocol_ir_fee: int = 0
    protocol_origination_fee: int = 0  # I80F48 raw: the only fee a flash loan pays


@dataclass(frozen=True)
class BankConfig:
    asset_weight_init: int = I80F48_ONE
    asset_weight_maint: int = I80F48_ONE
    liability_weight_init: int = I80F48_ONE
    liability_weight_maint: int = I80F48_ONE
    deposit_limit: int = U64_MAX
    interest_rate_config: InterestRateConfig = field(default_factory=InterestRateConfig)
    operational_state: int = OperationalState.OPERATIONAL
    oracle_setup: int = OracleSetup.PYTH_PUSH_ORACLE
    oracle_keys: tuple[Pubkey, ...] = (_ZERO,) * MAX_ORACLE_KEYS
    borrow_limit: int = U64_MAX
    risk_tier: int = 0  # 0 Collateral, 1 Isolated
    asset_tag: int = 0
    total_asset_value_init_limit: int = 0
    oracle_max_age: int = 0


@dataclass(frozen=True)
class Bank:
    mint: Pubkey
    group: Pubkey
    liquidity_vault: Pubkey
    mint_decimals: int = 6
    asset_share_value: int = I80F48_ONE
    liability_share_value: int = I80F48_ONE
    liquidity_vault_bump: int = 0
    liquidity_vault_authority_bump: int = 0
    insurance_vault: Pubkey = _ZERO
    insurance_vault_bump: int = 0
    insurance_vault_authority_bump: int = 0
    collected_insurance_fees_outstanding: int = 0
    fee_vault: Pubkey = _ZERO
    fee_vault_bump: int = 0
    fee_vault_authority_bump: int = 0
    collected_group_fees_outstanding: int = 0
    total_liability_shares: int = 0
    total_asset_shares: int = 0
    last_update: int = 0
    config: BankConfig = field(default_factory=BankConfig)
    flags: int = 0
    emissions_rate: int = 0
    emissions_remaining: int = 0
    emissions_mint: Pubkey = _ZERO
    collected_program_fees_outstanding: int = 0
    emode: bytes = bytes(424)
    fees_destination_account: Pubkey = _ZERO
    rest: bytes = bytes(488)

    def asset_amount(self) -> int:
        """Total deposits in I80F48 raw (`total_asset_shares * asset_share_value`)."""
        return i80f48_mul(self.total_asset_shares, self.asset_share_value)

    def liability_amount(self) -> int:
        return i80f48_mul(self.total_liability_shares, self.liability_share_value)


def _decode_bank_config(raw: bytes, account: object, kind: str) -> BankConfig:
    f = _BANK_CONFIG.unpack(raw)
    operational_state = f[14]
    if operational_state > 3:  # Paused, Operational, ReduceOnly, KilledByBankruptcy
        raise DecodeError(account, kind, f"operational_state {operational_state} is not a known state")
    if f[19] > 1:
        raise DecodeError(account, kind, f"risk_tier {f[19]} is neither Collateral nor Isolated")
    keys = tuple(Pubkey(f[16][i * 32 : (i + 1) * 32]) for i in range(MAX_ORACLE_KEYS))
    return BankConfig(
        asset_weight_init=_i128(f[0]),
        asset_weight_maint=_i128(f[1]),
        liability_weight_init=_i128(f[2]),
        liability_weight_maint=_i128(f[3]),
        deposit_limit=f[4],
        interest_rate_config=InterestRateConfig(*(_i128(x) for x in f[5:13])),
        operational_state=operational_state,
        oracle_setup=f[15],
        oracle_keys=keys,
        borrow_limit=f[18],
        risk_tier=f[19],
        asset_tag=f[20],
        total_asset_value_init_limit=f[22],
        oracle_max_age=f[23],
    )


def _encode_bank_config(c: BankConfig) -> bytes:
    if len(c.oracle_keys) != MAX_ORACLE_KEYS:
        raise ValueError(f"BankConfig.oracle_keys must hold {MAX_ORACLE_KEYS} keys")
    irc = c.interest_rate_config
    return _BANK_CONFIG.pack(
        _p_i128(c.asset_weight_init),
        _p_i128(c.asset_weight_maint),
        _p_i128(c.liability_weight_init),
        _p_i128(c.liability_weight_maint),
        c.deposit_limit,
        *(
            _p_i128(v)
            for v in (
                irc.optimal_utilization_rate,
                irc.plateau_interest_rate,
                irc.max_interest_rate,
                irc.insurance_fee_fixed_apr,
                irc.insurance_ir_fee,
                irc.protocol_fixed_fee_apr,
                irc.protocol_ir_fee,
                irc.protocol_origination_fee,
            )
        ),
        bytes(112),
        c.operational_state,
        c.oracle_setup,
        b"".join(bytes(k) for k in c.oracle_keys),
        bytes(6),
        c.borrow_limit,
        c.risk_tier,
        c.asset_tag,
        bytes(6),
        c.total_asset_value_init_limit,
        c.oracle_max_age,
        bytes(38),
    )


def decode_bank(data: bytes, account: object = None) -> Bank:
    kind = "marginfi_bank"
    check_account(data, BANK_LEN, BANK_DISCRIMINATOR, account, kind)
    f = _BANK.unpack(bytes(data))
    return Bank(
        mint=Pubkey(f[1]),
        mint_decimals=f[2],
        group=Pubkey(f[3]),
        asset_share_value=_i128(f[5]),
        liability_share_value=_i128(f[6]),
        liquidity_vault=Pubkey(f[7]),
        liquidity_vault_bump=f[8],
        liquidity_vault_authority_bump=f[9],
        insurance_vault=Pubkey(f[10]),
        insurance_vault_bump=f[11],
        insurance_vault_authority_bump=f[12],
        collected_insurance_fees_outstanding=_i128(f[14]),
        fee_vault=Pubkey(f[15]),
        fee_vault_bump=f[16],
        fee_vault_authority_bump=f[17],
        collected_group_fees_outstanding=_i128(f[19]),
        total_liability_shares=_i128(f[20]),
        total_asset_shares=_i128(f[21]),
        last_update=f[22],
        config=_decode_bank_config(f[23], account, kind),
        flags=f[24],
        emissions_rate=f[25],
        emissions_remaining=_i128(f[26]),
        emissions_mint=Pubkey(f[27]),
        collected_program_fees_outstanding=_i128(f[28]),
        emode=f[29],
        fees_destination_account=Pubkey(f[30]),
        rest=f[31],
    )


def encode_bank(b: Bank) -> bytes:
    if len(b.emode) != 424 or len(b.rest) != 488:
        raise ValueError("Bank.emode must be 424 bytes and Bank.rest 488 bytes")
    return _BANK.pack(
        BANK_DISCRIMINATOR,
        bytes(b.mint),
        b.mint_decimals,
        bytes(b.group),
        bytes(7),
        _p_i128(b.asset_share_value),
        _p_i128(b.liability_share_value),
        bytes(b.liquidity_vault),
        b.liquidity_vault_bump,
        b.liquidity_vault_authority_bump,
        bytes(b.insurance_vault),
        b.insurance_vault_bump,
        b.insurance_vault_authority_bump,
        bytes(4),
        _p_i128(b.collected_insurance_fees_outstanding),
        bytes(b.fee_vault),
        b.fee_vault_bump,
        b.fee_vault_authority_bump,
        bytes(6),
        _p_i128(b.collected_group_fees_outstanding),
        _p_i128(b.total_liability_shares),
        _p_i128(b.total_asset_shares),
        b.last_update,
        _encode_bank_config(b.config),
        b.flags,
        b.emissions_rate,
        _p_i128(b.emissions_remaining),
        bytes(b.emissions_mint),
        _p_i128(b.collected_program_fees_outstanding),
        b.emode,
        bytes(b.fees_destination_account),
        b.rest,
    )


# ---------------------------------------------------------------------------------------------
# MarginfiAccount (2312 bytes)

_BALANCE = struct.Struct("<B32sBH4s16s16s16sQ8s")
assert _BALANCE.size == BALANCE_LEN

MARGINFI_ACCOUNT_GROUP = 8
MARGINFI_ACCOUNT_AUTHORITY = 40
MARGINFI_ACCOUNT_BALANCES = 72
MARGINFI_ACCOUNT_FLAGS = 1800

_MARGINFI_ACCOUNT = struct.Struct(
    "<"
    "8s"  # 0 discriminator
    "32s"  # 8 group
    "32s"  # 40 authority
    "1664s"  # 72 lending_account.balances[16]
    "H"  # 1736 lending_account.last_tag_used
    "62s"  # 1738 lending_account padding
    "Q"  # 1800 account_flags
    "32s"  # 1808 emissions_destination_account
    "304s"  # 1840 health_cache
    "32s"  # 2144 migrated_from
    "32s"  # 2176 migrated_to
    "Q"  # 2208 last_update
    "H"  # 2216 account_index
    "H"  # 2218 third_party_index
    "B"  # 2220 bump
    "3s"  # 2221 _pad0
    "32s"  # 2224 liquidation_record
    "56s"  # 2256 _padding0
)
assert _MARGINFI_ACCOUNT.size == MARGINFI_ACCOUNT_LEN


@dataclass(frozen=True)
class Balance:
    bank_pk: Pubkey
    active: bool = True
    bank_asset_tag: int = 0
    tag: int = 0
    asset_shares: int = 0
    liability_shares: int = 0
    emissions_outstanding: int = 0
    last_update: int = 0


EMPTY_BALANCE = Balance(bank_pk=_ZERO, active=False)


@dataclass(frozen=True)
class MarginfiAccount:
    group: Pubkey
    authority: Pubkey
    balances: tuple[Balance, ...] = (EMPTY_BALANCE,) * MAX_LENDING_ACCOUNT_BALANCES
    last_tag_used: int = 0
    account_flags: int = 0
    emissions_destination_account: Pubkey = _ZERO
    health_cache: bytes = bytes(304)
    migrated_from: Pubkey = _ZERO
    migrated_to: Pubkey = _ZERO
    last_update: int = 0
    account_index: int = 0
    third_party_index: int = 0
    bump: int = 0
    liquidation_record: Pubkey = _ZERO

    @property
    def in_flashloan(self) -> bool:
        return bool(self.account_flags & ACCOUNT_IN_FLASHLOAN)

    @property
    def disabled(self) -> bool:
        return bool(self.account_flags & ACCOUNT_DISABLED)

    def active_balances(self) -> list[Balance]:
        return [b for b in self.balances if b.active]


def _decode_balance(raw: bytes, account: object, kind: str, i: int) -> Balance:
    active, bank, tag_asset, tag, _pad, assets, liabs, emissions, last_update, _padding = _BALANCE.unpack(raw)
    if active > 1:
        raise DecodeError(account, kind, f"balance {i}: active is {active}, not a bool")
    return Balance(
        bank_pk=Pubkey(bank),
        active=bool(active),
        bank_asset_tag=tag_asset,
        tag=tag,
        asset_shares=_i128(assets),
        liability_shares=_i128(liabs),
        emissions_outstanding=_i128(emissions),
        last_update=last_update,
    )


def _encode_balance(b: Balance) -> bytes:
    return _BALANCE.pack(
        int(b.active),
        bytes(b.bank_pk),
        b.bank_asset_tag,
        b.tag,
        bytes(4),
        _p_i128(b.asset_shares),
        _p_i128(b.liability_shares),
        _p_i128(b.emissions_outstanding),
        b.last_update,
        bytes(8),
    )


def decode_marginfi_account(data: bytes, account: object = None) -> MarginfiAccount:
    kind = "marginfi_account"
    check_account(data, MARGINFI_ACCOUNT_LEN, MARGINFI_ACCOUNT_DISCRIMINATOR, account, kind)
    f = _MARGINFI_ACCOUNT.unpack(bytes(data))
    balances = tuple(
        _decode_balance(f[3][i * BALANCE_LEN : (i + 1) * BALANCE_LEN], account, kind, i)
        for i in range(MAX_LENDING_ACCOUNT_BALANCES)
    )
    return MarginfiAccount(
        group=Pubkey(f[1]),
        authority=Pubkey(f[2]),
        balances=balances,
        last_tag_used=f[4],
        account_flags=f[6],
        emissions_destination_account=Pubkey(f[7]),
        health_cache=f[8],
        migrated_from=Pubkey(f[9]),
        migrated_to=Pubkey(f[10]),
        last_update=f[11],
        account_index=f[12],
        third_party_index=f[13],
        bump=f[14],
        liquidation_record=Pubkey(f[16]),
    )


def encode_marginfi_account(a: MarginfiAccount) -> bytes:
    if len(a.balances) != MAX_LENDING_ACCOUNT_BALANCES or len(a.health_cache) != 304:
        raise ValueError("MarginfiAccount needs 16 balances and a 304-byte health cache")
    return _MARGINFI_ACCOUNT.pack(
        MARGINFI_ACCOUNT_DISCRIMINATOR,
        bytes(a.group),
        bytes(a.authority),
        b"".join(_encode_balance(b) for b in a.balances),
        a.last_tag_used,
        bytes(62),
        a.account_flags,
        bytes(a.emissions_destination_account),
        a.health_cache,
        bytes(a.migrated_from),
        bytes(a.migrated_to),
        a.last_update,
        a.account_index,
        a.third_party_index,
        a.bump,
        bytes(3),
        bytes(a.liquidation_record),
        bytes(56),
    )


# ---------------------------------------------------------------------------------------------
# MarginfiGroup (1064 bytes)

_GROUP = struct.Struct(
    "<"
    "8s"  # 0 discriminator
    "32s"  # 8 admin
    "Q"  # 40 group_flags
    "32s"  # 48 fee_state_cache.global_fee_wallet
    "16s"  # 80 fee_state_cache.program_fee_fixed
    "16s"  # 96 fee_state_cache.program_fee_rate
    "q"  # 112 fee_state_cache.last_update
    "H"  # 120 banks
    "6s"  # 122 pad0
    "32s"  # 128 emode_admin
    "32s"  # 160 delegate_curve_admin
    "32s"  # 192 delegate_limit_admin
    "32s"  # 224 delegate_emissions_admin
    "808s"  # 256 panic state, withdraw window, risk/metadata admins, rate limiter, padding
)
assert _GROUP.size == MARGINFI_GROUP_LEN

GROUP_PROGRAM_FEE_RATE = 96


@dataclass(frozen=True)
class MarginfiGroup:
    admin: Pubkey
    group_flags: int = 0
    global_fee_wallet: Pubkey = _ZERO
    program_fee_fixed: int = 0
    program_fee_rate: int = 0  # I80F48 raw: share of origination fees that goes to the program
    fee_state_last_update: int = 0
    banks: int = 0
    emode_admin: Pubkey = _ZERO
    delegate_curve_admin: Pubkey = _ZERO
    delegate_limit_admin: Pubkey = _ZERO
    delegate_emissions_admin: Pubkey = _ZERO
    rest: bytes = bytes(808)


def decode_marginfi_group(data: bytes, account: object = None) -> MarginfiGroup:
    kind = "marginfi_group"
    check_account(data, MARGINFI_GROUP_LEN, MARGINFI_GROUP_DISCRIMINATOR, account, kind)
    f = _GROUP.unpack(bytes(data))
    return MarginfiGroup(
        admin=Pubkey(f[1]),
        group_flags=f[2],
        global_fee_wallet=Pubkey(f[3]),
        program_fee_fixed=_i128(f[4]),
        program_fee_rate=_i128(f[5]),
        fee_state_last_update=f[6],
        banks=f[7],
        emode_admin=Pubkey(f[9]),
        delegate_curve_admin=Pubkey(f[10]),
        delegate_limit_admin=Pubkey(f[11]),
        delegate_emissions_admin=Pubkey(f[12]),
        rest=f[13],
    )


def encode_marginfi_group(g: MarginfiGroup) -> bytes:
    if len(g.rest) != 808:
        raise ValueError("MarginfiGroup.rest must be 808 bytes")
    return _GROUP.pack(
        MARGINFI_GROUP_DISCRIMINATOR,
        bytes(g.admin),
        g.group_flags,
        bytes(g.global_fee_wallet),
        _p_i128(g.program_fee_fixed),
        _p_i128(g.program_fee_rate),
        g.fee_state_last_update,
        g.banks,
        bytes(6),
        bytes(g.emode_admin),
        bytes(g.delegate_curve_admin),
        bytes(g.delegate_limit_admin),
        bytes(g.delegate_emissions_admin),
        g.rest,
    )


# ---------------------------------------------------------------------------------------------
# Pyth PriceUpdateV2 (pyth-solana-receiver-sdk), the oracle of PythPushOracle banks. Only the
# `Full` verification level (1 byte) is accepted by MarginFi, which fixes the offsets below.

_PRICE_UPDATE = struct.Struct("<8s32sB32sqQiqqqQQ")
PRICE_UPDATE_FULL_LEN = _PRICE_UPDATE.size  # 133; the account is 134 (room for Partial's extra byte)


@dataclass(frozen=True)
class PriceUpdateV2:
    feed_id: bytes
    price: int
    conf: int
    exponent: int
    publish_time: int
    write_authority: Pubkey = _ZERO
    prev_publish_time: int = 0
    ema_price: int = 0
    ema_conf: int = 0
    posted_slot: int = 0


def encode_price_update_v2(p: PriceUpdateV2) -> bytes:
    if len(p.feed_id) != 32:
        raise ValueError("feed_id must be 32 bytes")
    body = _PRICE_UPDATE.pack(
        PRICE_UPDATE_V2_DISCRIMINATOR,
        bytes(p.write_authority),
        1,
        p.feed_id,
        p.price,
        p.conf,
        p.exponent,
        p.publish_time,
        p.prev_publish_time,
        p.ema_price,
        p.ema_conf,
        p.posted_slot,
    )
    return body + bytes(PRICE_UPDATE_V2_LEN - len(body))


def decode_price_update_v2(data: bytes, account: object = None) -> PriceUpdateV2:
    kind = "pyth_price_update_v2"
    check_account(data, PRICE_UPDATE_V2_LEN, PRICE_UPDATE_V2_DISCRIMINATOR, account, kind)
    if data[40] != 1:
        raise DecodeError(account, kind, f"verification level tag {data[40]} is not Full (1)")
    f = _PRICE_UPDATE.unpack(bytes(data[:PRICE_UPDATE_FULL_LEN]))
    return PriceUpdateV2(
        write_authority=Pubkey(f[1]),
        feed_id=f[3],
        price=f[4],
        conf=f[5],
        exponent=f[6],
        publish_time=f[7],
        prev_publish_time=f[8],
        ema_price=f[9],
        ema_conf=f[10],
        posted_slot=f[11],
    )


# ---------------------------------------------------------------------------------------------
# PDAs


def bank_vault_pda(bank: Pubkey, seed: bytes, program_id: Pubkey = ids.MARGINFI_V2) -> tuple[Pubkey, int]:
    return Pubkey.find_program_address([seed, bytes(bank)], program_id)


def liquidity_vault(bank: Pubkey, program_id: Pubkey = ids.MARGINFI_V2) -> tuple[Pubkey, int]:
    return bank_vault_pda(bank, LIQUIDITY_VAULT_SEED, program_id)


def liquidity_vault_authority(bank: Pubkey, program_id: Pubkey = ids.MARGINFI_V2) -> tuple[Pubkey, int]:
    return bank_vault_pda(bank, LIQUIDITY_VAULT_AUTHORITY_SEED, program_id)


# ---------------------------------------------------------------------------------------------
# Instructions


def _ro(key: Pubkey) -> AccountMeta:
    return AccountMeta(key, is_signer=False, is_writable=False)


def _w(key: Pubkey) -> AccountMeta:
    return AccountMeta(key, is_signer=False, is_writable=True)


def _signer(key: Pubkey) -> AccountMeta:
    return AccountMeta(key, is_signer=True, is_writable=False)


def marginfi_account_initialize(
    *,
    group: Pubkey,
    marginfi_account: Pubkey,
    authority: Pubkey,
    fee_payer: Pubkey,
    program_id: Pubkey = ids.MARGINFI_V2,
) -> Instruction:
    """Creates the MarginfiAccount at `marginfi_account` (a new keypair that signs)."""
    accounts = [
        _ro(group),
        AccountMeta(marginfi_account, is_signer=True, is_writable=True),
        _signer(authority),
        AccountMeta(fee_payer, is_signer=True, is_writable=True),
        _ro(ids.SYSTEM_PROGRAM),
    ]
    return Instruction(program_id, ACCOUNT_INITIALIZE_DISCRIMINATOR, accounts)


def lending_account_start_flashloan(
    *, marginfi_account: Pubkey, authority: Pubkey, end_index: int, program_id: Pubkey = ids.MARGINFI_V2
) -> Instruction:
    """`end_index` is the absolute top-level index of the matching end_flashloan."""
    check_u64(end_index, "end_index")
    accounts = [_w(marginfi_account), _signer(authority), _ro(ids.SYSVAR_INSTRUCTIONS)]
    return Instruction(program_id, START_FLASHLOAN_DISCRIMINATOR + struct.pack("<Q", end_index), accounts)


def lending_account_end_flashloan(
    *,
    marginfi_account: Pubkey,
    authority: Pubkey,
    health_accounts: list[Pubkey] | tuple[Pubkey, ...] = (),
    program_id: Pubkey = ids.MARGINFI_V2,
) -> Instruction:
    """`health_accounts`: bank then oracle for every balance still active at the end, in balance
    order (see `health_accounts`); empty when the loan was repaid with repay_all."""
    accounts = [_w(marginfi_account), _signer(authority), *(_ro(k) for k in health_accounts)]
    return Instruction(program_id, END_FLASHLOAN_DISCRIMINATOR, accounts)


def lending_account_borrow(
    *,
    group: Pubkey,
    marginfi_account: Pubkey,
    authority: Pubkey,
    bank: Pubkey,
    destination_token_account: Pubkey,
    amount: int,
    token_program: Pubkey = ids.TOKEN_PROGRAM,
    health_accounts: list[Pubkey] | tuple[Pubkey, ...] = (),
    program_id: Pubkey = ids.MARGINFI_V2,
) -> Instruction:
    check_u64(amount, "amount")
    vault_authority, _ = liquidity_vault_authority(bank, program_id)
    vault, _ = liquidity_vault(bank, program_id)
    accounts = [
        _ro(group),
        _w(marginfi_account),
        _signer(authority),
        _w(bank),
        _w(destination_token_account),
        _ro(vault_authority),
        _w(vault),
        _ro(token_program),
        *(_ro(k) for k in health_accounts),
    ]
    return Instruction(program_id, BORROW_DISCRIMINATOR + struct.pack("<Q", amount), accounts)


def lending_account_repay(
    *,
    group: Pubkey,
    marginfi_account: Pubkey,
    authority: Pubkey,
    bank: Pubkey,
    signer_token_account: Pubkey,
    amount: int,
    repay_all: bool | None = None,
    token_program: Pubkey = ids.TOKEN_PROGRAM,
    program_id: Pubkey = ids.MARGINFI_V2,
) -> Instruction:
    """`repay_all=True` repays the whole liability (principal + origination fee) and closes the
    balance; `amount` is then ignored by the program."""
    check_u64(amount, "amount")
    vault, _ = liquidity_vault(bank, program_id)
    accounts = [
        _ro(group),
        _w(marginfi_account),
        _signer(authority),
        _w(bank),
        _w(signer_token_account),
        _w(vault),
        _ro(token_program),
    ]
    option = b"\x00" if repay_all is None else b"\x01" + bytes([int(repay_all)])
    return Instruction(program_id, REPAY_DISCRIMINATOR + struct.pack("<Q", amount) + option, accounts)


def lending_account_deposit(
    *,
    group: Pubkey,
    marginfi_account: Pubkey,
    authority: Pubkey,
    bank: Pubkey,
    signer_token_account: Pubkey,
    amount: int,
    deposit_up_to_limit: bool | None = None,
    token_program: Pubkey = ids.TOKEN_PROGRAM,
    program_id: Pubkey = ids.MARGINFI_V2,
) -> Instruction:
    """Deposit (same account list as repay). Not emulated on the local cluster."""
    check_u64(amount, "amount")
    vault, _ = liquidity_vault(bank, program_id)
    accounts = [
        _ro(group),
        _w(marginfi_account),
        _signer(authority),
        _w(bank),
        _w(signer_token_account),
        _w(vault),
        _ro(token_program),
    ]
    option = b"\x00" if deposit_up_to_limit is None else b"\x01" + bytes([int(deposit_up_to_limit)])
    return Instruction(program_id, DEPOSIT_DISCRIMINATOR + struct.pack("<Q", amount) + option, accounts)


def health_accounts(account: MarginfiAccount, banks: dict[Pubkey, Bank]) -> list[Pubkey]:
    """Remaining accounts of the risk engine: for each active balance in order, the bank and its
    oracle (`oracle_keys[0]`). Raises KeyError for a balance whose bank is not in `banks`."""
    out: list[Pubkey] = []
    for b in account.active_balances():
        out += [b.bank_pk, banks[b.bank_pk].config.oracle_keys[0]]
    return out


# ---------------------------------------------------------------------------------------------
# Fee math


def origination_fee(amount: int, protocol_origination_fee: int) -> int:
    """Raw I80F48 fee `amount * protocol_origination_fee` that borrow adds to the liability."""
    check_u64(amount, "amount")
    if protocol_origination_fee < 0:
        raise ValueError("protocol_origination_fee is negative")
    return amount * protocol_origination_fee  # I80F48(amount) * rate: exact, no fraction lost


def flash_loan_repay_amount(bank: Bank, amount: int) -> int:
    """Tokens `repay(repay_all=true)` takes back for a flash borrow of `amount` from `bank`.

    borrow: liability = amount + amount·fee_rate (I80F48), shares = liability / liability_share_value;
    repay_all: ceil(shares · liability_share_value). The borrow first accrues interest to the
    clock (`accrue_interest`); the repay in the same second accrues nothing. Pass the bank as
    accrue_interest left it for the exact amount: with a stale share value the rounding can
    differ by one base unit on a bank with debt (none on a bank at share value 1).
    """
    if bank.liability_share_value <= 0:
        raise MarginfiFeeError(MarginfiError.MATH_ERROR, "liability share value is not positive")
    liability = (amount << 48) + origination_fee(
        amount, bank.config.interest_rate_config.protocol_origination_fee
    )
    shares = i80f48_div(liability, bank.liability_share_value)
    return i80f48_ceil(i80f48_mul(shares, bank.liability_share_value))


def flash_loan_fee(bank: Bank, amount: int) -> int:
    """What a flash loan of `amount` costs in tokens (repay − amount)."""
    return flash_loan_repay_amount(bank, amount) - amount


def available_liquidity(bank: Bank, vault_balance: int) -> int:
    """What a borrow can take: the vault's tokens, bounded by the bank's deposits minus debts
    (check_utilization_ratio) and by the borrow limit when one is set."""
    room = (bank.asset_amount() - bank.liability_amount()) >> 48
    limit = min(vault_balance, max(room, 0))  # debts above deposits: check_utilization_ratio refuses all
    if bank.config.borrow_limit != U64_MAX:
        limit = min(limit, max(bank.config.borrow_limit - 1 - (bank.liability_amount() >> 48), 0))
    return max(limit, 0)


def with_flag(account: MarginfiAccount, flag: int, on: bool = True) -> MarginfiAccount:
    flags = account.account_flags | flag if on else account.account_flags & ~flag
    return replace(account, account_flags=flags)


# ---------------------------------------------------------------------------------------------
# Interest accrual (`Bank::accrue_interest`, run by every borrow and repay before the balance
# changes). The classic piecewise-linear model of state/interest_rate.rs (0467f80): simple
# interest over the seconds since `last_update`, settled into the share values, with insurance,
# group and (when the group has PROGRAM_FEES_ENABLED) program fees booked on the bank. I80F48
# products and quotients of non-negative values truncate, as the `fixed` crate does.

SECONDS_PER_YEAR = 31_536_000
GROUP_FLAG_PROGRAM_FEES_ENABLED = 1


def _ir_per_period(apr: int, time_delta: int) -> int:
    # apr * I80F48(time_delta) is exact; the division by I80F48(SECONDS_PER_YEAR) truncates.
    return apr * time_delta // SECONDS_PER_YEAR


def _fee_rate(base_rate: int, rate_fee: int, fixed_fee: int) -> int:
    return fixed_fee if rate_fee == 0 else i80f48_mul(base_rate, rate_fee) + fixed_fee


def interest_rates(
    config: InterestRateConfig, group: MarginfiGroup, utilization: int
) -> tuple[int, int, int, int, int]:
    """(lending, borrowing, group fee, insurance fee, program fee) APRs, raw I80F48, at `utilization`."""
    optimal, plateau, max_ir = (
        config.optimal_utilization_rate,
        config.plateau_interest_rate,
        config.max_interest_rate,
    )
    if optimal <= 0 or optimal >= I80F48_ONE or max_ir < plateau or min(plateau, utilization) < 0:
        raise MarginfiFeeError(MarginfiError.MATH_ERROR, "interest curve outside what the emulator computes")
    if utilization <= optimal:
        base = i80f48_mul(i80f48_div(utilization, optimal), plateau)
    else:
        base = i80f48_mul(i80f48_div(utilization - optimal, I80F48_ONE - optimal), max_ir - plateau) + plateau
    program = bool(group.group_flags & GROUP_FLAG_PROGRAM_FEES_ENABLED)
    program_rate, program_fixed = (group.program_fee_rate, group.program_fee_fixed) if program else (0, 0)
    fee_ir = config.insurance_ir_fee + config.protocol_ir_fee + program_rate
    fee_fixed = config.insurance_fee_fixed_apr + config.protocol_fixed_fee_apr + program_fixed
    if min(fee_ir, fee_fixed, config.insurance_ir_fee, config.protocol_ir_fee, program_rate) < 0:
        raise MarginfiFeeError(MarginfiError.MATH_ERROR, "negative fee rates are not emulated")
    lending = i80f48_mul(base, utilization)
    borrowing = i80f48_mul(base, I80F48_ONE + fee_ir) + fee_fixed
    group_fee = _fee_rate(base, config.protocol_ir_fee, config.protocol_fixed_fee_apr)
    insurance_fee = _fee_rate(base, config.insurance_ir_fee, config.insurance_fee_fixed_apr)
    program_fee = _fee_rate(base, program_rate, program_fixed)
    return lending, borrowing, group_fee, insurance_fee, program_fee


def accrue_interest(bank: Bank, group: MarginfiGroup, now: int) -> Bank:
    """The bank after `accrue_interest(now)`; MarginfiFeeError(MathError) where the emulator refuses."""
    time_delta = now - bank.last_update
    if time_delta < 0:
        raise MarginfiFeeError(
            MarginfiError.MATH_ERROR, "clock before the bank's last update (the program panics)"
        )
    if time_delta == 0:
        return bank
    assets, liabilities = bank.asset_amount(), bank.liability_amount()
    if assets == 0 or liabilities == 0:
        return replace(bank, last_update=now)
    lending, borrowing, group_fee, insurance_fee, program_fee = interest_rates(
        bank.config.interest_rate_config, group, i80f48_div(liabilities, assets)
    )

    def payment(apr: int) -> int:
        return 0 if apr == 0 else i80f48_mul(liabilities, apr) * time_delta // SECONDS_PER_YEAR

    return replace(
        bank,
        last_update=now,
        asset_share_value=i80f48_mul(
            bank.asset_share_value, I80F48_ONE + _ir_per_period(lending, time_delta)
        ),
        liability_share_value=i80f48_mul(
            bank.liability_share_value, I80F48_ONE + _ir_per_period(borrowing, time_delta)
        ),
        collected_group_fees_outstanding=bank.collected_group_fees_outstanding + payment(group_fee),
        collected_insurance_fees_outstanding=bank.collected_insurance_fees_outstanding
        + payment(insurance_fee),
        collected_program_fees_outstanding=bank.collected_program_fees_outstanding + payment(program_fee),
    )
