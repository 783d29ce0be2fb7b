"""Transaction pieces in RPC JSON form (inner instructions, return data), and blockhash replacement."""

from __future__ import annotations

import base64
from typing import Any

import base58
from solders.hash import Hash
from solders.message import Message, MessageV0
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import TransactionMetadata


def with_blockhash(tx: VersionedTransaction, blockhash: Hash) -> VersionedTransaction:
    message = tx.message
    if isinstance(message, MessageV0):
        new_message: Message | MessageV0 = MessageV0(
            message.header, list(message.account_keys), blockhash, list(message.instructions),
            list(message.address_table_lookups),
        )
    else:
        header = message.header
        new_message = Message.new_with_compiled_instructions(
            header.num_required_signatures, header.num_readonly_signed_accounts,
            header.num_readonly_unsigned_accounts, list(message.account_keys), blockhash,
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
