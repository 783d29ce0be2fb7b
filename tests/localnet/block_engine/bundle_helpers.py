"""Building signed bundles for the block-engine tests."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from solders.account import Account
from solders.compute_budget import set_compute_unit_limit
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from core.protocols import ids
from tests.localnet.block_engine.helpers import call
from tests.localnet.conftest import LocalBlockEngine, Localnet
from tests.localnet.rpc_helpers import LAMPORTS_PER_SOL, signed_v0, transfer_ix

TIP = ids.JITO_TIP_ACCOUNTS


def funded(net: Localnet, sol: int = 10) -> Keypair:
    kp = Keypair()
    account = Account(sol * LAMPORTS_PER_SOL, b"", ids.SYSTEM_PROGRAM, False, 0)
    net.cluster.svm.set_account(kp.pubkey(), account)
    return kp


def blockhash(net: Localnet) -> Hash:
    return net.cluster.latest_blockhash("processed")[0]


def tx(payer: Keypair, ixs: list[Instruction], bh: Hash, *, cu_limit: int | None = None,
       signers: list[Keypair] | None = None, lookups: list[Any] | None = None) -> VersionedTransaction:
    if cu_limit is not None:
        ixs = [set_compute_unit_limit(cu_limit), *ixs]
    return signed_v0(payer, ixs, bh, signers=signers, lookups=lookups)


def tip_ix(payer: Keypair, lamports: int, account: int = 0) -> Instruction:
    return transfer_ix(payer, TIP[account], lamports)


def b64(txs: list[VersionedTransaction]) -> list[str]:
    return [base64.b64encode(bytes(t)).decode() for t in txs]


def expected_id(txs: list[VersionedTransaction]) -> str:
    return hashlib.sha256(",".join(str(t.signatures[0]) for t in txs).encode()).hexdigest()


async def send_bundle(be: LocalBlockEngine, txs: list[VersionedTransaction], region: str = "default") -> dict:
    return await call(be.url(region), "/bundles", "sendBundle", [b64(txs), {"encoding": "base64"}])


async def inflight(be: LocalBlockEngine, bid: str) -> dict:
    reply = await call(be.url(), "/getInflightBundleStatuses", "getInflightBundleStatuses", [[bid]])
    return reply["result"]["value"][0]


async def landed(be: LocalBlockEngine, bid: str) -> dict | None:
    reply = await call(be.url(), "/getBundleStatuses", "getBundleStatuses", [[bid]])
    return reply["result"]["value"][0]


def new_recipient() -> Pubkey:
    return Keypair().pubkey()
