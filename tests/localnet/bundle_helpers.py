"""Shared pieces of the bundle tests: tip accounts as on mainnet, funded keypairs, tips, tables."""

from __future__ import annotations

import hashlib

from solders.account import Account
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import (
    CreateLookupTableParams,
    ExtendLookupTableParams,
    create_lookup_table,
    extend_lookup_table,
)
from solders.transaction import VersionedTransaction

from core.localnet.cluster import Cluster
from core.protocols import ids
from tests.localnet.rpc_helpers import LAMPORTS_PER_SOL, signed_v0, transfer_ix

TIP = ids.JITO_TIP_ACCOUNTS[3]
TIP_ACCOUNT_DATA_LEN = 8  # TipPaymentAccount: its Anchor discriminator only


def install_tip_accounts(cluster: Cluster) -> None:
    """The 8 tip accounts as mainnet holds them (rent-exempt, owned by the tip-payment program)."""
    discriminator = hashlib.sha256(b"account:TipPaymentAccount").digest()[:8]
    lamports = cluster.svm.minimum_balance_for_rent_exemption(TIP_ACCOUNT_DATA_LEN)
    for address in ids.JITO_TIP_ACCOUNTS:
        account = Account(lamports, discriminator, ids.JITO_TIP_PAYMENT_PROGRAM, False, 0)
        cluster.svm.set_account(address, account)


def funded(cluster: Cluster, lamports: int = 10 * LAMPORTS_PER_SOL) -> Keypair:
    keypair = Keypair()
    cluster.airdrop(keypair.pubkey(), lamports)
    return keypair


def blockhash(cluster: Cluster) -> Hash:
    return cluster.latest_blockhash("processed")[0]


def tip_tx(
    cluster: Cluster, payer: Keypair, lamports: int = 10_000, to: Pubkey = TIP
) -> VersionedTransaction:
    return signed_v0(payer, [transfer_ix(payer, to, lamports)], blockhash(cluster))


def relayed(inner: Instruction) -> Instruction:
    """`inner` re-issued by cpi_relay as a CPI (program account first)."""
    metas = [AccountMeta(inner.program_id, False, False), *inner.accounts]
    return Instruction(ids.CPI_RELAY, bytes([0]) + bytes(inner.data), metas)


def lookup_table(cluster: Cluster, payer: Keypair, addresses: list[Pubkey]) -> AddressLookupTableAccount:
    """A table holding `addresses`, created and extended now and usable from the next slot."""
    create_ix, table = create_lookup_table(
        CreateLookupTableParams(
            authority_address=payer.pubkey(), payer_address=payer.pubkey(), recent_slot=cluster.slot - 1
        )
    )
    extend_ix = extend_lookup_table(
        ExtendLookupTableParams(
            payer_address=payer.pubkey(),
            lookup_table_address=table,
            authority_address=payer.pubkey(),
            new_addresses=addresses,
        )
    )
    record = cluster.submit(signed_v0(payer, [create_ix, extend_ix], blockhash(cluster)))
    assert record.err is None, record.err
    cluster.advance_slot()
    return AddressLookupTableAccount(table, addresses)
