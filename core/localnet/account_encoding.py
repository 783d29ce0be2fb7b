"""Accounts as RPC nodes encode them (`UiAccount`) and the account filters they accept.

Mirrors agave's `encode_ui_account` / `check_slice_and_encoding` / `RpcFilterType::verify`:
binary (plain base58), base58, base64 and jsonParsed (SPL Token accounts and mints, falling back
to base64 for anything it cannot parse), `dataSlice`, and the 128-byte base58 limit.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import base58
from solders.account import Account
from solders.pubkey import Pubkey

from core.localnet.rpc_errors import RpcError, invalid_params
from core.localnet.token_balances import TOKEN_PROGRAMS, ui_token_amount
from core.protocols import ids
from core.protocols.errors import DecodeError
from core.protocols.spl_token import MINT_LEN, TOKEN_ACCOUNT_LEN, decode_mint, decode_token_account

ACCOUNT_ENCODINGS = ("binary", "base58", "base64", "jsonParsed", "base64+zstd")
MAX_BASE58_BYTES = 128
MAX_FILTERS = 4
MAX_DATA_SIZE = 128
MAX_DATA_BASE58_SIZE = 175
MAX_DATA_BASE64_SIZE = 172


@dataclass(frozen=True)
class AccountEncoding:
    encoding: str = "base64"
    data_slice: tuple[int, int] | None = None  # (offset, length)


def parse_account_encoding(cfg: dict[str, Any], default: str) -> AccountEncoding:
    encoding = cfg.get("encoding")
    if encoding is None:
        encoding = default
    if not isinstance(encoding, str) or encoding not in ACCOUNT_ENCODINGS:
        raise invalid_params(
            f"Invalid params: unknown variant `{encoding}`, expected one of `binary`, `base58`, "
            "`base64`, `jsonParsed`, `base64+zstd`."
        )
    if encoding == "base64+zstd":
        # No zstd codec in the standard library; refuse clearly rather than send something else.
        raise invalid_params("Invalid params: base64+zstd encoding is not supported by this node.")
    data_slice = None
    raw = cfg.get("dataSlice")
    if raw is not None:
        if (
            not isinstance(raw, dict)
            or not _is_uint(raw.get("offset"))
            or not _is_uint(raw.get("length"))
        ):
            raise invalid_params("Invalid params: invalid type: expected struct UiDataSliceConfig.")
        data_slice = (raw["offset"], raw["length"])
        if encoding == "jsonParsed":
            raise RpcError(
                -32600,
                "Sliced account data can only be encoded using binary (base 58) or base64 encoding.",
            )
    return AccountEncoding(encoding, data_slice)


def _is_uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_token_data(
    account: Account, mint_decimals: Callable[[Pubkey], int | None]
) -> dict[str, Any] | None:
    """agave's `parse_token` for SPL Token accounts and mints; None when it cannot parse."""
    data = bytes(account.data)
    program = "spl-token" if account.owner == ids.TOKEN_PROGRAM else "spl-token-2022"
    try:
        if len(data) == TOKEN_ACCOUNT_LEN:
            token = decode_token_account(data)
            decimals = mint_decimals(token.mint)
            if decimals is None:
                return None
            info: dict[str, Any] = {
                "isNative": token.is_native is not None,
                "mint": str(token.mint),
                "owner": str(token.owner),
                "state": str(token.state).rsplit(".", 1)[-1].lower(),
                "tokenAmount": ui_token_amount(token.amount, decimals),
            }
            if token.delegate is not None:
                info["delegate"] = str(token.delegate)
                info["delegatedAmount"] = ui_token_amount(token.delegated_amount, decimals)
            if token.is_native is not None:
                info["rentExemptReserve"] = ui_token_amount(token.is_native, decimals)
            if token.close_authority is not None:
                info["closeAuthority"] = str(token.close_authority)
            parsed = {"info": info, "type": "account"}
        elif len(data) == MINT_LEN:
            mint = decode_mint(data)
            parsed = {
                "info": {
                    "decimals": mint.decimals,
                    "freezeAuthority": _opt_str(mint.freeze_authority),
                    "isInitialized": mint.is_initialized,
                    "mintAuthority": _opt_str(mint.mint_authority),
                    "supply": str(mint.supply),
                },
                "type": "mint",
            }
        else:
            return None
    except DecodeError:
        return None
    return {"program": program, "parsed": parsed, "space": len(data)}


def _opt_str(value: object | None) -> str | None:
    return None if value is None else str(value)


def encode_account(
    account: Account,
    enc: AccountEncoding,
    mint_decimals: Callable[[Pubkey], int | None],
    *,
    limit_base58: bool = True,
) -> dict[str, Any]:
    """The `UiAccount` JSON object, or RpcError -32600 for base58 data over 128 bytes.

    `limit_base58=False` is for notifications: a subscription was accepted already, so agave's
    `UiAccount::encode` sends base58 of any length there."""
    raw = bytes(account.data)
    data: Any = None
    if enc.encoding == "jsonParsed" and account.owner in TOKEN_PROGRAMS:
        data = parse_token_data(account, mint_decimals)
    if data is None:
        sliced = raw
        if enc.data_slice is not None:
            offset, length = enc.data_slice
            sliced = raw[offset : offset + length]
        if enc.encoding in ("binary", "base58"):
            if limit_base58 and len(sliced) > MAX_BASE58_BYTES:
                raise RpcError(
                    -32600,
                    f"Encoded binary (base 58) data should be less than {MAX_BASE58_BYTES} bytes, "
                    "please use Base64 encoding.",
                )
            text = base58.b58encode(sliced).decode()
            data = text if enc.encoding == "binary" else [text, "base58"]
        else:
            data = [base64.b64encode(sliced).decode(), "base64"]
    return {
        "lamports": account.lamports,
        "data": data,
        "owner": str(account.owner),
        "executable": account.executable,
        "rentEpoch": account.rent_epoch,
        "space": len(raw),
    }


@dataclass(frozen=True)
class AccountFilter:
    """`dataSize` or `memcmp`, as getProgramAccounts and programSubscribe take them."""

    data_size: int | None = None
    memcmp: tuple[int, bytes] | None = None

    def matches(self, data: bytes) -> bool:
        if self.data_size is not None:
            return len(data) == self.data_size
        assert self.memcmp is not None
        offset, expected = self.memcmp
        return data[offset : offset + len(expected)] == expected


def parse_filters(value: Any) -> tuple[AccountFilter, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise invalid_params("Invalid params: invalid type: expected a sequence of filters.")
    if len(value) > MAX_FILTERS:
        raise invalid_params(f"Too many filters provided; max {MAX_FILTERS}")
    return tuple(_parse_filter(f) for f in value)


def _parse_filter(f: Any) -> AccountFilter:
    if isinstance(f, dict) and len(f) == 1 and "dataSize" in f:
        if not _is_uint(f["dataSize"]):
            raise invalid_params(f"Invalid params: invalid type: {f['dataSize']!r}, expected u64.")
        return AccountFilter(data_size=f["dataSize"])
    if not (isinstance(f, dict) and len(f) == 1 and isinstance(f.get("memcmp"), dict)):
        raise invalid_params("Invalid params: unknown variant, expected one of `dataSize`, `memcmp`, "
                             "`tokenAccountState`.")
    memcmp = f["memcmp"]
    if not _is_uint(memcmp.get("offset")) or not isinstance(memcmp.get("bytes"), str):
        raise invalid_params("Invalid params: invalid type: expected struct Memcmp.")
    encoding = memcmp.get("encoding", "base58")
    text = memcmp["bytes"]
    if encoding == "base58":
        if len(text) > MAX_DATA_BASE58_SIZE:
            raise invalid_params("Invalid param: DataTooLarge")
        try:
            raw = base58.b58decode(text)
        except ValueError as exc:
            raise invalid_params(f"Invalid param: Base58DecodeError({exc})") from None
    elif encoding == "base64":
        if len(text) > MAX_DATA_BASE64_SIZE:
            raise invalid_params("Invalid param: DataTooLarge")
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise invalid_params(f"Invalid param: Base64DecodeError({exc})") from None
    else:
        raise invalid_params(f"Invalid params: unknown variant `{encoding}`, expected `base58` or `base64`.")
    if len(raw) > MAX_DATA_SIZE:
        raise invalid_params("Invalid param: DataTooLarge")
    return AccountFilter(memcmp=(memcmp["offset"], raw))
