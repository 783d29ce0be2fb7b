"""Writing accounts straight into a LiteSVM: how genesis and tests create state mainnet already has."""

from __future__ import annotations

import hashlib

from solders.account import Account
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.spl_token import encode_mint, encode_token_account


def rent_exempt(svm: LiteSVM, size: int) -> int:
    return svm.minimum_balance_for_rent_exemption(size)


def set_data_account(
    svm: LiteSVM, address: Pubkey, owner: Pubkey, data: bytes, lamports: int | None = None
) -> None:
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


# The tip-payment program's TipPaymentAccount holds nothing but its Anchor discriminator.
TIP_ACCOUNT_DATA_LEN = 8
TIP_ACCOUNT_DISCRIMINATOR = hashlib.sha256(b"account:TipPaymentAccount").digest()[:8]


def set_tip_accounts(svm: LiteSVM) -> None:
    """The 8 mainnet Jito tip accounts as mainnet holds them: rent-exempt PDAs of the tip-payment
    program. A tip of a few thousand lamports to a missing one would fail on rent, so genesis and
    the block engine both call this; an existing account keeps the tips it already collected."""
    lamports = rent_exempt(svm, TIP_ACCOUNT_DATA_LEN)
    for address in ids.JITO_TIP_ACCOUNTS:
        existing = svm.get_account(address)
        if existing is None or existing.lamports == 0:  # LiteSVM keeps a drained account as 0 lamports
            svm.set_account(address, Account(lamports, TIP_ACCOUNT_DISCRIMINATOR,
                                             ids.JITO_TIP_PAYMENT_PROGRAM, False, 0))
