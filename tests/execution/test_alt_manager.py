"""Lookup tables on the local cluster: recurring accounts tabled in ≤ 20-address batches, warmed
up, used, persisted, reused after a restart, and worth ≥ 40 % on a 3-hop route."""

from __future__ import annotations

from pathlib import Path

from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from core.execution.alt_manager import LookupTableManager, ManagedTable
from core.execution.compute import budget_instructions
from core.execution.rpc import JsonRpc
from core.protocols import ids
from core.store import StoreReader, StoreWriter
from tests.execution.conftest import Stack
from tests.localnet.rpc_helpers import transfer_ix


def swap(
    program: Pubkey, pool_accounts: list[Pubkey], user: Keypair, user_tokens: list[Pubkey]
) -> Instruction:
    metas = [AccountMeta(ids.TOKEN_PROGRAM, False, False)]
    metas += [AccountMeta(k, False, True) for k in pool_accounts]
    metas += [AccountMeta(k, False, True) for k in user_tokens]
    metas.append(AccountMeta(user.pubkey(), True, False))
    return Instruction(program, bytes(17), metas)


def three_hop_route(user: Keypair) -> list[Instruction]:
    tokens = [Pubkey.new_unique() for _ in range(3)]
    raydium = [Pubkey.new_unique() for _ in range(16)]  # amm, authority, orders, vaults, serum market …
    whirl = [Pubkey.new_unique() for _ in range(8)]  # whirlpool, vaults, 3 tick arrays, oracle
    raydium_2 = [Pubkey.new_unique() for _ in range(16)]
    return [
        *budget_instructions(600_000, 1_000),
        swap(ids.RAYDIUM_AMM_V4, raydium, user, tokens[:2]),
        swap(ids.ORCA_WHIRLPOOL, whirl, user, tokens[1:]),
        swap(ids.RAYDIUM_AMM_V4, raydium_2, user, [tokens[2], tokens[0]]),
        transfer_ix(user, ids.JITO_TIP_ACCOUNTS[0], 10_000),
    ]


def test_tip_accounts_and_signers_are_never_candidates() -> None:
    import httpx

    authority = Keypair()
    manager = LookupTableManager(JsonRpc(httpx.AsyncClient()), "http://unused", authority)
    user = Keypair()
    route = three_hop_route(user)
    manager.observe_instructions(route)
    assert manager.candidates() == []  # seen once: not recurring yet
    manager.observe_instructions(route)
    candidates = set(manager.candidates())
    assert ids.JITO_TIP_ACCOUNTS[0] not in candidates
    assert user.pubkey() not in candidates and authority.pubkey() not in candidates
    assert ids.RAYDIUM_AMM_V4 in candidates and ids.TOKEN_PROGRAM in candidates
    # pools, user token accounts, programs (Raydium, Whirlpool, Token, System, ComputeBudget)
    assert len(candidates) == 16 + 8 + 16 + 3 + 5


async def test_recurring_accounts_are_tabled_in_batches_warmed_up_and_used(
    stack: Stack, tmp_path: Path
) -> None:
    authority = stack.funded()
    writer = StoreWriter(tmp_path, "live")
    manager = LookupTableManager(JsonRpc(stack.http), stack.rpc_url, authority, writer=writer, poll_s=0.005)
    recipients = [Pubkey.new_unique() for _ in range(45)]
    for _ in range(2):
        manager.observe(recipients)
    sent_before = stack.net.cluster.slot
    (table,) = await manager.sync()
    assert sorted(map(str, table.addresses)) == sorted(map(str, recipients))
    assert stack.net.cluster.slot > table.last_extended_slot >= sent_before  # warmed up
    onchain = await manager.fetch(table.address)
    assert onchain is not None and list(onchain.addresses) == table.addresses
    # three transactions: create + 20, extend 20, extend 5 (no extension above the 20 batch)
    assert len(stack.net.cluster.signatures_for_address(table.address)) == 3

    payer = stack.funded()
    ixs = [transfer_ix(payer, r, 1_000_000) for r in recipients[:25]]
    message = await manager.compile(payer.pubkey(), ixs, stack.blockhash()[0])
    assert message.address_table_lookups and message.address_table_lookups[0].account_key == table.address
    tx = VersionedTransaction(message, [payer])
    record = stack.net.cluster.submit(tx)
    assert record.err is None
    await writer.close()

    restarted = LookupTableManager(JsonRpc(stack.http), stack.rpc_url, authority, poll_s=0.005)
    with StoreReader(tmp_path, "live") as reader:
        restarted.load(reader)
    assert await restarted.verify() == []
    assert [t.address for t in restarted.tables] == [table.address]
    restarted.observe(recipients)
    restarted.observe(recipients)
    assert restarted.candidates() == [] and await restarted.sync() == []  # reused, nothing new sent


async def test_three_hop_route_is_at_least_40_percent_smaller_with_tables(stack: Stack) -> None:
    authority = stack.funded()
    manager = LookupTableManager(JsonRpc(stack.http), stack.rpc_url, authority, poll_s=0.005)
    user = Keypair()
    route = three_hop_route(user)
    manager.observe_instructions(route)
    manager.observe_instructions(route)
    await manager.sync()
    blockhash = stack.blockhash()[0]
    legacy_message = Message.new_with_blockhash(route, user.pubkey(), blockhash)
    legacy = len(bytes(VersionedTransaction(legacy_message, [user])))
    v0 = len(bytes(VersionedTransaction(await manager.compile(user.pubkey(), route, blockhash), [user])))
    assert legacy > 1232 >= v0  # legacy does not even fit in a packet
    assert v0 <= 0.6 * legacy, (legacy, v0)


async def test_stale_tables_are_deactivated_and_only_closed_after_the_cooldown(stack: Stack) -> None:
    authority = stack.funded()
    manager = LookupTableManager(JsonRpc(stack.http), stack.rpc_url, authority, poll_s=0.005)
    keys = [Pubkey.new_unique() for _ in range(3)]
    manager.observe(keys)
    manager.observe(keys)
    (table,) = await manager.sync()
    assert await manager.deactivate_stale(max_idle_s=3600) == []
    (stale,) = await manager.deactivate_stale(max_idle_s=-1)
    assert stale is table and table.deactivated_slot is not None
    onchain = await manager.fetch(table.address)
    assert onchain is not None and onchain.meta.deactivation_slot == table.deactivated_slot
    assert await manager.usable() == []
    assert await manager.close_deactivated() == []  # 512 slots must pass first


def test_addresses_appended_in_a_slot_wait_for_the_next_while_the_older_ones_stay_usable() -> None:
    # The ALT program's get_active_addresses_len: in the slot of the last extension only the
    # addresses before last_extended_slot_start_index resolve.
    a = [Pubkey.new_unique() for _ in range(5)]
    table = ManagedTable(Pubkey.new_unique(), created_slot=10, addresses=a[:3], last_extended_slot=10)
    assert table.active_addresses(10) == [] and table.active_addresses(11) == a[:3]
    table.extended_from, table.addresses, table.last_extended_slot = 3, list(a), 20
    assert table.active_addresses(20) == a[:3] and table.active_addresses(21) == a
    table.deactivated_slot = 30
    assert table.active_addresses(31) == []
