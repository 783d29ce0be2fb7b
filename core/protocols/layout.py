"""Checks every hand-written protocol layout and instruction makes the same way."""

from __future__ import annotations

from core.protocols.errors import DecodeError

U64_MAX = 2**64 - 1


def check_length(data: bytes, expected: int, account: object, kind: str) -> None:
    """Refuse account data whose size is not the layout's."""
    if len(data) != expected:
        raise DecodeError(account, kind, f"expected {expected} bytes, got {len(data)}")


def check_u64(value: int, name: str) -> None:
    """Refuse an instruction argument the program would read as a u64 but that does not fit one."""
    if not 0 <= value <= U64_MAX:
        raise ValueError(f"{name} {value} is not a u64")
