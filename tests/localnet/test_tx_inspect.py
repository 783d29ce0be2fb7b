"""Fee, compute-budget and balance formatting rules the cluster applies to every transaction."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from core.localnet import cluster as cluster_module
from core.localnet.cluster import Cluster, ClusterEvent, TxEvent
from core.localnet.rpc_server import RpcServer
from core.localnet.token_balances import amount_string, ui_token_amount
from core.localnet.tx_errors import error_text
from core.localnet.tx_inspect import compute_budget, fee_for
from core.localnet.tx_json import with_blockhash
from tests.localnet.rpc_helpers import transfer_ix

PAYER = Keypair()
SOME_PROGRAM = Pubkey.from_string("675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8")


def _message(*ixs: Instruction) -> MessageV0:
    return MessageV0.try_compile(PAYER.pubkey(), list(ixs), [], Hash.default())


@given(st.integers(0, 2**64 - 1), st.integers(0, 12))
def test_amount_string_is_the_exact_decimal(amount: int, decimals: int) -> None:
    text = amount_string(amount, decimals)
    assert Decimal(text) == Decimal(amount).scaleb(-decimals)
    assert not (("." in text) and text.endswith(("0", ".")))


def test_ui_token_amount_shape() -> None:
    assert ui_token_amount(1_500_000, 6) == {
        "uiAmount": 1.5,
        "decimals": 6,
        "amount": "1500000",
        "uiAmountString": "1.5",
    }
    assert ui_token_amount(0, 9)["uiAmountString"] == "0"


@given(st.integers(1, 1_400_000), st.integers(0, 10**12))
def test_priority_fee_rounds_up_per_compute_unit_limit(limit: int, price: int) -> None:
    message = _message(
        set_compute_unit_limit(limit), set_compute_unit_price(price), transfer_ix(PAYER, PAYER.pubkey(), 1)
    )
    assert fee_for(message) == 5000 + -(-limit * price // 1_000_000)


def test_default_limit_reserves_200k_per_program_and_3k_per_builtin() -> None:
    program_ix = Instruction(SOME_PROGRAM, b"", [AccountMeta(PAYER.pubkey(), True, True)])
    budget = compute_budget(
        _message(set_compute_unit_price(1), transfer_ix(PAYER, PAYER.pubkey(), 1), program_ix)
    )
    assert budget.unit_limit == 3_000 + 3_000 + 200_000
    assert budget.unit_price == 1


def test_error_texts_match_agave_display() -> None:
    assert error_text("BlockhashNotFound") == "Blockhash not found"
    assert error_text({"InstructionError": [2, {"Custom": 6001}]}) == (
        "Error processing Instruction 2: custom program error: 0x1771"
    )
    assert error_text({"InsufficientFundsForRent": {"account_index": 1}}) == (
        "Transaction results in an account (1) with insufficient funds for rent"
    )


async def test_health_is_node_unhealthy_until_genesis_is_loaded() -> None:
    cluster = Cluster(seed=3, slot_ms=50)
    rpc = RpcServer(cluster, port=0)
    body = b'{"jsonrpc":"2.0","id":1,"method":"getHealth"}'
    assert rpc.process(body) == (
        '{"jsonrpc":"2.0","error":{"code":-32005,"message":"Node is unhealthy",'
        '"data":{"numSlotsBehind":null}},"id":1}'
    )
    await cluster.start()
    try:
        assert rpc.process(body) == '{"jsonrpc":"2.0","result":"ok","id":1}'
    finally:
        await cluster.stop()


async def test_fee_for_message_matches_what_the_runtime_charges() -> None:
    cluster = Cluster(seed=4, slot_ms=3_600_000)
    await cluster.start()
    try:
        payer = Keypair()
        cluster.airdrop(payer.pubkey(), 10**10)
        blockhash = cluster.latest_blockhash("processed")[0]
        cases = [
            [transfer_ix(payer, Keypair().pubkey(), 10**9)],
            [set_compute_unit_price(123_457), transfer_ix(payer, Keypair().pubkey(), 10**9)],
            [
                set_compute_unit_limit(777),
                set_compute_unit_price(3_000_001),
                transfer_ix(payer, Keypair().pubkey(), 10**9),
            ],
        ]
        for ixs in cases:
            message = MessageV0.try_compile(payer.pubkey(), ixs, [], blockhash)
            record = cluster.submit(VersionedTransaction(message, [payer]))
            assert record.err is None
            assert record.fee == fee_for(message) == record.pre_balances[0] - record.post_balances[0] - 10**9
    finally:
        await cluster.stop()


async def test_failed_transaction_event_carries_only_the_fee_payer() -> None:
    cluster = Cluster(seed=5, slot_ms=3_600_000)
    events: list[ClusterEvent] = []
    cluster.add_listener(events.append)
    await cluster.start()
    try:
        payer, to = Keypair(), Keypair().pubkey()
        cluster.airdrop(payer.pubkey(), 10**9)
        blockhash = cluster.latest_blockhash("processed")[0]
        message = MessageV0.try_compile(payer.pubkey(), [transfer_ix(payer, to, 10**12)], [], blockhash)
        record = cluster.submit(VersionedTransaction(message, [payer]))
        assert record.err is not None and record.fee == 5000
        event = events[-1]
        assert isinstance(event, TxEvent) and event.signature == record.signature
        assert list(event.accounts) == [payer.pubkey()]
        assert to in event.mentions
        ok = MessageV0.try_compile(payer.pubkey(), [transfer_ix(payer, to, 10**8)], [], blockhash)
        cluster.submit(VersionedTransaction(ok, [payer]))
        assert isinstance(events[-1], TxEvent) and set(events[-1].accounts) == {payer.pubkey(), to}
    finally:
        await cluster.stop()


def test_with_blockhash_rewrites_only_the_blockhash_of_legacy_and_v0() -> None:
    new_hash = Hash.new_unique()
    ixs = [set_compute_unit_price(5), transfer_ix(PAYER, Keypair().pubkey(), 7)]
    for message in (Message.new_with_blockhash(ixs, PAYER.pubkey(), Hash.default()), _message(*ixs)):
        tx = VersionedTransaction(message, [PAYER])
        replaced = with_blockhash(tx, new_hash)
        assert replaced.message.recent_blockhash == new_hash
        assert list(replaced.message.account_keys) == list(message.account_keys)
        assert list(replaced.message.instructions) == list(message.instructions)
        assert replaced.message.header == message.header
        assert type(replaced.message) is type(message)


async def test_history_is_bounded_and_first_available_block_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_module, "ADDRESS_SWEEP_EVERY", 3)
    cluster = Cluster(seed=6, slot_ms=3_600_000, history_capacity=5)
    await cluster.start()
    try:
        payer = Keypair()
        cluster.airdrop(payer.pubkey(), 10**10)
        blockhash = cluster.latest_blockhash("processed")[0]
        first_to = Keypair().pubkey()
        for i in range(12):
            cluster.advance_slot()
            to = first_to if i == 0 else Keypair().pubkey()
            message = MessageV0.try_compile(
                payer.pubkey(), [transfer_ix(payer, to, 10**6 + i)], [], blockhash
            )
            cluster.submit(VersionedTransaction(message, [payer]))
        assert len(cluster.signatures_for_address(payer.pubkey())) == 5
        assert cluster.signatures_for_address(first_to) == []
        assert first_to not in cluster._by_address  # swept
        assert cluster.first_available_slot > 1
        assert cluster.block(cluster.first_available_slot - 1) is None
    finally:
        await cluster.stop()
