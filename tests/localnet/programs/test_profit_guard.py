"""The profit guard in LiteSVM: floors hold at equality, fail one below, and bad input fails typed."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import InstructionErrorCustom, InstructionErrorFieldless

from core.localnet.accounts import set_data_account, set_mint, set_token_account
from core.localnet.programs import load_programs
from core.protocols import ids
from core.protocols.profit_guard import ProfitGuardError, check_floor, check_floor_data
from core.protocols.spl_token import encode_token_account
from tests.localnet.programs.toolchain_support import meta_of, send

# Compute units are deterministic for a given program binary: pinned so a change is noticed.
CU_TOKEN_FLOOR_HOLDS = 147
CU_BOTH_FLOORS_HOLD = 228


class Guard:
    def __init__(self) -> None:
        self.svm = LiteSVM()
        load_programs(self.svm, ["profit_guard"])
        self.payer = Keypair()
        self.svm.airdrop(self.payer.pubkey(), 10**10)
        self.mint = Pubkey.new_unique()
        set_mint(self.svm, self.mint, 6)

    def token_account(self, amount: int) -> Pubkey:
        address = Pubkey.new_unique()
        set_token_account(self.svm, address, self.mint, self.payer.pubkey(), amount)
        return address

    def wallet(self, lamports: int) -> Pubkey:
        address = Pubkey.new_unique()
        self.svm.airdrop(address, lamports)
        return address

    def run(self, *ixs: Instruction) -> TransactionMetadata | FailedTransactionMetadata:
        return send(self.svm, self.payer, *ixs)


@pytest.fixture
def guard() -> Guard:
    return Guard()


def assert_ok(result: TransactionMetadata | FailedTransactionMetadata) -> TransactionMetadata:
    assert not isinstance(result, FailedTransactionMetadata), result
    return result


def instruction_error(result: TransactionMetadata | FailedTransactionMetadata) -> object:
    assert isinstance(result, FailedTransactionMetadata), "expected the transaction to fail"
    return result.err().err


def test_passes_with_the_token_amount_exactly_at_the_floor(guard: Guard) -> None:
    ok = assert_ok(guard.run(check_floor(guard.token_account(1_000_000), 1_000_000)))
    assert ok.compute_units_consumed() == CU_TOKEN_FLOOR_HOLDS


def test_fails_one_below_the_token_floor_with_token_below_floor(guard: Guard) -> None:
    result = guard.run(check_floor(guard.token_account(999_999), 1_000_000))
    assert instruction_error(result) == InstructionErrorCustom(ProfitGuardError.TokenBelowFloor)
    assert "Program log: 0xf423f, 0xf4240, 0x0, 0x0, 0x0" in meta_of(result).logs()


def test_lamports_floor_passes_at_equality_and_fails_one_below(guard: Guard) -> None:
    token = guard.token_account(5)
    wallet = guard.wallet(2_000_000)
    ok = assert_ok(guard.run(check_floor(token, 5, lamports_account=wallet, min_lamports=2_000_000)))
    assert ok.compute_units_consumed() == CU_BOTH_FLOORS_HOLD
    result = guard.run(check_floor(token, 5, lamports_account=wallet, min_lamports=2_000_001))
    assert instruction_error(result) == InstructionErrorCustom(ProfitGuardError.LamportsBelowFloor)


def test_token_floor_is_checked_before_the_lamports_floor(guard: Guard) -> None:
    result = guard.run(
        check_floor(guard.token_account(4), 5, lamports_account=guard.wallet(1), min_lamports=10**9)
    )
    assert instruction_error(result) == InstructionErrorCustom(ProfitGuardError.TokenBelowFloor)


def test_rejects_a_token_account_not_owned_by_spl_token(guard: Guard) -> None:
    fake = Pubkey.new_unique()
    data = encode_token_account(guard.mint, guard.payer.pubkey(), 10**12)
    set_data_account(guard.svm, fake, ids.SYSTEM_PROGRAM, data)
    assert instruction_error(guard.run(check_floor(fake, 1))) == InstructionErrorFieldless.IncorrectProgramId
    # Token-2022 is not accepted either: the bot's accounts are SPL Token accounts.
    set_data_account(guard.svm, fake, ids.TOKEN_2022_PROGRAM, data)
    assert instruction_error(guard.run(check_floor(fake, 1))) == InstructionErrorFieldless.IncorrectProgramId


def test_rejects_token_program_data_shorter_than_a_token_account(guard: Guard) -> None:
    # A mint is owned by SPL Token but is 82 bytes: bytes 64..72 are not an amount.
    result = guard.run(check_floor(guard.mint, 0))
    assert instruction_error(result) == InstructionErrorFieldless.InvalidAccountData


@pytest.mark.parametrize("data", [b"", b"\x01" + bytes(8), b"\xff"], ids=["empty", "tag-1", "tag-255"])
def test_rejects_unknown_instruction(guard: Guard, data: bytes) -> None:
    ix = Instruction(ids.PROFIT_GUARD, data, [AccountMeta(guard.token_account(1), False, False)])
    assert instruction_error(guard.run(ix)) == InstructionErrorCustom(ProfitGuardError.UnknownInstruction)


@pytest.mark.parametrize("length", [1, 8, 10, 16, 18])
def test_rejects_check_floor_data_that_is_not_9_or_17_bytes(guard: Guard, length: int) -> None:
    ix = Instruction(ids.PROFIT_GUARD, bytes(length), [AccountMeta(guard.token_account(1), False, False)])
    assert instruction_error(guard.run(ix)) == InstructionErrorCustom(
        ProfitGuardError.InvalidInstructionLength
    )


def test_rejects_missing_token_account(guard: Guard) -> None:
    ix = Instruction(ids.PROFIT_GUARD, check_floor_data(0), [])
    assert instruction_error(guard.run(ix)) == InstructionErrorFieldless.NotEnoughAccountKeys


def test_rejects_a_lamports_floor_without_the_lamports_account(guard: Guard) -> None:
    token = guard.token_account(1)
    ix = Instruction(ids.PROFIT_GUARD, check_floor_data(0, 0), [AccountMeta(token, False, False)])
    assert instruction_error(guard.run(ix)) == InstructionErrorFieldless.NotEnoughAccountKeys


def test_a_failing_guard_reverts_the_whole_transaction(guard: Guard) -> None:
    recipient = Pubkey.new_unique()
    pay = transfer(TransferParams(from_pubkey=guard.payer.pubkey(), to_pubkey=recipient, lamports=10**6))
    result = guard.run(pay, check_floor(guard.token_account(1), 2))
    assert isinstance(result, FailedTransactionMetadata)
    assert result.err().index == 1
    assert guard.svm.get_account(recipient) is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=st.integers(0, 2**64 - 1), floor=st.integers(0, 2**64 - 1))
def test_passes_exactly_when_amount_reaches_floor(guard: Guard, amount: int, floor: int) -> None:
    result = guard.run(check_floor(guard.token_account(amount), floor))
    assert isinstance(result, TransactionMetadata) == (amount >= floor)


def test_builder_refuses_values_that_are_not_u64_and_unpaired_lamports_arguments() -> None:
    token = Pubkey.new_unique()
    with pytest.raises(ValueError):
        check_floor(token, -1)
    with pytest.raises(ValueError):
        check_floor(token, 2**64)
    with pytest.raises(ValueError):
        check_floor(token, 1, min_lamports=5)
    with pytest.raises(ValueError):
        check_floor(token, 1, lamports_account=token)


def test_builder_layout_is_tag_then_little_endian_floors() -> None:
    token, wallet = Pubkey.new_unique(), Pubkey.new_unique()
    ix = check_floor(token, 0x0102030405060708, lamports_account=wallet, min_lamports=9)
    assert bytes(ix.data) == b"\x00" + bytes([8, 7, 6, 5, 4, 3, 2, 1]) + (9).to_bytes(8, "little")
    assert ix.program_id == ids.PROFIT_GUARD
    assert [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts] == [
        (token, False, False),
        (wallet, False, False),
    ]
