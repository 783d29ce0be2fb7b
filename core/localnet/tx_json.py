"""Transactions in RPC JSON form (getTransaction, inner instructions, return data), blockhash replacement."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import base58
from solders.hash import Hash
from solders.message import Message, MessageV0
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import TransactionMetadata

from core.localnet import rpc_errors
from core.localnet.instruction_parser import parse_instruction

if TYPE_CHECKING:
    from core.localnet.cluster import TxRecord


def with_blockhash(tx: VersionedTransaction, blockhash: Hash) -> VersionedTransaction:
    message = tx.message
    if isinstance(message, MessageV0):
        new_message: Message | MessageV0 = MessageV0(
            message.header,
            list(message.account_keys),
            blockhash,
            list(message.instructions),
            list(message.address_table_lookups),
        )
    else:
        header = message.header
        new_message = Message.new_with_compiled_instructions(
            header.num_required_signatures,
            header.num_readonly_signed_accounts,
            header.num_readonly_unsigned_accounts,
            list(message.account_keys),
            blockhash,
            list(message.instructions),
        )
    return VersionedTransaction.populate(new_message, list(tx.signatures))


def inner_instructions_json(meta: TransactionMetadata) -> list[dict[str, Any]]:
    out = []
    for index, inner in enumerate(meta.inner_instructions()):
        if not inner:
            continue
        out.append(
            {
                "index": index,
                "instructions": [
                    {
                        "programIdIndex": ii.instruction().program_id_index,
                        "accounts": list(bytes(ii.instruction().accounts)),
                        "data": base58.b58encode(bytes(ii.instruction().data)).decode(),
                        "stackHeight": ii.stack_height(),
                    }
                    for ii in inner
                ],
            }
        )
    return out


def return_data_json(meta: TransactionMetadata) -> dict[str, Any] | None:
    data = meta.return_data()
    if data is None or not bytes(data.data):
        return None
    encoded = base64.b64encode(bytes(data.data)).decode()
    return {"programId": str(data.program_id), "data": [encoded, "base64"]}


# -- getTransaction ----------------------------------------------------------------------------
def status_json(record: TxRecord) -> dict[str, Any]:
    return {"Ok": None} if record.err_json is None else {"Err": record.err_json}


def meta_json(record: TxRecord, *, parsed: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "err": record.err_json,
        "status": status_json(record),
        "fee": record.fee,
        "preBalances": record.pre_balances,
        "postBalances": record.post_balances,
        "innerInstructions": record.inner_instructions,
        "logMessages": record.logs,
        "preTokenBalances": record.pre_token_balances,
        "postTokenBalances": record.post_token_balances,
        "rewards": [],
        "loadedAddresses": {
            "writable": [str(k) for k in record.loaded.loaded_writable],
            "readonly": [str(k) for k in record.loaded.loaded_readonly],
        },
        "computeUnitsConsumed": record.compute_units,
    }
    if record.return_data is not None:
        meta["returnData"] = record.return_data
    if parsed:
        # jsonParsed lists loaded addresses in accountKeys instead, and names programs and accounts.
        del meta["loadedAddresses"]
        meta["innerInstructions"] = [
            {
                "index": group["index"],
                "instructions": [
                    _ui_instruction(
                        record,
                        ix["programIdIndex"],
                        ix["accounts"],
                        base58.b58decode(ix["data"]),
                        ix["stackHeight"],
                    )
                    for ix in group["instructions"]
                ],
            }
            for group in record.inner_instructions
        ]
    return meta


def _ui_instruction(
    record: TxRecord, program_index: int, accounts: list[int], data: bytes, stack_height: int | None
) -> dict[str, Any]:
    """A parsed instruction when agave has a parser for its program, else partially decoded."""
    keys = record.loaded.keys
    program_id = keys[program_index]
    account_keys = [keys[i] for i in accounts]
    parsed = parse_instruction(program_id, account_keys, data, record.decimals.get)
    if parsed is not None:
        parsed["stackHeight"] = stack_height
        return parsed
    return {
        "programId": str(program_id),
        "accounts": [str(k) for k in account_keys],
        "data": base58.b58encode(data).decode(),
        "stackHeight": stack_height,
    }


def _parsed_message(record: TxRecord) -> dict[str, Any]:
    message = record.tx.message
    loaded = record.loaded
    n_static = len(message.account_keys)
    n_signers = message.header.num_required_signatures
    keys = [str(k) for k in loaded.keys]
    ui: dict[str, Any] = {
        "accountKeys": [
            {
                "pubkey": key,
                "writable": loaded.writable[i],
                "signer": i < n_signers,
                "source": "transaction" if i < n_static else "lookupTable",
            }
            for i, key in enumerate(keys)
        ],
        "recentBlockhash": str(message.recent_blockhash),
        "instructions": [
            _ui_instruction(record, ix.program_id_index, list(bytes(ix.accounts)), bytes(ix.data), None)
            for ix in message.instructions
        ],
    }
    if isinstance(message, MessageV0):
        ui["addressTableLookups"] = _lookups_json(message)
    return ui


def _lookups_json(message: MessageV0) -> list[dict[str, Any]]:
    return [
        {
            "accountKey": str(lookup.account_key),
            "writableIndexes": list(bytes(lookup.writable_indexes)),
            "readonlyIndexes": list(bytes(lookup.readonly_indexes)),
        }
        for lookup in message.address_table_lookups
    ]


def transaction_json(record: TxRecord, encoding: str) -> Any:
    tx = record.tx
    if encoding == "base64":
        return [base64.b64encode(bytes(tx)).decode(), "base64"]
    if encoding == "base58":
        return [base58.b58encode(bytes(tx)).decode(), "base58"]
    if encoding == "jsonParsed":
        return {"signatures": [str(s) for s in tx.signatures], "message": _parsed_message(record)}
    message = tx.message
    header = message.header
    ui_message: dict[str, Any] = {
        "accountKeys": [str(k) for k in message.account_keys],
        "header": {
            "numRequiredSignatures": header.num_required_signatures,
            "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
            "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
        },
        "recentBlockhash": str(message.recent_blockhash),
        "instructions": [
            {
                "programIdIndex": ix.program_id_index,
                "accounts": list(bytes(ix.accounts)),
                "data": base58.b58encode(bytes(ix.data)).decode(),
                "stackHeight": None,
            }
            for ix in message.instructions
        ],
    }
    if isinstance(message, MessageV0):
        ui_message["addressTableLookups"] = _lookups_json(message)
    return {"signatures": [str(s) for s in tx.signatures], "message": ui_message}


def _version_json(record: TxRecord, max_version: int | None) -> Any:
    """The `version` field, or -32015 for a v0 transaction the client did not opt into."""
    version = record.tx.version()
    if isinstance(version, int):
        if max_version is None or version > max_version:
            raise rpc_errors.unsupported_transaction_version(version)
        return version
    return "legacy"


def encoded_with_meta(record: TxRecord, encoding: str, max_version: int | None) -> dict[str, Any]:
    """agave's EncodedTransactionWithStatusMeta: transaction, meta, and version when asked."""
    version = _version_json(record, max_version)
    out: dict[str, Any] = {
        "transaction": transaction_json(record, encoding),
        "meta": meta_json(record, parsed=encoding == "jsonParsed"),
    }
    if max_version is not None:
        out["version"] = version
    return out


def accounts_only(record: TxRecord, max_version: int | None) -> dict[str, Any]:
    """getBlock's transactionDetails "accounts": signatures and account keys, balances only."""
    version = _version_json(record, max_version)
    parsed = _parsed_message(record)
    meta = meta_json(record)
    out: dict[str, Any] = {
        "transaction": {
            "signatures": [str(s) for s in record.tx.signatures],
            "accountKeys": parsed["accountKeys"],
        },
        "meta": {
            k: meta[k]
            for k in (
                "err",
                "status",
                "fee",
                "preBalances",
                "postBalances",
                "preTokenBalances",
                "postTokenBalances",
            )
        },
    }
    if max_version is not None:
        out["version"] = version
    return out
