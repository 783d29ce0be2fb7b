"""What the lending emulators' tests read from a sent transaction: success, or where and why it failed."""

from __future__ import annotations

from typing import Protocol

from solders.instruction import Instruction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError


def ok(result: object) -> TransactionMetadata:
    """The metadata of a transaction that must have succeeded (the logs say why when it did not)."""
    assert isinstance(result, TransactionMetadata), (result.err(), result.meta().logs())  # type: ignore[attr-defined]
    return result


def custom_error(result: object) -> tuple[int, int]:
    """(instruction index, custom error number) of a failed transaction."""
    assert isinstance(result, FailedTransactionMetadata), "transaction unexpectedly succeeded"
    err = result.err()
    assert isinstance(err, TransactionErrorInstructionError), err
    assert isinstance(err.err, InstructionErrorCustom), (err.err, result.meta().logs())
    return err.index, err.err.code


class ProgramEnv(Protocol):
    """A test cluster around one program: sends instructions, and reads the state a refusal must keep."""

    def send(self, ixs: list[Instruction]) -> TransactionMetadata | FailedTransactionMetadata: ...

    def state(self) -> object: ...


def assert_refused(env: ProgramEnv, ixs: list[Instruction], index: int, error: int) -> None:
    """The transaction fails at `ixs[index]` with custom error `error` and changes nothing."""
    before = env.state()
    result = env.send(ixs)
    assert custom_error(result) == (index, int(error)), result.meta().logs()  # type: ignore[union-attr]
    assert env.state() == before
