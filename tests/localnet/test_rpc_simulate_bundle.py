"""simulateBundle over real HTTP, as Jito-Solana RPC nodes answer it; simulation changes nothing."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from core.localnet.bundles import simulate_bundle
from core.localnet.cluster import Cluster
from core.localnet.rpc_errors import RpcError
from core.localnet.rpc_server import RpcServer
from tests.localnet.bundle_helpers import TIP, blockhash, funded, install_tip_accounts, tip_tx
from tests.localnet.conftest import Localnet
from tests.localnet.rpc_helpers import LAMPORTS_PER_SOL, freeze_clock, rpc, signed_v0, transfer_ix

RESULT_FIELDS = {
    "err", "logs", "preExecutionAccounts", "postExecutionAccounts", "unitsConsumed",
    "loadedAccountsDataSize", "returnData", "replacementBlockhash", "fee", "preBalances",
    "postBalances", "preTokenBalances", "postTokenBalances", "loadedAddresses",
}


@pytest.fixture
async def net(localnet: Localnet) -> Localnet:
    await freeze_clock(localnet)
    install_tip_accounts(localnet.cluster)
    return localnet


def b64(tx: VersionedTransaction) -> str:
    return base64.b64encode(bytes(tx)).decode()


def accounts_config(*keys: Pubkey) -> dict[str, Any]:
    return {"addresses": [str(k) for k in keys], "encoding": "base64"}


async def simulate(net: Localnet, txs: list[VersionedTransaction], **config: Any) -> dict[str, Any]:
    params: list[Any] = [{"encodedTransactions": [b64(tx) for tx in txs]}]
    if config:
        config.setdefault("preExecutionAccountsConfigs", [None] * len(txs))
        config.setdefault("postExecutionAccountsConfigs", [None] * len(txs))
        params.append(config)
    return await rpc(net.url, "simulateBundle", params)


async def balances(net: Localnet, keys: list[Pubkey]) -> list[int]:
    out = []
    for key in keys:
        reply = await rpc(net.url, "getBalance", [str(key), {"commitment": "processed"}])
        out.append(reply["result"]["value"])
    return out


def chained_bundle(net: Localnet) -> tuple[list[VersionedTransaction], Keypair, Pubkey]:
    """a → c (new), then c → x: the second only works on the state the first leaves."""
    cluster = net.cluster
    a, c, x = funded(cluster), Keypair(), Pubkey.new_unique()
    t1 = signed_v0(a, [transfer_ix(a, c.pubkey(), LAMPORTS_PER_SOL)], blockhash(cluster))
    t2 = signed_v0(c, [transfer_ix(c, x, LAMPORTS_PER_SOL // 2)], blockhash(cluster))
    return [t1, t2, tip_tx(cluster, a, 20_000)], c, x


async def test_simulate_bundle_success_shape_with_pre_and_post_accounts(net: Localnet) -> None:
    txs, c, x = chained_bundle(net)
    reply = await simulate(
        net,
        txs,
        skipSigVerify=False,
        preExecutionAccountsConfigs=[accounts_config(c.pubkey()), None, accounts_config(TIP)],
        postExecutionAccountsConfigs=[accounts_config(c.pubkey()), accounts_config(x, c.pubkey()), None],
    )
    result = reply["result"]
    assert result["context"]["slot"] == net.cluster.commitment_slot("confirmed")
    assert "apiVersion" in result["context"]
    value = result["value"]
    assert value["summary"] == "succeeded"
    first, second, third = value["transactionResults"]
    for entry in (first, second, third):
        assert set(entry) == RESULT_FIELDS
        assert entry["err"] is None and entry["unitsConsumed"] == 150 and entry["fee"] == 5_000
        assert entry["logs"][0] == "Program 11111111111111111111111111111111 invoke [1]"
        assert entry["replacementBlockhash"] is None
        assert entry["loadedAddresses"] == {"writable": [], "readonly": []}
    # c did not exist before the first transaction: the bank's default account.
    assert first["preExecutionAccounts"] == [{
        "lamports": 0, "data": ["", "base64"], "owner": "11111111111111111111111111111111",
        "executable": False, "rentEpoch": 0, "space": 0,
    }]
    assert first["postExecutionAccounts"][0]["lamports"] == LAMPORTS_PER_SOL
    assert second["preExecutionAccounts"] == []
    assert [a["lamports"] for a in second["postExecutionAccounts"]] == [
        LAMPORTS_PER_SOL // 2, LAMPORTS_PER_SOL // 2 - 5_000
    ]
    assert second["preBalances"][0] == LAMPORTS_PER_SOL  # c, as the first transaction left it
    tip_before = net.cluster.get_account(TIP).lamports
    assert third["preExecutionAccounts"][0]["lamports"] == tip_before
    assert third["postBalances"][1] - third["preBalances"][1] == 20_000
    assert third["postExecutionAccounts"] == []
    # Nothing happened.
    assert await balances(net, [c.pubkey(), x, TIP]) == [0, 0, tip_before]
    statuses = await rpc(net.url, "getSignatureStatuses", [[str(tx.signatures[0]) for tx in txs]])
    assert statuses["result"]["value"] == [None, None, None]


async def test_simulate_bundle_failure_names_the_transaction_and_stops_there(net: Localnet) -> None:
    cluster = net.cluster
    a, b, x = funded(cluster), funded(cluster, LAMPORTS_PER_SOL), Pubkey.new_unique()
    t1 = tip_tx(cluster, a, 20_000)
    t2 = signed_v0(b, [transfer_ix(b, x, 5 * LAMPORTS_PER_SOL)], blockhash(cluster))
    t3 = signed_v0(a, [transfer_ix(a, x, LAMPORTS_PER_SOL)], blockhash(cluster))
    before = await balances(net, [a.pubkey(), b.pubkey(), x, TIP])
    value = (await simulate(net, [t1, t2, t3]))["result"]["value"]
    failed = value["summary"]["failed"]
    assert failed["tx_signature"] == str(t2.signatures[0])
    assert failed["error"] == {
        "TransactionFailure": [
            list(bytes(t2.signatures[0])), "Error processing Instruction 0: custom program error: 0x1"
        ]
    }
    results = value["transactionResults"]
    assert len(results) == 2  # the third never ran
    assert results[0]["err"] is None
    assert results[1]["err"] == {"InstructionError": [0, {"Custom": 1}]}
    assert any("insufficient lamports" in line for line in results[1]["logs"])
    assert await balances(net, [a.pubkey(), b.pubkey(), x, TIP]) == before


async def test_simulate_bundle_verifies_signatures_unless_told_to_skip(net: Localnet) -> None:
    cluster = net.cluster
    a = funded(cluster)
    good = tip_tx(cluster, a, 5_000)
    forged = VersionedTransaction.populate(good.message, [tip_tx(cluster, a, 6_000).signatures[0]])
    refused = await simulate(net, [forged])
    assert refused["error"] == {
        "code": -32602,
        "message": "transaction signature is invalid: Transaction did not pass signature verification",
    }
    skipped = await simulate(net, [forged], skipSigVerify=True)
    assert skipped["result"]["value"]["summary"] == "succeeded"


async def test_simulate_bundle_replaces_the_blockhash_only_with_skip_sig_verify(net: Localnet) -> None:
    cluster = net.cluster
    a = funded(cluster)
    stale = signed_v0(a, [transfer_ix(a, TIP, 5_000)], Hash.new_unique())
    refused = await simulate(net, [stale], replaceRecentBlockhash=True)
    assert refused["error"]["message"] == "replace_recent_blockhash cannot be used with !skip_sig_verify"
    reply = await simulate(net, [stale], replaceRecentBlockhash=True, skipSigVerify=True)
    blockhash_now, last_valid = cluster.latest_blockhash("processed")
    entry = reply["result"]["value"]["transactionResults"][0]
    replacement = {"blockhash": str(blockhash_now), "lastValidBlockHeight": last_valid}
    assert entry["replacementBlockhash"] == replacement
    assert entry["err"] is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p[1].update(preExecutionAccountsConfigs=[None]),
         "pre/post_execution_accounts_configs must be equal in length to the number of transactions"),
        (lambda p: p[1].update(transactionEncoding="base58"),
         "Base64 is the only supported encoding for transactions"),
        (lambda p: p[1].update(postExecutionAccountsConfigs=[{"addresses": [], "encoding": "base58"}] * 2),
         "Base64 is the only supported encoding for post-execution accounts"),
        (lambda p: p[0].update(encodedTransactions=p[0]["encodedTransactions"][:1] * 2),
         "duplicate transactions"),
        (lambda p: p[0].update(encodedTransactions=p[0]["encodedTransactions"] * 11),
         "bundle size too large, max 20 transactions"),
        (lambda p: p[1].pop("postExecutionAccountsConfigs"),
         "Invalid params: missing field `postExecutionAccountsConfigs`."),
        (lambda p: p[1].update(simulationBank={"slot": 10**9}),
         "bank not found for the provided slot: 1000000000"),
    ],
)
async def test_simulate_bundle_refuses_bad_requests_with_jitos_messages(
    net: Localnet, mutate: Any, message: str
) -> None:
    a = funded(net.cluster)
    txs = [tip_tx(net.cluster, a, 5_000), tip_tx(net.cluster, a, 6_000)]
    params: list[Any] = [
        {"encodedTransactions": [b64(tx) for tx in txs]},
        {"preExecutionAccountsConfigs": [None, None], "postExecutionAccountsConfigs": [None, None]},
    ]
    mutate(params)
    reply = await rpc(net.url, "simulateBundle", params)
    assert reply["error"] == {"code": -32602, "message": message}


async def test_simulate_bundle_reads_the_bank_simulation_bank_names(net: Localnet) -> None:
    txs, _, _ = chained_bundle(net)
    tip = await simulate(net, txs, simulationBank="tip")
    assert tip["result"]["context"]["slot"] == net.cluster.slot
    finalized = await simulate(net, txs, simulationBank={"commitment": {"commitment": "finalized"}})
    assert finalized["result"]["context"]["slot"] == net.cluster.commitment_slot("finalized")


async def test_bundles_simulate_bundle_is_the_rpc_result_for_decoded_transactions(net: Localnet) -> None:
    txs, c, _ = chained_bundle(net)
    direct = simulate_bundle(net.cluster, txs, [None, {"addresses": [str(c.pubkey())]}, None])
    assert direct["value"]["summary"] == "succeeded"
    second = direct["value"]["transactionResults"][1]
    assert second["preExecutionAccounts"][0]["lamports"] == LAMPORTS_PER_SOL
    with pytest.raises(RpcError, match="equal in length"):
        simulate_bundle(net.cluster, txs, [None])


# -- bad input -------------------------------------------------------------------------------------
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)
_SAMPLE = b64(signed_v0(Keypair.from_seed(bytes(32)), [transfer_ix(Keypair.from_seed(bytes(32)), TIP, 5_000)],
                        Hash.default()))
_accounts_configs = st.lists(
    st.none() | st.fixed_dictionaries(
        {"addresses": st.lists(st.sampled_from([str(TIP), "abc", ""]) | _json, max_size=3)},
        optional={"encoding": st.sampled_from(["base64", "base58", "jsonParsed"]) | _json},
    ) | _json,
    max_size=3,
)
_request = st.fixed_dictionaries(
    {},
    optional={
        "encodedTransactions": st.lists(st.sampled_from([_SAMPLE, "", "!!"]) | _json, max_size=3) | _json
    },
)
_config = st.fixed_dictionaries(
    {},
    optional={
        "preExecutionAccountsConfigs": _accounts_configs | _json,
        "postExecutionAccountsConfigs": _accounts_configs | _json,
        "skipSigVerify": st.booleans() | _json,
        "replaceRecentBlockhash": st.booleans() | _json,
        "transactionEncoding": st.sampled_from(["base64", "base58", "json", "x"]) | _json,
        "simulationBank": st.sampled_from(["tip", {"slot": 0}, {"commitment": {"commitment": "processed"}}])
        | _json,
    },
)


@pytest.fixture(scope="module")
def server() -> Iterator[RpcServer]:
    loop = asyncio.new_event_loop()
    cluster = Cluster(seed=5, slot_ms=3_600_000)
    loop.run_until_complete(cluster.start())
    yield RpcServer(cluster, port=0)
    loop.run_until_complete(cluster.stop())
    loop.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    head=st.lists(_request | _json, max_size=1),
    tail=st.lists(_config | _json, max_size=2),
)
def test_any_simulate_bundle_params_get_an_answer_not_an_internal_error(
    server: RpcServer, head: list[Any], tail: list[Any]
) -> None:
    params = head + tail
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "simulateBundle", "params": params}).encode()
    reply = json.loads(server.process(body, loopback=False) or "null")
    assert ("result" in reply) != ("error" in reply)
    if "error" in reply:
        assert reply["error"]["code"] == -32602, (params, reply)
