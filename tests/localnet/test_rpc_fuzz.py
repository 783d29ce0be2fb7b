"""Arbitrary parameters to every method get a JSON-RPC answer, never an internal error."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.localnet.cluster import Cluster
from core.localnet.rpc_methods import RpcMethods
from core.localnet.rpc_server import RpcServer

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=60),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=12,
)
_keys = st.sampled_from(
    ["11111111111111111111111111111111", "So11111111111111111111111111111111111111112", "abc", ""]
)
_configs = st.fixed_dictionaries(
    {},
    optional={
        "commitment": st.sampled_from(["processed", "confirmed", "finalized", "bogus"]) | _json,
        "encoding": st.sampled_from(["base64", "base58", "jsonParsed", "binary", "json", "hex"]) | _json,
        "dataSlice": st.fixed_dictionaries({"offset": st.integers(-5, 300), "length": st.integers(-5, 300)})
        | _json,
        "minContextSlot": st.integers(-5, 10**6) | _json,
        "filters": st.lists(
            st.sampled_from([{"dataSize": 165}, {"memcmp": {"offset": 0, "bytes": "3Bxs"}}]) | _json,
            max_size=5,
        ),
        "maxSupportedTransactionVersion": st.integers(-1, 300) | _json,
        "transactionDetails": st.sampled_from(["full", "signatures", "none", "accounts", "x"]),
        "skipPreflight": st.booleans() | _json,
        "sigVerify": st.booleans() | _json,
        "replaceRecentBlockhash": st.booleans() | _json,
        "accounts": _json,
        "limit": _json,
        "before": _json,
    },
)
_params = st.lists(_keys | _configs | _json, max_size=4)


@pytest.fixture(scope="module")
def server() -> Iterator[RpcServer]:
    loop = asyncio.new_event_loop()
    cluster = Cluster(seed=9, slot_ms=3_600_000)
    loop.run_until_complete(cluster.start())
    for _ in range(40):
        cluster.advance_slot()
    yield RpcServer(cluster, port=0)
    loop.run_until_complete(cluster.stop())
    loop.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(
        sorted(
            RpcMethods.__dict__.keys()
            & set(
                [
                    "getHealth",
                    "getVersion",
                    "getSlot",
                    "getBlockHeight",
                    "getEpochInfo",
                    "getLatestBlockhash",
                    "isBlockhashValid",
                    "getAccountInfo",
                    "getMultipleAccounts",
                    "getProgramAccounts",
                    "getBalance",
                    "getTokenAccountBalance",
                    "getTokenAccountsByOwner",
                    "getMinimumBalanceForRentExemption",
                    "getFeeForMessage",
                    "sendTransaction",
                    "simulateTransaction",
                    "getSignatureStatuses",
                    "getTransaction",
                    "getRecentPrioritizationFees",
                    "requestAirdrop",
                    "getFirstAvailableBlock",
                    "getGenesisHash",
                    "getIdentity",
                    "getBlockTime",
                    "getTokenSupply",
                    "getSignaturesForAddress",
                    "getBlock",
                    "getBlocks",
                    "getBlocksWithLimit",
                ]
            )
        )
    ),
    params=_params,
)
def test_any_params_get_an_answer_not_an_internal_error(server: RpcServer, method: str, params: list) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    reply = json.loads(server.process(body, loopback=False) or "null")
    assert reply["id"] == 1
    assert ("result" in reply) != ("error" in reply)
    if "error" in reply:
        assert reply["error"]["code"] != -32603, (method, params, reply)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300) | _json.map(lambda v: json.dumps(v).encode()))
def test_any_body_gets_a_json_answer(server: RpcServer, body: bytes) -> None:
    text = server.process(body)
    if text is not None:
        reply = json.loads(text)
        assert isinstance(reply, (dict, list))
