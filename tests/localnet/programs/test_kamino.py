"""The Kamino (klend) emulator at KLend2… in LiteSVM: flash borrow → repay, every refusal, fees, CU."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import (
    TransactionErrorInstructionError,
)
from spl.token.instructions import transfer as spl_transfer
from spl.token.models import TransferParams

from core.localnet.accounts import set_data_account, set_mint, set_token_account, token_amount
from core.localnet.programs import load_programs
from core.protocols import ids
from core.protocols.kamino import (
    FRACTION_ONE,
    U64_MAX,
    AnchorError,
    KaminoError,
    KaminoPanic,
    LendingError,
    LendingMarket,
    Reserve,
    ReserveStatus,
    accrue_interest,
    approximate_compounded_interest,
    decode_reserve,
    encode_lending_market,
    encode_reserve,
    flash_borrow_reserve_liquidity,
    flash_loan_fee,
    flash_loan_instructions,
    flash_repay_reserve_liquidity,
    fraction_from_bps,
    lending_market_authority,
)
from tests.localnet.programs.tx_results import assert_refused, custom_error, ok

FEE_SF_0_001_PCT = 11_529_215_046_068  # the mainnet USDC reserve (protocols.md §3.2)
FEE_SF_0_3_PCT = 3 * FRACTION_ONE // 1000
SUPPLY = 5_000_000_000_000
USER_START = 50_000_000


@dataclass
class Env:
    svm: LiteSVM
    payer: Keypair
    user: Keypair
    market: Pubkey
    market_state: LendingMarket
    authority: Pubkey
    mint: Pubkey
    reserve: Pubkey
    supply: Pubkey
    fee_vault: Pubkey
    user_token: Pubkey
    reserve_state: Reserve

    def write_reserve(self, **changes: object) -> None:
        self.reserve_state = replace(self.reserve_state, **changes)  # type: ignore[arg-type]
        set_data_account(self.svm, self.reserve, ids.KAMINO_LEND, encode_reserve(self.reserve_state))

    def write_market(self, **changes: object) -> None:
        self.market_state = replace(self.market_state, **changes)  # type: ignore[arg-type]
        set_data_account(self.svm, self.market, ids.KAMINO_LEND, encode_lending_market(self.market_state))

    def read_reserve(self) -> Reserve:
        acc = self.svm.get_account(self.reserve)
        assert acc is not None
        return decode_reserve(bytes(acc.data), self.reserve)

    def balances(self) -> tuple[int, int, int]:
        keys = (self.supply, self.user_token, self.fee_vault)
        return tuple(token_amount(self.svm, k) for k in keys)  # type: ignore[return-value]

    def state(self) -> object:
        return self.balances(), self.read_reserve()

    def pair(self, amount: int, index: int = 0) -> tuple[Instruction, Instruction]:
        return flash_loan_instructions(
            reserve_address=self.reserve, reserve=self.reserve_state, liquidity_amount=amount,
            borrow_instruction_index=index, user_token_account=self.user_token,
            user_transfer_authority=self.user.pubkey(),
        )

    def borrow_ix(self, amount: int, **kw: object) -> Instruction:
        args: dict[str, object] = dict(
            liquidity_amount=amount, user_transfer_authority=self.user.pubkey(), lending_market=self.market,
            reserve=self.reserve, reserve_liquidity_mint=self.mint, reserve_source_liquidity=self.supply,
            user_destination_liquidity=self.user_token, reserve_liquidity_fee_receiver=self.fee_vault,
        )
        args.update(kw)
        return flash_borrow_reserve_liquidity(**args)  # type: ignore[arg-type]

    def repay_ix(self, amount: int, index: int, **kw: object) -> Instruction:
        args: dict[str, object] = dict(
            liquidity_amount=amount, borrow_instruction_index=index,
            user_transfer_authority=self.user.pubkey(),
            lending_market=self.market, reserve=self.reserve, reserve_liquidity_mint=self.mint,
            reserve_destination_liquidity=self.supply, user_source_liquidity=self.user_token,
            reserve_liquidity_fee_receiver=self.fee_vault,
        )
        args.update(kw)
        return flash_repay_reserve_liquidity(**args)  # type: ignore[arg-type]

    def send(self, ixs: list[Instruction]) -> TransactionMetadata | FailedTransactionMetadata:
        self.svm.expire_blockhash()
        msg = MessageV0.try_compile(self.payer.pubkey(), ixs, [], self.svm.latest_blockhash())
        n_signers = msg.header.num_required_signatures
        by_key = {k.pubkey(): k for k in (self.payer, self.user)}
        signers = [by_key[key] for key in msg.account_keys[:n_signers]]
        return self.svm.send_transaction(VersionedTransaction(msg, signers))


def make_env() -> Env:
    svm = LiteSVM()
    load_programs(svm, ["kamino", "cpi_relay"])
    payer, user = Keypair(), Keypair()
    svm.airdrop(payer.pubkey(), 10 * 10**9)
    market = Keypair().pubkey()
    authority, bump = lending_market_authority(market)
    mint, reserve, supply = Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey()
    fee_vault, user_token = Keypair().pubkey(), Keypair().pubkey()
    set_mint(svm, mint, 6, supply=SUPPLY + USER_START)
    set_token_account(svm, supply, mint, authority, SUPPLY)
    set_token_account(svm, fee_vault, mint, authority, 0)
    set_token_account(svm, user_token, mint, user.pubkey(), USER_START)
    market_state = LendingMarket(bump_seed=bump, lending_market_owner=Keypair().pubkey())
    set_data_account(svm, market, ids.KAMINO_LEND, encode_lending_market(market_state))
    state = Reserve(
        lending_market=market, liquidity_mint_pubkey=mint, liquidity_supply_vault=supply,
        liquidity_fee_vault=fee_vault, liquidity_total_available_amount=SUPPLY,
        config_flash_loan_fee_sf=FEE_SF_0_3_PCT,
    )
    set_data_account(svm, reserve, ids.KAMINO_LEND, encode_reserve(state))
    return Env(svm, payer, user, market, market_state, authority, mint, reserve, supply, fee_vault,
               user_token, state)


@pytest.fixture
def env() -> Env:
    return make_env()


# --- success ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "fee_sf", "fee"),
    [
        (1_000_000_000, FEE_SF_0_3_PCT, 3_000_000),
        (999, FEE_SF_0_001_PCT, 1),  # the minimum fee of one token (protocols.md §3.3)
        (1_000_000, FEE_SF_0_001_PCT, 10),
        (123_456_789, FEE_SF_0_001_PCT, 1_235),
        (3, 1 << 59, 2),  # 50 %: 1.5 rounds half away from zero
        (5, 1 << 59, 3),
        (1_000_000, 0, 0),
    ],
)
def test_borrow_then_repay_in_one_v0_tx_puts_exactly_the_fee_in_the_fee_vault(
    env: Env, amount: int, fee_sf: int, fee: int
) -> None:
    env.write_reserve(config_flash_loan_fee_sf=fee_sf)
    assert flash_loan_fee(amount, fee_sf) == fee
    ok(env.send(list(env.pair(amount))))
    assert env.balances() == (SUPPLY, USER_START - fee, fee)
    after = env.read_reserve()
    assert after.liquidity_total_available_amount == SUPPLY
    assert after.liquidity_borrowed_amount_sf == 0
    assert after.last_update_stale == 1


def test_borrowed_tokens_are_usable_between_borrow_and_repay(env: Env) -> None:
    # The user starts with only the fee; the principal comes from the borrow itself.
    set_token_account(env.svm, env.user_token, env.mint, env.user.pubkey(), 3_000_000)
    spare = Keypair().pubkey()
    set_token_account(env.svm, spare, env.mint, env.user.pubkey(), 0)
    amount = 1_000_000_000
    move = _spl_transfer(env.user_token, spare, env.user.pubkey(), amount)
    back = _spl_transfer(spare, env.user_token, env.user.pubkey(), amount)
    borrow, repay = env.pair(amount)
    ok(env.send([borrow, move, back, repay]))
    assert token_amount(env.svm, env.user_token) == 0
    assert token_amount(env.svm, env.fee_vault) == 3_000_000


def _spl_transfer(src: Pubkey, dst: Pubkey, owner: Pubkey, amount: int) -> Instruction:
    return spl_transfer(
        TransferParams(program_id=ids.TOKEN_PROGRAM, source=src, dest=dst, owner=owner, amount=amount)
    )


@pytest.mark.parametrize("n_budget", [0, 1, 2])
def test_compute_budget_instructions_in_front_shift_the_borrow_index(env: Env, n_budget: int) -> None:
    budget = [set_compute_unit_limit(400_000), set_compute_unit_price(1000)][:n_budget]
    amount = 1_000_000
    ok(env.send([*budget, *env.pair(amount, n_budget)]))
    if n_budget:
        # The index without the budget instructions is wrong: the borrow sees a foreign index.
        assert_refused(env, [*budget, *env.pair(amount, 0)], n_budget, LendingError.INVALID_FLASH_REPAY)


def test_other_instructions_between_borrow_and_repay_are_allowed(env: Env) -> None:
    memo = Instruction(ids.MEMO_PROGRAM, b"arb", [])
    borrow, repay = env.pair(1_000_000, 1)
    ok(env.send([memo, borrow, memo, memo, repay, memo]))


def test_borrow_moves_the_slot_forward_and_leaves_the_reserve_as_it_was(env: Env) -> None:
    env.svm.warp_to_slot(1234)
    before = env.read_reserve()
    ok(env.send(list(env.pair(777_000))))
    after = env.read_reserve()
    assert (after.last_update_slot, after.last_update_stale) == (1234, 1)
    assert replace(after, last_update_slot=0, last_update_stale=0) == replace(before, last_update_stale=0)


def test_compute_units_of_borrow_and_repay_are_recorded(env: Env) -> None:
    meta = ok(env.send(list(env.pair(1_000_000_000))))
    prefix = f"Program {ids.KAMINO_LEND} consumed "
    consumed = [int(line[len(prefix):].split(" ")[0]) for line in meta.logs() if line.startswith(prefix)]
    assert len(consumed) == 2, meta.logs()
    total = meta.compute_units_consumed()
    print(f"\nKamino emulator CU: borrow {consumed[0]}, repay {consumed[1]}, tx {total}")
    # Each side makes a TransferChecked CPI (~3-5k CU); the real program used 59,121 for both.
    assert 3_000 < consumed[0] < 60_000
    assert 3_000 < consumed[1] < 60_000


# --- the instructions-sysvar checks ---------------------------------------------------------------


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
    borrow, repay = env.pair(1_000_000, 0)
    assert_refused(env, [memo, borrow, repay], 1, LendingError.INVALID_FLASH_REPAY)


@pytest.mark.parametrize("delta", [-1, 1])
def test_repay_with_a_different_amount_is_refused(env: Env, delta: int) -> None:
    amount = 1_000_000
    assert_refused(env, [env.borrow_ix(amount), env.repay_ix(amount + delta, 0)], 0,
                   LendingError.INVALID_FLASH_REPAY)


def test_repay_with_a_different_account_list_is_refused(env: Env) -> None:
    other_user_token = Keypair().pubkey()
    set_token_account(env.svm, other_user_token, env.mint, env.user.pubkey(), USER_START)
    assert_refused(
        env, [env.borrow_ix(1000), env.repay_ix(1000, 0, user_source_liquidity=other_user_token)], 0,
        LendingError.INVALID_FLASH_REPAY,
    )


def test_a_second_borrow_is_refused(env: Env) -> None:
    amount = 1_000_000
    assert_refused(
        env, [env.borrow_ix(amount), env.borrow_ix(amount), env.repay_ix(amount, 0), env.repay_ix(amount, 1)],
        0, LendingError.MULTIPLE_FLASH_BORROWS,
    )


def test_two_repays_for_one_borrow_are_refused(env: Env) -> None:
    amount = 1_000_000
    assert_refused(env, [env.borrow_ix(amount), env.repay_ix(amount, 0), env.repay_ix(amount, 0)], 0,
                   LendingError.MULTIPLE_FLASH_BORROWS)


def _cpi_relay(inner: Instruction) -> Instruction:
    # cpi_relay.c: data = [index of the program account to invoke] + inner data.
    metas = [*inner.accounts, AccountMeta(inner.program_id, is_signer=False, is_writable=False)]
    return Instruction(ids.CPI_RELAY, bytes([len(inner.accounts)]) + bytes(inner.data), metas)


def test_a_borrow_issued_by_cpi_is_refused(env: Env) -> None:
    borrow, repay = env.pair(1_000_000)
    assert_refused(env, [_cpi_relay(borrow), repay], 0, LendingError.FLASH_BORROW_CPI)


def test_a_repay_issued_by_cpi_is_refused(env: Env) -> None:
    borrow, repay = env.pair(1_000_000)
    # A repay only reachable by CPI is invisible to the borrow's scan of top-level instructions.
    assert_refused(env, [borrow, _cpi_relay(repay)], 0, LendingError.NO_FLASH_REPAY_FOUND)
    # With a proper top-level repay in place, an extra repay by CPI is refused by the repay itself.
    assert_refused(env, [borrow, repay, _cpi_relay(repay)], 2, LendingError.FLASH_REPAY_CPI)


# --- reserve and market state -----------------------------------------------------------------------


def test_flash_loans_disabled_at_u64_max_fee(env: Env) -> None:
    env.write_reserve(config_flash_loan_fee_sf=U64_MAX)
    assert_refused(env, list(env.pair(1_000_000)), 0, LendingError.FLASH_LOANS_DISABLED)


def test_obsolete_reserve_is_refused_and_hidden_is_not(env: Env) -> None:
    env.write_reserve(config_status=ReserveStatus.OBSOLETE)
    assert_refused(env, list(env.pair(1_000_000)), 0, LendingError.RESERVE_OBSOLETE)
    env.write_reserve(config_status=ReserveStatus.HIDDEN)
    ok(env.send(list(env.pair(1_000_000))))


def test_reserve_of_another_version_is_refused(env: Env) -> None:
    env.write_reserve(version=2)
    assert_refused(env, list(env.pair(1_000_000)), 0, LendingError.RESERVE_DEPRECATED)


def test_emergency_mode_refuses_both_instructions(env: Env) -> None:
    env.write_market(emergency_mode=1)
    assert_refused(env, list(env.pair(1_000_000)), 0, LendingError.GLOBAL_EMERGENCY_MODE)


def test_borrow_above_available_amount_is_refused(env: Env) -> None:
    env.write_reserve(liquidity_total_available_amount=999_999)
    set_token_account(env.svm, env.supply, env.mint, env.authority, 999_999)
    assert_refused(env, list(env.pair(1_000_000)), 0, LendingError.INSUFFICIENT_LIQUIDITY)
    ok(env.send(list(env.pair(999_999))))


def test_borrow_too_small_for_the_fee_is_refused_at_the_repay(env: Env) -> None:
    env.write_reserve(config_flash_loan_fee_sf=1 << 59)  # 50 %: the one-token minimum decides
    assert_refused(env, list(env.pair(1)), 1, LendingError.BORROW_TOO_SMALL)
    ok(env.send(list(env.pair(2))))
    env.write_reserve(config_flash_loan_fee_sf=FRACTION_ONE)  # 100 %
    assert_refused(env, list(env.pair(5)), 1, LendingError.BORROW_TOO_SMALL)


def test_reserve_updated_in_a_future_slot_is_refused(env: Env) -> None:
    env.write_reserve(last_update_slot=env.svm.get_clock().slot + 1)
    assert_refused(env, list(env.pair(1000)), 0, LendingError.MATH_OVERFLOW)


def test_vault_and_accounting_drift_is_refused(env: Env) -> None:
    # The vault holds one token more than the reserve accounts for: still consistent (fees).
    set_token_account(env.svm, env.supply, env.mint, env.authority, SUPPLY + 1)
    ok(env.send(list(env.pair(1000))))


def test_repay_without_enough_tokens_fails_and_moves_nothing(env: Env) -> None:
    set_token_account(env.svm, env.user_token, env.mint, env.user.pubkey(), 0)
    before = env.balances()
    result = env.send(list(env.pair(1_000_000)))
    assert isinstance(result, FailedTransactionMetadata)
    assert env.balances() == before


# --- account validation (Anchor) ----------------------------------------------------------------


def test_user_account_equal_to_the_supply_vault_is_refused(env: Env) -> None:
    assert_refused(
        env, [env.borrow_ix(1000, user_destination_liquidity=env.supply),
              env.repay_ix(1000, 0, user_source_liquidity=env.supply)],
        0, LendingError.INVALID_ACCOUNT_INPUT,
    )


def test_wrong_market_authority_is_refused(env: Env) -> None:
    fake = Keypair().pubkey()
    assert_refused(
        env, [env.borrow_ix(1000, lending_market_authority_pubkey=fake),
              env.repay_ix(1000, 0, lending_market_authority_pubkey=fake)],
        0, AnchorError.CONSTRAINT_SEEDS,
    )


def test_reserve_of_another_market_is_refused(env: Env) -> None:
    env.write_reserve(lending_market=Keypair().pubkey())
    assert_refused(env, [env.borrow_ix(1000), env.repay_ix(1000, 0)], 0, AnchorError.CONSTRAINT_HAS_ONE)


def test_reserve_not_writable_is_refused(env: Env) -> None:
    borrow, repay = env.pair(1000)
    metas = list(borrow.accounts)
    metas[3] = AccountMeta(env.reserve, is_signer=False, is_writable=False)
    ro_borrow = Instruction(borrow.program_id, bytes(borrow.data), metas)
    metas = list(repay.accounts)
    metas[3] = AccountMeta(env.reserve, is_signer=False, is_writable=False)
    ro_repay = Instruction(repay.program_id, bytes(repay.data), metas)
    assert_refused(env, [ro_borrow, ro_repay], 0, AnchorError.CONSTRAINT_MUT)


def test_wrong_vaults_or_mint_are_refused(env: Env) -> None:
    other = Keypair().pubkey()
    set_token_account(env.svm, other, env.mint, env.authority, SUPPLY)
    for kw_borrow, kw_repay in (
        ({"reserve_source_liquidity": other}, {"reserve_destination_liquidity": other}),
        ({"reserve_liquidity_fee_receiver": other}, {"reserve_liquidity_fee_receiver": other}),
    ):
        assert_refused(env, [env.borrow_ix(1000, **kw_borrow), env.repay_ix(1000, 0, **kw_repay)], 0,
                       AnchorError.CONSTRAINT_ADDRESS)
    other_mint = Keypair().pubkey()
    set_mint(env.svm, other_mint, 6)
    assert_refused(
        env, [env.borrow_ix(1000, reserve_liquidity_mint=other_mint),
              env.repay_ix(1000, 0, reserve_liquidity_mint=other_mint)],
        0, AnchorError.CONSTRAINT_ADDRESS,
    )


def test_token_program_that_does_not_own_the_mint_is_refused(env: Env) -> None:
    t22 = ids.TOKEN_2022_PROGRAM
    assert_refused(env, [env.borrow_ix(1000, token_program=t22), env.repay_ix(1000, 0, token_program=t22)], 0,
                   AnchorError.CONSTRAINT_MINT_TOKEN_PROGRAM)
    memo = ids.MEMO_PROGRAM
    assert_refused(env, [env.borrow_ix(1000, token_program=memo), env.repay_ix(1000, 0, token_program=memo)],
                   0, AnchorError.INVALID_PROGRAM_ID)


def test_accounts_not_owned_by_the_program_are_refused(env: Env) -> None:
    raw = bytes(env.svm.get_account(env.reserve).data)  # type: ignore[union-attr]
    cases = (
        (ids.SYSTEM_PROGRAM, raw, AnchorError.ACCOUNT_OWNED_BY_WRONG_PROGRAM),
        (ids.KAMINO_LEND, b"\0" * 8 + raw[8:], AnchorError.ACCOUNT_DISCRIMINATOR_MISMATCH),
        (ids.KAMINO_LEND, raw[:7], AnchorError.ACCOUNT_DISCRIMINATOR_NOT_FOUND),
    )
    for owner, data, error in cases:
        set_data_account(env.svm, env.reserve, owner, data)
        before = env.balances()
        assert custom_error(env.send(list(env.pair(1000)))) == (0, int(error))
        assert env.balances() == before
    market_raw = bytes(env.svm.get_account(env.market).data)  # type: ignore[union-attr]
    set_data_account(env.svm, env.reserve, ids.KAMINO_LEND, raw)
    set_data_account(env.svm, env.market, ids.SYSTEM_PROGRAM, market_raw)
    assert_refused(env, list(env.pair(1000)), 0, AnchorError.ACCOUNT_OWNED_BY_WRONG_PROGRAM)


def test_missing_referrer_placeholders_leave_too_few_accounts(env: Env) -> None:
    borrow, repay = env.pair(1000)
    short = Instruction(borrow.program_id, bytes(borrow.data), list(borrow.accounts)[:11])
    assert_refused(env, [short, repay], 0, AnchorError.ACCOUNT_NOT_ENOUGH_KEYS)


def test_unsigned_user_transfer_authority_is_refused(env: Env) -> None:
    borrow, repay = env.pair(1000)
    metas = list(borrow.accounts)
    metas[0] = AccountMeta(env.user.pubkey(), is_signer=False, is_writable=False)
    unsigned = Instruction(borrow.program_id, bytes(borrow.data), metas)
    # The user still signs the transaction through the repay; the borrow's own meta says unsigned,
    # which the runtime turns into a signed account anyway (one key, one signer flag per message).
    ok_or_refused = env.send([unsigned, repay])
    assert isinstance(ok_or_refused, TransactionMetadata)
    metas_r = list(repay.accounts)
    metas_r[0] = AccountMeta(env.user.pubkey(), is_signer=False, is_writable=False)
    unsigned_repay = Instruction(repay.program_id, bytes(repay.data), metas_r)
    assert_refused(env, [unsigned, unsigned_repay], 0, AnchorError.ACCOUNT_NOT_SIGNER)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", AnchorError.INSTRUCTION_MISSING),
        (bytes(7), AnchorError.INSTRUCTION_MISSING),
        (bytes(8), AnchorError.INSTRUCTION_FALLBACK_NOT_FOUND),
        (bytes.fromhex("87e734a70734d4c1") + bytes(7), AnchorError.INSTRUCTION_DID_NOT_DESERIALIZE),
        (bytes.fromhex("b97500cb60f5b4ba") + bytes(8), AnchorError.INSTRUCTION_DID_NOT_DESERIALIZE),
    ],
)
def test_short_or_unknown_data_is_refused(env: Env, data: bytes, error: AnchorError) -> None:
    borrow = env.borrow_ix(1000)
    assert_refused(env, [Instruction(ids.KAMINO_LEND, data, list(borrow.accounts))], 0, error)


# --- fees against the Python model ------------------------------------------------------------------


def test_emulator_fees_equal_the_python_fee_math() -> None:
    """Random amounts and rates: the C program moves exactly flash_loan_fee() into the fee vault."""
    e = make_env()

    @settings(max_examples=120, deadline=None)
    @given(
        amount=st.one_of(st.integers(1, 10_000), st.integers(1, SUPPLY)),
        fee_sf=st.one_of(
            st.sampled_from([0, 1, FEE_SF_0_001_PCT, FEE_SF_0_3_PCT, 1 << 59, FRACTION_ONE]),
            st.integers(0, FRACTION_ONE),
        ),
    )
    def check(amount: int, fee_sf: int) -> None:
        e.write_reserve(config_flash_loan_fee_sf=fee_sf, liquidity_total_available_amount=SUPPLY)
        set_token_account(e.svm, e.supply, e.mint, e.authority, SUPPLY)
        set_token_account(e.svm, e.user_token, e.mint, e.user.pubkey(), SUPPLY)
        set_token_account(e.svm, e.fee_vault, e.mint, e.authority, 0)
        result = e.send(list(e.pair(amount)))
        try:
            fee = flash_loan_fee(amount, fee_sf)
        except KaminoError as exc:
            assert custom_error(result) == (1, int(exc.error))
            return
        ok(result)
        assert e.balances() == (SUPPLY, SUPPLY - fee, fee)

    check()


# --- random transaction layouts against a model of the instructions-sysvar rules -------------------

Step = tuple[str, int, int]  # ("memo" | "borrow" | "repay", amount, borrow_instruction_index)


def _model(steps: list[Step]) -> tuple[int, int] | None:
    """(failing instruction, error) the rules of flash_ixs.rs predict, or None when all succeed."""
    for pos, (kind, amount, index) in enumerate(steps):
        if kind == "borrow":
            found = False
            for kind2, amount2, index2 in steps[pos + 1:]:
                if kind2 == "borrow":
                    return pos, LendingError.MULTIPLE_FLASH_BORROWS
                if kind2 == "repay":
                    if found:
                        return pos, LendingError.MULTIPLE_FLASH_BORROWS
                    if amount2 != amount or index2 != pos:
                        return pos, LendingError.INVALID_FLASH_REPAY
                    found = True
            if not found:
                return pos, LendingError.NO_FLASH_REPAY_FOUND
        elif kind == "repay" and (index > pos or steps[index][0] != "borrow" or steps[index][1] != amount):
            return pos, LendingError.INVALID_FLASH_REPAY
    return None


_steps = st.lists(
    st.one_of(
        st.just(("memo", 0, 0)),
        st.tuples(st.just("borrow"), st.sampled_from([1_000, 2_000]), st.just(0)),
        st.tuples(st.just("repay"), st.sampled_from([1_000, 2_000]), st.integers(0, 5)),
    ),
    min_size=1,
    max_size=6,
)


def test_random_layouts_succeed_or_fail_exactly_where_the_rules_say() -> None:
    e = make_env()
    memo = Instruction(ids.MEMO_PROGRAM, b"m", [])

    @settings(max_examples=150, deadline=None)
    @given(_steps)
    @example([("borrow", 1_000, 0), ("memo", 0, 0), ("repay", 1_000, 0)])
    @example([("memo", 0, 0), ("borrow", 2_000, 0), ("repay", 2_000, 1), ("borrow", 1_000, 0),
              ("repay", 1_000, 3)])
    def check(steps: list[Step]) -> None:
        build = {"memo": lambda a, i: memo, "borrow": lambda a, i: e.borrow_ix(a), "repay": e.repay_ix}
        ixs = [build[kind](amount, index) for kind, amount, index in steps]
        before = e.balances()
        result = e.send(ixs)
        expected = _model(steps)
        if expected is None:
            ok(result)
            fees = sum(flash_loan_fee(amount, FEE_SF_0_3_PCT) for kind, amount, _ in steps if kind == "repay")
            assert e.balances() == (before[0], before[1] - fees, before[2] + fees)
        else:
            assert custom_error(result) == (expected[0], int(expected[1]))
            assert e.balances() == before

    check()


def test_a_vault_holding_less_than_the_reserve_accounts_for_fails_the_borrow(env: Env) -> None:
    # post_transfer_vault_balance_liquidity_reserve_checks: vault − available underflows (a panic).
    set_token_account(env.svm, env.supply, env.mint, env.authority, SUPPLY - 1)
    before = env.balances()
    result = env.send(list(env.pair(1000)))
    assert isinstance(result, FailedTransactionMetadata)
    err = result.err()
    assert isinstance(err, TransactionErrorInstructionError) and err.index == 0
    assert "ProgramFailedToComplete" in str(err.err)
    assert env.balances() == before


def test_a_referrer_account_without_its_token_state_pays_no_referral(env: Env) -> None:
    # Option<referrer_token_state> = None, referrer_account = Some: "No referrer account provided".
    referrer = Keypair().pubkey()
    borrow = env.borrow_ix(1_000_000, referrer_account=referrer)
    repay = env.repay_ix(1_000_000, 0, referrer_account=referrer)
    ok(env.send([borrow, repay]))
    assert env.balances() == (SUPPLY, USER_START - 3_000, 3_000)


def test_a_full_referrer_pair_is_refused_as_not_emulated(env: Env) -> None:
    state, referrer = Keypair().pubkey(), Keypair().pubkey()
    kw = {"referrer_token_state": state, "referrer_account": referrer}
    before = env.balances()
    result = env.send([env.borrow_ix(1_000_000, **kw), env.repay_ix(1_000_000, 0, **kw)])
    assert isinstance(result, FailedTransactionMetadata)
    assert "InvalidArgument" in str(result.err())
    assert env.balances() == before


# --- interest accrual on the borrow's refresh, against the Python model ------------------------------


@st.composite
def _curves(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    inner = sorted(draw(st.sets(st.integers(1, 9_999), max_size=9)))
    rates = sorted(draw(st.lists(st.integers(0, 50_000), min_size=len(inner) + 2, max_size=len(inner) + 2)))
    points = [(0, rates[0]), *zip(inner, rates[1:-1], strict=True), (10_000, rates[-1])]
    return tuple(points + [points[-1]] * (11 - len(points)))


def test_borrow_accrues_interest_like_the_python_model() -> None:
    """Random debt, fees, curves, take rates, fixed host rates, referral shares and elapsed slots:
    the reserve after a flash loan round trip equals accrue_interest() (and the same refusal)."""
    e = make_env()
    now = e.svm.get_clock().slot
    amount = 1000

    @settings(max_examples=150, deadline=None)
    @given(
        borrowed=st.one_of(st.integers(0, 10**12 * FRACTION_ONE), st.integers(0, 2**100)),
        available=st.integers(amount, 10**13),
        fee_share=st.integers(0, 100),
        curve=_curves(),
        take=st.integers(0, 100),
        fixed_bps=st.integers(0, 2_000),
        referral_bps=st.integers(0, 10_000),
        elapsed=st.one_of(st.integers(0, 6), st.integers(0, 10**7)),
        cumulative=st.integers(FRACTION_ONE, 10 * FRACTION_ONE),
    )
    def check(borrowed: int, available: int, fee_share: int, curve: tuple[tuple[int, int], ...], take: int,
              fixed_bps: int, referral_bps: int, elapsed: int, cumulative: int) -> None:
        e.write_market(referral_fee_bps=referral_bps)
        e.write_reserve(
            config_flash_loan_fee_sf=0, liquidity_total_available_amount=available,
            liquidity_borrowed_amount_sf=borrowed,
            liquidity_accumulated_protocol_fees_sf=borrowed * fee_share // 1000,
            config_borrow_rate_curve=curve, config_protocol_take_rate_pct=take,
            config_host_fixed_interest_rate_bps=fixed_bps, liquidity_cumulative_borrow_rate_bsf=cumulative,
            last_update_slot=now - elapsed, last_update_stale=1,
        )
        set_token_account(e.svm, e.supply, e.mint, e.authority, available)
        before = e.reserve_state
        result = e.send(list(e.pair(amount)))
        try:
            expected = accrue_interest(before, now, referral_bps)
        except KaminoError as exc:
            assert custom_error(result) == (0, int(exc.error))
            return
        except KaminoPanic:
            assert isinstance(result, FailedTransactionMetadata)
            assert "ProgramFailedToComplete" in str(result.err())
            return
        ok(result)
        assert e.read_reserve() == replace(expected, last_update_slot=now, last_update_stale=1)

    check()


def test_a_year_of_interest_at_a_flat_ten_percent_follows_the_truncating_series(env: Env) -> None:
    now = env.svm.get_clock().slot
    debt = 1_000_000 * FRACTION_ONE
    flat = ((0, 1_000), (10_000, 1_000)) + ((10_000, 1_000),) * 9
    env.svm.warp_to_slot(now + 63_072_000)
    env.write_reserve(liquidity_borrowed_amount_sf=debt, config_borrow_rate_curve=flat, last_update_slot=now,
                      config_flash_loan_fee_sf=0)
    ok(env.send(list(env.pair(1000))))
    grown = env.read_reserve().liquidity_borrowed_amount_sf
    assert grown == debt * approximate_compounded_interest(fraction_from_bps(1_000), 63_072_000) >> 60
    # The per-slot base squared keeps ~2 bits in U68F60, so the series lands well short of e^0.1.
    assert 1.10 < grown / debt < 1.10517


def test_a_decreasing_borrow_rate_curve_refuses_the_borrow_once_slots_elapsed(env: Env) -> None:
    now = env.svm.get_clock().slot
    falling = ((0, 5_000), (10_000, 1_000)) + ((10_000, 1_000),) * 9
    env.write_reserve(liquidity_borrowed_amount_sf=SUPPLY * FRACTION_ONE, config_borrow_rate_curve=falling,
                      last_update_slot=now - 10)  # utilisation 50 %: inside the falling segment
    with pytest.raises(KaminoError) as exc:
        accrue_interest(env.reserve_state, now)
    assert exc.value.error == LendingError.INVALID_BORROW_RATE_CURVE_POINT
    assert_refused(env, list(env.pair(1000)), 0, LendingError.INVALID_BORROW_RATE_CURVE_POINT)
    env.write_reserve(last_update_slot=now)  # no slot elapsed: no accrual, no curve read
    ok(env.send(list(env.pair(1000))))
