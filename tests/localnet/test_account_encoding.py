"""Account encoding shared by JSON-RPC and PubSub: base58 is limited for requests, not notifications."""

from __future__ import annotations

import base64

import base58
import pytest
from solders.account import Account
from solders.pubkey import Pubkey

from core.localnet.account_encoding import MAX_BASE58_BYTES, AccountEncoding, encode_account
from core.localnet.rpc_errors import RpcError, invalid_params
from core.localnet.rpc_params import hash_param, signature_param, subscription_pubkey_param
from core.protocols import ids

POOL_SIZED = Account(lamports=1, data=bytes(range(256)) * 3, owner=ids.RAYDIUM_AMM_V4, executable=False,
                     rent_epoch=0)


def no_decimals(_: Pubkey) -> int | None:
    return None


@pytest.mark.parametrize("encoding", ["binary", "base58"])
def test_request_encoding_refuses_base58_over_128_bytes(encoding: str) -> None:
    with pytest.raises(RpcError) as err:
        encode_account(POOL_SIZED, AccountEncoding(encoding), no_decimals)
    assert err.value.code == -32600


@pytest.mark.parametrize("encoding", ["binary", "base58"])
def test_notification_encoding_sends_base58_of_any_length(encoding: str) -> None:
    value = encode_account(POOL_SIZED, AccountEncoding(encoding), no_decimals, limit_base58=False)
    text = value["data"] if encoding == "binary" else value["data"][0]
    assert base58.b58decode(text) == bytes(POOL_SIZED.data)
    assert value["space"] == len(POOL_SIZED.data) > MAX_BASE58_BYTES


def test_notification_encoding_applies_the_data_slice_before_base58() -> None:
    enc = AccountEncoding("base58", (10, 200))
    value = encode_account(POOL_SIZED, enc, no_decimals, limit_base58=False)
    assert value["data"] == [base58.b58encode(bytes(POOL_SIZED.data)[10:210]).decode(), "base58"]
    b64 = encode_account(POOL_SIZED, AccountEncoding("base64", (10, 200)), no_decimals)
    assert base64.b64decode(b64["data"][0]) == bytes(POOL_SIZED.data)[10:210]


def test_subscription_pubkey_param_uses_the_pubsub_message() -> None:
    assert subscription_pubkey_param(str(ids.SOLEND)) == ids.SOLEND
    for bad in (5, "not-a-key"):
        with pytest.raises(RpcError) as err:
            subscription_pubkey_param(bad, "mention")
        assert err.value.message == invalid_params("Invalid Request: Invalid mention provided").message


def test_signature_and_hash_params_check_their_size() -> None:
    with pytest.raises(RpcError, match="WrongSize"):
        signature_param(str(ids.SOLEND))  # 32 bytes, not 64
    assert bytes(hash_param(str(ids.SOLEND))) == bytes(ids.SOLEND)
    with pytest.raises(RpcError, match="Invalid param: Invalid"):
        hash_param("0OIl")  # not base58
