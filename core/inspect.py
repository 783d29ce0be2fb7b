"""Decode any account the engine knows into plain JSON-able fields (`arbtui inspect`).

The kind comes from the owner program and then the size or the Anchor discriminator, the way the
feed tells accounts apart; the decoders are the ones in core/protocols, so what `inspect` prints
is exactly what the engine sees. Integers stay integers (u128 included), pubkeys become base58.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey
from solders.token.state import Mint, TokenAccount, TokenAccountState

from core.protocols import ids, raydium_amm, solend, spl_token, whirlpool
from core.protocols.errors import DecodeError

__all__ = [
    "KINDS",
    "AccountData",
    "DecodeError",
    "InspectError",
    "Inspected",
    "UnknownAccountError",
    "decode_account",
    "detect_kind",
    "fetch_account",
    "load_account_file",
    "parse_account_json",
    "render_text",
    "to_jsonable",
]


class InspectError(Exception):
    """The account could not be read at all: bad file, bad JSON, bad pubkey, RPC failure."""


class UnknownAccountError(Exception):
    """The account exists but is none of the kinds the engine decodes."""

    def __init__(self, address: Pubkey, owner: Pubkey, size: int) -> None:
        self.address, self.owner, self.size = address, owner, size
        super().__init__(f"unknown account {address}: owner {owner}, {size} bytes is no kind arbtui decodes")


@dataclass(frozen=True, slots=True)
class AccountData:
    address: Pubkey
    owner: Pubkey
    lamports: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Inspected:
    kind: str
    account: AccountData
    value: Any  # the decoder's typed object

    def fields(self) -> dict[str, Any]:
        return to_jsonable(self.value)  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        """`kind`, `address`, `program`, `lamports`, then the decoded fields (on-chain names)."""
        head: dict[str, Any] = {
            "kind": self.kind,
            "address": str(self.account.address),
            "program": str(self.account.owner),
            "lamports": self.account.lamports,
        }
        fields = self.fields()
        clash = head.keys() & fields.keys()
        assert not clash, f"decoded fields shadow {clash}"
        return head | fields


Decoder = Callable[[bytes, object], Any]

# kind -> (owner program, decoder)
KINDS: dict[str, tuple[Pubkey, Decoder]] = {
    "raydium_amm_v4": (ids.RAYDIUM_AMM_V4, raydium_amm.decode_amm_info),
    "whirlpool": (ids.ORCA_WHIRLPOOL, whirlpool.decode_whirlpool),
    "whirlpool_tick_array": (ids.ORCA_WHIRLPOOL, whirlpool.decode_tick_array),
    "spl_token_account": (ids.TOKEN_PROGRAM, spl_token.decode_token_account),
    "spl_mint": (ids.TOKEN_PROGRAM, spl_token.decode_mint),
    "solend_reserve": (ids.SOLEND, solend.decode_reserve),
    "solend_lending_market": (ids.SOLEND, solend.decode_lending_market),
}

_BY_SIZE: dict[tuple[Pubkey, int], str] = {
    (ids.RAYDIUM_AMM_V4, raydium_amm.AMM_INFO_LEN): "raydium_amm_v4",
    (ids.TOKEN_PROGRAM, spl_token.TOKEN_ACCOUNT_LEN): "spl_token_account",
    (ids.TOKEN_PROGRAM, spl_token.MINT_LEN): "spl_mint",
    (ids.SOLEND, solend.RESERVE_LEN): "solend_reserve",
    (ids.SOLEND, solend.LENDING_MARKET_LEN): "solend_lending_market",
}

_BY_DISCRIMINATOR: dict[bytes, str] = {
    whirlpool.WHIRLPOOL_DISCRIMINATOR: "whirlpool",
    whirlpool.TICK_ARRAY_DISCRIMINATOR: "whirlpool_tick_array",
    whirlpool.DYNAMIC_TICK_ARRAY_DISCRIMINATOR: "whirlpool_tick_array",
}


def detect_kind(owner: Pubkey, data: bytes) -> str | None:
    """The kind of an account of `owner` holding `data`, or None when arbtui does not decode it."""
    if owner == ids.ORCA_WHIRLPOOL:  # Anchor accounts: the discriminator says what it is
        return _BY_DISCRIMINATOR.get(bytes(data[:8]))
    return _BY_SIZE.get((owner, len(data)))


def decode_account(account: AccountData) -> Inspected:
    """Raises UnknownAccountError for a kind arbtui does not decode, DecodeError for a malformed one."""
    kind = detect_kind(account.owner, account.data)
    if kind is None:
        raise UnknownAccountError(account.address, account.owner, len(account.data))
    return Inspected(kind, account, KINDS[kind][1](account.data, account.address))


# -- to JSON ---------------------------------------------------------------------------------------

_TOKEN_ACCOUNT_FIELDS = (
    "mint", "owner", "amount", "delegate", "state", "is_native", "delegated_amount", "close_authority",
)
_MINT_FIELDS = ("mint_authority", "supply", "decimals", "is_initialized", "freeze_authority")
# solders' TokenAccountState is not hashable; its int is the on-chain byte.
_TOKEN_STATES = {0: "uninitialized", 1: "initialized", 2: "frozen"}


def to_jsonable(value: Any) -> Any:
    """Decoded objects as JSON values: ints stay ints, pubkeys base58, raw bytes hex."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        return int(value.value) if isinstance(value.value, int) else value.name
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Pubkey):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, TokenAccountState):
        return _TOKEN_STATES[int(value)]
    if isinstance(value, TokenAccount):
        return {name: to_jsonable(getattr(value, name)) for name in _TOKEN_ACCOUNT_FIELDS}
    if isinstance(value, Mint):
        return {name: to_jsonable(getattr(value, name)) for name in _MINT_FIELDS}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    raise TypeError(f"no JSON form for {type(value).__name__}")


# -- human output ----------------------------------------------------------------------------------


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, item, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        # Tick arrays hold 88 ticks; an uninitialized tick is all zeros and only adds noise.
        shown = [(i, v) for i, v in enumerate(value) if v.get("initialized", True)]
        if len(shown) != len(value):
            out.append((prefix, f"{len(shown)} of {len(value)} initialized (others omitted)"))
        for i, item in shown:
            _flatten(f"{prefix}[{i}]", item, out)
    elif isinstance(value, list):
        out.append((prefix, ", ".join(json.dumps(v) for v in value)))
    else:
        text = "-" if value is None else json.dumps(value) if isinstance(value, bool) else str(value)
        out.append((prefix, text))


def render_text(inspected: Inspected) -> str:
    """One aligned `field: value` line per decoded field (nested fields dotted)."""
    rows: list[tuple[str, str]] = []
    _flatten("", inspected.to_dict(), rows)
    width = max(len(name) for name, _ in rows) + 1
    return "\n".join(f"{name + ':':<{width}} {value}" for name, value in rows)


# -- reading accounts ------------------------------------------------------------------------------


def parse_pubkey(text: str, what: str = "pubkey") -> Pubkey:
    try:
        return Pubkey.from_string(text.strip())
    except Exception:  # solders raises its own ParseHashError / ValueError
        raise InspectError(f"{what} {text!r} is not a base58 public key") from None


def parse_account_json(doc: Any) -> AccountData:
    """An account in `solana account --output json` form: {"pubkey", "account": {"data": [b64,
    "base64"], "owner", "lamports", ...}} (also base58 data and a bare RPC `value`)."""
    if not isinstance(doc, dict):
        raise InspectError("expected a JSON object with 'pubkey' and 'account'")
    account = doc.get("account", doc)
    if not isinstance(account, dict):
        raise InspectError("'account' must be an object")
    address = parse_pubkey(str(doc.get("pubkey", "")), "pubkey") if "pubkey" in doc else Pubkey.default()
    owner = parse_pubkey(str(account.get("owner", "")), "owner")
    lamports = account.get("lamports", 0)
    if not isinstance(lamports, int) or isinstance(lamports, bool) or lamports < 0:
        raise InspectError(f"lamports {lamports!r} is not a non-negative integer")
    return AccountData(address, owner, lamports, _account_bytes(account.get("data")))


def _account_bytes(data: Any) -> bytes:
    if not (isinstance(data, list) and len(data) == 2 and all(isinstance(x, str) for x in data)):
        raise InspectError("'account.data' must be [<data>, <encoding>]")
    text, encoding = data
    try:
        if encoding == "base64":
            return base64.b64decode(text, validate=True)
        if encoding == "base58":
            import base58  # solana-py's own dependency

            return base58.b58decode(text)
    except Exception as exc:
        raise InspectError(f"account data is not valid {encoding}: {exc}") from None
    raise InspectError(f"unsupported data encoding {encoding!r} (expected base64 or base58)")


def load_account_file(path: Path) -> AccountData:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InspectError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InspectError(f"{path} is not a text file") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InspectError(f"{path} is not JSON: {exc}") from None
    return parse_account_json(doc)


async def fetch_account(url: str, address: Pubkey, timeout: float = 10.0) -> AccountData | None:
    """The account at `address` from a JSON-RPC node (None if it does not exist); InspectError on
    any transport or RPC failure."""
    from solana.rpc.async_api import AsyncClient

    try:
        async with AsyncClient(url, timeout=timeout) as client:
            resp = await client.get_account_info(address, encoding="base64")
    except Exception as exc:  # httpx / solana-py / solders parse errors all mean "no answer"
        raise InspectError(f"RPC {url}: {_describe(exc)}") from None
    value = resp.value
    if value is None:
        return None
    return AccountData(address, value.owner, value.lamports, bytes(value.data))


def _describe(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(exc) or type(exc).__name__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text
