"""Writing accounts straight into a LiteSVM: how genesis and tests create state mainnet already has."""

from __future__ import annotations

from solders.account import Account
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.spl_token import encode_mint, encode_token_account


def rent_exempt(svm: LiteSVM, size: int) -> int:
    return svm.minimum_balance_for_rent_exemption(size)


def set_data_account(svm: LiteSVM, address: Pubkey, owner: Pubkey, data: bytes, lamports: int | None = None) -> None:
    svm.set_account(
        address,
        Account(
            lamports=rent_exempt(svm, len(data)) if lamports is None else lamports,
            data=bytes(data),
            owner=owner,
            executable=False,
            rent_epoch=0,
        ),
    )


def set_mint(
    svm: LiteSVM, address: Pubkey, decimals: int, *, supply: int = 0, authority: Pubkey | None = None
) -> None:
    set_data_account(svm, address, ids.TOKEN_PROGRAM, encode_mint(decimals, supply, authority))


def set_token_account(svm: LiteSVM, address: Pubkey, mint: Pubkey, owner: Pubkey, amount: int) -> None:
    if mint == ids.NATIVE_MINT:
        # A wrapped-SOL account's lamports must cover its rent reserve plus the amount.
        reserve = rent_exempt(svm, 165)
        data = encode_token_account(mint, owner, amount, is_native=reserve)
        set_data_account(svm, address, ids.TOKEN_PROGRAM, data, lamports=reserve + amount)
    else:
        set_data_account(svm, address, ids.TOKEN_PROGRAM, encode_token_account(mint, owner, amount))


def token_amount(svm: LiteSVM, address: Pubkey) -> int:
    acc = svm.get_account(address)
    if acc is None:
        raise KeyError(f"no account {address}")
    return int.from_bytes(bytes(acc.data)[64:72], "little")
