"""Bundles on a real local cluster: atomic landing and rollback, the sanitizer, CPI tips, locks."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import base58
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import (
    AllocateParams,
    AssignParams,
    CreateAccountParams,
    allocate,
    assign,
    create_account,
)
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionErrorFieldless

from core.localnet.bundle_execution import top_level_tip_lamports
from core.localnet.bundles import (
    MIN_TIP_LAMPORTS,
    NO_TIP,
    BundleRejected,
    decode_bundle,
    execute_bundle,
    sanitize_bundle,
    write_locks,
)
from core.localnet.cluster import MAX_PROCESSING_AGE, ClusterEvent, TxEvent
from core.localnet.pubsub import PubSubServer
from core.localnet.tx_errors import error_json
from core.protocols import ids
from tests.localnet.bundle_helpers import (
    TIP,
    blockhash,
    funded,
    install_tip_accounts,
    lookup_table,
    relayed,
    tip_tx,
)
from tests.localnet.conftest import Localnet
from tests.localnet.rpc_helpers import LAMPORTS_PER_SOL, freeze_clock, rpc, signed_v0, transfer_ix


@pytest.fixture
async def net(localnet: Localnet) -> Localnet:
    """The local cluster with its clock held (tests step slots) and the tip accounts in place."""
    await freeze_clock(localnet)
    install_tip_accounts(localnet.cluster)
    return localnet


def rejection(net: Localnet, txs: list[VersionedTransaction]) -> str:
    with pytest.raises(BundleRejected) as caught:
        sanitize_bundle(net.cluster, txs)
    return caught.value.reason


async def account_views(net: Localnet, keys: list[Pubkey]) -> list[Any]:
    reply = await rpc(
        net.url,
        "getMultipleAccounts",
        [[str(k) for k in keys], {"encoding": "base64", "commitment": "processed"}],
    )
    return reply["result"]["value"]


async def statuses(net: Localnet, txs: list[VersionedTransaction]) -> list[Any]:
    reply = await rpc(
        net.url,
        "getSignatureStatuses",
        [[str(tx.signatures[0]) for tx in txs], {"searchTransactionHistory": True}],
    )
    return reply["result"]["value"]


# -- landing ---------------------------------------------------------------------------------------
async def test_bundle_lands_in_order_in_one_slot_and_rpc_reports_every_transaction(net: Localnet) -> None:
    cluster = net.cluster
    a = funded(cluster)
    c, x = Keypair(), Pubkey.new_unique()
    # The second transaction spends from an account only the first one creates: order matters.
    t1 = signed_v0(a, [transfer_ix(a, c.pubkey(), LAMPORTS_PER_SOL)], blockhash(cluster))
    t2 = signed_v0(c, [transfer_ix(c, x, LAMPORTS_PER_SOL // 2)], blockhash(cluster))
    t3 = tip_tx(cluster, a, 25_000)
    bundle = [t1, t2, t3]
    tip_before = cluster.get_account(TIP).lamports

    assert sanitize_bundle(cluster, bundle) == 25_000
    result = execute_bundle(cluster, bundle)

    assert result.landed and result.failed_index is None and result.err is None
    assert [r.signature for r in result.records] == [tx.signatures[0] for tx in bundle]
    assert {r.slot for r in result.records} == {cluster.slot} == {result.slot}
    assert result.tip_lamports == 25_000
    assert result.compute_units == sum(r.compute_units for r in result.records) > 0
    assert cluster.get_account(TIP).lamports == tip_before + 25_000
    assert cluster.get_account(x).lamports == LAMPORTS_PER_SOL // 2
    seen = await statuses(net, bundle)
    assert all(s is not None and s["err"] is None and s["slot"] == result.slot for s in seen)
    cluster.advance_slot()  # confirmed: getTransaction serves it
    got = await rpc(net.url, "getTransaction",
                    [str(t2.signatures[0]), {"commitment": "confirmed", "maxSupportedTransactionVersion": 0}])
    assert got["result"]["meta"]["err"] is None
    assert got["result"]["meta"]["fee"] == 5_000


async def test_landed_bundle_transactions_reach_signature_subscribers(net: Localnet) -> None:
    pubsub = PubSubServer(net.cluster, "127.0.0.1", 0, net.faults)
    await pubsub.start()
    try:
        cluster = net.cluster
        bundle = [tip_tx(cluster, funded(cluster), 5_000)]
        signature = str(bundle[0].signatures[0])
        async with websockets.connect(pubsub.url) as ws:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "signatureSubscribe",
                                      "params": [signature, {"commitment": "processed"}]}))
            sub = json.loads(await asyncio.wait_for(ws.recv(), 20))["result"]
            assert execute_bundle(cluster, bundle).landed
            note = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert note["method"] == "signatureNotification" and note["params"]["subscription"] == sub
        assert note["params"]["result"] == {"context": {"slot": cluster.slot}, "value": {"err": None}}
    finally:
        await pubsub.stop()


async def test_bundle_whose_second_transaction_fails_leaves_every_account_as_it_was(net: Localnet) -> None:
    cluster = net.cluster
    a, b, d = funded(cluster), funded(cluster, LAMPORTS_PER_SOL), funded(cluster, LAMPORTS_PER_SOL)
    created, x = Keypair(), Pubkey.new_unique()
    rent = cluster.svm.minimum_balance_for_rent_exemption(64)
    t1 = signed_v0(
        a,
        [
            # A new account with data and an owner, an existing one re-sized and re-owned, a tip.
            create_account(CreateAccountParams(from_pubkey=a.pubkey(), to_pubkey=created.pubkey(),
                                               lamports=rent, space=64, owner=ids.PROFIT_GUARD)),
            allocate(AllocateParams(pubkey=d.pubkey(), space=32)),
            assign(AssignParams(pubkey=d.pubkey(), owner=ids.PROFIT_GUARD)),
            transfer_ix(a, TIP, 50_000),
        ],
        blockhash(cluster),
        signers=[a, created, d],
    )
    t2 = signed_v0(b, [transfer_ix(b, x, 5 * LAMPORTS_PER_SOL)], blockhash(cluster))  # b cannot pay it
    t3 = signed_v0(a, [transfer_ix(a, x, LAMPORTS_PER_SOL)], blockhash(cluster))
    bundle = [t1, t2, t3]
    keys = [a.pubkey(), b.pubkey(), d.pubkey(), created.pubkey(), x, TIP]
    before = await account_views(net, keys)
    events: list[ClusterEvent] = []
    cluster.add_listener(events.append)
    count_before = cluster.transaction_count

    assert sanitize_bundle(cluster, bundle) == 50_000  # accepted: it fails only when it runs
    result = execute_bundle(cluster, bundle)

    assert not result.landed and result.failed_index == 1 and result.records == []
    assert error_json(result.err) == {"InstructionError": [0, {"Custom": 1}]}
    assert await account_views(net, keys) == before  # lamports, data, owner; no fee anywhere
    assert before[3] is None and before[4] is None  # and what did not exist still does not
    assert await statuses(net, bundle) == [None, None, None]
    assert all(cluster.transaction(tx.signatures[0]) is None for tx in bundle)
    assert not [e for e in events if isinstance(e, TxEvent)]
    assert cluster.transaction_count == count_before
    # Nothing remembers the rolled-back transactions: the first can still land on its own.
    assert cluster.submit(t1).err is None


async def test_execution_repeats_the_bank_checks_an_aged_bundle_fails_untouched(net: Localnet) -> None:
    cluster = net.cluster
    a = funded(cluster)
    bundle = [tip_tx(cluster, a, 5_000)]
    assert sanitize_bundle(cluster, bundle) == 5_000
    before = cluster.get_account(a.pubkey())
    for _ in range(MAX_PROCESSING_AGE + 1):
        cluster.advance_slot()
    result = execute_bundle(cluster, bundle)
    assert (result.landed, result.failed_index) == (False, 0)
    assert result.err == TransactionErrorFieldless.BlockhashNotFound
    assert cluster.get_account(a.pubkey()) == before


async def test_a_landed_bundle_cannot_land_again(net: Localnet) -> None:
    cluster = net.cluster
    bundle = [tip_tx(cluster, funded(cluster), 5_000)]
    assert execute_bundle(cluster, bundle).landed
    again = execute_bundle(cluster, bundle)
    assert not again.landed and again.err == TransactionErrorFieldless.AlreadyProcessed


# -- tips ------------------------------------------------------------------------------------------
async def test_tip_paid_through_a_cpi_is_counted(net: Localnet) -> None:
    cluster = net.cluster
    a = funded(cluster)
    tx = signed_v0(a, [relayed(transfer_ix(a, TIP, 7_000))], blockhash(cluster))
    assert top_level_tip_lamports([tx]) == 0  # invisible without running it
    assert sanitize_bundle(cluster, [tx]) == 7_000
    result = execute_bundle(cluster, [tx])
    assert result.landed and result.tip_lamports == 7_000
    assert any("invoke [2]" in line for line in result.records[0].logs)


async def test_failing_bundle_counts_tips_that_ran_and_top_level_tips_that_did_not(net: Localnet) -> None:
    cluster = net.cluster
    a, b = funded(cluster), funded(cluster, LAMPORTS_PER_SOL)
    t1 = signed_v0(a, [relayed(transfer_ix(a, TIP, 4_000))], blockhash(cluster))
    t2 = signed_v0(b, [transfer_ix(b, Pubkey.new_unique(), 5 * LAMPORTS_PER_SOL)], blockhash(cluster))
    t3 = tip_tx(cluster, a, 3_000)
    assert sanitize_bundle(cluster, [t1, t2, t3]) == 7_000
    result = execute_bundle(cluster, [t1, t2, t3])
    assert (result.landed, result.failed_index, result.tip_lamports) == (False, 1, 7_000)


async def test_cpi_tip_below_the_minimum_is_rejected(net: Localnet) -> None:
    cluster = net.cluster
    a = funded(cluster)
    tx = signed_v0(a, [relayed(transfer_ix(a, TIP, MIN_TIP_LAMPORTS - 1))], blockhash(cluster))
    reason = rejection(net, [tx])
    assert reason.startswith(NO_TIP) and f"{MIN_TIP_LAMPORTS - 1} lamports" in reason


async def test_minimum_tip_is_accepted_and_tips_across_transactions_add_up(net: Localnet) -> None:
    cluster = net.cluster
    a, b = funded(cluster), funded(cluster)
    bundle = [tip_tx(cluster, a, MIN_TIP_LAMPORTS, ids.JITO_TIP_ACCOUNTS[0]),
              tip_tx(cluster, b, 2_500, ids.JITO_TIP_ACCOUNTS[7])]
    assert sanitize_bundle(cluster, bundle) == MIN_TIP_LAMPORTS + 2_500


# -- sanitizer -------------------------------------------------------------------------------------
async def test_sanitizer_rejects_more_than_five_transactions(net: Localnet) -> None:
    a = funded(net.cluster)
    bundle = [tip_tx(net.cluster, a, 1_000 + i) for i in range(6)]
    assert "exceeded maximum number of transactions" in rejection(net, bundle)
    assert "exceeded maximum number of transactions" in rejection(net, bundle)


async def test_sanitizer_rejects_an_empty_bundle(net: Localnet) -> None:
    assert "empty" in rejection(net, [])


async def test_sanitizer_rejects_a_duplicate_transaction(net: Localnet) -> None:
    tx = tip_tx(net.cluster, funded(net.cluster))
    assert rejection(net, [tx, tx]) == "Bundle contains a duplicate transaction"


async def test_sanitizer_rejects_an_unsigned_transaction(net: Localnet) -> None:
    signed = tip_tx(net.cluster, funded(net.cluster))
    unsigned = VersionedTransaction.populate(signed.message, [Signature.default()])
    assert rejection(net, [unsigned]).endswith("is invalid: not signed")


async def test_sanitizer_rejects_a_bad_signature(net: Localnet) -> None:
    a = funded(net.cluster)
    signed = tip_tx(net.cluster, a, 5_000)
    other = tip_tx(net.cluster, a, 6_000)
    forged = VersionedTransaction.populate(signed.message, [other.signatures[0]])
    assert rejection(net, [forged]) == (
        f"transaction {other.signatures[0]} is invalid: signature verification failed"
    )


async def test_sanitizer_rejects_an_expired_or_unknown_blockhash(net: Localnet) -> None:
    cluster = net.cluster
    a = funded(cluster)
    unknown = signed_v0(a, [transfer_ix(a, TIP, 5_000)], Hash.new_unique())
    assert "expired or unknown blockhash" in rejection(net, [unknown])
    aged = tip_tx(cluster, a, 5_000)
    for _ in range(MAX_PROCESSING_AGE + 1):
        cluster.advance_slot()
    assert "(BlockhashNotFound)" in rejection(net, [aged])


async def test_sanitizer_rejects_an_already_processed_transaction(net: Localnet) -> None:
    tx = tip_tx(net.cluster, funded(net.cluster))
    assert net.cluster.submit(tx).err is None
    expected = f"transaction {tx.signatures[0]} has already been processed (AlreadyProcessed)"
    assert rejection(net, [tx]) == expected


async def test_sanitizer_rejects_a_bundle_without_a_tip(net: Localnet) -> None:
    a = funded(net.cluster)
    tx = signed_v0(a, [transfer_ix(a, Pubkey.new_unique(), LAMPORTS_PER_SOL)], blockhash(net.cluster))
    assert rejection(net, [tx]) == NO_TIP


async def test_sanitizer_rejects_a_tip_account_loaded_through_a_lookup_table(net: Localnet) -> None:
    cluster = net.cluster
    a = funded(cluster)
    table = lookup_table(cluster, a, [TIP])
    tx = signed_v0(a, [transfer_ix(a, TIP, 5_000)], blockhash(cluster), lookups=[table])
    assert TIP not in tx.message.account_keys  # really loaded through the table
    assert "loads a tip account through an address lookup table" in rejection(net, [tx])


async def test_sanitizer_rejects_a_bundle_invoking_the_tip_payment_program(net: Localnet) -> None:
    from solders.instruction import Instruction

    a = funded(net.cluster)
    ixs = [Instruction(ids.JITO_TIP_PAYMENT_PROGRAM, b"\0", []), transfer_ix(a, TIP, 5_000)]
    tx = signed_v0(a, ixs, blockhash(net.cluster))
    assert rejection(net, [tx]) == "Bundle mentions blacklisted account"


async def test_sanitizing_changes_nothing(net: Localnet) -> None:
    cluster = net.cluster
    a = funded(cluster)
    tx = tip_tx(cluster, a, 9_000)
    keys = [a.pubkey(), TIP]
    before = await account_views(net, keys)
    sanitize_bundle(cluster, [tx])
    assert await account_views(net, keys) == before
    assert (await statuses(net, [tx])) == [None]


# -- write locks -----------------------------------------------------------------------------------
async def test_write_locks_include_lookup_table_addresses(net: Localnet) -> None:
    cluster = net.cluster
    a = funded(cluster)
    r1, r2 = Pubkey.new_unique(), Pubkey.new_unique()
    table = lookup_table(cluster, a, [r1, r2])
    swap = signed_v0(a, [transfer_ix(a, r1, LAMPORTS_PER_SOL), transfer_ix(a, r2, LAMPORTS_PER_SOL)],
                     blockhash(cluster), lookups=[table])
    bundle = [swap, tip_tx(cluster, a, 5_000)]
    expected = {a.pubkey(), r1, r2, TIP}
    assert write_locks(bundle) == {a.pubkey(), TIP}  # nothing to read the table from: static keys
    sanitize_bundle(cluster, bundle)
    assert write_locks(bundle) == expected  # resolved while sanitizing
    other = signed_v0(a, [transfer_ix(a, r2, 1)], blockhash(cluster), lookups=[table])
    assert write_locks([other], cluster) == {a.pubkey(), r2}  # read from the cluster


# -- decoding --------------------------------------------------------------------------------------
async def test_decode_reads_base64_and_base58_bundles(net: Localnet) -> None:
    a = funded(net.cluster)
    bundle = [tip_tx(net.cluster, a, 1_000 + i) for i in range(3)]
    as64 = [base64.b64encode(bytes(tx)).decode() for tx in bundle]
    as58 = [base58.b58encode(bytes(tx)).decode() for tx in bundle]
    assert decode_bundle(as64, "base64") == bundle
    assert decode_bundle(as58, "base58") == bundle
    assert decode_bundle([as64, {"encoding": "base64"}], "base64") == bundle  # whole sendBundle params


def test_decode_rejects_garbage_with_its_reason() -> None:
    with pytest.raises(BundleRejected, match="invalid base64 encoding"):
        decode_bundle(["not base64!"], "base64")
    with pytest.raises(BundleRejected, match="failed to deserialize"):
        decode_bundle([base64.b64encode(b"\x01\x02\x03").decode()], "base64")
    with pytest.raises(BundleRejected, match="unsupported encoding"):
        decode_bundle(["x"], "json")
    with pytest.raises(BundleRejected, match="exceeded maximum number of transactions"):
        decode_bundle(["x"] * 6, "base64")
    with pytest.raises(BundleRejected, match="expected a string"):
        decode_bundle([42], "base64")


_SAMPLE_TX = bytes(
    signed_v0(Keypair.from_seed(bytes(32)), [transfer_ix(Keypair.from_seed(bytes(32)), TIP, 5_000)],
              Hash.default())
)


@st.composite
def blobs(draw: st.DrawFn) -> bytes:
    """Random bytes, or a real transaction with random bytes overwritten or cut."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=1_300))
    raw = bytearray(_SAMPLE_TX)
    for _ in range(draw(st.integers(1, 8))):
        raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw[: draw(st.integers(0, len(raw)))])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(blobs(), max_size=6), st.sampled_from(["base64", "base58"]))
def test_random_bytes_as_bundle_blobs_raise_only_bundle_rejected(items: list[bytes], encoding: str) -> None:
    encode = (lambda b: base64.b64encode(b).decode()) if encoding == "base64" else (
        lambda b: base58.b58encode(b).decode()
    )
    try:
        txs = decode_bundle([encode(b) for b in items], encoding)
    except BundleRejected as exc:
        assert exc.reason
    else:
        assert 1 <= len(txs) <= 5
