"""Profit guard: the project's own program that fails a transaction below a balance floor.

The bot places it after the flash-loan repay and before the Jito tip, so a bundle whose
arbitrage did not pay can never land (the whole transaction, tip included, fails).

Program id: ``ArbGuard111111111111111111111111111111111111`` (``ids.PROFIT_GUARD``).
Source: ``core/localnet/programs/profit_guard.c``; also documented in ``docs/profit_guard.md``.

Instruction ``CheckFloor`` (tag 0), data little-endian, exactly 9 or 17 bytes::

    u8  tag = 0
    u64 min_token_amount      fail unless token_account.amount >= this
    u64 min_lamports          optional; fail unless lamports_account.lamports >= this

Accounts::

    0  token account    read-only; owned by SPL Token, at least 165 bytes (amount at offset 64)
    1  lamports account read-only; only when min_lamports is given (any account, e.g. the payer)

Errors (custom numbers are returned as ``InstructionError::Custom(n)``)::

    6000 (0x1770) TokenBelowFloor          token amount < min_token_amount
    6001 (0x1771) LamportsBelowFloor       lamports < min_lamports
    6002 (0x1772) UnknownInstruction       empty data or tag != 0
    6003 (0x1773) InvalidInstructionLength tag 0 with data not 9 or 17 bytes
    NotEnoughAccountKeys                   no token account, or no lamports account with min_lamports
    IncorrectProgramId                     token account not owned by SPL Token
    InvalidAccountData                     token account data shorter than 165 bytes

Compute: 147 CU (token floor) or 228 CU (both floors) when they hold; pinned in
tests/localnet/programs/test_profit_guard.py.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from core.protocols import ids

PROGRAM_ID = ids.PROFIT_GUARD
CHECK_FLOOR_TAG = 0
U64_MAX = 2**64 - 1


class ProfitGuardError(IntEnum):
    """Custom error numbers of the profit guard (same numbers as profit_guard.c)."""

    TokenBelowFloor = 6000
    LamportsBelowFloor = 6001
    UnknownInstruction = 6002
    InvalidInstructionLength = 6003


def check_floor_data(min_token_amount: int, min_lamports: int | None = None) -> bytes:
    for name, value in (("min_token_amount", min_token_amount), ("min_lamports", min_lamports)):
        if value is not None and not 0 <= value <= U64_MAX:
            raise ValueError(f"{name} must be a u64, got {value}")
    data = struct.pack("<BQ", CHECK_FLOOR_TAG, min_token_amount)
    if min_lamports is not None:
        data += struct.pack("<Q", min_lamports)
    return data


def check_floor(
    token_account: Pubkey,
    min_token_amount: int,
    *,
    lamports_account: Pubkey | None = None,
    min_lamports: int | None = None,
    program_id: Pubkey = PROGRAM_ID,
) -> Instruction:
    """The guard instruction: fail unless `token_account` holds >= `min_token_amount` (and
    `lamports_account` holds >= `min_lamports` when both are given)."""
    if (lamports_account is None) != (min_lamports is None):
        raise ValueError("lamports_account and min_lamports go together")
    accounts = [AccountMeta(token_account, is_signer=False, is_writable=False)]
    if lamports_account is not None:
        accounts.append(AccountMeta(lamports_account, is_signer=False, is_writable=False))
    return Instruction(program_id, check_floor_data(min_token_amount, min_lamports), accounts)
