"""Three-hop flash loans land with the exact predicted gain: three Raydium hops fit a plain v0
transaction; with a Whirlpool hop the transaction needs a lookup table, which shrinks it to at most
60 % of the legacy encoding and never carries the tip."""

from __future__ import annotations

import asyncio

from solana.rpc.commitment import Finalized, Processed
from solana.rpc.models import TxOpts
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import (
    CreateLookupTableParams,
    ExtendLookupTableParams,
    create_lookup_table,
    extend_lookup_table,
)

from core.flashloan.builder import BuiltFlashLoan, FlashLoanTxBuilder
from core.protocols import ids
from tests.flashloan.conftest import FlashNet, best_amount, three_hop_route
from tests.localnet.rpc_helpers import signed_v0


async def build_three_hop(
    f: FlashNet, *, whirlpool_first: bool, tables: list[AddressLookupTableAccount] | None = None
) -> BuiltFlashLoan:
    route = await three_hop_route(f, whirlpool_first=whirlpool_first)
    venues = await f.venues(route)
    usdc = f.mint("USDC")
    solend = f.solend()
    await solend.refresh(f.client, usdc)
    amount, legs = best_amount(route, venues, lambda a: solend.fee(usdc, a), 10**6, 30_000 * 10**6)
    builder = FlashLoanTxBuilder(f.wallet)
    before = await f.token_balance(builder.token_account(usdc))
    blockhash = (await f.client.get_latest_blockhash()).value.blockhash
    return builder.build(
        provider=solend, loan_mint=usdc, amount=amount, legs=legs, recent_blockhash=blockhash,
        tip_lamports=10_000, loan_balance_before=before, cu_limit=600_000, cu_price_micro_lamports=1_000,
        lookup_tables=tables or [],
    )


def route_accounts(f: FlashNet, built: BuiltFlashLoan) -> list[Pubkey]:
    keys = [*ids.JITO_TIP_ACCOUNTS]  # on purpose: the builder must keep the tip out of the table anyway
    for leg in built.legs:
        keys += leg.venue.accounts()
    keys += [m.pubkey for ix in built.instructions for m in ix.accounts]
    return [k for k in dict.fromkeys(keys) if k != f.wallet.pubkey()]


async def create_table(f: FlashNet, addresses: list[Pubkey]) -> AddressLookupTableAccount:
    payer = f.wallet
    recent_slot = (await f.client.get_slot(Finalized)).value
    create_ix, table = create_lookup_table(CreateLookupTableParams(
        authority_address=payer.pubkey(), payer_address=payer.pubkey(), recent_slot=recent_slot))
    ixs = [create_ix]
    for i in range(0, len(addresses), 20):
        ixs.append(extend_lookup_table(ExtendLookupTableParams(
            payer_address=payer.pubkey(), lookup_table_address=table, authority_address=payer.pubkey(),
            new_addresses=addresses[i : i + 20])))
    for chunk in (ixs[:2], *([ix] for ix in ixs[2:])):
        blockhash = (await f.client.get_latest_blockhash()).value.blockhash
        tx = signed_v0(payer, list(chunk), blockhash)
        sig = (await f.client.send_transaction(tx, TxOpts(preflight_commitment=Processed))).value
        status = (await f.client.get_signature_statuses([sig])).value[0]
        assert status is not None and status.err is None
    landed = f.net.cluster.slot
    while f.net.cluster.slot <= landed:  # entries are usable from the next slot
        await asyncio.sleep(0.01)
    return AddressLookupTableAccount(table, addresses)


async def test_three_raydium_hops_land_without_a_lookup_table_with_the_exact_gain(flashnet: FlashNet) -> None:
    f = flashnet
    built = await build_three_hop(f, whirlpool_first=False)
    assert [leg.venue.dex for leg in built.legs] == ["raydium_amm_v4"] * 3
    assert built.size <= 1232
    assert built.expected_gain > 0
    before = await f.token_balance(built.loan_token_account)
    assert await f.send_unchecked(bytes(built.tx)) is None
    assert await f.token_balance(built.loan_token_account) - before == built.expected_gain


async def test_whirlpool_route_with_a_lookup_table_is_small_keeps_the_tip_static_and_lands(
    flashnet: FlashNet,
) -> None:
    f = flashnet
    plain = await build_three_hop(f, whirlpool_first=True)
    assert [leg.venue.dex for leg in plain.legs] == ["whirlpool", "raydium_amm_v4", "raydium_amm_v4"]
    assert plain.size > 1232  # too big to send without a table
    table = await create_table(f, route_accounts(f, plain))
    solend = f.solend()
    await solend.refresh(f.client, plain.loan_mint)
    with_alt = FlashLoanTxBuilder(f.wallet).build(
        provider=solend, loan_mint=plain.loan_mint, amount=plain.amount, legs=plain.legs,
        recent_blockhash=(await f.client.get_latest_blockhash()).value.blockhash, tip_lamports=10_000,
        loan_balance_before=plain.loan_balance_before, cu_limit=600_000, cu_price_micro_lamports=1_000,
        lookup_tables=[table], tip_account=plain.tip_account,
    )
    legacy = Message.new_with_blockhash(list(plain.instructions), f.wallet.pubkey(),
                                        plain.tx.message.recent_blockhash)
    legacy_size = 1 + 64 + len(bytes(legacy))
    assert with_alt.size <= 0.6 * legacy_size, (with_alt.size, legacy_size)
    assert with_alt.tip_account in with_alt.tx.message.account_keys
    before = await f.token_balance(with_alt.loan_token_account)
    assert await f.send_unchecked(bytes(with_alt.tx)) is None
    assert await f.token_balance(with_alt.loan_token_account) - before == with_alt.expected_gain
