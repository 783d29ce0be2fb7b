"""rpc_params: the decode and config parsers JSON-RPC methods share."""

from __future__ import annotations

import base64

import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, MessageV0, from_bytes_versioned, to_bytes_versioned
from solders.system_program import TransferParams, transfer

from core.localnet.rpc_errors import RpcError
from core.localnet.rpc_params import (
    MAX_BASE64_TX_SIZE,
    MESSAGE_TYPE,
    decode_and_deserialize,
    ui_transaction_encoding_config,
)


def test_message_decodes_with_the_transaction_limits_and_names_its_type() -> None:
    payer = Keypair()
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1))
    raw = to_bytes_versioned(MessageV0.try_compile(payer.pubkey(), [ix], [], Hash.default()))
    wire, message = decode_and_deserialize(
        base64.b64encode(raw).decode(), "base64", MESSAGE_TYPE, from_bytes_versioned
    )
    assert wire == raw and isinstance(message, MessageV0)
    legacy = bytes(Message([ix], payer.pubkey()))
    assert decode_and_deserialize(base64.b64encode(legacy).decode(), "base64", MESSAGE_TYPE,
                                  from_bytes_versioned)[0] == legacy
    with pytest.raises(RpcError, match=f"base64 encoded {MESSAGE_TYPE} too large"):
        decode_and_deserialize("A" * (MAX_BASE64_TX_SIZE + 4), "base64", MESSAGE_TYPE, from_bytes_versioned)
    with pytest.raises(RpcError, match=f"failed to deserialize {MESSAGE_TYPE}"):
        decode_and_deserialize(base64.b64encode(b"\x01").decode(), "base64", MESSAGE_TYPE,
                               from_bytes_versioned)
    with pytest.raises(RpcError, match="expected a string"):
        decode_and_deserialize(7, "base64", MESSAGE_TYPE, from_bytes_versioned)


@pytest.mark.parametrize(
    ("params", "encoding"),
    [([], "json"), (["sig", None], "json"), (["sig", "base64"], "base64"),
     (["sig", {"encoding": "jsonParsed"}], "jsonParsed"), (["sig", {"encoding": None}], "json")],
)
def test_transaction_encoding_config_takes_an_object_or_a_bare_string(
    params: list[object], encoding: str
) -> None:
    assert ui_transaction_encoding_config(params, 1)[1] == encoding


def test_transaction_encoding_config_refuses_unknown_encodings() -> None:
    with pytest.raises(RpcError, match="unknown variant `binary64`"):
        ui_transaction_encoding_config(["sig", {"encoding": "binary64"}], 1)
