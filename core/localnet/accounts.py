"""Writing accounts straight into a LiteSVM: how genesis and tests create state mainnet already has."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Protocol

from solders.account import Account
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey

from core.protocols import ids
from core.protocols.anchor import anchor_discriminator
from core.protocols.spl_token import encode_mint, encode_token_account


class TokenLike(Protocol):
    """What a token of the genesis token list offers (core.localnet.genesis.Token fits)."""

    @property
    def symbol(self) -> str: ...
    @property
    def mint(self) -> Pubkey: ...
    @property
    def decimals(self) -> int: ...
    @property
    def usd_price(self) -> float: ...


# (svm, address, mint, owner, amount): `set_token_account`, or genesis's supply-counting wrapper.
SetTokenAccount = Callable[[LiteSVM, Pubkey, Pubkey, Pubkey, int], None]


def seeded_keypair(seed: int, name: str) -> Keypair:
    """The genesis keypair named `name`: the same seed gives the same cluster, address for address."""
    return Keypair.from_seed(hashlib.sha256(f"arbtui-localnet:{seed}:{name}".encode()).digest())


def seeded_address(seed: int, name: str) -> Pubkey:
    return seeded_keypair(seed, name).pubkey()


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
TIP_ACCOUNT_DISCRIMINATOR = anchor_discriminator("account", "TipPaymentAccount")


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
