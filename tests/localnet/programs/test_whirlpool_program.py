"""The Orca Whirlpool emulator at whirLb… in LiteSVM: equal to the quoter, every refusal, compute units."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from solders.account import Account
from solders.clock import Clock
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

from core.localnet.accounts import set_data_account, set_mint, set_token_account, token_amount
from core.localnet.genesis_whirlpool import (
    Position,
    WhirlpoolState,
    build_whirlpool_state,
    write_whirlpool_state,
)
from core.localnet.programs import load_programs
from core.protocols import ids
from core.protocols.whirlpool import (
    MAX_SQRT_PRICE_X64,
    MIN_SQRT_PRICE_X64,
    AnchorErrorCode,
    WhirlpoolErrorCode,
    WhirlpoolRewardInfo,
    decode_whirlpool,
    empty_tick_array,
    encode_tick_array,
    encode_whirlpool,
    oracle_address,
    swap_for_pool,
    tick_array_address,
)
from core.quote.whirlpool import SwapResult, WhirlpoolSwapError, sqrt_price_from_tick_index, swap

NOW = 1_700_000_000
EPOCH = 9
U64_MAX = 2**64 - 1
# Compute units per swap form, filled by test_compute_units_per_swap (printed for the report).
MEASURED_CU: dict[str, int] = {}


@dataclass
class Env:
    svm: LiteSVM
    payer: Keypair
    user: Keypair
    mint_a: Pubkey
    mint_b: Pubkey
    user_a: Pubkey
    user_b: Pubkey

    def install(
        self,
        state: WhirlpoolState,
        user_a: int = 10**18,
        user_b: int = 10**18,
        vault_a: int = 10**18,
        vault_b: int = 10**18,
    ) -> None:
        # Vaults far above what positions hold: the program, not the vault, must bound the output.
        write_whirlpool_state(self.svm, state, vault_amount_a=vault_a, vault_amount_b=vault_b)
        set_token_account(self.svm, self.user_a, self.mint_a, self.user.pubkey(), user_a)
        set_token_account(self.svm, self.user_b, self.mint_b, self.user.pubkey(), user_b)

    def ix(
        self,
        state: WhirlpoolState,
        amount: int,
        a_to_b: bool,
        *,
        is_input: bool = True,
        limit: int = 0,
        threshold: int | None = None,
        v2: bool = False,
    ) -> Instruction:
        if threshold is None:
            threshold = 0 if is_input else U64_MAX
        return swap_for_pool(
            state.address,
            state.pool,
            token_authority=self.user.pubkey(),
            token_owner_account_a=self.user_a,
            token_owner_account_b=self.user_b,
            amount=amount,
            other_amount_threshold=threshold,
            a_to_b=a_to_b,
            amount_specified_is_input=is_input,
            sqrt_price_limit=limit,
            v2=v2,
        )

    def send(self, ix: Instruction) -> TransactionMetadata | FailedTransactionMetadata:
        self.svm.expire_blockhash()
        msg = Message([ix], self.payer.pubkey())
        signers = [
            s
            for s in (self.payer, self.user)
            if s.pubkey() in msg.account_keys[: msg.header.num_required_signatures]
        ]
        return self.svm.send_transaction(Transaction(signers, msg, self.svm.latest_blockhash()))

    def data(self, key: Pubkey) -> bytes:
        acc = self.svm.get_account(key)
        assert acc is not None
        return bytes(acc.data)


def make_env() -> Env:
    svm = LiteSVM()
    load_programs(svm, ["whirlpool"])
    svm.set_clock(
        Clock(
            slot=1000,
            epoch_start_timestamp=NOW - 100,
            epoch=EPOCH,
            leader_schedule_epoch=EPOCH + 1,
            unix_timestamp=NOW,
        )
    )
    payer, user = Keypair(), Keypair()
    svm.airdrop(payer.pubkey(), 100 * 10**9)
    m1, m2 = Pubkey.new_unique(), Pubkey.new_unique()
    mint_a, mint_b = (m1, m2) if bytes(m1) < bytes(m2) else (m2, m1)
    set_mint(svm, mint_a, 9)
    set_mint(svm, mint_b, 6)
    return Env(svm, payer, user, mint_a, mint_b, Pubkey.new_unique(), Pubkey.new_unique())


@functools.cache
def shared_env() -> Env:
    return make_env()


def make_state(
    env: Env,
    tick_spacing: int,
    price_tick: int,
    positions: list[Position],
    *,
    fee_rate: int = 3000,
    protocol_fee_rate: int = 300,
    growth: tuple[int, int] = (0, 0),
    reward: tuple[int, int, int] | None = None,
) -> WhirlpoolState:
    state = build_whirlpool_state(
        token_mint_a=env.mint_a,
        token_mint_b=env.mint_b,
        token_vault_a=Pubkey.new_unique(),
        token_vault_b=Pubkey.new_unique(),
        tick_spacing=tick_spacing,
        fee_rate=fee_rate,
        sqrt_price=sqrt_price_from_tick_index(price_tick) + 777,
        positions=positions,
        protocol_fee_rate=protocol_fee_rate,
    )
    pool = dataclasses.replace(
        state.pool,
        fee_growth_global_a=growth[0],
        fee_growth_global_b=growth[1],
        reward_last_updated_timestamp=NOW,
    )
    if reward is not None:
        emissions, growth_global, age = reward
        info = WhirlpoolRewardInfo(
            Pubkey.new_unique(), Pubkey.new_unique(), Pubkey.new_unique(), emissions, growth_global
        )
        pool = dataclasses.replace(
            pool, reward_infos=(info, *pool.reward_infos[1:]), reward_last_updated_timestamp=NOW - age
        )
    return dataclasses.replace(state, pool=pool)


def custom_error(result: TransactionMetadata | FailedTransactionMetadata) -> int | None:
    assert isinstance(result, FailedTransactionMetadata), "expected the transaction to fail"
    err = result.err()
    assert isinstance(err, TransactionErrorInstructionError), err
    inner = err.err
    assert isinstance(inner, InstructionErrorCustom), inner
    return inner.code


def quote(state: WhirlpoolState, amount: int, a_to_b: bool, is_input: bool, limit: int) -> SwapResult | int:
    try:
        return swap(
            state.pool,
            state.tick_arrays.values(),
            amount,
            a_to_b=a_to_b,
            amount_specified_is_input=is_input,
            sqrt_price_limit=limit,
            timestamp=NOW,
            whirlpool_address=state.address,
        )
    except WhirlpoolSwapError as err:
        return int(err.code)


def assert_emulator_matches_quoter(
    env: Env,
    state: WhirlpoolState,
    amount: int,
    a_to_b: bool,
    is_input: bool,
    limit: int,
    v2: bool,
    full_range_balances: bool = False,
) -> SwapResult | int:
    if full_range_balances:
        # Any u64 amount can move without a token account overflowing (LiteSVM's SPL Token wraps).
        big, empty = U64_MAX, 0
        env.install(state, *((big, empty, empty, big) if a_to_b else (empty, big, big, empty)))
    else:
        env.install(state)
    expected = quote(state, amount, a_to_b, is_input, limit)
    before_a, before_b = token_amount(env.svm, env.user_a), token_amount(env.svm, env.user_b)
    result = env.send(env.ix(state, amount, a_to_b, is_input=is_input, limit=limit, v2=v2))
    if isinstance(expected, int):
        assert custom_error(result) == expected
        assert env.data(state.address) == encode_whirlpool(state.pool)  # nothing written
        return expected
    assert isinstance(result, TransactionMetadata), result
    after_a, after_b = token_amount(env.svm, env.user_a), token_amount(env.svm, env.user_b)
    if a_to_b:
        assert (before_a - after_a, after_b - before_b) == (expected.amount_a, expected.amount_b)
    else:
        assert (after_a - before_a, before_b - after_b) == (expected.amount_a, expected.amount_b)
    assert env.data(state.address) == encode_whirlpool(expected.apply(state.pool))
    for start, array in state.tick_arrays.items():
        key = tick_array_address(state.address, start)
        assert env.data(key) == encode_tick_array(expected.apply_to_tick_array(array)), f"tick array {start}"
    return expected


# -- emulator == quoter -----------------------------------------------------------------------------------


@st.composite
def swap_cases(draw: st.DrawFn) -> tuple:
    ts = draw(st.sampled_from([1, 8, 64]))
    price_tick = draw(st.integers(-30_000, 30_000))
    base = price_tick // ts * ts
    # Ranges around the price and beside it, up to ~2 tick arrays wide, so swaps cross their ends.
    positions = []
    for _ in range(draw(st.integers(1, 4))):
        lower = base + draw(st.integers(-120, 20)) * ts
        width = draw(st.integers(1, 140)) * ts
        positions.append(Position(lower, lower + width, draw(st.integers(10**8, 10**16))))
    fee_rate = draw(st.sampled_from([0, 100, 400, 3000, 10_000, 60_000]))
    protocol_fee_rate = draw(st.sampled_from([0, 1, 300, 2500]))
    growth = (draw(st.integers(0, 2**128 - 1)), draw(st.integers(0, 2**128 - 1)))
    reward = draw(
        st.none() | st.tuples(st.integers(0, 2**80), st.integers(0, 2**128 - 1), st.integers(0, 10**6))
    )
    a_to_b = draw(st.booleans())
    is_input = draw(st.booleans())
    # Amount as a share of what the pool's ranges hold on the output side (converted for exact-in).
    share = Fraction(draw(st.integers(200, 1200)), 1000) / 10 ** draw(
        st.sampled_from([0, 0, 0, 0, 0, 0, 1, 3, 6])
    )
    limit_ticks = draw(st.none() | st.integers(1, 400) | st.integers(1, 400))
    if draw(st.integers(0, 9)) == 0:
        limit_ticks = draw(st.integers(-20, 0))  # at or beyond the price: the wrong side
    limit_tick = None
    if limit_ticks is not None:
        limit_tick = price_tick + (-limit_ticks if a_to_b else limit_ticks) * ts
    v2 = draw(st.booleans())
    return (
        ts,
        price_tick,
        positions,
        fee_rate,
        protocol_fee_rate,
        growth,
        reward,
        a_to_b,
        is_input,
        share,
        limit_tick,
        v2,
    )


def amount_for_share(state: WhirlpoolState, a_to_b: bool, is_input: bool, share: Fraction) -> int:
    held_out = state.amount_b if a_to_b else state.amount_a
    if not is_input:
        return max(1, min(U64_MAX, int(held_out * share)))
    price = Fraction(state.pool.sqrt_price, 2**64) ** 2  # B per A
    held_in = held_out / price if a_to_b else held_out * price
    return max(1, min(U64_MAX, int(held_in * share)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(swap_cases())
def test_emulator_moves_the_same_tokens_and_writes_the_same_state_as_the_quoter(case: tuple) -> None:
    ts, price_tick, positions, fee, protocol_fee, growth, reward, a_to_b, is_input, share, limit_tick, v2 = (
        case
    )
    env = shared_env()
    state = make_state(
        env,
        ts,
        price_tick,
        positions,
        fee_rate=fee,
        protocol_fee_rate=protocol_fee,
        growth=growth,
        reward=reward,
    )
    amount = amount_for_share(state, a_to_b, is_input, share)
    limit = 0 if limit_tick is None else sqrt_price_from_tick_index(max(min(limit_tick, 443636), -443636))
    outcome = assert_emulator_matches_quoter(env, state, amount, a_to_b, is_input, limit, v2)
    if isinstance(outcome, int):
        event(f"refused with {WhirlpoolErrorCode(outcome).name}")
    else:
        event(f"filled, {min(len(outcome.tick_updates), 3)}+ ticks crossed")
        event(f"limit {'reached' if outcome.next_sqrt_price == limit else 'not reached'}")


@pytest.mark.parametrize("v2", [False, True])
@pytest.mark.parametrize(("a_to_b", "is_input"), [(True, True), (True, False), (False, True), (False, False)])
def test_swaps_crossing_ticks_in_several_arrays_match_the_quoter(
    a_to_b: bool, is_input: bool, v2: bool
) -> None:
    env = shared_env()
    ts = 8
    per_array = 88 * ts
    positions = [
        Position(-2 * per_array, 2 * per_array, 10**12),
        Position(-per_array - 40, per_array + 40, 3 * 10**12),
        Position(-80, 160, 5 * 10**12),
    ]
    state = make_state(env, ts, 3, positions, growth=(10**30, 7 * 10**25), reward=(2**64, 5, 3600))
    # Enough to cross two initialized ticks, not so much that the walk runs past three arrays.
    amount = 17 * 10**10 if (a_to_b and not is_input) else 2 * 10**11
    result = assert_emulator_matches_quoter(env, state, amount, a_to_b, is_input, 0, v2)
    assert isinstance(result, SwapResult)
    assert len(result.tick_updates) >= 2  # at least two initialized ticks crossed
    crossed_arrays = {u.start_tick_index for u in result.tick_updates}
    assert len(crossed_arrays) >= 2  # the walk went from one tick array into the next


def test_a_price_limit_ends_the_swap_at_the_limit_in_both_implementations() -> None:
    env = shared_env()
    state = make_state(env, 8, 0, [Position(-800, 800, 10**12)])
    limit = sqrt_price_from_tick_index(-200)
    result = assert_emulator_matches_quoter(env, state, 10**13, True, True, limit, False)
    assert isinstance(result, SwapResult)
    assert result.next_sqrt_price == limit
    assert decode_whirlpool(env.data(state.address)).sqrt_price == limit


def test_an_uninitialized_tick_array_passed_at_its_pda_is_an_empty_array() -> None:
    env = shared_env()
    # Liquidity at the price and again two arrays left; the array between holds no tick.
    state = make_state(env, 8, 0, [Position(0, 80, 10**12), Position(-1400, -1320, 10**12)])
    env.install(state)
    # Remove the second array of the a_to_b walk; pass its PDA as an empty system account.
    missing = -704
    key = tick_array_address(state.address, missing)
    env.svm.set_account(
        key, Account(lamports=0, data=b"", owner=ids.SYSTEM_PROGRAM, executable=False, rent_epoch=0)
    )
    arrays = {s: a for s, a in state.tick_arrays.items() if s != missing}
    sparse = dataclasses.replace(state, tick_arrays=arrays)
    expected = swap(
        sparse.pool, arrays.values(), 2 * 10**9, a_to_b=True, timestamp=NOW, uninitialized_starts={missing}
    )
    assert expected.next_tick_index < -1320  # the walk crossed the empty array
    result = env.send(env.ix(sparse, 2 * 10**9, True))
    assert isinstance(result, TransactionMetadata), result
    assert env.data(state.address) == encode_whirlpool(expected.apply(state.pool))
    # Without its PDA the walk ends after the first array and the swap runs out of arrays.
    state2 = make_state(env, 8, 0, [Position(-80, 80, 10**12)])
    env.install(state2)
    for s in (-704, -1408):
        env.svm.set_account(
            tick_array_address(state2.address, s),
            Account(lamports=0, data=b"", owner=ids.SYSTEM_PROGRAM, executable=False, rent_epoch=0),
        )
    ix = env.ix(state2, 10**11, True)
    metas = list(ix.accounts)
    metas[8] = AccountMeta(Pubkey.new_unique(), False, True)  # a system account that is no PDA of the pool
    assert (
        custom_error(env.send(Instruction(ix.program_id, bytes(ix.data), metas)))
        == WhirlpoolErrorCode.TICK_ARRAY_SEQUENCE_INVALID_INDEX
    )


# -- refusals with the program's numbers -------------------------------------------------------------------


@functools.cache
def refusal_state() -> WhirlpoolState:
    return make_state(shared_env(), 8, 0, [Position(-800, 800, 10**12)])


def send_modified(
    index: int | None = None,
    meta: AccountMeta | None = None,
    data: bytes | None = None,
    v2: bool = False,
    amount: int = 10**6,
    a_to_b: bool = True,
    **kw: object,
):
    env, state = shared_env(), refusal_state()
    env.install(state)
    ix = env.ix(state, amount, a_to_b, v2=v2, **kw)  # type: ignore[arg-type]
    metas = list(ix.accounts)
    if index is not None and meta is not None:
        metas[index] = meta
    return env.send(Instruction(ix.program_id, data if data is not None else bytes(ix.data), metas))


A = AnchorErrorCode
E = WhirlpoolErrorCode


def test_refusals_of_the_instruction_data() -> None:
    assert custom_error(send_modified(data=b"\x01\x02")) == A.INSTRUCTION_MISSING
    assert custom_error(send_modified(data=bytes(8))) == A.INSTRUCTION_FALLBACK_NOT_FOUND
    env, state = shared_env(), refusal_state()
    good = bytes(env.ix(state, 10, True).data)
    assert custom_error(send_modified(data=good[:41])) == A.INSTRUCTION_DID_NOT_DESERIALIZE
    assert custom_error(send_modified(data=good[:40] + b"\x02\x01")) == A.INSTRUCTION_DID_NOT_DESERIALIZE
    good_v2 = bytes(env.ix(state, 10, True, v2=True).data)
    assert custom_error(send_modified(v2=True, data=good_v2[:42])) == A.INSTRUCTION_DID_NOT_DESERIALIZE


def test_refusals_of_the_accounts_v1() -> None:
    env, state = shared_env(), refusal_state()
    other = Pubkey.new_unique()
    assert (
        custom_error(send_modified(0, AccountMeta(ids.TOKEN_2022_PROGRAM, False, False)))
        == A.INVALID_PROGRAM_ID
    )
    assert (
        custom_error(send_modified(1, AccountMeta(env.user.pubkey(), False, False))) == A.ACCOUNT_NOT_SIGNER
    )
    assert custom_error(send_modified(2, AccountMeta(state.address, False, False))) == A.CONSTRAINT_MUT
    set_token_account(env.svm, other, env.mint_b, env.user.pubkey(), 10**9)
    assert custom_error(send_modified(3, AccountMeta(other, False, True))) == A.CONSTRAINT_RAW
    set_token_account(env.svm, other, env.mint_a, state.address, 10**9)
    assert custom_error(send_modified(4, AccountMeta(other, False, True))) == A.CONSTRAINT_ADDRESS
    assert (
        custom_error(send_modified(9, AccountMeta(tick_array_address(state.address, -1408), False, False)))
        == A.CONSTRAINT_MUT
    )
    assert custom_error(send_modified(10, AccountMeta(other, False, True))) == A.CONSTRAINT_SEEDS
    # A whirlpool account owned by another program, or not a whirlpool.
    set_data_account(env.svm, other, ids.TOKEN_PROGRAM, encode_whirlpool(state.pool))
    assert custom_error(send_modified(2, AccountMeta(other, False, True))) == A.ACCOUNT_OWNED_BY_WRONG_PROGRAM
    set_data_account(env.svm, other, ids.ORCA_WHIRLPOOL, bytes(653))
    assert custom_error(send_modified(2, AccountMeta(other, False, True))) == A.ACCOUNT_DISCRIMINATOR_MISMATCH


def test_refusals_of_the_accounts_v2() -> None:
    env, state = shared_env(), refusal_state()
    assert (
        custom_error(send_modified(0, AccountMeta(ids.TOKEN_2022_PROGRAM, False, False), v2=True))
        == A.CONSTRAINT_ADDRESS
    )
    assert (
        custom_error(send_modified(2, AccountMeta(ids.TOKEN_PROGRAM, False, False), v2=True))
        == A.INVALID_PROGRAM_ID
    )
    assert (
        custom_error(send_modified(5, AccountMeta(env.mint_b, False, False), v2=True)) == A.CONSTRAINT_ADDRESS
    )
    assert (
        custom_error(send_modified(14, AccountMeta(oracle_address(state.address), False, False), v2=True))
        == A.CONSTRAINT_MUT
    )
    too_few = send_modified(v2=True, data=None)
    assert isinstance(too_few, TransactionMetadata)  # the untouched v2 instruction works


def test_tick_arrays_of_another_pool_or_the_wrong_kind_are_refused() -> None:
    env, state = shared_env(), refusal_state()
    foreign = Pubkey.new_unique()
    set_data_account(
        env.svm, foreign, ids.ORCA_WHIRLPOOL, encode_tick_array(empty_tick_array(0, Pubkey.new_unique()))
    )
    assert (
        custom_error(send_modified(7, AccountMeta(foreign, False, True)))
        == E.DIFFERENT_WHIRLPOOL_TICK_ARRAY_ACCOUNT
    )
    set_data_account(
        env.svm, foreign, ids.TOKEN_PROGRAM, encode_tick_array(empty_tick_array(0, state.address))
    )
    assert (
        custom_error(send_modified(7, AccountMeta(foreign, False, True))) == A.ACCOUNT_OWNED_BY_WRONG_PROGRAM
    )
    set_data_account(env.svm, foreign, ids.ORCA_WHIRLPOOL, encode_whirlpool(state.pool))
    assert (
        custom_error(send_modified(7, AccountMeta(foreign, False, True))) == A.ACCOUNT_DISCRIMINATOR_MISMATCH
    )
    # Only arrays away from the price: no array at the current tick.
    far = [AccountMeta(tick_array_address(state.address, s), False, True) for s in (-1408, -2112, -2112)]
    env.install(state)
    ix = env.ix(state, 10**6, True)
    metas = list(ix.accounts)
    metas[7:10] = far
    env.svm.set_account(
        far[1].pubkey, Account(lamports=0, data=b"", owner=ids.SYSTEM_PROGRAM, executable=False, rent_epoch=0)
    )
    assert (
        custom_error(env.send(Instruction(ix.program_id, bytes(ix.data), metas)))
        == E.INVALID_TICK_ARRAY_SEQUENCE
    )


def test_swap_argument_refusals_carry_the_programs_numbers() -> None:
    state = refusal_state()
    p = state.pool.sqrt_price
    assert custom_error(send_modified(amount=0)) == E.ZERO_TRADABLE_AMOUNT
    assert custom_error(send_modified(limit=p)) == E.INVALID_SQRT_PRICE_LIMIT_DIRECTION
    assert custom_error(send_modified(limit=p + 1)) == E.INVALID_SQRT_PRICE_LIMIT_DIRECTION
    assert custom_error(send_modified(a_to_b=False, limit=p - 1)) == E.INVALID_SQRT_PRICE_LIMIT_DIRECTION
    assert custom_error(send_modified(limit=MIN_SQRT_PRICE_X64 - 1)) == E.SQRT_PRICE_OUT_OF_BOUNDS
    assert (
        custom_error(send_modified(a_to_b=False, limit=MAX_SQRT_PRICE_X64 + 1)) == E.SQRT_PRICE_OUT_OF_BOUNDS
    )
    expected = quote(state, 10**6, True, True, 0)
    assert isinstance(expected, SwapResult)
    assert custom_error(send_modified(threshold=expected.amount_out + 1)) == E.AMOUNT_OUT_BELOW_MINIMUM
    assert isinstance(send_modified(threshold=expected.amount_out), TransactionMetadata)
    exact_out = quote(state, 10**6, True, False, 0)
    assert isinstance(exact_out, SwapResult)
    assert (
        custom_error(send_modified(is_input=False, threshold=exact_out.amount_in - 1))
        == E.AMOUNT_IN_ABOVE_MAXIMUM
    )
    assert custom_error(send_modified(amount=10**17)) == E.TICK_ARRAY_SEQUENCE_INVALID_INDEX


def test_exact_out_beyond_the_lowest_price_without_a_limit_is_a_partial_fill_error() -> None:
    env = shared_env()
    lowest = -443632
    state = make_state(env, 8, lowest + 400, [Position(lowest, lowest + 800, 10**9)])
    assert quote(state, 10, True, False, 0) == E.PARTIAL_FILL_ERROR
    assert assert_emulator_matches_quoter(env, state, 10, True, False, 0, False) == E.PARTIAL_FILL_ERROR


def test_a_user_short_of_input_tokens_fails_in_the_token_program() -> None:
    env, state = shared_env(), refusal_state()
    env.install(state, user_a=10)
    result = env.send(env.ix(state, 10**6, True))
    assert custom_error(result) == 1  # spl-token InsufficientFunds
    assert env.data(state.address) == encode_whirlpool(state.pool)


# -- compute units -------------------------------------------------------------------------------------------


def test_compute_units_per_swap() -> None:
    env = shared_env()
    ts = 8
    positions = [Position(-1408, 1408, 10**12), Position(-160, 160, 4 * 10**12), Position(-40, 40, 10**13)]
    cases = {
        "v1 exact-in a->b, no tick crossed": (10**6, True, True, False),
        "v1 exact-in a->b, crossing ticks": (10**11, True, True, False),
        "v1 exact-out b->a, crossing ticks": (10**11, False, False, False),
        "v2 exact-in b->a, crossing ticks": (10**11, False, True, True),
    }
    for name, (amount, a_to_b, is_input, v2) in cases.items():
        state = make_state(env, ts, 5, positions)
        env.install(state)
        result = env.send(env.ix(state, amount, a_to_b, is_input=is_input, v2=v2))
        assert isinstance(result, TransactionMetadata), (name, result.err(), result.meta().logs()[-4:])
        MEASURED_CU[name] = result.compute_units_consumed()
        assert result.compute_units_consumed() < 200_000
    print("\nwhirlpool emulator compute units:", MEASURED_CU)


# -- the real SOL/USDC pool ------------------------------------------------------------------------------


def test_the_real_sol_usdc_pool_swaps_one_sol_for_242382_usdc_units_in_the_emulator() -> None:
    from tests.protocols.test_whirlpool import SOL_USDC_TS4, SOL_USDC_WHIRLPOOL

    env = make_env()
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    set_mint(env.svm, ids.NATIVE_MINT, 9)
    set_mint(env.svm, ids.USDC_MINT, 6)
    set_data_account(env.svm, SOL_USDC_TS4, ids.ORCA_WHIRLPOOL, SOL_USDC_WHIRLPOOL)
    for start in (-14432, -14784, -15136):
        set_data_account(
            env.svm,
            tick_array_address(SOL_USDC_TS4, start),
            ids.ORCA_WHIRLPOOL,
            encode_tick_array(empty_tick_array(start, SOL_USDC_TS4)),
        )
    set_token_account(env.svm, pool.token_vault_a, ids.NATIVE_MINT, SOL_USDC_TS4, 10**15)
    set_token_account(env.svm, pool.token_vault_b, ids.USDC_MINT, SOL_USDC_TS4, 10**13)
    user_sol, user_usdc = Pubkey.new_unique(), Pubkey.new_unique()
    set_token_account(env.svm, user_sol, ids.NATIVE_MINT, env.user.pubkey(), 5 * 10**9)
    set_token_account(env.svm, user_usdc, ids.USDC_MINT, env.user.pubkey(), 0)
    ix = swap_for_pool(
        SOL_USDC_TS4,
        pool,
        token_authority=env.user.pubkey(),
        token_owner_account_a=user_sol,
        token_owner_account_b=user_usdc,
        amount=1_000_000,
        other_amount_threshold=239_958,
        a_to_b=True,
    )
    # The clock is before the pool's last reward update: the program refuses the timestamp.
    assert custom_error(env.send(ix)) == E.INVALID_TIMESTAMP
    later = pool.reward_last_updated_timestamp + 60
    env.svm.set_clock(
        Clock(
            slot=2000,
            epoch_start_timestamp=later - 100,
            epoch=EPOCH,
            leader_schedule_epoch=EPOCH + 1,
            unix_timestamp=later,
        )
    )
    result = env.send(ix)
    assert isinstance(result, TransactionMetadata), result
    assert token_amount(env.svm, user_usdc) == 242_382
    assert token_amount(env.svm, user_sol) == 5 * 10**9 - 1_000_000
    after = decode_whirlpool(env.data(SOL_USDC_TS4))
    expected = swap(pool, [], 1_000_000, a_to_b=True, timestamp=later, uninitialized_starts={-14432})
    assert after == expected.apply(pool)
    assert after.reward_last_updated_timestamp == later


@pytest.mark.parametrize(
    ("price_tick", "liquidity", "amount", "a_to_b", "is_input"),
    [
        (-440_000, 10**20, 10**18, True, True),
        (-440_000, 10**20, 10**18, False, True),
        (440_000, 10**20, 10**18, True, True),
        (440_000, 10**25, 10**12, False, False),
        (-200_000, 2**100, U64_MAX, True, True),
        (200_000, 2**100, U64_MAX, False, True),
        (0, 2**126, 10**18, True, False),
        (0, 1, 1, False, True),
    ],
)
def test_extreme_prices_and_liquidity_fail_or_fill_identically(
    price_tick: int, liquidity: int, amount: int, a_to_b: bool, is_input: bool
) -> None:
    # 256-bit intermediates, u64 overflows of token deltas, prices at the bounds.
    env = shared_env()
    ts = 64
    base = price_tick // ts * ts
    lower, upper = max(base - 50 * ts, -443_584), min(base + 50 * ts, 443_584)
    state = make_state(env, ts, price_tick, [Position(lower, upper, liquidity)])
    assert_emulator_matches_quoter(env, state, amount, a_to_b, is_input, 0, False, full_range_balances=True)


@pytest.mark.parametrize(
    ("a_to_b", "amount", "sparse"),
    [(True, 5 * 10**12, (-14784, -15136)), (False, 2 * 10**12, (-13728,))],
    ids=["5000 SOL a->b", "2M USDC b->a into the next real array"],
)
def test_big_swaps_across_the_real_ticks_of_the_real_pool_match_the_quoter(
    a_to_b: bool, amount: int, sparse: tuple[int, ...]
) -> None:
    from core.protocols.whirlpool import decode_tick_array
    from tests.protocols.test_whirlpool import (
        SOL_USDC_TICK_ARRAY,
        SOL_USDC_TICK_ARRAY_NEXT,
        SOL_USDC_TS4,
        SOL_USDC_WHIRLPOOL,
    )

    env = make_env()
    pool = decode_whirlpool(SOL_USDC_WHIRLPOOL)
    later = pool.reward_last_updated_timestamp + 3600
    env.svm.set_clock(
        Clock(
            slot=2000,
            epoch_start_timestamp=later - 100,
            epoch=EPOCH,
            leader_schedule_epoch=EPOCH + 1,
            unix_timestamp=later,
        )
    )
    set_mint(env.svm, ids.NATIVE_MINT, 9)
    set_mint(env.svm, ids.USDC_MINT, 6)
    set_data_account(env.svm, SOL_USDC_TS4, ids.ORCA_WHIRLPOOL, SOL_USDC_WHIRLPOOL)
    arrays = [decode_tick_array(SOL_USDC_TICK_ARRAY), decode_tick_array(SOL_USDC_TICK_ARRAY_NEXT)]
    for raw, array in zip((SOL_USDC_TICK_ARRAY, SOL_USDC_TICK_ARRAY_NEXT), arrays, strict=True):
        set_data_account(
            env.svm, tick_array_address(SOL_USDC_TS4, array.start_tick_index), ids.ORCA_WHIRLPOOL, raw
        )
    # The arrays in `sparse` stay unwritten: passed at their PDAs they are empty (sparse) arrays.
    set_token_account(env.svm, pool.token_vault_a, ids.NATIVE_MINT, SOL_USDC_TS4, 10**13)
    set_token_account(env.svm, pool.token_vault_b, ids.USDC_MINT, SOL_USDC_TS4, 10**13)
    user_sol, user_usdc = Pubkey.new_unique(), Pubkey.new_unique()
    set_token_account(env.svm, user_sol, ids.NATIVE_MINT, env.user.pubkey(), amount if a_to_b else 0)
    set_token_account(env.svm, user_usdc, ids.USDC_MINT, env.user.pubkey(), 0 if a_to_b else amount)
    expected = swap(pool, arrays, amount, a_to_b=a_to_b, timestamp=later, uninitialized_starts=set(sparse))
    assert len(expected.tick_updates) > 10
    ix = swap_for_pool(
        SOL_USDC_TS4,
        pool,
        token_authority=env.user.pubkey(),
        token_owner_account_a=user_sol,
        token_owner_account_b=user_usdc,
        amount=amount,
        other_amount_threshold=0,
        a_to_b=a_to_b,
        v2=True,
    )
    result = env.send(ix)
    assert isinstance(result, TransactionMetadata), (result.err(), result.meta().logs()[-3:])
    assert token_amount(env.svm, user_usdc if a_to_b else user_sol) == expected.amount_out
    assert env.data(SOL_USDC_TS4) == encode_whirlpool(expected.apply(pool))
    for array in arrays:
        key = tick_array_address(SOL_USDC_TS4, array.start_tick_index)
        assert env.data(key) == encode_tick_array(expected.apply_to_tick_array(array))
    name = f"v2 real pool {'a->b' if a_to_b else 'b->a'}, {len(expected.tick_updates)} ticks crossed"
    MEASURED_CU[name] = result.compute_units_consumed()
    print("\nwhirlpool emulator compute units:", name, MEASURED_CU[name])
