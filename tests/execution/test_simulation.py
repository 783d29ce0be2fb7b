"""simulateBundle on the local cluster: success gives compute units, failures are classified."""

from __future__ import annotations

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from core.execution.rpc import JsonRpc
from core.execution.simulation import SimulationFailed, classify, simulate_bundle
from core.localnet.accounts import set_mint, set_token_account
from core.protocols import ids
from core.protocols.profit_guard import check_floor
from tests.execution.conftest import Stack, tipped_transfer
from tests.localnet.rpc_helpers import signed_v0


async def test_successful_bundle_reports_units_per_transaction(stack: Stack) -> None:
    payer = stack.funded()
    blockhash = stack.blockhash()[0]
    txs = [tipped_transfer(payer, blockhash), tipped_transfer(payer, blockhash, lamports=2_000_000)]
    report = await simulate_bundle(JsonRpc(stack.http), stack.rpc_url, txs)
    assert len(report.units_consumed) == 2 and all(u > 0 for u in report.units_consumed)
    assert report.total_units == sum(report.units_consumed)


async def test_overdrawn_transfer_is_insufficient_funds_and_final(stack: Stack) -> None:
    payer = stack.funded()
    blockhash = stack.blockhash()[0]
    txs = [tipped_transfer(payer, blockhash), tipped_transfer(payer, blockhash, lamports=10**12)]
    with pytest.raises(SimulationFailed) as failed:
        await simulate_bundle(JsonRpc(stack.http), stack.rpc_url, txs)
    assert failed.value.kind == "insufficient_funds"
    assert failed.value.failed_index == 1
    assert not failed.value.retryable


async def test_profit_guard_below_floor_is_slippage(stack: Stack) -> None:
    payer = stack.funded()
    mint, account = Pubkey.new_unique(), Pubkey.new_unique()
    svm = stack.net.cluster.svm
    set_mint(svm, mint, 6)
    set_token_account(svm, account, mint, payer.pubkey(), 999)
    tx = signed_v0(payer, [check_floor(account, 1000)], stack.blockhash()[0])
    with pytest.raises(SimulationFailed) as failed:
        await simulate_bundle(JsonRpc(stack.http), stack.rpc_url, [tx])
    assert (failed.value.kind, failed.value.custom_code) == ("slippage", 6000)


def test_classify_maps_program_errors_by_program() -> None:
    payer = Keypair()
    guard = Instruction(ids.PROFIT_GUARD, b"\x00" + bytes(8), [])
    whirl = Instruction(ids.ORCA_WHIRLPOOL, b"", [])
    other = Instruction(Pubkey.new_unique(), b"", [])
    from solders.hash import Hash

    tx = signed_v0(payer, [guard, whirl, other], Hash.default())
    assert classify({"InstructionError": [0, {"Custom": 6000}]}, (), tx).kind == "slippage"
    assert classify({"InstructionError": [1, {"Custom": 6036}]}, (), tx).kind == "slippage"
    unknown = classify({"InstructionError": [2, {"Custom": 6036}]}, (), tx)
    assert (unknown.kind, unknown.custom_code) == ("program_error", 6036)
    assert classify("BlockhashNotFound").kind == "blockhash"
    assert classify("BlockhashNotFound").retryable
    assert classify("InsufficientFundsForFee").kind == "insufficient_funds"
    assert classify("Error processing Instruction 0: custom program error: 0x1771").custom_code == 6001
