"""The one error every account decoder raises."""

from __future__ import annotations


class DecodeError(ValueError):
    """Account data that cannot be what it claims to be.

    Always names the account, so a feed that skips it can say which one and carry on.
    """

    def __init__(self, account: object, kind: str, reason: str) -> None:
        self.account = str(account) if account is not None else "<unknown>"
        self.kind = kind
        self.reason = reason
        super().__init__(f"{kind} {self.account}: {reason}")
