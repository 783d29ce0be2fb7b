"""`simulateBundle` as Jito-Solana RPC nodes serve it (jito-solana `rpc/src/rpc/bundles.rs`).

Transactions run in order, each on the state the previous ones left, without the bank's age and
status-cache checks ("unchecked", as Jito simulates); the first failure ends the run and names
the bundle's summary. Everything is rolled back afterwards: simulation never changes state.

Differences from a Jito-Solana node, all from having a single working bank: `simulationBank`
picks the slot reported in `context` but the run always reads the working state, and
`loadedAccountsDataSize` counts each loaded account's data plus agave's per-account and
per-lookup-table base sizes without following upgradeable programs to their program data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from solders.account import Account
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from core.localnet import tx_inspect
from core.localnet.account_encoding import AccountEncoding, encode_account
from core.localnet.bundle_execution import Step, UncommittedRun
from core.localnet.cluster import FINALIZATION_DEPTH, Cluster
from core.localnet.rpc_errors import invalid_params
from core.localnet.rpc_params import (
    bool_option,
    commitment_option,
    decode_transaction,
    json_kind,
    pubkey_param,
    uint_param,
)
from core.localnet.token_balances import MintDecimals, token_balances
from core.localnet.tx_errors import error_text
from core.localnet.tx_json import return_data_json, with_blockhash
from core.protocols import ids

MAX_BUNDLES_SIMULATED = 20
MAX_TX_ACCOUNT_LOCKS = 64  # bank.get_transaction_account_lock_limit()
TRANSACTION_ACCOUNT_BASE_SIZE = 64  # agave: loaded-accounts data size charged per account
ADDRESS_LOOKUP_TABLE_BASE_SIZE = 8_248  # agave: charged per lookup table loaded
_BASE64 = AccountEncoding("base64")
_TX_ENCODINGS = ("binary", "base64", "base58", "json", "jsonParsed")
_ACCOUNT_ENCODINGS = ("binary", "base58", "base64", "jsonParsed", "base64+zstd")
# What the bank hands back for an address that holds no account (AccountSharedData::default()).
_DEFAULT_ACCOUNT = Account(0, b"", ids.SYSTEM_PROGRAM, False, 0)


@dataclass(frozen=True)
class AccountsConfig:
    """One `RpcSimulateTransactionAccountsConfig`: the addresses to report (always base64)."""

    addresses: list[Pubkey]


@dataclass(frozen=True)
class SimulateBundleRequest:
    txs: list[VersionedTransaction]
    pre_configs: list[AccountsConfig | None]
    post_configs: list[AccountsConfig | None]
    skip_sig_verify: bool
    replace_recent_blockhash: bool
    bank_slot: int


# -- request parsing -------------------------------------------------------------------------------
def parse_request(cluster: Cluster, params: list[Any]) -> SimulateBundleRequest:
    """`[{"encodedTransactions": [...]}, config?]`, checked in the order the Jito node checks it."""
    if not params:
        raise invalid_params("Invalid params: invalid length 0, expected RpcBundleRequest.")
    request = params[0]
    if not isinstance(request, dict):
        raise invalid_params(
            f"Invalid params: invalid type: {json_kind(request)}, expected struct RpcBundleRequest."
        )
    encoded = request.get("encodedTransactions")
    if encoded is None:
        raise invalid_params("Invalid params: missing field `encodedTransactions`.")
    if not isinstance(encoded, list):
        raise invalid_params(f"Invalid params: invalid type: {json_kind(encoded)}, expected a sequence.")
    if len(encoded) > MAX_BUNDLES_SIMULATED:
        raise invalid_params(f"bundle size too large, max {MAX_BUNDLES_SIMULATED} transactions")
    raw_cfg = params[1] if len(params) > 1 else None
    if raw_cfg is None:
        cfg: dict[str, Any] = {
            "preExecutionAccountsConfigs": [None] * len(encoded),
            "postExecutionAccountsConfigs": [None] * len(encoded),
        }
    elif isinstance(raw_cfg, dict):
        cfg = raw_cfg
    else:
        raise invalid_params(
            f"Invalid params: invalid type: {json_kind(raw_cfg)}, expected struct RpcSimulateBundleConfig."
        )
    for key in ("preExecutionAccountsConfigs", "postExecutionAccountsConfigs"):
        if key not in cfg:
            raise invalid_params(f"Invalid params: missing field `{key}`.")
    pre = parse_accounts_configs(cfg["preExecutionAccountsConfigs"], len(encoded), "pre")
    post = parse_accounts_configs(cfg["postExecutionAccountsConfigs"], len(encoded), "post")
    tx_encoding = cfg.get("transactionEncoding")
    if tx_encoding is not None:
        if tx_encoding not in _TX_ENCODINGS:
            raise invalid_params(
                f"Invalid params: unknown variant `{tx_encoding}`, expected one of `binary`, `base64`, "
                "`base58`, `json`, `jsonParsed`."
            )
        if tx_encoding != "base64":
            raise invalid_params("Base64 is the only supported encoding for transactions")
    txs: list[VersionedTransaction] = []
    hashes = set()
    for item in encoded:
        _, tx = decode_transaction(item, "base64")
        digest = tx.message.hash()
        if digest in hashes:
            raise invalid_params("duplicate transactions")
        hashes.add(digest)
        txs.append(tx)
    bank_slot = _bank_slot(cluster, cfg.get("simulationBank"))
    return SimulateBundleRequest(
        txs=txs,
        pre_configs=pre,
        post_configs=post,
        skip_sig_verify=bool_option(cfg, "skipSigVerify"),
        replace_recent_blockhash=bool_option(cfg, "replaceRecentBlockhash"),
        bank_slot=bank_slot,
    )


def parse_accounts_configs(raw: Any, n: int, which: str) -> list[AccountsConfig | None]:
    """`pre`/`postExecutionAccountsConfigs`: one item (or null) per transaction, base64 only."""
    if raw is None:
        return [None] * n
    if not isinstance(raw, list):
        raise invalid_params(f"Invalid params: invalid type: {json_kind(raw)}, expected a sequence.")
    if len(raw) != n:
        raise invalid_params(
            "pre/post_execution_accounts_configs must be equal in length to the number of transactions"
        )
    out: list[AccountsConfig | None] = []
    for item in raw:
        if item is None:
            out.append(None)
            continue
        if not isinstance(item, dict) or not isinstance(item.get("addresses"), list):
            raise invalid_params(
                "Invalid params: invalid type: expected struct RpcSimulateTransactionAccountsConfig."
            )
        encoding = item.get("encoding")
        if encoding is not None and encoding not in _ACCOUNT_ENCODINGS:
            raise invalid_params(
                f"Invalid params: unknown variant `{encoding}`, expected one of `binary`, `base58`, "
                "`base64`, `jsonParsed`, `base64+zstd`."
            )
        if encoding not in (None, "base64"):
            raise invalid_params(f"Base64 is the only supported encoding for {which}-execution accounts")
        if len(item["addresses"]) > MAX_TX_ACCOUNT_LOCKS:
            raise invalid_params(f"Too many accounts provided; max {MAX_TX_ACCOUNT_LOCKS}")
        out.append(AccountsConfig([pubkey_param(a) for a in item["addresses"]]))
    return out


def _bank_slot(cluster: Cluster, raw: Any) -> int:
    """The slot `simulationBank` names: a commitment (default confirmed), a slot, or "tip"."""
    if raw is None:
        return cluster.commitment_slot("confirmed")
    if raw == "tip":
        return cluster.slot
    if isinstance(raw, dict) and len(raw) == 1 and "commitment" in raw:
        inner = raw["commitment"]
        if not isinstance(inner, dict):
            raise invalid_params(
                f"Invalid params: invalid type: {json_kind(inner)}, expected struct CommitmentConfig."
            )
        return cluster.commitment_slot(commitment_option(inner))
    if isinstance(raw, dict) and len(raw) == 1 and "slot" in raw:
        slot = uint_param(raw["slot"])
        if not max(cluster.slot - FINALIZATION_DEPTH, 0) <= slot <= cluster.slot:
            raise invalid_params(f"bank not found for the provided slot: {slot}")
        return slot
    raise invalid_params(
        "Invalid params: unknown variant, expected one of `commitment`, `slot`, `tip`."
    )


# -- simulation ------------------------------------------------------------------------------------
def simulate(
    cluster: Cluster,
    txs: Sequence[VersionedTransaction],
    pre_configs: Sequence[AccountsConfig | None],
    post_configs: Sequence[AccountsConfig | None],
    *,
    skip_sig_verify: bool,
    replace_recent_blockhash: bool,
) -> dict[str, Any]:
    """The `value` of simulateBundle's result: `summary` and one entry per executed transaction."""
    replacement: dict[str, Any] | None = None
    if replace_recent_blockhash:
        if not skip_sig_verify:
            raise invalid_params("replace_recent_blockhash cannot be used with !skip_sig_verify")
        blockhash, last_valid = cluster.latest_blockhash("processed")
        replacement = {"blockhash": str(blockhash), "lastValidBlockHeight": last_valid}
        txs = [with_blockhash(tx, blockhash) for tx in txs]
    for tx in txs:
        _check_sanitized(tx)
    if not skip_sig_verify:
        for tx in txs:
            if not all(tx.verify_with_results()):
                raise invalid_params(
                    f"transaction signature is invalid: {error_text('SignatureFailure')}"
                )
    decimals = MintDecimals(cluster.svm.get_account)
    run = UncommittedRun(cluster.svm)
    results: list[dict[str, Any]] = []
    summary: Any = "succeeded"
    try:
        for tx, pre_cfg, post_cfg in zip(txs, pre_configs, post_configs, strict=True):
            pre_accounts = _report(cluster, pre_cfg, decimals)
            step = run.execute(tx)
            post_accounts = _report(cluster, post_cfg, decimals)
            results.append(_tx_result(step, pre_accounts, post_accounts, replacement, decimals))
            if step.err is not None:
                signature = tx.signatures[0]
                summary = {
                    "failed": {
                        # serde writes the Signature inside the error as its 64 bytes.
                        "error": {"TransactionFailure": [list(bytes(signature)), error_text(step.err_json)]},
                        "tx_signature": str(signature),
                    }
                }
                break
    finally:
        run.rollback()
    return {"summary": summary, "transactionResults": results}


def _check_sanitized(tx: VersionedTransaction) -> None:
    try:
        tx.sanitize()
        sane = len(tx.signatures) == tx.message.header.num_required_signatures
    except Exception:  # solders raises its own SanitizeError type
        sane = False
    if not sane:
        raise invalid_params(f"invalid transaction: {error_text('SanitizeFailure')}")


def _report(cluster: Cluster, cfg: AccountsConfig | None, decimals: MintDecimals) -> list[dict[str, Any]]:
    if cfg is None:
        return []
    get = cluster.svm.get_account
    return [encode_account(get(key) or _DEFAULT_ACCOUNT, _BASE64, decimals.get) for key in cfg.addresses]


def _tx_result(
    step: Step,
    pre_accounts: list[dict[str, Any]],
    post_accounts: list[dict[str, Any]],
    replacement: dict[str, Any] | None,
    decimals: MintDecimals,
) -> dict[str, Any]:
    keys = step.loaded.keys
    return {
        "err": step.err_json,
        "logs": step.logs,
        "preExecutionAccounts": pre_accounts,
        "postExecutionAccounts": post_accounts,
        "unitsConsumed": step.compute_units,
        "loadedAccountsDataSize": _loaded_accounts_data_size(step),
        "returnData": return_data_json(step.meta) if step.meta is not None else None,
        "replacementBlockhash": replacement,
        "fee": tx_inspect.fee_for(step.tx.message),
        "preBalances": [a.lamports if a is not None else 0 for a in step.pre],
        "postBalances": [a.lamports if a is not None else 0 for a in step.post],
        "preTokenBalances": token_balances(keys, step.pre, decimals),
        "postTokenBalances": token_balances(keys, step.post, decimals),
        "loadedAddresses": {
            "writable": [str(k) for k in step.loaded.loaded_writable],
            "readonly": [str(k) for k in step.loaded.loaded_readonly],
        },
    }


def _loaded_accounts_data_size(step: Step) -> int:
    size = sum(
        TRANSACTION_ACCOUNT_BASE_SIZE + (len(a.data) if a is not None else 0) for a in step.pre
    )
    message = step.tx.message
    if isinstance(message, MessageV0):
        size += ADDRESS_LOOKUP_TABLE_BASE_SIZE * len(message.address_table_lookups)
    return size
