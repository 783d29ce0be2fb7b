"""The Raydium AMM v4 emulator at 675kPX… in LiteSVM: swaps, every refusal, state, compute units."""

from __future__ import annotations

import dataclasses
import functools
import math
import struct
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
from solders.transaction_status import (
    InstructionErrorCustom,
    InstructionErrorFieldless,
    TransactionErrorInstructionError,
)

from core.localnet.accounts import set_data_account, set_mint, set_token_account, token_amount
from core.localnet.programs import load_programs
from core.protocols import ids
from core.protocols.raydium_amm import (
    AmmError,
    AmmInfo,
    AmmStatus,
    MarketKeys,
    amm_authority,
    decode_amm_info,
    encode_amm_info,
    swap_base_in,
    swap_base_in_v2,
    swap_base_out,
    swap_base_out_v2,
)
from core.protocols.spl_token import encode_token_account
from core.quote.raydium_amm import RaydiumSwapError
from core.quote.raydium_amm import swap_base_in as quote_base_in
from core.quote.raydium_amm import swap_base_out as quote_base_out
from tests.protocols.test_raydium_amm import SOL_USDC_POOL

U64_MAX = 2**64 - 1
PANIC = InstructionErrorFieldless.ProgramFailedToComplete
EPOCH = 9
NOW = 1_700_000_000
# Compute units per swap form, filled by test_compute_units_per_swap (printed for the report).
MEASURED_CU: dict[str, int] = {}

TAGS = {9: "swap_base_in", 11: "swap_base_out", 16: "swap_base_in_v2", 17: "swap_base_out_v2"}


def restated_base_in(amount_in: int, x: int, y: int, num: int, den: int) -> int:
    """processor.rs: fee = ceil(in * num / den); out = floor(y * (in - fee) / (x + in - fee))."""
    net = amount_in - math.ceil(Fraction(amount_in * num, den))
    return math.floor(Fraction(y * net, x + net))


def restated_base_out(amount_out: int, x: int, y: int, num: int, den: int) -> int:
    """math.rs + processor.rs: in = ceil(ceil(x * out / (y - out)) * den / (den - num))."""
    before = math.ceil(Fraction(x * amount_out, y - amount_out))
    return math.ceil(Fraction(before * den, den - num))


@dataclass
class Env:
    svm: LiteSVM
    payer: Keypair
    user: Keypair
    amm: Pubkey
    coin_mint: Pubkey
    pc_mint: Pubkey
    coin_vault: Pubkey
    pc_vault: Pubkey
    user_coin: Pubkey
    user_pc: Pubkey
    market: MarketKeys
    info: AmmInfo
    base: AmmInfo

    @property
    def authority(self) -> Pubkey:
        return amm_authority(self.info.nonce)

    def write_pool(
        self, info: AmmInfo | None = None, raw: bytes | None = None, owner: Pubkey | None = None
    ) -> None:
        if info is not None:
            self.info = info
        data = raw if raw is not None else encode_amm_info(self.info)
        set_data_account(self.svm, self.amm, owner or ids.RAYDIUM_AMM_V4, data)

    def write_balances(self, coin_vault: int, pc_vault: int, user_coin: int, user_pc: int) -> None:
        authority = self.authority
        set_token_account(self.svm, self.coin_vault, self.coin_mint, authority, coin_vault)
        set_token_account(self.svm, self.pc_vault, self.pc_mint, authority, pc_vault)
        set_token_account(self.svm, self.user_coin, self.coin_mint, self.user.pubkey(), user_coin)
        set_token_account(self.svm, self.user_pc, self.pc_mint, self.user.pubkey(), user_pc)

    def balances(self) -> tuple[int, int, int, int]:
        return (
            token_amount(self.svm, self.coin_vault),
            token_amount(self.svm, self.pc_vault),
            token_amount(self.svm, self.user_coin),
            token_amount(self.svm, self.user_pc),
        )

    def snapshot(self) -> list[bytes]:
        keys = (self.amm, self.coin_vault, self.pc_vault, self.user_coin, self.user_pc)
        return [bytes(self.svm.get_account(k).data) for k in keys]  # type: ignore[union-attr]

    def pool(self) -> AmmInfo:
        acc = self.svm.get_account(self.amm)
        assert acc is not None
        return decode_amm_info(bytes(acc.data), self.amm)

    def swap_ix(self, tag: int, coin_to_pc: bool, a: int, b: int) -> Instruction:
        src, dst = (self.user_coin, self.user_pc) if coin_to_pc else (self.user_pc, self.user_coin)
        owner = self.user.pubkey()
        if tag == 9:
            return swap_base_in(self.amm, self.info, self.market, src, dst, owner, a, b)
        if tag == 11:
            return swap_base_out(
                self.amm, self.info, self.market, src, dst, owner, a, b, with_target_orders=True
            )
        if tag == 16:
            return swap_base_in_v2(self.amm, self.info, src, dst, owner, a, b)
        return swap_base_out_v2(self.amm, self.info, src, dst, owner, a, b)

    def send(self, ix: Instruction) -> TransactionMetadata | FailedTransactionMetadata:
        self.svm.expire_blockhash()
        msg = Message([ix], self.payer.pubkey())
        signers = [
            s
            for s in (self.payer, self.user)
            if s.pubkey() in msg.account_keys[: msg.header.num_required_signatures]
        ]
        return self.svm.send_transaction(Transaction(signers, msg, self.svm.latest_blockhash()))


def make_env() -> Env:
    svm = LiteSVM()
    load_programs(svm, ["raydium_amm"])
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
    svm.airdrop(payer.pubkey(), 10 * 10**9)
    coin_mint, pc_mint = Pubkey.new_unique(), Pubkey.new_unique()
    set_mint(svm, coin_mint, 9)
    set_mint(svm, pc_mint, 6)
    template = decode_amm_info(SOL_USDC_POOL)
    coin_vault, pc_vault = Pubkey.new_unique(), Pubkey.new_unique()
    info = dataclasses.replace(
        template,
        status=AmmStatus.SWAP_ONLY,
        coin_vault=coin_vault,
        pc_vault=pc_vault,
        coin_vault_mint=coin_mint,
        pc_vault_mint=pc_mint,
        recent_epoch=0,
        state_data=dataclasses.replace(template.state_data, need_take_pnl_coin=0, need_take_pnl_pc=0),
    )
    env = Env(
        svm,
        payer,
        user,
        Pubkey.new_unique(),
        coin_mint,
        pc_mint,
        coin_vault,
        pc_vault,
        Pubkey.new_unique(),
        Pubkey.new_unique(),
        MarketKeys(*(Pubkey.new_unique() for _ in range(6))),
        info,
        info,
    )
    env.write_pool()
    env.write_balances(10**12, 10**11, 10**12, 10**12)
    return env


@functools.cache
def shared_env() -> Env:
    """One LiteSVM for the hypothesis tests; each example rewrites the five accounts it uses."""
    return make_env()


@pytest.fixture
def env() -> Env:
    return make_env()


def error_of(res: TransactionMetadata | FailedTransactionMetadata) -> object:
    assert isinstance(res, FailedTransactionMetadata), "transaction unexpectedly succeeded"
    err = res.err()
    assert isinstance(err, TransactionErrorInstructionError), err
    return err.err


def expect_error(env: Env, ix: Instruction, expected: object) -> None:
    before = env.snapshot()
    res = env.send(ix)
    assert error_of(res) == expected, res.meta().logs()
    assert env.snapshot() == before


def custom(err: AmmError | int) -> InstructionErrorCustom:
    return InstructionErrorCustom(int(err))


# ---------------------------------------------------------------------------------------------
# Every swap form against the quoter and the restated formula.

pool_params = st.fixed_dictionaries(
    {
        "coin": st.integers(1, 10**15),
        "pc": st.integers(1, 10**15),
        "pnl_coin": st.integers(0, 10**9),
        "pnl_pc": st.integers(0, 10**9),
        "fee": st.one_of(
            st.just((25, 10_000)),
            st.integers(1, 1_000_000).flatmap(lambda d: st.tuples(st.integers(0, d - 1), st.just(d))),
        ),
        "coin_to_pc": st.booleans(),
        "tag": st.sampled_from(sorted(TAGS)),
        "fraction": st.fractions(0, 2),
    }
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pool_params)
def test_every_swap_form_moves_exactly_what_the_quoter_and_the_formula_say(p: dict) -> None:  # type: ignore[type-arg]
    env = shared_env()
    num, den = p["fee"]
    tag, coin_to_pc = p["tag"], p["coin_to_pc"]
    env.write_pool(with_fees_and_pnl(env.base, num, den, p["pnl_coin"], p["pnl_pc"]))
    x, y = (p["coin"], p["pc"]) if coin_to_pc else (p["pc"], p["coin"])
    user_funds = 10**17
    env.write_balances(p["coin"] + p["pnl_coin"], p["pc"] + p["pnl_pc"], user_funds, user_funds)
    before = env.balances()

    if tag in (9, 16):
        amount = max(1, int(x * p["fraction"]))
        ix = env.swap_ix(tag, coin_to_pc, amount, 0)
        try:
            expected_in, expected_out = amount, quote_base_in(amount, x, y, num, den)
        except RaydiumSwapError as exc:
            event(f"tag {tag}: {exc.error.name if exc.error else 'panic'}")
            expect_error(env, ix, PANIC if exc.error is None else custom(exc.error))
            return
        assert expected_out == restated_base_in(amount, x, y, num, den)
    else:
        amount = max(1, min(y - 1, int(y * p["fraction"] / 2))) if y > 1 else 1
        ix = env.swap_ix(tag, coin_to_pc, U64_MAX, amount)
        try:
            expected_in, expected_out = quote_base_out(amount, x, y, num, den), amount
        except RaydiumSwapError as exc:
            event(f"tag {tag}: {exc.error.name if exc.error else 'panic'}")
            expect_error(env, ix, PANIC if exc.error is None else custom(exc.error))
            return
        assert expected_in == restated_base_out(amount, x, y, num, den)
        if expected_in > user_funds:
            event(f"tag {tag}: user cannot pay")
            expect_error(env, ix, custom(AmmError.INSUFFICIENT_FUNDS))
            return

    event(f"tag {tag}: swapped")
    res = env.send(ix)
    assert isinstance(res, TransactionMetadata), res
    coin_vault, pc_vault, user_coin, user_pc = env.balances()
    if coin_to_pc:
        assert (coin_vault - before[0], before[1] - pc_vault) == (expected_in, expected_out)
        assert (before[2] - user_coin, user_pc - before[3]) == (expected_in, expected_out)
    else:
        assert (pc_vault - before[1], before[0] - coin_vault) == (expected_in, expected_out)
        assert (before[3] - user_pc, user_coin - before[2]) == (expected_in, expected_out)
    after = env.pool()
    assert after.recent_epoch == EPOCH
    assert after.state_data.need_take_pnl_coin == p["pnl_coin"]


def with_fees_and_pnl(info: AmmInfo, num: int, den: int, pnl_coin: int, pnl_pc: int) -> AmmInfo:
    return dataclasses.replace(
        info,
        fees=dataclasses.replace(info.fees, swap_fee_numerator=num, swap_fee_denominator=den),
        state_data=dataclasses.replace(info.state_data, need_take_pnl_coin=pnl_coin, need_take_pnl_pc=pnl_pc),
    )


# ---------------------------------------------------------------------------------------------
# State written by a successful swap.


@pytest.mark.parametrize("coin_to_pc", [True, False])
def test_swap_base_in_records_epoch_and_the_deprecated_statistics(env: Env, coin_to_pc: bool) -> None:
    start = env.info.state_data
    expected_out = quote_base_in(
        1_000_000, *((10**12, 10**11) if coin_to_pc else (10**11, 10**12)), 25, 10_000
    )
    assert isinstance(env.send(env.swap_ix(16, coin_to_pc, 1_000_000, expected_out)), TransactionMetadata)
    sd = env.pool().state_data
    fee = 2_500  # ceil(1e6 * 25 / 1e4)
    if coin_to_pc:
        assert sd.swap_coin_in_amount == start.swap_coin_in_amount + 1_000_000
        assert sd.swap_pc_out_amount == start.swap_pc_out_amount + expected_out
        assert sd.swap_acc_coin_fee == start.swap_acc_coin_fee + fee
    else:
        assert sd.swap_pc_in_amount == start.swap_pc_in_amount + 1_000_000
        assert sd.swap_coin_out_amount == start.swap_coin_out_amount + expected_out
        assert sd.swap_acc_pc_fee == start.swap_acc_pc_fee + fee
    assert env.pool().recent_epoch == EPOCH


def test_swap_base_out_records_the_fee_added_back(env: Env) -> None:
    start = env.info.state_data
    amount_in = quote_base_out(1_000, 10**12, 10**11, 25, 10_000)
    before_fee = math.ceil(Fraction(10**12 * 1_000, 10**11 - 1_000))
    assert isinstance(env.send(env.swap_ix(17, True, amount_in, 1_000)), TransactionMetadata)
    assert env.pool().state_data.swap_acc_coin_fee == start.swap_acc_coin_fee + amount_in - before_fee


@pytest.mark.parametrize("tag", sorted(TAGS))
def test_waiting_trade_pool_opens_at_pool_open_time_and_becomes_swap_only(env: Env, tag: int) -> None:
    timed = dataclasses.replace(env.info.state_data, pool_open_time=NOW + 1)
    env.write_pool(dataclasses.replace(env.info, status=AmmStatus.WAITING_TRADE, state_data=timed))
    a, b = (10_000, 1) if tag in (9, 16) else (U64_MAX, 1_000)
    expect_error(env, env.swap_ix(tag, True, a, b), custom(AmmError.INVALID_STATUS))
    env.write_pool(dataclasses.replace(env.info, state_data=dataclasses.replace(timed, pool_open_time=NOW)))
    assert isinstance(env.send(env.swap_ix(tag, True, a, b)), TransactionMetadata)
    assert env.pool().status == AmmStatus.SWAP_ONLY


def test_order_book_only_pool_swaps_after_its_init_time_and_becomes_initialized(env: Env) -> None:
    timed = dataclasses.replace(env.info.state_data, orderbook_to_init_time=NOW + 1)
    env.write_pool(dataclasses.replace(env.info, status=AmmStatus.ORDER_BOOK_ONLY, state_data=timed))
    expect_error(env, env.swap_ix(16, True, 10_000, 1), custom(AmmError.INVALID_STATUS))
    env.write_pool(
        dataclasses.replace(env.info, state_data=dataclasses.replace(timed, orderbook_to_init_time=NOW))
    )
    assert isinstance(env.send(env.swap_ix(16, True, 10_000, 1)), TransactionMetadata)
    assert env.pool().status == AmmStatus.INITIALIZED


@pytest.mark.parametrize("status", [AmmStatus.INITIALIZED, AmmStatus.SWAP_ONLY])
def test_initialized_and_swap_only_pools_swap(env: Env, status: AmmStatus) -> None:
    env.write_pool(dataclasses.replace(env.info, status=status))
    assert isinstance(env.send(env.swap_ix(9, False, 10_000, 1)), TransactionMetadata)
    assert env.pool().status == status


# ---------------------------------------------------------------------------------------------
# Refusals: each with the program's error and no state change.


def raw_ix(env: Env, data: bytes, n_accounts: int = 8) -> Instruction:
    ix = env.swap_ix(16, True, 1, 0)
    return Instruction(ids.RAYDIUM_AMM_V4, data, ix.accounts[:n_accounts])


@pytest.mark.parametrize(
    "data",
    [b"", bytes([9]) + bytes(8), bytes([17]) + bytes(15), bytes([200]) + bytes(16), bytes([3]) + bytes(16)],
    ids=["empty", "short_base_in", "short_base_out_v2", "unknown_tag", "deposit_not_emulated"],
)
def test_bad_instruction_data_is_invalid_instruction_data(env: Env, data: bytes) -> None:
    expect_error(env, raw_ix(env, data), InstructionErrorFieldless.InvalidInstructionData)


def test_unimplemented_tag_panics_like_the_program(env: Env) -> None:
    expect_error(env, raw_ix(env, bytes([0]) + bytes(16)), PANIC)


@pytest.mark.parametrize("tag", [9, 11])
@pytest.mark.parametrize("n_accounts", [16, 19])
def test_legacy_swap_with_wrong_account_count_is_wrong_accounts_number(
    env: Env, tag: int, n_accounts: int
) -> None:
    ix = env.swap_ix(tag, True, 10_000, 1)
    metas = list(ix.accounts)
    metas = (
        metas[:n_accounts]
        if n_accounts < len(metas)
        else metas + [AccountMeta(Pubkey.new_unique(), False, False)] * (n_accounts - len(metas))
    )
    expect_error(env, Instruction(ix.program_id, ix.data, metas), custom(AmmError.WRONG_ACCOUNTS_NUMBER))


@pytest.mark.parametrize("n_accounts", [4, 7])
def test_v2_swap_with_too_few_accounts_is_not_enough_account_keys(env: Env, n_accounts: int) -> None:
    ix = env.swap_ix(16, True, 10_000, 1)
    short = Instruction(ix.program_id, ix.data, list(ix.accounts)[:n_accounts])
    expect_error(env, short, InstructionErrorFieldless.NotEnoughAccountKeys)


@pytest.mark.parametrize("tag", sorted(TAGS))
def test_pool_owned_by_another_program_is_invalid_amm_account_owner(env: Env, tag: int) -> None:
    env.write_pool(owner=ids.SOLEND)
    expect_error(env, env.swap_ix(tag, True, 10_000, 1), custom(AmmError.INVALID_AMM_ACCOUNT_OWNER))


def test_pool_of_the_wrong_size_is_expected_account(env: Env) -> None:
    env.write_pool(raw=encode_amm_info(env.info) + bytes(8))
    expect_error(env, env.swap_ix(9, True, 10_000, 1), custom(AmmError.EXPECTED_ACCOUNT))


@pytest.mark.parametrize(
    "status", [AmmStatus.UNINITIALIZED, AmmStatus.DISABLED, AmmStatus.WITHDRAW_ONLY, AmmStatus.LIQUIDITY_ONLY]
)
def test_pool_status_without_swap_permission_is_invalid_status(env: Env, status: AmmStatus) -> None:
    env.write_pool(dataclasses.replace(env.info, status=status))
    expect_error(env, env.swap_ix(16, True, 10_000, 1), custom(AmmError.INVALID_STATUS))


def test_pool_status_beyond_the_enum_panics_like_the_program(env: Env) -> None:
    raw = bytearray(encode_amm_info(env.info))
    struct.pack_into("<Q", raw, 0, 8)
    env.write_pool(raw=bytes(raw))
    expect_error(env, env.swap_ix(16, True, 10_000, 1), PANIC)


def test_pool_with_one_mint_on_both_sides_is_not_allowed(env: Env) -> None:
    env.write_pool(dataclasses.replace(env.info, pc_vault_mint=env.coin_mint))
    expect_error(env, env.swap_ix(9, True, 10_000, 1), custom(AmmError.NOT_ALLOWED))


@pytest.mark.parametrize("tag", sorted(TAGS))
def test_owner_that_did_not_sign_is_invalid_sign_account(env: Env, tag: int) -> None:
    ix = env.swap_ix(tag, True, 10_000, 1)
    metas = list(ix.accounts)
    metas[-1] = AccountMeta(env.user.pubkey(), is_signer=False, is_writable=False)
    expect_error(env, Instruction(ix.program_id, ix.data, metas), custom(AmmError.INVALID_SIGN_ACCOUNT))


def replace_meta(ix: Instruction, index: int, key: Pubkey) -> Instruction:
    metas = list(ix.accounts)
    old = metas[index]
    metas[index] = AccountMeta(key, is_signer=old.is_signer, is_writable=old.is_writable)
    return Instruction(ix.program_id, ix.data, metas)


def test_token_program_other_than_spl_token_is_invalid_spl_token_program(env: Env) -> None:
    ix = replace_meta(env.swap_ix(16, True, 10_000, 1), 0, ids.TOKEN_2022_PROGRAM)
    expect_error(env, ix, custom(AmmError.INVALID_SPL_TOKEN_PROGRAM))


def test_wrong_authority_is_invalid_program_address(env: Env) -> None:
    ix = replace_meta(env.swap_ix(9, True, 10_000, 1), 2, Pubkey.new_unique())
    expect_error(env, ix, custom(AmmError.INVALID_PROGRAM_ADDRESS))


def test_nonce_without_a_valid_authority_is_invalid_program_address(env: Env) -> None:
    ix = env.swap_ix(16, True, 10_000, 1)  # built while the pool still has nonce 254
    with pytest.raises(ValueError):
        amm_authority(0)  # "amm authority" + [0] lands on the curve
    env.write_pool(dataclasses.replace(env.info, nonce=0))
    expect_error(env, ix, custom(AmmError.INVALID_PROGRAM_ADDRESS))


@pytest.mark.parametrize(
    ("index", "error"), [(3, AmmError.INVALID_COIN_VAULT), (4, AmmError.INVALID_PC_VAULT)]
)
def test_vault_other_than_the_pools_is_rejected(env: Env, index: int, error: AmmError) -> None:
    other = Pubkey.new_unique()
    set_token_account(env.svm, other, env.coin_mint, env.authority, 10**12)
    expect_error(env, replace_meta(env.swap_ix(16, True, 10_000, 1), index, other), custom(error))


def test_legacy_swap_checks_the_vaults_after_target_orders(env: Env) -> None:
    ix = replace_meta(
        env.swap_ix(11, True, U64_MAX, 1_000), 6, Pubkey.new_unique()
    )  # 18-account form: pc vault
    expect_error(env, ix, custom(AmmError.INVALID_PC_VAULT))


@pytest.mark.parametrize(("index", "vault"), [(5, "coin"), (6, "pc")])
def test_user_account_that_is_a_pool_vault_is_invalid_user_token(env: Env, index: int, vault: str) -> None:
    key = env.coin_vault if vault == "coin" else env.pc_vault
    expect_error(
        env, replace_meta(env.swap_ix(16, True, 10_000, 1), index, key), custom(AmmError.INVALID_USER_TOKEN)
    )


def test_vault_not_owned_by_spl_token_is_invalid_spl_token_program(env: Env) -> None:
    data = encode_token_account(env.coin_mint, env.authority, 10**12)
    set_data_account(env.svm, env.coin_vault, ids.TOKEN_2022_PROGRAM, data)
    expect_error(env, env.swap_ix(16, True, 10_000, 1), custom(AmmError.INVALID_SPL_TOKEN_PROGRAM))


@pytest.mark.parametrize("bad", ["short", "uninitialized", "bad_option_tag"])
def test_user_account_that_does_not_unpack_is_expected_account(env: Env, bad: str) -> None:
    data = bytearray(encode_token_account(env.coin_mint, env.user.pubkey(), 10**12))
    if bad == "short":
        data = data[:100]
    elif bad == "uninitialized":
        data[108] = 0
    else:
        struct.pack_into("<I", data, 72, 2)
    set_data_account(env.svm, env.user_coin, ids.TOKEN_PROGRAM, bytes(data))
    expect_error(env, env.swap_ix(16, True, 10_000, 1), custom(AmmError.EXPECTED_ACCOUNT))


def test_need_take_pnl_above_the_vault_is_checked_sub_overflow(env: Env) -> None:
    sd = dataclasses.replace(env.info.state_data, need_take_pnl_pc=10**11 + 1)
    env.write_pool(dataclasses.replace(env.info, state_data=sd))
    expect_error(env, env.swap_ix(16, True, 10_000, 1), custom(AmmError.CHECKED_SUB_OVERFLOW))


@pytest.mark.parametrize("case", ["same_mint_both_sides", "foreign_mint"])
def test_user_mints_not_matching_the_vaults_are_invalid_user_token(env: Env, case: str) -> None:
    if case == "same_mint_both_sides":
        set_token_account(env.svm, env.user_pc, env.coin_mint, env.user.pubkey(), 10**12)
    else:
        other = Pubkey.new_unique()
        set_mint(env.svm, other, 6)
        set_token_account(env.svm, env.user_coin, other, env.user.pubkey(), 10**12)
    expect_error(env, env.swap_ix(9, True, 10_000, 1), custom(AmmError.INVALID_USER_TOKEN))


def test_base_in_above_the_user_balance_is_insufficient_funds(env: Env) -> None:
    expect_error(env, env.swap_ix(16, True, 10**12 + 1, 1), custom(AmmError.INSUFFICIENT_FUNDS))


@pytest.mark.parametrize("tag", [9, 16])
def test_base_in_below_minimum_out_is_exceeded_slippage(env: Env, tag: int) -> None:
    out = quote_base_in(1_000_000, 10**12, 10**11, 25, 10_000)
    expect_error(env, env.swap_ix(tag, True, 1_000_000, out + 1), custom(AmmError.EXCEEDED_SLIPPAGE))
    assert isinstance(env.send(env.swap_ix(tag, True, 1_000_000, out)), TransactionMetadata)


@pytest.mark.parametrize("tag", [11, 17])
def test_base_out_above_max_in_is_exceeded_slippage(env: Env, tag: int) -> None:
    needed = quote_base_out(1_000, 10**12, 10**11, 25, 10_000)
    expect_error(env, env.swap_ix(tag, True, needed - 1, 1_000), custom(AmmError.EXCEEDED_SLIPPAGE))
    assert isinstance(env.send(env.swap_ix(tag, True, needed, 1_000)), TransactionMetadata)


def test_base_out_needing_more_than_the_user_holds_is_insufficient_funds(env: Env) -> None:
    env.write_balances(10**12, 10**11, 5, 10**12)
    expect_error(env, env.swap_ix(17, True, U64_MAX, 1_000), custom(AmmError.INSUFFICIENT_FUNDS))


@pytest.mark.parametrize(("tag", "a", "b"), [(9, 0, 0), (16, 1, 0), (11, U64_MAX, 0), (17, U64_MAX, 0)])
def test_zero_amounts_are_invalid_input(env: Env, tag: int, a: int, b: int) -> None:
    expect_error(env, env.swap_ix(tag, True, a, b), custom(AmmError.INVALID_INPUT))


@pytest.mark.parametrize("amount_out", [10**11, 10**11 + 1])
def test_base_out_of_the_whole_reserve_panics_like_the_program(env: Env, amount_out: int) -> None:
    expect_error(env, env.swap_ix(17, True, U64_MAX, amount_out), PANIC)


def test_base_in_draining_an_empty_input_side_is_insufficient_funds(env: Env) -> None:
    env.write_balances(0, 10**11, 10**12, 10**12)
    expect_error(env, env.swap_ix(16, True, 10_000, 0), custom(AmmError.INSUFFICIENT_FUNDS))


def test_swap_fee_above_one_panics_like_the_program(env: Env) -> None:
    raw = bytearray(encode_amm_info(env.info))
    struct.pack_into("<QQ", raw, 176, 3, 2)
    env.write_pool(raw=bytes(raw))
    expect_error(env, env.swap_ix(16, True, 10_000, 0), PANIC)


def test_user_source_owned_by_someone_else_fails_in_spl_token(env: Env) -> None:
    set_token_account(env.svm, env.user_coin, env.coin_mint, Pubkey.new_unique(), 10**12)
    expect_error(
        env, env.swap_ix(16, True, 10_000, 0), InstructionErrorCustom(4)
    )  # TokenError::OwnerMismatch


# ---------------------------------------------------------------------------------------------
# Compute units.


def test_compute_units_per_swap(env: Env) -> None:
    for tag, name in TAGS.items():
        for coin_to_pc in (True, False):
            a, b = (1_000_000, 1) if tag in (9, 16) else (U64_MAX, 1_000)
            res = env.send(env.swap_ix(tag, coin_to_pc, a, b))
            assert isinstance(res, TransactionMetadata), res
            MEASURED_CU[f"{name} {'coin->pc' if coin_to_pc else 'pc->coin'}"] = res.compute_units_consumed()
    for label, cu in MEASURED_CU.items():
        print(f"raydium_amm {label}: {cu} CU")
    # A budget, not a timing: both transfers are CPIs into SPL Token (~4.6k CU each with invoke).
    assert all(cu < 20_000 for cu in MEASURED_CU.values()), MEASURED_CU


def test_the_emulator_is_loaded_at_the_mainnet_program_id(env: Env) -> None:
    acc = env.svm.get_account(ids.RAYDIUM_AMM_V4)
    assert isinstance(acc, Account) and acc.executable


def test_base_out_needing_more_than_u64_panics_like_the_program(env: Env) -> None:
    # before_fee = ceil(1e18 * (1e11 - 1) / 1) is far above u64::MAX: `as_u64()` panics on chain.
    env.write_balances(10**18, 10**11, 10**12, 10**12)
    with pytest.raises(RaydiumSwapError):
        quote_base_out(10**11 - 1, 10**18, 10**11, 25, 10_000)
    expect_error(env, env.swap_ix(17, True, U64_MAX, 10**11 - 1), PANIC)
