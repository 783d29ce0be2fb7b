"""The errors protocol code raises: bad account data, and what a program would refuse."""

from __future__ import annotations

from enum import IntEnum


class DecodeError(ValueError):
    """Account data that cannot be what it claims to be.

    Always names the account, so a feed that skips it can say which one and carry on.
    """

    def __init__(self, account: object, kind: str, reason: str) -> None:
        self.account = str(account) if account is not None else "<unknown>"
        self.kind = kind
        self.reason = reason
        super().__init__(f"{kind} {self.account}: {reason}")


class ProgramRefusal(Exception):
    """What a program would refuse with (its custom error number), found while computing off-chain."""

    def __init__(self, error: IntEnum, reason: str) -> None:
        self.error = error
        super().__init__(f"{error.name} ({int(error)}): {reason}")
