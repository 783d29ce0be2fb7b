"""Transactions through the local cluster's JSON-RPC, driven by solana-py's AsyncClient."""

from __future__ import annotations

import asyncio
import base64

import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed, Finalized, Processed
from solana.rpc.core import RPCException
from solana.rpc.models import TxOpts
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.keypair import Keypair
from solders.signature import Signature

from core.localnet.accounts import set_mint
from core.localnet.cluster import FINALIZATION_DEPTH, MAX_PROCESSING_AGE
from tests.localnet.conftest import Localnet
from tests.localnet.rpc_helpers import (
    LAMPORTS_PER_SOL,
    freeze_clock,
    rpc,
    signed_legacy,
    signed_v0,
    transfer_ix,
)


async def funded(client: AsyncClient, lamports: int = 10 * LAMPORTS_PER_SOL) -> Keypair:
    kp = Keypair()
    sig = (await client.request_airdrop(kp.pubkey(), lamports)).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.02)
    return kp


async def test_airdrop_credits_the_account_once_confirmed(client: AsyncClient) -> None:
    kp = await funded(client, 3 * LAMPORTS_PER_SOL)
    assert (await client.get_balance(kp.pubkey(), Confirmed)).value == 3 * LAMPORTS_PER_SOL


async def test_transfer_moves_lamports_and_charges_5000_per_signature(client: AsyncClient) -> None:
    payer = await funded(client)
    to = Keypair().pubkey()
    blockhash = (await client.get_latest_blockhash(Confirmed)).value.blockhash
    tx = signed_v0(payer, [transfer_ix(payer, to, LAMPORTS_PER_SOL)], blockhash)
    sig = (await client.send_transaction(tx, TxOpts(preflight_commitment=Confirmed))).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.02)
    assert (await client.get_balance(to, Confirmed)).value == LAMPORTS_PER_SOL
    assert (await client.get_balance(payer.pubkey(), Confirmed)).value == 9 * LAMPORTS_PER_SOL - 5000


async def test_statuses_move_processed_confirmed_finalized(localnet: Localnet, client: AsyncClient) -> None:
    payer = await funded(client)
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    tx = signed_v0(payer, [transfer_ix(payer, Keypair().pubkey(), LAMPORTS_PER_SOL)], blockhash)
    sig = (await client.send_transaction(tx, TxOpts(preflight_commitment=Processed))).value
    first = (await client.get_signature_statuses([sig])).value[0]
    assert first is not None and first.err is None
    seen = {str(first.confirmation_status)}
    landed = first.slot
    while localnet.cluster.slot < landed + FINALIZATION_DEPTH + 1:
        status = (await client.get_signature_statuses([sig])).value[0]
        assert status is not None
        seen.add(str(status.confirmation_status))
        await asyncio.sleep(0.02)
    final = (await client.get_signature_statuses([sig])).value[0]
    assert final is not None and final.confirmations is None
    assert str(final.confirmation_status).endswith("Finalized")
    assert any(s.endswith("Confirmed") for s in seen)


async def test_get_transaction_meta_has_mainnet_fields(localnet: Localnet, client: AsyncClient) -> None:
    payer = await funded(client)
    to = Keypair().pubkey()
    blockhash = (await client.get_latest_blockhash(Confirmed)).value.blockhash
    ixs = [
        set_compute_unit_limit(10_000),
        set_compute_unit_price(1_000_000),
        transfer_ix(payer, to, 5 * 10**8),
    ]
    tx = signed_v0(payer, ixs, blockhash)
    sig = (await client.send_transaction(tx, TxOpts(preflight_commitment=Confirmed))).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.02)
    got = (await client.get_transaction(sig, "json", Confirmed, max_supported_transaction_version=0)).value
    assert got is not None
    meta = got.transaction.meta
    assert meta is not None
    # 5000 per signature plus ceil(1_000_000 µlamports * 10_000 CU / 1e6) = 10_000 priority.
    assert meta.fee == 5000 + 10_000
    assert meta.err is None
    assert meta.pre_balances[0] - meta.post_balances[0] == 5 * 10**8 + meta.fee
    assert meta.post_balances[1] == 5 * 10**8
    assert meta.compute_units_consumed is not None and meta.compute_units_consumed > 0
    assert meta.log_messages and meta.log_messages[-1] == "Program 11111111111111111111111111111111 success"
    assert meta.loaded_addresses is not None and meta.loaded_addresses.writable == []
    assert got.transaction.version == 0
    assert got.block_time is not None and got.slot >= 1
    raw = await rpc(
        localnet.url,
        "getTransaction",
        [str(sig), {"encoding": "base64", "commitment": "confirmed", "maxSupportedTransactionVersion": 0}],
    )
    assert base64.b64decode(raw["result"]["transaction"][0]) == bytes(tx)
    assert raw["result"]["meta"]["rewards"] == [] and raw["result"]["meta"]["status"] == {"Ok": None}


async def test_get_transaction_of_v0_without_max_version_is_error_32015(
    localnet: Localnet, client: AsyncClient
) -> None:
    payer = await funded(client)
    blockhash = (await client.get_latest_blockhash(Confirmed)).value.blockhash
    tx = signed_v0(payer, [transfer_ix(payer, Keypair().pubkey(), LAMPORTS_PER_SOL)], blockhash)
    sig = (await client.send_transaction(tx, TxOpts(preflight_commitment=Confirmed))).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.02)
    reply = await rpc(localnet.url, "getTransaction", [str(sig), {"commitment": "confirmed"}])
    assert reply["error"]["code"] == -32015
    assert '"maxSupportedTransactionVersion": 0' in reply["error"]["message"]


async def test_legacy_transaction_without_max_version_has_no_version_field(
    localnet: Localnet, client: AsyncClient
) -> None:
    payer = await funded(client)
    blockhash = (await client.get_latest_blockhash(Confirmed)).value.blockhash
    tx = signed_legacy(payer, [transfer_ix(payer, Keypair().pubkey(), LAMPORTS_PER_SOL)], blockhash)
    sig = (await client.send_transaction(tx, TxOpts(preflight_commitment=Confirmed))).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.02)
    reply = await rpc(localnet.url, "getTransaction", [str(sig), {"commitment": "confirmed"}])
    assert "version" not in reply["result"]
    assert "addressTableLookups" not in reply["result"]["transaction"]["message"]


async def test_get_transaction_refuses_processed_commitment(localnet: Localnet) -> None:
    reply = await rpc(localnet.url, "getTransaction", [str(Signature.default()), {"commitment": "processed"}])
    assert reply["error"] == {
        "code": -32602,
        "message": "Method does not support commitment below `confirmed`",
    }


async def test_preflight_failure_is_32002_with_logs_and_nothing_lands(
    localnet: Localnet, client: AsyncClient
) -> None:
    payer = await funded(client, LAMPORTS_PER_SOL)
    blockhash = (await client.get_latest_blockhash(Confirmed)).value.blockhash
    tx = signed_v0(payer, [transfer_ix(payer, Keypair().pubkey(), 50 * LAMPORTS_PER_SOL)], blockhash)
    reply = await rpc(
        localnet.url,
        "sendTransaction",
        [base64.b64encode(bytes(tx)).decode(), {"encoding": "base64", "preflightCommitment": "confirmed"}],
    )
    err = reply["error"]
    assert err["code"] == -32002
    assert (
        err["message"]
        == "Transaction simulation failed: Error processing Instruction 0: custom program error: 0x1"
    )
    assert err["data"]["err"] == {"InstructionError": [0, {"Custom": 1}]}
    assert any("insufficient lamports" in line for line in err["data"]["logs"])
    assert err["data"]["unitsConsumed"] > 0 and err["data"]["accounts"] is None
    assert localnet.cluster.transaction(tx.signatures[0]) is None
    with pytest.raises(RPCException):
        await client.send_transaction(tx, TxOpts(preflight_commitment=Confirmed))


async def test_skip_preflight_failure_lands_with_error_and_pays_fee(
    localnet: Localnet, client: AsyncClient
) -> None:
    payer = await funded(client, LAMPORTS_PER_SOL)
    blockhash = (await client.get_latest_blockhash(Confirmed)).value.blockhash
    tx = signed_v0(payer, [transfer_ix(payer, Keypair().pubkey(), 50 * LAMPORTS_PER_SOL)], blockhash)
    sig = (await client.send_transaction(tx, TxOpts(skip_preflight=True))).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.02)
    status = (await client.get_signature_statuses([sig])).value[0]
    assert status is not None and status.err is not None
    assert (await client.get_balance(payer.pubkey(), Processed)).value == LAMPORTS_PER_SOL - 5000


async def test_duplicate_send_returns_same_signature_and_lands_once(
    localnet: Localnet, client: AsyncClient
) -> None:
    payer = await funded(client)
    blockhash = (await client.get_latest_blockhash(Confirmed)).value.blockhash
    tx = signed_v0(payer, [transfer_ix(payer, Keypair().pubkey(), LAMPORTS_PER_SOL)], blockhash)
    first = (await client.send_transaction(tx, TxOpts(skip_preflight=True))).value
    second = (await client.send_transaction(tx, TxOpts(skip_preflight=True))).value
    assert first == second
    assert (await client.get_balance(payer.pubkey(), Processed)).value == 9 * LAMPORTS_PER_SOL - 5000
    reply = await rpc(
        localnet.url,
        "sendTransaction",
        [base64.b64encode(bytes(tx)).decode(), {"encoding": "base64", "preflightCommitment": "processed"}],
    )
    assert reply["error"]["code"] == -32002
    assert reply["error"]["data"]["err"] == "AlreadyProcessed"


async def is_blockhash_valid(localnet: Localnet, blockhash: object) -> bool:
    reply = await rpc(localnet.url, "isBlockhashValid", [str(blockhash), {"commitment": "processed"}])
    return reply["result"]["value"]


async def test_blockhash_expires_after_150_blocks(localnet: Localnet, client: AsyncClient) -> None:
    payer = await funded(client)
    await freeze_clock(localnet)
    latest = (await client.get_latest_blockhash(Processed)).value
    assert latest.last_valid_block_height == localnet.cluster.block_height + MAX_PROCESSING_AGE
    while localnet.cluster.block_height < latest.last_valid_block_height:
        localnet.cluster.advance_slot()  # the clock's own step, run faster than wall time
    assert await is_blockhash_valid(localnet, latest.blockhash) is True
    localnet.cluster.advance_slot()
    assert await is_blockhash_valid(localnet, latest.blockhash) is False
    tx = signed_v0(payer, [transfer_ix(payer, Keypair().pubkey(), LAMPORTS_PER_SOL)], latest.blockhash)
    reply = await rpc(
        localnet.url,
        "sendTransaction",
        [base64.b64encode(bytes(tx)).decode(), {"encoding": "base64", "preflightCommitment": "processed"}],
    )
    assert reply["error"]["code"] == -32002
    assert reply["error"]["message"] == "Transaction simulation failed: Blockhash not found"
    assert reply["error"]["data"]["err"] == "BlockhashNotFound"
    # Without preflight the node accepts it and the leader drops it: no status ever appears.
    sig = (await client.send_transaction(tx, TxOpts(skip_preflight=True))).value
    assert (await client.get_signature_statuses([sig], search_transaction_history=True)).value == [None]


async def test_confirmed_blockhash_fails_preflight_at_finalized_as_on_mainnet(
    localnet: Localnet, client: AsyncClient
) -> None:
    payer = await funded(client)
    while localnet.cluster.slot < 40:
        await asyncio.sleep(0.05)
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    tx = signed_v0(payer, [transfer_ix(payer, Keypair().pubkey(), LAMPORTS_PER_SOL)], blockhash)
    with pytest.raises(RPCException) as info:
        await client.send_transaction(tx, TxOpts(preflight_commitment=Finalized))
    assert "Blockhash not found" in str(info.value)


async def test_recent_prioritization_fees_report_what_landed(localnet: Localnet, client: AsyncClient) -> None:
    payer = await funded(client)
    hot = Keypair().pubkey()
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    ixs = [set_compute_unit_price(7_777), transfer_ix(payer, hot, LAMPORTS_PER_SOL)]
    sig = (await client.send_transaction(signed_v0(payer, ixs, blockhash), TxOpts(skip_preflight=True))).value
    landed = (await client.get_signature_statuses([sig])).value[0]
    assert landed is not None
    while localnet.cluster.slot <= landed.slot:
        await asyncio.sleep(0.02)
    fees = (await client.get_recent_prioritization_fees([hot])).value
    by_slot = {f.slot: f.prioritization_fee for f in fees}
    assert by_slot[landed.slot] == 7_777
    other = {f.slot: f.prioritization_fee for f in (await client.get_recent_prioritization_fees([])).value}
    assert other[landed.slot] <= 7_777
    assert len(fees) <= 150


async def test_get_fee_for_message_counts_signatures_and_priority(
    localnet: Localnet, client: AsyncClient
) -> None:
    payer = Keypair()
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    ixs = [
        set_compute_unit_limit(200_000),
        set_compute_unit_price(10),
        transfer_ix(payer, Keypair().pubkey(), 1),
    ]
    message = signed_v0(payer, ixs, blockhash).message
    assert (await client.get_fee_for_message(message, Processed)).value == 5000 + 2


async def test_send_transaction_accepts_base58(localnet: Localnet, client: AsyncClient) -> None:
    import base58

    payer = await funded(client)
    blockhash = (await client.get_latest_blockhash(Confirmed)).value.blockhash
    tx = signed_legacy(payer, [transfer_ix(payer, Keypair().pubkey(), LAMPORTS_PER_SOL)], blockhash)
    reply = await rpc(
        localnet.url,
        "sendTransaction",
        [base58.b58encode(bytes(tx)).decode(), {"preflightCommitment": "confirmed"}],
    )
    assert reply["result"] == str(tx.signatures[0])


async def test_simulate_returns_accounts_and_replacement_blockhash(
    localnet: Localnet, client: AsyncClient
) -> None:
    payer = await funded(client)
    to = Keypair().pubkey()
    await freeze_clock(localnet)
    stale = (await client.get_latest_blockhash(Processed)).value.blockhash
    for _ in range(MAX_PROCESSING_AGE + 1):
        localnet.cluster.advance_slot()
    tx = signed_v0(payer, [transfer_ix(payer, to, LAMPORTS_PER_SOL)], stale)
    encoded = base64.b64encode(bytes(tx)).decode()
    reply = await rpc(
        localnet.url,
        "simulateTransaction",
        [
            encoded,
            {
                "encoding": "base64",
                "commitment": "processed",
                "replaceRecentBlockhash": True,
                "innerInstructions": True,
                "accounts": {"addresses": [str(to)], "encoding": "base64"},
            },
        ],
    )
    value = reply["result"]["value"]
    assert value["err"] is None
    assert value["accounts"][0]["lamports"] == LAMPORTS_PER_SOL
    assert value["replacementBlockhash"]["blockhash"] == str(
        localnet.cluster.latest_blockhash("processed")[0]
    )
    assert (await client.get_balance(to, Processed)).value == 0  # nothing committed
    both = await rpc(
        localnet.url,
        "simulateTransaction",
        [encoded, {"encoding": "base64", "sigVerify": True, "replaceRecentBlockhash": True}],
    )
    assert both["error"] == {
        "code": -32602,
        "message": "sigVerify may not be used with replaceRecentBlockhash",
    }


async def test_get_transaction_json_parsed_names_accounts(localnet: Localnet, client: AsyncClient) -> None:
    payer = await funded(client)
    to = Keypair().pubkey()
    blockhash = (await client.get_latest_blockhash(Confirmed)).value.blockhash
    tx = signed_v0(payer, [transfer_ix(payer, to, LAMPORTS_PER_SOL)], blockhash)
    sig = (await client.send_transaction(tx, TxOpts(preflight_commitment=Confirmed))).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.02)
    got = (
        await client.get_transaction(sig, "jsonParsed", Confirmed, max_supported_transaction_version=0)
    ).value
    assert got is not None
    raw = await rpc(
        localnet.url,
        "getTransaction",
        [
            str(sig),
            {"encoding": "jsonParsed", "commitment": "confirmed", "maxSupportedTransactionVersion": 0},
        ],
    )
    keys = raw["result"]["transaction"]["message"]["accountKeys"]
    assert keys[0] == {
        "pubkey": str(payer.pubkey()),
        "writable": True,
        "signer": True,
        "source": "transaction",
    }
    assert keys[1]["pubkey"] == str(to) and keys[1]["writable"] is True and keys[1]["signer"] is False
    ix = raw["result"]["transaction"]["message"]["instructions"][0]
    assert ix == {
        "program": "system",
        "programId": "11111111111111111111111111111111",
        "parsed": {
            "info": {"source": str(payer.pubkey()), "destination": str(to), "lamports": LAMPORTS_PER_SOL},
            "type": "transfer",
        },
        "stackHeight": None,
    }


async def test_signatures_for_address_newest_first_with_before(
    localnet: Localnet, client: AsyncClient
) -> None:
    payer = await funded(client)
    blockhash = (await client.get_latest_blockhash(Confirmed)).value.blockhash
    sigs = []
    for i in range(3):
        tx = signed_v0(payer, [transfer_ix(payer, Keypair().pubkey(), LAMPORTS_PER_SOL + i)], blockhash)
        sigs.append((await client.send_transaction(tx, TxOpts(preflight_commitment=Confirmed))).value)
    await client.confirm_transaction(sigs[-1], Confirmed, sleep_seconds=0.02)
    listed = (await client.get_signatures_for_address(payer.pubkey(), commitment=Confirmed)).value
    assert [s.signature for s in listed[:3]] == sigs[::-1]
    assert len(listed) == 4  # and the airdrop that funded it
    after = (
        await client.get_signatures_for_address(payer.pubkey(), before=sigs[2], limit=1, commitment=Confirmed)
    ).value
    assert [s.signature for s in after] == [sigs[1]]
    assert (await client.get_block_time(listed[0].slot)).value == listed[0].block_time


async def test_token_supply_and_slot_leader(localnet: Localnet, client: AsyncClient) -> None:
    mint = Keypair().pubkey()
    set_mint(localnet.cluster.svm, mint, 6, supply=2_500_000)
    supply = (await client.get_token_supply(mint, Processed)).value
    assert supply.amount == "2500000" and supply.ui_amount_string == "2.5"
    assert (await client.get_slot_leader(Processed)).value == localnet.cluster.identity
    missing = await rpc(localnet.url, "getBlockTime", [10**9])
    assert missing["error"] == {"code": -32004, "message": f"Block not available for slot {10**9}"}


async def test_get_block_lists_the_slot_transactions(localnet: Localnet, client: AsyncClient) -> None:
    payer = await funded(client)
    blockhash = (await client.get_latest_blockhash(Confirmed)).value.blockhash
    tx = signed_legacy(payer, [transfer_ix(payer, Keypair().pubkey(), LAMPORTS_PER_SOL)], blockhash)
    sig = (await client.send_transaction(tx, TxOpts(preflight_commitment=Confirmed))).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.02)
    slot = (await client.get_signature_statuses([sig])).value[0].slot
    block = (await client.get_block(slot, "json", max_supported_transaction_version=0)).value
    assert sig in [t.transaction.signatures[0] for t in block.transactions]
    assert block.parent_slot == slot - 1 and block.block_height == slot
    previous = (await client.get_block(slot - 1, max_supported_transaction_version=0)).value
    assert block.previous_blockhash == previous.blockhash
    sigs_only = await rpc(
        localnet.url,
        "getBlock",
        [slot, {"transactionDetails": "signatures", "rewards": False, "commitment": "confirmed"}],
    )
    assert str(sig) in sigs_only["result"]["signatures"] and "rewards" not in sigs_only["result"]
    future = await rpc(localnet.url, "getBlock", [localnet.cluster.slot + 100])
    assert future["error"]["code"] == -32004
    while localnet.cluster.slot < slot + 2:  # so slot + 1 is confirmed too
        await asyncio.sleep(0.01)
    blocks = await rpc(localnet.url, "getBlocks", [slot - 2, slot, {"commitment": "confirmed"}])
    assert blocks["result"] == [slot - 2, slot - 1, slot]
    limited = await rpc(localnet.url, "getBlocksWithLimit", [slot, 2, {"commitment": "confirmed"}])
    assert limited["result"] == [slot, slot + 1]


async def test_old_statuses_need_search_transaction_history(localnet: Localnet, client: AsyncClient) -> None:
    payer = await funded(client)
    await freeze_clock(localnet)
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    tx = signed_v0(payer, [transfer_ix(payer, Keypair().pubkey(), LAMPORTS_PER_SOL)], blockhash)
    sig = (await client.send_transaction(tx, TxOpts(preflight_commitment=Processed))).value
    for _ in range(301):  # past the status cache (300 slots)
        localnet.cluster.advance_slot()
    assert (await client.get_signature_statuses([sig])).value == [None]
    found = (await client.get_signature_statuses([sig], search_transaction_history=True)).value[0]
    assert found is not None and found.confirmations is None
    assert str(found.confirmation_status).endswith("Finalized")
