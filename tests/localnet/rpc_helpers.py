"""Small helpers for the RPC tests: raw JSON-RPC calls and signed transfers."""

from __future__ import annotations

from typing import Any

import httpx
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

LAMPORTS_PER_SOL = 1_000_000_000


async def rpc(url: str, method: str, params: list[Any] | None = None) -> dict[str, Any]:
    """One raw JSON-RPC call; returns the whole reply object (result or error)."""
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        )
    assert reply.status_code == 200, reply.text
    return reply.json()


def transfer_ix(payer: Keypair, to: Pubkey, lamports: int) -> Instruction:
    return transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=lamports))


def signed_v0(
    payer: Keypair,
    ixs: list[Instruction],
    blockhash: Hash,
    signers: list[Keypair] | None = None,
    lookups: list[Any] | None = None,
) -> VersionedTransaction:
    message = MessageV0.try_compile(payer.pubkey(), ixs, lookups or [], blockhash)
    return VersionedTransaction(message, signers or [payer])


def signed_legacy(payer: Keypair, ixs: list[Instruction], blockhash: Hash) -> VersionedTransaction:
    return VersionedTransaction(Message.new_with_blockhash(ixs, payer.pubkey(), blockhash), [payer])


async def freeze_clock(localnet: Any) -> None:
    """Hold the slot clock (the stall fault) so a test steps slots itself with advance_slot()."""
    import asyncio

    localnet.faults.stall_slot_ms = 600_000
    while localnet.faults.stall_slot_ms:
        await asyncio.sleep(0.01)
