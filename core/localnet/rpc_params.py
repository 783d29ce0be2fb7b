"""JSON-RPC parameters read as agave reads them: types, limits, and its error messages."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, TypeVar

import base58
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from core.localnet.rpc_errors import invalid_params
from core.localnet.tx_inspect import PACKET_DATA_SIZE

MAX_BASE58_TX_SIZE = 1683  # agave: golden values derived from PACKET_DATA_SIZE
MAX_BASE64_TX_SIZE = 1644
TX_TYPE = "solana_transaction::versioned::VersionedTransaction"
MESSAGE_TYPE = "solana_message::versioned::VersionedMessage"
T = TypeVar("T")
COMMITMENTS = ("processed", "confirmed", "finalized")
# Deprecated names agave still accepts.
COMMITMENT_ALIASES = {"recent": "processed", "single": "confirmed", "singleGossip": "confirmed",
                      "root": "finalized", "max": "finalized"}


def param(params: list[Any], index: int, what: str) -> Any:
    if index >= len(params):
        raise invalid_params(f"Invalid params: invalid length {len(params)}, expected {what}.")
    return params[index]


def config_at(params: list[Any], index: int) -> dict[str, Any]:
    if len(params) <= index or params[index] is None:
        return {}
    cfg = params[index]
    if not isinstance(cfg, dict):
        raise invalid_params(f"Invalid params: invalid type: {json_kind(cfg)}, expected a config object.")
    return cfg


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, list):
        return "sequence"
    if isinstance(value, dict):
        return "map"
    return "null"


def pubkey_param(value: Any) -> Pubkey:
    if not isinstance(value, str):
        raise invalid_params(f"Invalid params: invalid type: {json_kind(value)}, expected a string.")
    try:
        return Pubkey.from_string(value)
    except ValueError as exc:
        raise invalid_params(f"Invalid param: {'WrongSize' if 'size' in str(exc) else 'Invalid'}") from None


def _base58_bytes_param(value: Any, size: int) -> bytes:
    if not isinstance(value, str):
        raise invalid_params(f"Invalid params: invalid type: {json_kind(value)}, expected a string.")
    try:
        raw = base58.b58decode(value)
    except ValueError:
        raise invalid_params("Invalid param: Invalid") from None
    if len(raw) != size:
        raise invalid_params("Invalid param: WrongSize")
    return raw


def signature_param(value: Any) -> Signature:
    return Signature.from_bytes(_base58_bytes_param(value, 64))


def hash_param(value: Any) -> Hash:
    return Hash(_base58_bytes_param(value, 32))


def subscription_pubkey_param(value: Any, what: str = "pubkey") -> Pubkey:
    """A pubkey in a PubSub subscribe request: agave's pubsub `param` has its own message."""
    if not isinstance(value, str):
        raise invalid_params(f"Invalid Request: Invalid {what} provided")
    try:
        return Pubkey.from_string(value)
    except ValueError:
        raise invalid_params(f"Invalid Request: Invalid {what} provided") from None


def uint_param(value: Any, what: str = "u64") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise invalid_params(f"Invalid params: invalid type: {json_kind(value)}, expected {what}.")
    return value


def bool_option(cfg: dict[str, Any], key: str) -> bool:
    value = cfg.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid_params(f"Invalid params: invalid type: {json_kind(value)}, expected a boolean.")
    return value


def commitment_option(cfg: dict[str, Any], key: str = "commitment") -> str:
    value = cfg.get(key)
    if value is None:
        return "finalized"
    if isinstance(value, str):
        value = COMMITMENT_ALIASES.get(value, value)
    if value not in COMMITMENTS:
        raise invalid_params(
            f"Invalid params: unknown variant `{value}`, expected one of `processed`, `confirmed`, "
            "`finalized`, `recent`, `single`, `singleGossip`, `root`, `max`."
        )
    return value


def list_param(value: Any, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise invalid_params(f"Invalid params: invalid type: {json_kind(value)}, expected a sequence.")
    if len(value) > limit:
        raise invalid_params(f"Too many inputs provided; max {limit}")
    return value


def decode_and_deserialize(
    encoded: Any, encoding: str, type_name: str, deserialize: Callable[[bytes], T]
) -> tuple[bytes, T]:
    """agave's `decode_and_deserialize::<T>`: encoded and decoded size limits, then bincode, each
    with its message (transactions for sendTransaction, messages for getFeeForMessage)."""
    if not isinstance(encoded, str):
        raise invalid_params(f"Invalid params: invalid type: {json_kind(encoded)}, expected a string.")
    if encoding == "base58":
        if len(encoded) > MAX_BASE58_TX_SIZE:
            raise invalid_params(
                f"base58 encoded {type_name} too large: {len(encoded)} bytes (max: encoded/raw "
                f"{MAX_BASE58_TX_SIZE}/{PACKET_DATA_SIZE})"
            )
        try:
            wire = base58.b58decode(encoded)
        except ValueError as exc:
            raise invalid_params(f"invalid base58 encoding: {exc}") from None
    else:
        if len(encoded) > MAX_BASE64_TX_SIZE:
            raise invalid_params(
                f"base64 encoded {type_name} too large: {len(encoded)} bytes (max: encoded/raw "
                f"{MAX_BASE64_TX_SIZE}/{PACKET_DATA_SIZE})"
            )
        try:
            wire = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise invalid_params(f"invalid base64 encoding: {exc}") from None
    if len(wire) > PACKET_DATA_SIZE:
        raise invalid_params(
            f"decoded {type_name} too large: {len(wire)} bytes (max: {PACKET_DATA_SIZE} bytes)"
        )
    try:
        value = deserialize(wire)
    except ValueError as exc:
        raise invalid_params(f"failed to deserialize {type_name}: {exc}") from None
    return wire, value


def decode_transaction(encoded: Any, encoding: str) -> tuple[bytes, VersionedTransaction]:
    return decode_and_deserialize(encoded, encoding, TX_TYPE, VersionedTransaction.from_bytes)


def tx_encoding_option(cfg: dict[str, Any]) -> str:
    encoding = cfg.get("encoding") or "base58"
    if encoding not in ("base58", "base64"):
        raise invalid_params(f"unsupported encoding: {encoding}. Supported encodings: base58, base64")
    return encoding


def ui_transaction_encoding_config(params: list[Any], index: int) -> tuple[dict[str, Any], str]:
    """getTransaction / getBlock config: an object, or (deprecated) a bare encoding string; the
    `UiTransactionEncoding` it names, `json` by default."""
    raw = params[index] if len(params) > index else None
    cfg = {"encoding": raw} if isinstance(raw, str) else config_at(params, index)
    encoding = cfg.get("encoding") or "json"
    if encoding not in ("json", "jsonParsed", "base64", "base58"):
        raise invalid_params(
            f"Invalid params: unknown variant `{encoding}`, expected one of `binary`, `base64`, "
            "`base58`, `json`, `jsonParsed`."
        )
    return cfg, encoding
