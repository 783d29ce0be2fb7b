"""Address lookup tables on the local cluster: create → extend → usable from the next slot."""

from __future__ import annotations

import asyncio
import base64

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed, Finalized, Processed
from solana.rpc.models import TxOpts
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.keypair import Keypair
from solders.system_program import (
    CreateLookupTableParams,
    ExtendLookupTableParams,
    create_lookup_table,
    extend_lookup_table,
)

from tests.localnet.conftest import Localnet
from tests.localnet.rpc_helpers import LAMPORTS_PER_SOL, freeze_clock, rpc, signed_v0, transfer_ix


async def _wait_slot_after(localnet: Localnet, slot: int) -> None:
    while localnet.cluster.slot <= slot:
        await asyncio.sleep(0.01)


async def test_lookup_table_create_extend_then_use_next_slot(localnet: Localnet, client: AsyncClient) -> None:
    payer = Keypair()
    sig = (await client.request_airdrop(payer.pubkey(), 10 * LAMPORTS_PER_SOL)).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.02)
    recipients = [Keypair().pubkey() for _ in range(20)]
    recent_slot = (await client.get_slot(Finalized)).value
    await freeze_clock(localnet)
    create_ix, table = create_lookup_table(
        CreateLookupTableParams(
            authority_address=payer.pubkey(), payer_address=payer.pubkey(), recent_slot=recent_slot
        )
    )
    extend_ix = extend_lookup_table(
        ExtendLookupTableParams(
            payer_address=payer.pubkey(),
            lookup_table_address=table,
            authority_address=payer.pubkey(),
            new_addresses=recipients,
        )
    )
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    setup = signed_v0(payer, [create_ix, extend_ix], blockhash)
    setup_sig = (await client.send_transaction(setup, TxOpts(preflight_commitment=Processed))).value
    landed = (await client.get_signature_statuses([setup_sig])).value[0]
    assert landed is not None and landed.err is None

    alt = AddressLookupTableAccount(table, recipients)
    ixs = [transfer_ix(payer, r, LAMPORTS_PER_SOL // 100) for r in recipients]
    use = signed_v0(payer, ixs, blockhash, lookups=[alt])
    assert len(bytes(use)) < 1232
    if localnet.cluster.slot == landed.slot:  # the clock is frozen, so this always holds
        # In the extension's own slot the new entries are not usable yet: refused while sanitizing.
        same = await rpc(
            localnet.url,
            "sendTransaction",
            [base64.b64encode(bytes(use)).decode(), {"encoding": "base64", "skipPreflight": True}],
        )
        assert same["error"]["message"] == (
            "invalid transaction: Transaction address table lookup uses an invalid index"
        )
    localnet.cluster.advance_slot()
    sig = (await client.send_transaction(use, TxOpts(preflight_commitment=Processed))).value
    status = (await client.get_signature_statuses([sig])).value[0]
    assert status is not None and status.err is None
    localnet.cluster.advance_slot()  # its slot becomes confirmed
    got = await rpc(
        localnet.url,
        "getTransaction",
        [str(sig), {"commitment": "confirmed", "maxSupportedTransactionVersion": 0}],
    )
    meta = got["result"]["meta"]
    assert sorted(meta["loadedAddresses"]["writable"]) == sorted(str(r) for r in recipients)
    assert got["result"]["transaction"]["message"]["addressTableLookups"][0]["accountKey"] == str(table)
    assert len(meta["postBalances"]) == 2 + 20  # payer and system program, then 20 loaded
    assert (await client.get_balance(recipients[-1], Processed)).value >= LAMPORTS_PER_SOL // 100


async def test_lookup_table_with_unknown_recent_slot_fails_preflight(
    localnet: Localnet, client: AsyncClient
) -> None:
    payer = Keypair()
    sig = (await client.request_airdrop(payer.pubkey(), LAMPORTS_PER_SOL)).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.02)
    create_ix, _ = create_lookup_table(
        CreateLookupTableParams(
            authority_address=payer.pubkey(),
            payer_address=payer.pubkey(),
            recent_slot=localnet.cluster.slot + 1000,
        )
    )
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    tx = signed_v0(payer, [create_ix], blockhash)
    reply = await rpc(
        localnet.url,
        "sendTransaction",
        [base64.b64encode(bytes(tx)).decode(), {"encoding": "base64", "preflightCommitment": "processed"}],
    )
    assert reply["error"]["code"] == -32002
    assert any("is not a recent slot" in line for line in reply["error"]["data"]["logs"])


async def test_transaction_with_missing_lookup_table_is_invalid_params(
    localnet: Localnet, client: AsyncClient
) -> None:
    payer = Keypair()
    missing = AddressLookupTableAccount(Keypair().pubkey(), [Keypair().pubkey()])
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    tx = signed_v0(payer, [transfer_ix(payer, missing.addresses[0], 1)], blockhash, lookups=[missing])
    for skip in (False, True):
        reply = await rpc(
            localnet.url,
            "sendTransaction",
            [base64.b64encode(bytes(tx)).decode(), {"encoding": "base64", "skipPreflight": skip}],
        )
        assert reply["error"] == {
            "code": -32602,
            "message": "invalid transaction: Transaction loads an address table account that doesn't exist",
        }
