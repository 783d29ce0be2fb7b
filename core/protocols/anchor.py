"""What every Anchor program shares: the 8-byte discriminators and the framework's error numbers."""

from __future__ import annotations

import hashlib
from enum import IntEnum

from core.protocols.errors import DecodeError
from core.protocols.layout import check_length


def anchor_discriminator(namespace: str, name: str) -> bytes:
    """Anchor's 8-byte tag: sha256("<namespace>:<name>")[:8] ("account" or "global")."""
    return hashlib.sha256(f"{namespace}:{name}".encode()).digest()[:8]


def check_discriminator(data: bytes, disc: bytes, account: object, kind: str) -> None:
    """Refuse account data that does not start with the account type's discriminator."""
    if bytes(data[:8]) != disc:
        raise DecodeError(account, kind, f"discriminator {bytes(data[:8]).hex()} is not {disc.hex()}")


def check_account(data: bytes, length: int, disc: bytes, account: object, kind: str) -> None:
    """Refuse account data that is not `length` bytes starting with the type's discriminator."""
    check_length(data, length, account, kind)
    check_discriminator(data, disc, account, kind)


class AnchorError(IntEnum):
    """anchor-lang `ErrorCode` numbers the account validation of the flash instructions can return."""

    INSTRUCTION_MISSING = 100
    INSTRUCTION_FALLBACK_NOT_FOUND = 101
    INSTRUCTION_DID_NOT_DESERIALIZE = 102
    CONSTRAINT_MUT = 2000
    CONSTRAINT_HAS_ONE = 2001
    CONSTRAINT_SEEDS = 2006
    CONSTRAINT_ADDRESS = 2012
    CONSTRAINT_MINT_TOKEN_PROGRAM = 2022
    ACCOUNT_DISCRIMINATOR_NOT_FOUND = 3001
    ACCOUNT_DISCRIMINATOR_MISMATCH = 3002
    ACCOUNT_DID_NOT_DESERIALIZE = 3003
    ACCOUNT_NOT_ENOUGH_KEYS = 3005
    ACCOUNT_OWNED_BY_WRONG_PROGRAM = 3007
    INVALID_PROGRAM_ID = 3008
    INVALID_PROGRAM_EXECUTABLE = 3009
    ACCOUNT_NOT_SIGNER = 3010
    ACCOUNT_NOT_INITIALIZED = 3012
