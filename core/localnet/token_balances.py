"""SPL Token balances as RPC nodes report them (`uiTokenAmount`, pre/postTokenBalances)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.errors import DecodeError
from core.protocols.spl_token import MINT_LEN, TOKEN_ACCOUNT_LEN, decode_mint, decode_token_account

TOKEN_PROGRAMS = frozenset((ids.TOKEN_PROGRAM, ids.TOKEN_2022_PROGRAM))


def amount_string(amount: int, decimals: int) -> str:
    """agave's `real_number_string_trimmed`: exact decimal text without trailing zeros."""
    if decimals == 0:
        return str(amount)
    digits = str(amount).rjust(decimals + 1, "0")
    whole, frac = digits[:-decimals], digits[-decimals:].rstrip("0")
    return f"{whole}.{frac}" if frac else whole


def ui_token_amount(amount: int, decimals: int) -> dict[str, Any]:
    return {
        "uiAmount": amount / 10**decimals,
        "decimals": decimals,
        "amount": str(amount),
        "uiAmountString": amount_string(amount, decimals),
    }


class MintDecimals:
    """Decimals per mint, read once: a mint's decimals never change."""

    def __init__(self, get_account: Callable[[Pubkey], Account | None]) -> None:
        self._get_account = get_account
        self._cache: dict[Pubkey, int] = {}

    def get(self, mint: Pubkey) -> int | None:
        decimals = self._cache.get(mint)
        if decimals is None:
            account = self._get_account(mint)
            if account is None or account.owner not in TOKEN_PROGRAMS or len(account.data) < MINT_LEN:
                return None
            try:
                decimals = decode_mint(bytes(account.data)[:MINT_LEN], mint).decimals
            except DecodeError:
                return None
            self._cache[mint] = decimals
        return decimals


def token_balances(
    keys: Sequence[Pubkey], accounts: Sequence[Account | None], decimals: MintDecimals
) -> list[dict[str, Any]]:
    """`preTokenBalances` / `postTokenBalances` entries for every SPL token account loaded."""
    out: list[dict[str, Any]] = []
    for index, account in enumerate(accounts):
        if account is None or account.owner not in TOKEN_PROGRAMS or len(account.data) != TOKEN_ACCOUNT_LEN:
            continue
        try:
            token = decode_token_account(bytes(account.data), keys[index])
        except DecodeError:
            continue
        mint_decimals = decimals.get(token.mint)
        if mint_decimals is None:
            continue
        out.append(
            {
                "accountIndex": index,
                "mint": str(token.mint),
                "uiTokenAmount": ui_token_amount(token.amount, mint_decimals),
                "owner": str(token.owner),
                "programId": str(account.owner),
            }
        )
    return out
