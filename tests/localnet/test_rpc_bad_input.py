"""Bad input gets agave's JSON-RPC error, never a crash or a hung socket."""

from __future__ import annotations

import asyncio
import base64
import json

import base58
import httpx
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.null_signer import NullSigner
from solders.transaction import VersionedTransaction

from tests.localnet.conftest import Localnet
from tests.localnet.rpc_helpers import rpc, signed_v0, transfer_ix


async def post(url: str, body: bytes, content_type: str = "application/json") -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, content=body, headers={"Content-Type": content_type})


async def test_malformed_json_is_parse_error(localnet: Localnet) -> None:
    reply = await post(localnet.url, b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert reply.json() == {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
    binary = await post(localnet.url, b"\xff\xfe\x00garbage")
    assert binary.json()["error"]["code"] == -32700


async def test_unknown_method_is_method_not_found(localnet: Localnet) -> None:
    reply = await rpc(localnet.url, "getEverything")
    assert reply == {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": 1}


async def test_admin_fault_method_is_hidden_from_non_loopback_dispatch(localnet: Localnet) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 3, "method": "arbtui_setFaults", "params": [{}]}).encode()
    assert json.loads(localnet.rpc.process(body, loopback=False))["error"]["code"] == -32601


async def test_invalid_requests(localnet: Localnet) -> None:
    for body in (
        b"[]",
        b"5",
        b'{"jsonrpc": "1.0", "id": 1, "method": "getSlot"}',
        b'{"jsonrpc": "2.0", "id": 1}',
    ):
        reply = (await post(localnet.url, body)).json()
        assert reply["error"] == {"code": -32600, "message": "Invalid request"}, body


async def test_batch_answers_each_request_in_order(localnet: Localnet) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "getSlot", "params": [{"commitment": "processed"}]},
        {"jsonrpc": "2.0", "id": "two", "method": "nope"},
        {"jsonrpc": "2.0", "method": "getSlot"},  # a notification: no reply
        7,
        {"jsonrpc": "2.0", "id": 4, "method": "getBalance", "params": ["abc"]},
    ]
    replies = (await post(localnet.url, json.dumps(batch).encode())).json()
    assert [r["id"] for r in replies] == [1, "two", None, 4]
    assert isinstance(replies[0]["result"], int)
    assert replies[1]["error"]["code"] == -32601
    assert replies[2]["error"]["code"] == -32600
    assert replies[3]["error"] == {"code": -32602, "message": "Invalid param: WrongSize"}


async def test_wrong_param_types_are_invalid_params(localnet: Localnet) -> None:
    cases = [
        ("getBalance", [5]),
        ("getBalance", []),
        ("getBalance", [str(Keypair().pubkey()), "finalized"]),
        ("getSlot", [{"commitment": "soon"}]),
        ("getMinimumBalanceForRentExemption", ["165"]),
        ("getMinimumBalanceForRentExemption", [-1]),
        ("getSignatureStatuses", ["abc"]),
        ("getSignatureStatuses", [["abc"]]),
        ("getAccountInfo", [str(Keypair().pubkey()), {"encoding": "hex"}]),
        ("isBlockhashValid", ["xyz"]),
        ("requestAirdrop", [str(Keypair().pubkey()), 1.5]),
        ("getRecentPrioritizationFees", [[str(Keypair().pubkey())] * 129]),
        ("getSignatureStatuses", [[str(base58.b58encode(bytes(64)).decode())] * 257]),
    ]
    for method, params in cases:
        reply = await rpc(localnet.url, method, params)
        assert reply["error"]["code"] == -32602, (method, params, reply)
    invalid = await rpc(localnet.url, "getBalance", ["0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl00"])
    assert invalid["error"]["message"] == "Invalid param: Invalid"


async def test_params_as_object_are_invalid_params(localnet: Localnet) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 9, "method": "getSlot", "params": {"commitment": "processed"}})
    assert (await post(localnet.url, body.encode())).json()["error"]["code"] == -32602


async def test_invalid_base58_and_base64_transactions(localnet: Localnet) -> None:
    b58 = await rpc(localnet.url, "sendTransaction", ["0OIl"])
    assert b58["error"]["code"] == -32602 and b58["error"]["message"].startswith("invalid base58 encoding: ")
    b64 = await rpc(localnet.url, "sendTransaction", ["!!!!", {"encoding": "base64"}])
    assert b64["error"]["code"] == -32602 and b64["error"]["message"].startswith("invalid base64 encoding: ")
    junk = await rpc(
        localnet.url, "sendTransaction", [base64.b64encode(b"\x01\x02").decode(), {"encoding": "base64"}]
    )
    assert junk["error"]["message"].startswith(
        "failed to deserialize solana_transaction::versioned::VersionedTransaction: "
    )
    hex_encoding = await rpc(localnet.url, "sendTransaction", ["00", {"encoding": "hex"}])
    assert hex_encoding["error"] == {
        "code": -32602,
        "message": "unsupported encoding: hex. Supported encodings: base58, base64",
    }


async def test_oversized_transaction_is_refused_before_decoding(localnet: Localnet) -> None:
    encoded = base64.b64encode(bytes(1300)).decode()
    reply = await rpc(localnet.url, "sendTransaction", [encoded, {"encoding": "base64"}])
    assert reply["error"] == {
        "code": -32602,
        "message": "base64 encoded solana_transaction::versioned::VersionedTransaction too large: 1736 bytes "
        "(max: encoded/raw 1644/1232)",
    }
    fits_encoding = base64.b64encode(bytes(1233)).decode()
    reply = await rpc(localnet.url, "sendTransaction", [fits_encoding, {"encoding": "base64"}])
    assert reply["error"]["message"] == (
        "decoded solana_transaction::versioned::VersionedTransaction too large: 1233 bytes (max: 1232 bytes)"
    )


async def test_unsigned_transaction_is_signature_verification_failure(localnet: Localnet) -> None:
    payer = Keypair()
    blockhash = localnet.cluster.latest_blockhash("processed")[0]
    message = MessageV0.try_compile(
        payer.pubkey(), [transfer_ix(payer, Keypair().pubkey(), 1)], [], blockhash
    )
    unsigned = VersionedTransaction(message, [NullSigner(payer.pubkey())])
    reply = await rpc(
        localnet.url,
        "sendTransaction",
        [
            base64.b64encode(bytes(unsigned)).decode(),
            {"encoding": "base64", "preflightCommitment": "processed"},
        ],
    )
    assert reply["error"] == {"code": -32003, "message": "Transaction signature verification failure"}
    simulated = await rpc(
        localnet.url,
        "simulateTransaction",
        [base64.b64encode(bytes(unsigned)).decode(), {"encoding": "base64", "sigVerify": True}],
    )
    assert simulated["error"]["code"] == -32003


async def test_body_over_50kb_is_http_413(localnet: Localnet) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getSlot", "params": ["x" * 60_000]}).encode()
    reply = await post(localnet.url, body)
    assert reply.status_code == 413
    assert (await rpc(localnet.url, "getHealth"))["result"] == "ok"


async def test_non_json_content_type_is_http_415(localnet: Localnet) -> None:
    reply = await post(localnet.url, b'{"jsonrpc":"2.0","id":1,"method":"getSlot"}', "text/plain")
    assert reply.status_code == 415


async def test_notification_gets_an_empty_answer(localnet: Localnet) -> None:
    reply = await post(localnet.url, b'{"jsonrpc":"2.0","method":"getSlot"}')
    assert reply.status_code == 200 and reply.content == b""


async def test_client_that_never_reads_does_not_stall_the_cluster(localnet: Localnet) -> None:
    host, port = localnet.rpc.host, localnet.rpc.port
    # Pipeline many large requests and never read the answers: the server's writes back up.
    request = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "getMultipleAccounts",
            "params": [[str(Keypair().pubkey())] * 100],
        }
    ).encode()
    raw = (
        f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(request)}\r\n\r\n"
    ).encode() + request
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(300):
            writer.write(raw)
        await writer.drain()
        start = localnet.cluster.slot
        for _ in range(20):
            assert (await rpc(localnet.url, "getHealth"))["result"] == "ok"
        while localnet.cluster.slot < start + 3:
            await asyncio.sleep(0.02)
    finally:
        writer.close()
    assert reader is not None


async def test_simulate_with_bad_accounts_config_is_invalid_params(localnet: Localnet) -> None:
    payer = Keypair()
    tx = signed_v0(payer, [transfer_ix(payer, Keypair().pubkey(), 1)], Hash.default())
    encoded = base64.b64encode(bytes(tx)).decode()
    reply = await rpc(
        localnet.url,
        "simulateTransaction",
        [
            encoded,
            {"encoding": "base64", "accounts": {"addresses": [str(payer.pubkey())], "encoding": "base58"}},
        ],
    )
    assert reply["error"] == {"code": -32602, "message": "base58 encoding not supported"}


async def test_browser_clients_get_cors_headers(localnet: Localnet) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        pre = await http.options(
            localnet.url,
            headers={
                "Origin": "http://explorer.local",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        reply = await http.post(
            localnet.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "getSlot"},
            headers={"Origin": "http://explorer.local"},
        )
    assert pre.status_code == 200 and pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
