"""Arbitrary bodies and params to every block-engine method: a JSON-RPC answer, never an internal error."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from core.localnet.block_engine import BlockEngine, BlockEngineConfig, BlockEngineServer
from core.localnet.cluster import Cluster
from core.protocols import ids

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=10,
)


@pytest.fixture(scope="module")
def server() -> Iterator[BlockEngineServer]:
    loop = asyncio.new_event_loop()
    cluster = Cluster(seed=9, slot_ms=3_600_000)
    loop.run_until_complete(cluster.start())
    engine = BlockEngine(cluster, BlockEngineConfig(competitors=None), autorun=False)
    loop.run_until_complete(engine.start())
    yield BlockEngineServer(engine, port=0)
    loop.run_until_complete(engine.stop())
    loop.run_until_complete(cluster.stop())
    loop.close()


def _real_tx(server: BlockEngineServer, tip: int) -> VersionedTransaction:
    payer = server.engine.cluster.faucet
    tip_account = ids.JITO_TIP_ACCOUNTS[0]
    ixs = [transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=tip_account, lamports=tip)),
           transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=10**7))]
    message = MessageV0.try_compile(payer.pubkey(), ixs, [], server.engine.cluster.svm.latest_blockhash())
    return VersionedTransaction(message, [payer])


_tx_text = st.sampled_from(["", "AAAA", "!!", "AQ==", "1111", "z" * 90]) | st.binary(max_size=200).map(
    lambda b: base64.b64encode(b).decode())
_ids = st.sampled_from(["ab" * 32, "AB" * 32, "ab" * 31, ""]) | st.text(max_size=70)
_encoding = st.fixed_dictionaries(
    {}, optional={"encoding": st.sampled_from(["base64", "base58", "hex"]) | _json})
_params = st.one_of(
    st.tuples(st.lists(_tx_text | _json, max_size=7), _encoding | _json).map(list),
    st.tuples(st.lists(_ids | _json, max_size=7)).map(list),
    st.lists(_json, max_size=3),
    _json,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    endpoint=st.sampled_from(["bundles", "getBundleStatuses", "getInflightBundleStatuses", "getTipAccounts",
                              "sendBundle", "transactions"]),
    method=st.sampled_from(["sendBundle", "getBundleStatuses", "getInflightBundleStatuses", "getTipAccounts",
                            "sendTransaction", "simulateBundle"]),
    params=_params,
    bundle_only=st.booleans(),
)
def test_any_params_get_an_answer_not_an_internal_error(server, endpoint, method, params, bundle_only):
    body = json.dumps({"jsonrpc": "2.0", "id": 3, "method": method, "params": params}).encode()
    region = server.engine.config.regions[1]
    reply = server.process(body, region, endpoint, {"bundleOnly": str(bundle_only).lower()}, {})
    assert reply["id"] == 3
    assert ("result" in reply) != ("error" in reply)
    if "error" in reply:
        assert reply["error"]["code"] != -32603, (endpoint, method, params, reply)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300) | _json.map(lambda v: json.dumps(v).encode()))
def test_any_body_gets_a_json_rpc_answer(server, body):
    reply = server.process(body, server.engine.config.regions[0], "bundles", {}, {})
    assert reply["jsonrpc"] == "2.0"
    assert ("result" in reply) != ("error" in reply)
    if "error" in reply:
        assert reply["error"]["code"] != -32603


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tip=st.integers(0, 50_000), count=st.integers(1, 7), encoding=st.sampled_from(["base64", "base58"]))
def test_real_bundles_are_accepted_or_refused_with_a_reason(server, tip, count, encoding):
    import base58

    txs = [_real_tx(server, tip) for _ in range(count)]
    encode = (lambda raw: base64.b64encode(raw).decode()) if encoding == "base64" else (
        lambda raw: base58.b58encode(raw).decode())
    params = [[encode(bytes(t)) for t in txs], {"encoding": encoding}]
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sendBundle", "params": params}).encode()
    reply = server.process(body, server.engine.config.regions[0], "bundles", {}, {})
    if count <= 5 and tip * count >= 1_000:
        assert "result" in reply, reply
        assert len(reply["result"]) == 64
    else:
        assert reply["error"]["code"] == -32602 and reply["error"]["message"]
