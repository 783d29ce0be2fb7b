"""Genesis Whirlpools: pools at their PDAs with initialized ticks, arrays and funded vaults, tradable."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from solders.transaction_metadata import TransactionMetadata

from core.localnet.accounts import set_mint, set_token_account, token_amount
from core.localnet.genesis import Token
from core.localnet.genesis_whirlpool import DEFAULT_PAIRS, WHIRLPOOLS_CONFIG, WhirlpoolPool, add_whirlpools
from core.localnet.programs import load_programs
from core.protocols import ids
from core.protocols.spl_token import decode_token_account
from core.protocols.whirlpool import (
    decode_tick_array,
    decode_whirlpool,
    get_start_tick_indexes,
    swap_for_pool,
    tick_array_address,
    whirlpool_address,
)
from core.quote.whirlpool import swap

SEED = 7
TOKENS = (
    Token("SOL", ids.NATIVE_MINT, 9, 180.0),
    Token("USDC", ids.USDC_MINT, 6, 1.0),
    Token("USDT", ids.USDT_MINT, 6, 1.0002),
    Token("mSOL", Pubkey.from_string("mSoLzYCxHdYgdzU16g5QSh3i5K3z3KZK7ytfqcJm7So"), 9, 220.0),
    Token("JUP", Pubkey.new_unique(), 6, 0.9),
    Token("BONK", Pubkey.new_unique(), 5, 0.000025),
    Token("WIF", Pubkey.new_unique(), 6, 2.1),
)


def genesis(seed: int = SEED) -> tuple[LiteSVM, tuple[WhirlpoolPool, ...], dict[Pubkey, int]]:
    svm = LiteSVM()
    handed_out: dict[Pubkey, int] = {}

    def counting(svm_: LiteSVM, address: Pubkey, mint: Pubkey, owner: Pubkey, amount: int) -> None:
        set_token_account(svm_, address, mint, owner, amount)
        handed_out[mint] = handed_out.get(mint, 0) + amount

    pools = add_whirlpools(svm, random.Random(seed), TOKENS, seed=seed, set_token_account=counting)
    for t in TOKENS:
        set_mint(svm, t.mint, t.decimals)
    return svm, pools, handed_out


def data_of(svm: LiteSVM, key: Pubkey) -> bytes:
    acc = svm.get_account(key)
    assert acc is not None, f"missing account {key}"
    return bytes(acc.data)


def test_every_default_pair_becomes_a_pool_at_its_pda_with_ticks_around_the_price() -> None:
    svm, pools, _ = genesis()
    assert len(pools) == len(DEFAULT_PAIRS)
    by_symbol = {t.symbol: t for t in TOKENS}
    for p in pools:
        pool = decode_whirlpool(data_of(svm, p.address), p.address)
        address, bump = whirlpool_address(
            WHIRLPOOLS_CONFIG, pool.token_mint_a, pool.token_mint_b, pool.tick_spacing
        )
        assert (address, bump) == (p.address, pool.whirlpool_bump)
        assert bytes(pool.token_mint_a) < bytes(pool.token_mint_b)
        assert pool.liquidity > 0
        assert pool.fee_rate == p.fee_rate
        # The pool's price is the USD-implied one within the genesis spread (+ rounding of the sqrt).
        a, b = by_symbol[p.symbol_a], by_symbol[p.symbol_b]
        implied = Fraction(a.usd_price / b.usd_price) * Fraction(10) ** (b.decimals - a.decimals)
        price = Fraction(pool.sqrt_price, 2**64) ** 2
        assert abs(price / implied - 1) < Fraction(41, 10_000)
        for a_to_b in (True, False):
            for start in get_start_tick_indexes(pool.tick_current_index, pool.tick_spacing, a_to_b):
                array = decode_tick_array(data_of(svm, tick_array_address(p.address, start)))
                assert array.whirlpool == p.address and array.start_tick_index == start
        initialized = sum(
            t.initialized for key in p.tick_arrays for t in decode_tick_array(data_of(svm, key)).ticks
        )
        assert initialized >= 4  # three nested ranges: at least four distinct edges
        for vault, mint in ((p.token_vault_a, pool.token_mint_a), (p.token_vault_b, pool.token_mint_b)):
            account = decode_token_account(data_of(svm, vault))
            assert account.mint == mint and account.owner == p.address and account.amount > 0


def test_same_seed_gives_the_same_pools_byte_for_byte() -> None:
    svm1, pools1, _ = genesis(SEED)
    svm2, pools2, _ = genesis(SEED)
    assert pools1 == pools2
    for p in pools1:
        for key in (p.address, p.token_vault_a, p.token_vault_b, *p.tick_arrays):
            assert data_of(svm1, key) == data_of(svm2, key)


def test_vault_amounts_go_through_the_supply_callback() -> None:
    svm, pools, handed_out = genesis()
    for mint, total in handed_out.items():
        held = sum(
            token_amount(svm, vault)
            for p in pools
            for vault, m in ((p.token_vault_a, p.token_mint_a), (p.token_vault_b, p.token_mint_b))
            if m == mint
        )
        assert held == total


def test_a_pair_with_an_unknown_symbol_is_skipped() -> None:
    svm = LiteSVM()
    pools = add_whirlpools(
        svm, random.Random(1), TOKENS[:2], seed=1, pairs=(("SOL", "USDC", 1e6, 4), ("SOL", "XYZ", 1e6, 4))
    )
    assert [(p.symbol_a, p.symbol_b) for p in pools] in ([("SOL", "USDC")], [("USDC", "SOL")])


@pytest.mark.parametrize("a_to_b", [True, False])
def test_a_genesis_pool_trades_through_the_emulator_exactly_as_quoted(a_to_b: bool) -> None:
    svm, pools, _ = genesis()
    load_programs(svm, ["whirlpool"])
    p = next(p for p in pools if {p.symbol_a, p.symbol_b} == {"SOL", "USDC"} and p.tick_spacing == 4)
    pool = decode_whirlpool(data_of(svm, p.address))
    arrays = [decode_tick_array(data_of(svm, k)) for k in p.tick_arrays]
    payer = Keypair()
    svm.airdrop(payer.pubkey(), 10**10)
    user_a, user_b = Pubkey.new_unique(), Pubkey.new_unique()
    set_token_account(svm, user_a, pool.token_mint_a, payer.pubkey(), 10**15)
    set_token_account(svm, user_b, pool.token_mint_b, payer.pubkey(), 10**15)
    # 3M USD of input: past the edge of the narrowest of the nested ranges.
    sol_in = p.symbol_a == "SOL" if a_to_b else p.symbol_b == "SOL"
    amount = 3_000_000 * 10**9 // 180 if sol_in else 3_000_000 * 10**6
    expected = swap(pool, arrays, amount, a_to_b=a_to_b, whirlpool_address=p.address)
    assert len(expected.tick_updates) >= 1
    ix = swap_for_pool(
        p.address,
        pool,
        token_authority=payer.pubkey(),
        token_owner_account_a=user_a,
        token_owner_account_b=user_b,
        amount=amount,
        other_amount_threshold=expected.amount_out,
        a_to_b=a_to_b,
    )
    result = svm.send_transaction(Transaction([payer], Message([ix], payer.pubkey()), svm.latest_blockhash()))
    assert isinstance(result, TransactionMetadata), result
    out_account = user_b if a_to_b else user_a
    assert token_amount(svm, out_account) == 10**15 + expected.amount_out
    after = decode_whirlpool(data_of(svm, p.address))
    assert (after.sqrt_price, after.tick_current_index, after.liquidity) == (
        expected.next_sqrt_price,
        expected.next_tick_index,
        expected.next_liquidity,
    )


def test_two_pools_for_one_pair_need_different_tick_spacings() -> None:
    with pytest.raises(ValueError, match="tick spacing 4"):
        add_whirlpools(
            LiteSVM(),
            random.Random(1),
            TOKENS[:2],
            seed=1,
            pairs=(("SOL", "USDC", 1e6, 4), ("USDC", "SOL", 1e6, 4)),
        )
