"""cpi_relay (test support): re-issues an instruction as a CPI with the caller's account flags."""

from __future__ import annotations

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction_metadata import FailedTransactionMetadata
from solders.transaction_status import InstructionErrorCustom, InstructionErrorFieldless
from spl.token.instructions import transfer as token_transfer
from spl.token.models import TransferParams as TokenTransferParams

from core.localnet.accounts import set_mint, set_token_account, token_amount
from core.localnet.programs import load_programs
from core.protocols import ids
from tests.localnet.programs.toolchain_support import meta_of, send


class Relay:
    def __init__(self) -> None:
        self.svm = LiteSVM()
        load_programs(self.svm, ["cpi_relay"])
        self.payer = Keypair()
        self.svm.airdrop(self.payer.pubkey(), 10**10)


@pytest.fixture
def relay() -> Relay:
    return Relay()


def relayed(inner: Instruction, program_index: int = 0) -> Instruction:
    """Wrap `inner` for cpi_relay, with the inner program account at `program_index`."""
    metas = list(inner.accounts)
    metas.insert(program_index, AccountMeta(inner.program_id, False, False))
    return Instruction(ids.CPI_RELAY, bytes([program_index]) + bytes(inner.data), metas)


def test_relays_a_system_transfer_signed_by_the_transaction_payer(relay: Relay) -> None:
    recipient = Pubkey.new_unique()
    inner = transfer(TransferParams(from_pubkey=relay.payer.pubkey(), to_pubkey=recipient, lamports=10**9))
    result = send(relay.svm, relay.payer, relayed(inner))
    assert not isinstance(result, FailedTransactionMetadata), result
    assert relay.svm.get_account(recipient).lamports == 10**9
    assert any("invoke [2]" in line for line in meta_of(result).logs())  # really a CPI


def test_relays_an_spl_token_transfer_with_the_program_account_in_the_middle(relay: Relay) -> None:
    mint, src, dst = Pubkey.new_unique(), Pubkey.new_unique(), Pubkey.new_unique()
    set_mint(relay.svm, mint, 6)
    set_token_account(relay.svm, src, mint, relay.payer.pubkey(), 1_000)
    set_token_account(relay.svm, dst, mint, relay.payer.pubkey(), 0)
    inner = token_transfer(
        TokenTransferParams(
            program_id=ids.TOKEN_PROGRAM, source=src, dest=dst, owner=relay.payer.pubkey(), amount=250
        )
    )
    result = send(relay.svm, relay.payer, relayed(inner, program_index=2))
    assert not isinstance(result, FailedTransactionMetadata), result
    assert (token_amount(relay.svm, src), token_amount(relay.svm, dst)) == (750, 250)


def test_the_invoked_programs_error_is_the_transactions_error(relay: Relay) -> None:
    mint, src, dst = Pubkey.new_unique(), Pubkey.new_unique(), Pubkey.new_unique()
    set_mint(relay.svm, mint, 6)
    set_token_account(relay.svm, src, mint, relay.payer.pubkey(), 10)
    set_token_account(relay.svm, dst, mint, relay.payer.pubkey(), 0)
    inner = token_transfer(
        TokenTransferParams(
            program_id=ids.TOKEN_PROGRAM, source=src, dest=dst, owner=relay.payer.pubkey(), amount=11
        )
    )
    result = send(relay.svm, relay.payer, relayed(inner))
    assert isinstance(result, FailedTransactionMetadata)
    assert result.err().err == InstructionErrorCustom(1)  # SPL Token InsufficientFunds
    assert token_amount(relay.svm, src) == 10


def test_relay_cannot_grant_a_signature_the_caller_does_not_have(relay: Relay) -> None:
    victim = Keypair()
    relay.svm.airdrop(victim.pubkey(), 10**9)
    inner = transfer(TransferParams(from_pubkey=victim.pubkey(), to_pubkey=relay.payer.pubkey(), lamports=1))
    metas = [AccountMeta(ids.SYSTEM_PROGRAM, False, False)] + [
        AccountMeta(m.pubkey, False, m.is_writable) for m in inner.accounts
    ]
    result = send(relay.svm, relay.payer, Instruction(ids.CPI_RELAY, b"\x00" + bytes(inner.data), metas))
    assert isinstance(result, FailedTransactionMetadata)
    assert result.err().err == InstructionErrorFieldless.MissingRequiredSignature


def test_rejects_empty_data_and_a_program_index_past_the_accounts(relay: Relay) -> None:
    empty = send(relay.svm, relay.payer, Instruction(ids.CPI_RELAY, b"", []))
    assert empty.err().err == InstructionErrorFieldless.InvalidInstructionData
    metas = [AccountMeta(ids.SYSTEM_PROGRAM, False, False)]
    past = send(relay.svm, relay.payer, Instruction(ids.CPI_RELAY, b"\x01", metas))
    assert past.err().err == InstructionErrorFieldless.NotEnoughAccountKeys
