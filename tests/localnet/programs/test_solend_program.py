"""The Solend emulator at So1end… in LiteSVM: flash borrow → repay, every refusal, fees, CU."""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import (
    InstructionErrorFieldless,
    TransactionErrorInstructionError,
)
from spl.token.instructions import transfer as spl_transfer
from spl.token.models import TransferParams

from core.localnet.accounts import set_data_account, set_mint, set_token_account, token_amount
from core.localnet.programs import load_programs
from core.protocols import ids
from core.protocols.solend import (
    RESERVE_AVAILABLE_AMOUNT_OFFSET,
    U64_MAX,
    WAD,
    LendingError,
    LendingMarket,
    Reserve,
    SolendError,
    accrue_interest,
    decode_reserve,
    encode_lending_market,
    encode_reserve,
    flash_borrow_reserve_liquidity,
    flash_loan_fees,
    flash_loan_instructions,
    flash_repay_reserve_liquidity,
    lending_market_authority,
)
from tests.localnet.programs.tx_results import assert_refused, custom_error, ok

FEE_03 = 3_000_000_000_000_000  # 0.3 %
SUPPLY = 5_000_000_000_000
USER_START = 50_000_000


@dataclass
class Env:
    svm: LiteSVM
    payer: Keypair
    user: Keypair
    market: Pubkey
    authority: Pubkey
    bump: int
    mint: Pubkey
    reserve: Pubkey
    supply: Pubkey
    fee_receiver: Pubkey
    host_receiver: Pubkey
    user_token: Pubkey
    reserve_state: Reserve

    def write_reserve(self, **changes: object) -> None:
        self.reserve_state = replace(self.reserve_state, **changes)  # type: ignore[arg-type]
        set_data_account(self.svm, self.reserve, ids.SOLEND, encode_reserve(self.reserve_state))

    def read_reserve(self) -> Reserve:
        acc = self.svm.get_account(self.reserve)
        assert acc is not None
        return decode_reserve(bytes(acc.data), self.reserve)

    def balances(self) -> tuple[int, int, int, int]:
        return tuple(  # type: ignore[return-value]
            token_amount(self.svm, k)
            for k in (self.supply, self.user_token, self.fee_receiver, self.host_receiver)
        )

    def state(self) -> object:
        return self.balances(), self.read_reserve()

    def borrow_ix(self, amount: int, **kw: object) -> Instruction:
        args: dict[str, object] = dict(
            liquidity_amount=amount,
            source_liquidity=self.supply,
            destination_liquidity=self.user_token,
            reserve=self.reserve,
            lending_market=self.market,
        )
        args.update(kw)
        return flash_borrow_reserve_liquidity(**args)  # type: ignore[arg-type]

    def repay_ix(self, amount: int, index: int, **kw: object) -> Instruction:
        args: dict[str, object] = dict(
            liquidity_amount=amount,
            borrow_instruction_index=index,
            source_liquidity=self.user_token,
            destination_liquidity=self.supply,
            reserve_liquidity_fee_receiver=self.fee_receiver,
            host_fee_receiver=self.host_receiver,
            reserve=self.reserve,
            lending_market=self.market,
            user_transfer_authority=self.user.pubkey(),
        )
        args.update(kw)
        return flash_repay_reserve_liquidity(**args)  # type: ignore[arg-type]

    def send(self, ixs: list[Instruction]) -> TransactionMetadata | FailedTransactionMetadata:
        self.svm.expire_blockhash()
        signers = [self.payer, self.user]
        msg = Message(ixs, self.payer.pubkey())
        needed = {k for k in msg.account_keys[: msg.header.num_required_signatures]}
        tx = Transaction([s for s in signers if s.pubkey() in needed], msg, self.svm.latest_blockhash())
        return self.svm.send_transaction(tx)


def make_env() -> Env:
    svm = LiteSVM()
    load_programs(svm)
    payer, user = Keypair(), Keypair()
    svm.airdrop(payer.pubkey(), 10 * 10**9)
    market = Keypair().pubkey()
    authority, bump = lending_market_authority(market)
    mint, reserve, supply = Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey()
    fee_receiver, host_receiver, user_token = Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey()
    set_mint(svm, mint, 6, supply=SUPPLY + USER_START)
    set_token_account(svm, supply, mint, authority, SUPPLY)
    set_token_account(svm, fee_receiver, mint, Keypair().pubkey(), 0)
    set_token_account(svm, host_receiver, mint, Keypair().pubkey(), 0)
    set_token_account(svm, user_token, mint, user.pubkey(), USER_START)
    set_data_account(
        svm,
        market,
        ids.SOLEND,
        encode_lending_market(LendingMarket(bump_seed=bump, owner=Keypair().pubkey())),
    )
    state = Reserve(
        lending_market=market,
        liquidity_mint_pubkey=mint,
        liquidity_supply_pubkey=supply,
        fee_receiver=fee_receiver,
        available_amount=SUPPLY,
        flash_loan_fee_wad=FEE_03,
        host_fee_percentage=20,
    )
    set_data_account(svm, reserve, ids.SOLEND, encode_reserve(state))
    return Env(
        svm,
        payer,
        user,
        market,
        authority,
        bump,
        mint,
        reserve,
        supply,
        fee_receiver,
        host_receiver,
        user_token,
        state,
    )


@pytest.fixture
def env() -> Env:
    return make_env()


# --- success ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "fee_wad", "host_pct", "total", "host"),
    [
        (1_000_000_000, FEE_03, 20, 3_000_000, 600_000),  # the source's test vector
        (1000, FEE_03, 20, 3, 1),
        (1_000_000, 0, 0, 0, 0),
        (1_000_000, 0, 20, 0, 0),
        (12_345_678, 5 * 10**14, 20, 6173, 1235),  # mainnet USDC: 0.05 %
        (100, FEE_03, 0, 1, 0),
    ],
)
def test_borrow_then_repay_charges_exactly_the_fee(
    env: Env, amount: int, fee_wad: int, host_pct: int, total: int, host: int
) -> None:
    env.write_reserve(flash_loan_fee_wad=fee_wad, host_fee_percentage=host_pct)
    assert flash_loan_fees(amount, fee_wad, host_pct) == (total, host)
    ok(env.send([env.borrow_ix(amount), env.repay_ix(amount, 0)]))
    assert env.balances() == (SUPPLY, USER_START - total, total - host, host)
    after = env.read_reserve()
    assert after.available_amount == SUPPLY  # back up after the repay
    assert after.borrowed_amount_wads == 0
    assert after.last_update_stale is True


def test_borrowed_tokens_are_usable_between_borrow_and_repay(env: Env) -> None:
    # The user starts with only the fee; the principal comes from the borrow itself.
    set_token_account(env.svm, env.user_token, env.mint, env.user.pubkey(), 3_000_000)
    spare = Keypair().pubkey()
    set_token_account(env.svm, spare, env.mint, env.user.pubkey(), 0)
    amount = 1_000_000_000
    move = _spl_transfer(env.user_token, spare, env.user.pubkey(), amount)
    back = _spl_transfer(spare, env.user_token, env.user.pubkey(), amount)
    ok(env.send([env.borrow_ix(amount), move, back, env.repay_ix(amount, 0)]))
    assert token_amount(env.svm, env.user_token) == 0
    assert token_amount(env.svm, env.fee_receiver) == 2_400_000


def _spl_transfer(src: Pubkey, dst: Pubkey, owner: Pubkey, amount: int) -> Instruction:
    return spl_transfer(
        TransferParams(program_id=ids.TOKEN_PROGRAM, source=src, dest=dst, owner=owner, amount=amount)
    )


def test_reserve_available_amount_goes_down_on_borrow_and_back_on_repay(env: Env) -> None:
    # The repay adds the amount back, so ending where it started proves the borrow took it off
    # (and borrowed_amount_wads, which the repay settles with a floor at 0, likewise).
    amount = 777_000
    raw_before = bytes(env.svm.get_account(env.reserve).data)  # type: ignore[union-attr]
    ok(env.send([env.borrow_ix(amount), env.repay_ix(amount, 0)]))
    raw_after = bytes(env.svm.get_account(env.reserve).data)  # type: ignore[union-attr]
    off = RESERVE_AVAILABLE_AMOUNT_OFFSET
    assert raw_before[off : off + 8] == raw_after[off : off + 8] == struct.pack("<Q", SUPPLY)
    # Only last_update (slot, stale) may differ.
    assert raw_before[10:] == raw_after[10:]


@pytest.mark.parametrize("n_budget", [0, 1, 2])
def test_compute_budget_instructions_in_front_shift_the_borrow_index(env: Env, n_budget: int) -> None:
    budget = [set_compute_unit_limit(400_000), set_compute_unit_price(1000)][:n_budget]
    amount = 1_000_000
    ok(env.send([*budget, env.borrow_ix(amount), env.repay_ix(amount, n_budget)]))
    if n_budget:
        # The index without the budget instructions is now wrong: borrow sees a foreign index.
        assert_refused(
            env,
            [*budget, env.borrow_ix(amount), env.repay_ix(amount, 0)],
            n_budget,
            LendingError.INVALID_FLASH_REPAY,
        )


def test_other_instructions_between_borrow_and_repay_are_allowed(env: Env) -> None:
    amount = 1_000_000
    memo = Instruction(ids.MEMO_PROGRAM, b"arb", [])
    ok(env.send([memo, env.borrow_ix(amount), memo, memo, env.repay_ix(amount, 1), memo]))


def test_compute_units_of_borrow_and_repay_are_recorded(env: Env) -> None:
    amount = 1_000_000_000
    meta = ok(env.send([env.borrow_ix(amount), env.repay_ix(amount, 0)]))
    logs = meta.logs()
    consumed = _per_instruction_cu(logs)
    assert len(consumed) == 2, logs
    print(
        f"\nSolend emulator CU: borrow {consumed[0]}, repay {consumed[1]}, tx {meta.compute_units_consumed()}"
    )
    # A PDA-signed token CPI alone is ~3,100 CU; repay makes three user-signed transfers.
    assert 3_000 < consumed[0] < 60_000
    assert 5_000 < consumed[1] < 60_000


def _per_instruction_cu(logs: list[str]) -> list[int]:
    prefix = f"Program {ids.SOLEND} consumed "
    return [int(line[len(prefix) :].split(" ")[0]) for line in logs if line.startswith(prefix)]


# --- refusals -----------------------------------------------------------------------------------


def test_borrow_without_repay_is_refused(env: Env) -> None:
    assert_refused(env, [env.borrow_ix(1_000_000)], 0, LendingError.NO_FLASH_REPAY_FOUND)


def test_repay_alone_is_refused(env: Env) -> None:
    assert_refused(env, [env.repay_ix(1_000_000, 0)], 0, LendingError.INVALID_FLASH_REPAY)


def test_repay_pointing_at_a_later_index_is_refused(env: Env) -> None:
    memo = Instruction(ids.MEMO_PROGRAM, b"x", [])
    assert_refused(env, [memo, env.repay_ix(1_000_000, 1), memo], 1, LendingError.INVALID_FLASH_REPAY)
    assert_refused(env, [env.repay_ix(1_000_000, 5)], 0, LendingError.INVALID_FLASH_REPAY)


def test_repay_with_a_wrong_index_is_refused_by_the_borrow(env: Env) -> None:
    memo = Instruction(ids.MEMO_PROGRAM, b"x", [])
    assert_refused(
        env, [memo, env.borrow_ix(1_000_000), env.repay_ix(1_000_000, 0)], 1, LendingError.INVALID_FLASH_REPAY
    )


@pytest.mark.parametrize("delta", [-1, 1])
def test_repay_with_a_different_amount_is_refused(env: Env, delta: int) -> None:
    amount = 1_000_000
    assert_refused(
        env, [env.borrow_ix(amount), env.repay_ix(amount + delta, 0)], 0, LendingError.INVALID_FLASH_REPAY
    )


def test_repay_naming_another_reserve_is_refused(env: Env) -> None:
    other = Keypair().pubkey()
    set_data_account(env.svm, other, ids.SOLEND, encode_reserve(env.reserve_state))
    assert_refused(
        env,
        [env.borrow_ix(1_000_000), env.repay_ix(1_000_000, 0, reserve=other)],
        0,
        LendingError.INVALID_FLASH_REPAY,
    )


def test_a_second_borrow_is_refused(env: Env) -> None:
    amount = 1_000_000
    assert_refused(
        env,
        [env.borrow_ix(amount), env.borrow_ix(amount), env.repay_ix(amount, 0), env.repay_ix(amount, 1)],
        0,
        LendingError.MULTIPLE_FLASH_BORROWS,
    )


def test_two_repays_for_one_borrow_are_refused(env: Env) -> None:
    amount = 1_000_000
    assert_refused(
        env,
        [env.borrow_ix(amount), env.repay_ix(amount, 0), env.repay_ix(amount, 0)],
        0,
        LendingError.MULTIPLE_FLASH_BORROWS,
    )


def test_a_borrow_issued_by_cpi_is_refused(env: Env) -> None:
    inner = env.borrow_ix(1_000_000)
    relay = _cpi_relay(inner)
    # The top-level instruction at the current index belongs to the relay, not to Solend.
    assert_refused(env, [relay, env.repay_ix(1_000_000, 0)], 0, LendingError.FLASH_BORROW_CPI)


def test_a_repay_issued_by_cpi_is_refused(env: Env) -> None:
    amount = 1_000_000
    # A repay only reachable by CPI is invisible to the borrow's scan of top-level instructions.
    assert_refused(
        env,
        [env.borrow_ix(amount), _cpi_relay(env.repay_ix(amount, 0))],
        0,
        LendingError.NO_FLASH_REPAY_FOUND,
    )
    # With a proper top-level repay in place, an extra repay by CPI is refused by the repay itself.
    assert_refused(
        env,
        [env.borrow_ix(amount), env.repay_ix(amount, 0), _cpi_relay(env.repay_ix(amount, 0))],
        2,
        LendingError.FLASH_REPAY_CPI,
    )


def _cpi_relay(inner: Instruction) -> Instruction:
    # cpi_relay.c: data = [index of the program account to invoke] + inner data; every other
    # account is passed through with its flags.
    metas = [*inner.accounts, AccountMeta(inner.program_id, is_signer=False, is_writable=False)]
    return Instruction(ids.CPI_RELAY, bytes([len(inner.accounts)]) + bytes(inner.data), metas)


def test_flash_loans_disabled_at_u64_max_fee(env: Env) -> None:
    env.write_reserve(flash_loan_fee_wad=U64_MAX)
    assert_refused(
        env, [env.borrow_ix(1_000_000), env.repay_ix(1_000_000, 0)], 0, LendingError.FLASH_LOANS_DISABLED
    )


def test_borrow_above_available_amount_is_refused(env: Env) -> None:
    env.write_reserve(available_amount=999_999)
    assert_refused(
        env, [env.borrow_ix(1_000_000), env.repay_ix(1_000_000, 0)], 0, LendingError.INSUFFICIENT_LIQUIDITY
    )
    ok(env.send([env.borrow_ix(999_999), env.repay_ix(999_999, 0)]))


def test_borrow_too_small_for_the_fee_is_refused_at_the_repay(env: Env) -> None:
    assert_refused(env, [env.borrow_ix(1), env.repay_ix(1, 0)], 1, LendingError.BORROW_TOO_SMALL)


def test_repay_without_enough_tokens_fails_and_moves_nothing(env: Env) -> None:
    set_token_account(env.svm, env.user_token, env.mint, env.user.pubkey(), 0)
    before = env.balances()
    result = env.send([env.borrow_ix(1_000_000), env.repay_ix(1_000_000, 0)])
    assert isinstance(result, FailedTransactionMetadata)
    assert env.balances() == before


# --- account checks -----------------------------------------------------------------------------


def test_wrong_supply_account_is_refused(env: Env) -> None:
    assert_refused(
        env,
        [env.borrow_ix(1000, source_liquidity=env.host_receiver), env.repay_ix(1000, 0)],
        0,
        LendingError.INVALID_ACCOUNT_INPUT,
    )
    assert_refused(
        env,
        [env.borrow_ix(1000), env.repay_ix(1000, 0, destination_liquidity=env.host_receiver)],
        1,
        LendingError.INVALID_ACCOUNT_INPUT,
    )


def test_supply_as_destination_or_source_is_refused(env: Env) -> None:
    assert_refused(
        env,
        [env.borrow_ix(1000, destination_liquidity=env.supply), env.repay_ix(1000, 0)],
        0,
        LendingError.INVALID_ACCOUNT_INPUT,
    )
    assert_refused(
        env,
        [env.borrow_ix(1000), env.repay_ix(1000, 0, source_liquidity=env.supply)],
        1,
        LendingError.INVALID_ACCOUNT_INPUT,
    )


def test_wrong_fee_receiver_is_refused(env: Env) -> None:
    assert_refused(
        env,
        [env.borrow_ix(1000), env.repay_ix(1000, 0, reserve_liquidity_fee_receiver=env.host_receiver)],
        1,
        LendingError.INVALID_ACCOUNT_INPUT,
    )


def test_wrong_market_authority_is_refused(env: Env) -> None:
    assert_refused(
        env,
        [env.borrow_ix(1000, lending_market_authority_pubkey=Keypair().pubkey()), env.repay_ix(1000, 0)],
        0,
        LendingError.INVALID_MARKET_AUTHORITY,
    )


def test_wrong_token_program_is_refused(env: Env) -> None:
    assert_refused(
        env,
        [env.borrow_ix(1000, token_program=ids.TOKEN_2022_PROGRAM), env.repay_ix(1000, 0)],
        0,
        LendingError.INVALID_TOKEN_PROGRAM,
    )
    assert_refused(
        env,
        [env.borrow_ix(1000), env.repay_ix(1000, 0, token_program=ids.TOKEN_2022_PROGRAM)],
        1,
        LendingError.INVALID_TOKEN_PROGRAM,
    )


def test_accounts_not_owned_by_the_program_are_refused(env: Env) -> None:
    raw = bytes(env.svm.get_account(env.reserve).data)  # type: ignore[union-attr]
    set_data_account(env.svm, env.reserve, ids.SYSTEM_PROGRAM, raw)
    assert_refused(env, [env.borrow_ix(1000), env.repay_ix(1000, 0)], 0, LendingError.INVALID_ACCOUNT_OWNER)
    set_data_account(env.svm, env.reserve, ids.SOLEND, raw)
    raw_market = bytes(env.svm.get_account(env.market).data)  # type: ignore[union-attr]
    set_data_account(env.svm, env.market, ids.SYSTEM_PROGRAM, raw_market)
    assert_refused(env, [env.borrow_ix(1000), env.repay_ix(1000, 0)], 0, LendingError.INVALID_ACCOUNT_OWNER)


def test_reserve_of_another_market_is_refused(env: Env) -> None:
    env.write_reserve(lending_market=Keypair().pubkey())
    assert_refused(env, [env.borrow_ix(1000), env.repay_ix(1000, 0)], 0, LendingError.INVALID_ACCOUNT_INPUT)


def test_unsigned_user_transfer_authority_cannot_repay(env: Env) -> None:
    repay = env.repay_ix(1000, 0)
    metas = list(repay.accounts)
    metas[6] = AccountMeta(env.user.pubkey(), is_signer=False, is_writable=False)
    unsigned = Instruction(repay.program_id, bytes(repay.data), metas)
    before = env.balances()
    result = env.send([env.borrow_ix(1000), unsigned])
    assert isinstance(result, FailedTransactionMetadata)
    err = result.err()
    assert isinstance(err, TransactionErrorInstructionError) and err.index == 1
    assert env.balances() == before


# --- instruction data ---------------------------------------------------------------------------


def _raw(env: Env, data: bytes, n_accounts: int = 7) -> Instruction:
    return Instruction(ids.SOLEND, data, list(env.borrow_ix(1000).accounts)[:n_accounts])


@pytest.mark.parametrize(
    "data", [b"", bytes([19]), bytes([19]) + bytes(7), bytes([20]) + bytes(8), bytes([99])]
)
def test_short_or_unknown_data_is_refused(env: Env, data: bytes) -> None:
    assert_refused(env, [_raw(env, data)], 0, LendingError.INSTRUCTION_UNPACK_ERROR)


def test_deprecated_flash_loan_tag_13_is_refused(env: Env) -> None:
    assert_refused(
        env, [_raw(env, bytes([13]) + (1000).to_bytes(8, "little"))], 0, LendingError.DEPRECATED_INSTRUCTION
    )


def test_not_enough_accounts_is_refused(env: Env) -> None:
    before = env.balances()
    result = env.send([_raw(env, bytes(env.borrow_ix(1000).data), 6), env.repay_ix(1000, 0)])
    assert isinstance(result, FailedTransactionMetadata)
    assert "NotEnoughAccountKeys" in str(result.err())
    assert env.balances() == before


def test_borrowed_amount_wads_tracks_the_open_loan_on_chain(env: Env) -> None:
    # A pre-existing debt stays untouched by a flash loan round trip.
    env.write_reserve(borrowed_amount_wads=123 * WAD + 5)
    ok(env.send([env.borrow_ix(1_000_000), env.repay_ix(1_000_000, 0)]))
    assert env.read_reserve().borrowed_amount_wads == 123 * WAD + 5


def test_borrow_records_the_clock_slot_in_last_update(env: Env) -> None:
    env.svm.warp_to_slot(1234)
    ok(env.send([env.borrow_ix(1_000_000), env.repay_ix(1_000_000, 0)]))
    after = env.read_reserve()
    assert (after.last_update_slot, after.last_update_stale) == (1234, True)


def test_reserve_updated_in_a_future_slot_is_refused(env: Env) -> None:
    # _refresh_reserve_interest: slots elapsed is a checked subtraction.
    env.write_reserve(last_update_slot=env.svm.get_clock().slot + 1)
    assert_refused(env, [env.borrow_ix(1000), env.repay_ix(1000, 0)], 0, LendingError.MATH_OVERFLOW)


def _builtin_error(result: object) -> tuple[int, str]:
    assert isinstance(result, FailedTransactionMetadata), "transaction unexpectedly succeeded"
    err = result.err()
    assert isinstance(err, TransactionErrorInstructionError), err
    assert isinstance(err.err, InstructionErrorFieldless), err.err
    return err.index, str(err.err).removeprefix("InstructionErrorFieldless.")


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (lambda r: r[:-1], "InvalidAccountData"),
        (lambda r: bytes([2]) + r[1:], "InvalidAccountData"),
        (lambda r: r[:9] + bytes([2]) + r[10:], "InvalidAccountData"),
        (lambda r: bytes([0]) + r[1:], "UninitializedAccount"),
    ],
)
def test_malformed_reserve_data_is_refused(env: Env, raw: object, error: str) -> None:
    good = encode_reserve(env.reserve_state)
    set_data_account(env.svm, env.reserve, ids.SOLEND, raw(good))  # type: ignore[operator]
    before = env.balances()
    result = env.send([env.borrow_ix(1000), env.repay_ix(1000, 0)])
    assert _builtin_error(result) == (0, error)
    assert env.balances() == before


def test_a_fake_instructions_sysvar_is_refused(env: Env) -> None:
    fake = Keypair().pubkey()
    set_data_account(env.svm, fake, ids.SYSTEM_PROGRAM, bytes(64))
    borrow = env.borrow_ix(1000)
    metas = list(borrow.accounts)
    metas[5] = AccountMeta(fake, is_signer=False, is_writable=False)
    bad = Instruction(borrow.program_id, bytes(borrow.data), metas)
    result = env.send([bad, env.repay_ix(1000, 0)])
    assert _builtin_error(result) == (0, "UnsupportedSysvar")


def test_emulator_fees_equal_the_python_fee_math() -> None:
    """Random amounts, rates and host shares: the C program moves exactly flash_loan_fees()."""
    e = make_env()

    @settings(max_examples=150, deadline=None)
    @given(
        amount=st.one_of(st.integers(1, 10_000), st.integers(1, SUPPLY)),
        fee_wad=st.one_of(st.sampled_from([0, 1, 5 * 10**14, FEE_03, 10**16]), st.integers(0, WAD)),
        host_pct=st.integers(0, 100),
    )
    def check(amount: int, fee_wad: int, host_pct: int) -> None:
        e.write_reserve(flash_loan_fee_wad=fee_wad, host_fee_percentage=host_pct, available_amount=SUPPLY)
        for acc, owner, amt in (
            (e.supply, e.authority, SUPPLY),
            (e.user_token, e.user.pubkey(), SUPPLY),
            (e.fee_receiver, e.payer.pubkey(), 0),
            (e.host_receiver, e.payer.pubkey(), 0),
        ):
            set_token_account(e.svm, acc, e.mint, owner, amt)
        result = e.send([e.borrow_ix(amount), e.repay_ix(amount, 0)])
        try:
            total, host = flash_loan_fees(amount, fee_wad, host_pct)
        except SolendError as exc:
            assert custom_error(result) == (1, int(exc.error))
            return
        ok(result)
        assert e.balances() == (SUPPLY, SUPPLY - total, total - host, host)

    check()


def test_borrow_accrues_interest_like_the_program() -> None:
    """Random reserve states and elapsed slots: the reserve after a flash loan round trip equals
    accrue_interest() in Python (and MathOverflow where Python overflows)."""
    e = make_env()
    now = e.svm.get_clock().slot
    amount = 1000

    @settings(max_examples=120, deadline=None)
    @given(
        borrowed=st.one_of(st.integers(0, 10**15 * WAD), st.integers(0, 2**128 - 1)),
        available=st.integers(amount, 10**13),
        fee_share=st.integers(0, 100),
        utils=st.tuples(st.integers(0, 100), st.integers(0, 100)).map(sorted),
        rates=st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(sorted),
        super_max=st.integers(0, 2000),
        take=st.integers(0, 100),
        elapsed=st.one_of(st.integers(0, 3), st.integers(0, 10**7)),
        cumulative=st.integers(WAD, 10 * WAD),
    )
    def check(
        borrowed: int,
        available: int,
        fee_share: int,
        utils: list[int],
        rates: list[int],
        super_max: int,
        take: int,
        elapsed: int,
        cumulative: int,
    ) -> None:
        e.write_reserve(
            flash_loan_fee_wad=0,
            available_amount=available,
            borrowed_amount_wads=borrowed,
            accumulated_protocol_fees_wads=borrowed * fee_share // 1000,
            optimal_utilization_rate=utils[0],
            max_utilization_rate=utils[1],
            min_borrow_rate=rates[0],
            optimal_borrow_rate=rates[1],
            max_borrow_rate=rates[2],
            super_max_borrow_rate=super_max,
            protocol_take_rate=take,
            cumulative_borrow_rate_wads=cumulative,
            last_update_slot=now - elapsed,
            last_update_stale=True,
        )
        set_token_account(e.svm, e.supply, e.mint, e.authority, available)
        before = e.reserve_state
        result = e.send([e.borrow_ix(amount), e.repay_ix(amount, 0)])
        try:
            expected = accrue_interest(before, now)
        except SolendError as exc:
            assert custom_error(result) == (0, int(exc.error))
            return
        if expected.borrowed_amount_wads + amount * WAD > 2**128 - 1:
            # The borrow's debt no longer fits the 16-byte field (the program panics in pack).
            assert isinstance(result, FailedTransactionMetadata)
            assert result.err().index == 0  # type: ignore[union-attr]
            return
        ok(result)
        settled = min(amount * WAD, expected.borrowed_amount_wads + amount * WAD)
        assert e.read_reserve() == replace(
            expected,
            last_update_stale=True,
            borrowed_amount_wads=expected.borrowed_amount_wads + amount * WAD - settled,
        )

    check()


def test_interest_that_overflows_a_rate_is_refused(env: Env) -> None:
    # Utilization ~1 with a 10,000x super-max rate: Rate::try_pow overflows u128 within 10^7 slots.
    now = env.svm.get_clock().slot
    env.write_reserve(
        available_amount=SUPPLY,
        borrowed_amount_wads=10**15 * WAD,
        optimal_utilization_rate=50,
        max_utilization_rate=60,
        optimal_borrow_rate=100,
        max_borrow_rate=255,
        super_max_borrow_rate=10**6,
        last_update_slot=now - 10**7,
    )
    with pytest.raises(SolendError) as info:
        accrue_interest(env.reserve_state, now)
    assert info.value.error == LendingError.MATH_OVERFLOW
    assert_refused(env, [env.borrow_ix(1000), env.repay_ix(1000, 0)], 0, LendingError.MATH_OVERFLOW)


def test_the_instruction_pair_built_from_the_decoded_reserve_works_behind_compute_budget(env: Env) -> None:
    borrow, repay = flash_loan_instructions(
        reserve_address=env.reserve,
        reserve=env.read_reserve(),
        liquidity_amount=1_000_000_000,
        borrow_instruction_index=2,
        user_token_account=env.user_token,
        user_transfer_authority=env.user.pubkey(),
        host_fee_receiver=env.host_receiver,
    )
    budget = [set_compute_unit_limit(200_000), set_compute_unit_price(1)]
    ok(env.send([*budget, borrow, repay]))
    assert env.balances() == (SUPPLY, USER_START - 3_000_000, 2_400_000, 600_000)


def test_borrow_refuses_a_later_lending_instruction_it_cannot_unpack(env: Env) -> None:
    # DepositReserveLiquidity (tag 4) without its u64: the borrow's scan fails to unpack it.
    bad_deposit = Instruction(ids.SOLEND, bytes([4]), [])
    assert_refused(
        env,
        [env.borrow_ix(1000), bad_deposit, env.repay_ix(1000, 0)],
        0,
        LendingError.INSTRUCTION_UNPACK_ERROR,
    )
