"""SPL Token accounts and mints: solders owns the layouts; this adds the typed decode error."""

from __future__ import annotations

from solders.pubkey import Pubkey
from solders.token.state import Mint, TokenAccount, TokenAccountState

from core.protocols.errors import DecodeError
from core.protocols.layout import check_length

TOKEN_ACCOUNT_LEN = 165
MINT_LEN = 82

__all__ = [
    "MINT_LEN",
    "TOKEN_ACCOUNT_LEN",
    "Mint",
    "TokenAccount",
    "TokenAccountState",
    "decode_mint",
    "decode_token_account",
    "encode_mint",
    "encode_token_account",
]


def decode_token_account(data: bytes, account: object = None) -> TokenAccount:
    check_length(data, TOKEN_ACCOUNT_LEN, account, "spl_token_account")
    try:
        acc = TokenAccount.from_bytes(bytes(data))
    except Exception as exc:  # solders raises its own error types for bad enums
        raise DecodeError(account, "spl_token_account", str(exc)) from None
    if acc.state == TokenAccountState.Uninitialized:
        raise DecodeError(account, "spl_token_account", "uninitialized")
    return acc


def decode_mint(data: bytes, account: object = None) -> Mint:
    check_length(data, MINT_LEN, account, "spl_mint")
    try:
        mint = Mint.from_bytes(bytes(data))
    except Exception as exc:
        raise DecodeError(account, "spl_mint", str(exc)) from None
    if not mint.is_initialized:
        raise DecodeError(account, "spl_mint", "uninitialized")
    return mint


def encode_token_account(
    mint: Pubkey, owner: Pubkey, amount: int, *, is_native: int | None = None
) -> bytes:
    return bytes(
        TokenAccount(mint, owner, amount, None, TokenAccountState.Initialized, is_native, 0, None)
    )


def encode_mint(
    decimals: int, supply: int = 0, mint_authority: Pubkey | None = None
) -> bytes:
    return bytes(Mint(mint_authority, supply, decimals, True, None))
