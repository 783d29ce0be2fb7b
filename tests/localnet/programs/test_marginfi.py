"""The MarginFi v2 emulator at MFv2hW… in LiteSVM: start → borrow → repay → end, every refusal, CU."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.clock import Clock
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
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
from core.protocols.marginfi import (
    ACCOUNT_DISABLED,
    ACCOUNT_IN_FLASHLOAN,
    ACCOUNT_IN_RECEIVERSHIP,
    I80F48_ONE,
    MARGINFI_ACCOUNT_LEN,
    PYTH_RECEIVER_PROGRAM,
    AnchorError,
    Balance,
    Bank,
    BankConfig,
    InterestRateConfig,
    MarginfiAccount,
    MarginfiError,
    MarginfiFeeError,
    MarginfiGroup,
    OperationalState,
    PriceUpdateV2,
    decode_bank,
    decode_marginfi_account,
    encode_bank,
    encode_marginfi_account,
    encode_marginfi_group,
    encode_price_update_v2,
    flash_loan_fee,
    flash_loan_repay_amount,
    health_accounts,
    i80f48,
    i80f48_div,
    i80f48_mul,
    lending_account_borrow,
    lending_account_end_flashloan,
    lending_account_repay,
    lending_account_start_flashloan,
    liquidity_vault,
    liquidity_vault_authority,
    marginfi_account_initialize,
    with_flag,
)
from core.protocols.marginfi import accrue_interest as mf_accrue
from tests.localnet.programs.tx_results import assert_refused, custom_error, ok

PROGRAM = ids.MARGINFI_V2
SUPPLY = 5_000_000_000_000
USER_START = 50_000_000
NOW = 1_750_000_000


@dataclass
class Env:
    svm: LiteSVM
    payer: Keypair
    user: Keypair
    group: Pubkey
    mint: Pubkey
    bank: Pubkey
    vault: Pubkey
    vault_authority: Pubkey
    oracle: Pubkey
    account: Pubkey
    user_token: Pubkey
    bank_state: Bank

    def write_bank(self, **changes: object) -> None:
        self.bank_state = replace(self.bank_state, **changes)  # type: ignore[arg-type]
        set_data_account(self.svm, self.bank, PROGRAM, encode_bank(self.bank_state))

    def write_account(self, state: MarginfiAccount) -> None:
        set_data_account(self.svm, self.account, PROGRAM, encode_marginfi_account(state))

    def read_account(self) -> MarginfiAccount:
        acc = self.svm.get_account(self.account)
        assert acc is not None
        return decode_marginfi_account(bytes(acc.data), self.account)

    def read_bank(self) -> Bank:
        acc = self.svm.get_account(self.bank)
        assert acc is not None
        return decode_bank(bytes(acc.data), self.bank)

    def balances(self) -> tuple[int, int]:
        return token_amount(self.svm, self.vault), token_amount(self.svm, self.user_token)

    def state(self) -> object:
        return self.balances(), self.read_account(), self.read_bank()

    def start(self, end_index: int, **kw: object) -> Instruction:
        args: dict[str, object] = dict(
            marginfi_account=self.account, authority=self.user.pubkey(), end_index=end_index
        )
        args.update(kw)
        return lending_account_start_flashloan(**args)  # type: ignore[arg-type]

    def end(self, health: list[Pubkey] | None = None, **kw: object) -> Instruction:
        args: dict[str, object] = dict(
            marginfi_account=self.account, authority=self.user.pubkey(), health_accounts=health or []
        )
        args.update(kw)
        return lending_account_end_flashloan(**args)  # type: ignore[arg-type]

    def borrow(self, amount: int, **kw: object) -> Instruction:
        args: dict[str, object] = dict(
            group=self.group,
            marginfi_account=self.account,
            authority=self.user.pubkey(),
            bank=self.bank,
            destination_token_account=self.user_token,
            amount=amount,
        )
        args.update(kw)
        return lending_account_borrow(**args)  # type: ignore[arg-type]

    def repay(self, amount: int = 0, repay_all: bool | None = True, **kw: object) -> Instruction:
        args: dict[str, object] = dict(
            group=self.group,
            marginfi_account=self.account,
            authority=self.user.pubkey(),
            bank=self.bank,
            signer_token_account=self.user_token,
            amount=amount,
            repay_all=repay_all,
        )
        args.update(kw)
        return lending_account_repay(**args)  # type: ignore[arg-type]

    def flash(
        self, amount: int, middle: list[Instruction] | None = None, prefix: int = 0
    ) -> list[Instruction]:
        middle = middle or []
        end_index = prefix + 3 + len(middle)
        return [self.start(end_index), self.borrow(amount), *middle, self.repay(), self.end()]

    def send(
        self, ixs: list[Instruction], extra: tuple[Keypair, ...] = ()
    ) -> TransactionMetadata | FailedTransactionMetadata:
        self.svm.expire_blockhash()
        msg = MessageV0.try_compile(self.payer.pubkey(), ixs, [], self.svm.latest_blockhash())
        needed = set(msg.account_keys[: msg.header.num_required_signatures])
        signers = [k for k in (self.payer, self.user, *extra) if k.pubkey() in needed]
        return self.svm.send_transaction(VersionedTransaction(msg, signers))


def make_env(origination_fee: int = 0) -> Env:
    svm = LiteSVM()
    load_programs(svm, ["marginfi", "cpi_relay"])
    svm.set_clock(
        Clock(slot=1000, epoch_start_timestamp=NOW, epoch=0, leader_schedule_epoch=1, unix_timestamp=NOW)
    )
    payer, user = Keypair(), Keypair()
    svm.airdrop(payer.pubkey(), 10 * 10**9)
    group, mint, bank, oracle = (Keypair().pubkey() for _ in range(4))
    vault, _ = liquidity_vault(bank)
    vault_authority, bump = liquidity_vault_authority(bank)
    account, user_token = Keypair().pubkey(), Keypair().pubkey()
    set_mint(svm, mint, 6, supply=SUPPLY + USER_START)
    set_token_account(svm, vault, mint, vault_authority, SUPPLY)
    set_token_account(svm, user_token, mint, user.pubkey(), USER_START)
    set_data_account(svm, group, PROGRAM, encode_marginfi_group(MarginfiGroup(admin=Keypair().pubkey())))
    state = Bank(
        mint=mint,
        group=group,
        liquidity_vault=vault,
        liquidity_vault_authority_bump=bump,
        total_asset_shares=SUPPLY << 48,
        last_update=NOW - 100,
        config=BankConfig(
            asset_weight_init=i80f48(0.8),
            liability_weight_init=i80f48(1.25),
            interest_rate_config=InterestRateConfig(protocol_origination_fee=origination_fee),
            oracle_keys=(oracle,) + (Pubkey.default(),) * 4,
            oracle_max_age=120,
        ),
    )
    set_data_account(svm, bank, PROGRAM, encode_bank(state))
    set_oracle(svm, oracle, price=100_000_000, exponent=-8)  # 1.00 USD
    set_data_account(
        svm, account, PROGRAM, encode_marginfi_account(MarginfiAccount(group=group, authority=user.pubkey()))
    )
    return Env(
        svm, payer, user, group, mint, bank, vault, vault_authority, oracle, account, user_token, state
    )


def set_oracle(svm: LiteSVM, key: Pubkey, *, price: int, exponent: int, publish_time: int = NOW) -> None:
    data = encode_price_update_v2(
        PriceUpdateV2(
            feed_id=bytes(32),
            price=price,
            conf=0,
            exponent=exponent,
            publish_time=publish_time,
            ema_price=price,
        )
    )
    set_data_account(svm, key, PYTH_RECEIVER_PROGRAM, data)


@pytest.fixture
def env() -> Env:
    return make_env()


def mf_balance(bank: Pubkey, **kw: int) -> Balance:
    return Balance(bank_pk=bank, **kw)  # type: ignore[arg-type]


def _move(src: Pubkey, dst: Pubkey, owner: Pubkey, amount: int) -> Instruction:
    return spl_transfer(
        TransferParams(program_id=ids.TOKEN_PROGRAM, source=src, dest=dst, owner=owner, amount=amount)
    )


def _cpi_relay(inner: Instruction) -> Instruction:
    metas = [*inner.accounts, AccountMeta(inner.program_id, is_signer=False, is_writable=False)]
    return Instruction(ids.CPI_RELAY, bytes([len(inner.accounts)]) + bytes(inner.data), metas)


# --- success ------------------------------------------------------------------------------------


def test_v0_flash_loan_moves_tokens_and_returns_them_exactly(env: Env) -> None:
    spare = Keypair().pubkey()
    set_token_account(env.svm, spare, env.mint, env.user.pubkey(), 0)
    amount = 1_000_000_000
    middle = [
        _move(env.user_token, spare, env.user.pubkey(), amount + USER_START),
        _move(spare, env.user_token, env.user.pubkey(), amount + USER_START),
    ]
    bank_before = env.read_bank()
    meta = ok(env.send(env.flash(amount, middle)))
    assert env.balances() == (SUPPLY, USER_START)  # no origination fee on this bank: free
    after = env.read_account()
    assert after.account_flags == 0 and after.active_balances() == []
    bank_after = env.read_bank()
    assert bank_after.total_liability_shares == 0
    assert replace(bank_after, last_update=bank_before.last_update) == bank_before
    assert bank_after.last_update == NOW
    consumed = _per_instruction_cu(meta.logs())
    print(f"\nMarginFi emulator CU: start/borrow/repay/end {consumed}, tx {meta.compute_units_consumed()}")
    assert len(consumed) == 4 and 3_000 < consumed[1] < 60_000


def _per_instruction_cu(logs: list[str]) -> list[int]:
    prefix = f"Program {PROGRAM} consumed "
    return [int(line[len(prefix) :].split(" ")[0]) for line in logs if line.startswith(prefix)]


@pytest.mark.parametrize(
    ("rate", "amount"), [(i80f48(0.001), 1_000_000), (i80f48(0.0005), 12_345_679), (7, 3), (i80f48(0.01), 1)]
)
def test_origination_fee_is_charged_by_repay_all_and_booked_to_group_fees(rate: int, amount: int) -> None:
    env = make_env(origination_fee=rate)
    fee = flash_loan_fee(env.bank_state, amount)
    assert fee == -((-amount * rate) >> 48)  # ceil(amount * rate) at share value 1
    ok(env.send(env.flash(amount)))
    assert env.balances() == (SUPPLY + fee, USER_START - fee)
    bank = env.read_bank()
    assert bank.collected_group_fees_outstanding == amount * rate
    # repay_all rounds the liability up; the rounding dust goes to insurance
    assert bank.collected_insurance_fees_outstanding == (fee << 48) - amount * rate


def test_repay_all_at_a_non_unit_share_value_matches_python() -> None:
    @settings(max_examples=40, deadline=None)
    @given(
        share=st.integers(I80F48_ONE // 2, 3 * I80F48_ONE),
        rate=st.integers(0, i80f48(0.02)),
        amount=st.integers(1, 10**12),
    )
    def check(share: int, rate: int, amount: int) -> None:
        env.write_bank(
            liability_share_value=share,
            config=replace(
                env.bank_state.config, interest_rate_config=InterestRateConfig(protocol_origination_fee=rate)
            ),
        )
        set_token_account(env.svm, env.user_token, env.mint, env.user.pubkey(), USER_START + 10**11)
        set_token_account(env.svm, env.vault, env.mint, env.vault_authority, SUPPLY)
        expected = flash_loan_repay_amount(env.bank_state, amount)
        ok(env.send(env.flash(amount)))
        assert env.balances() == (SUPPLY - amount + expected, USER_START + 10**11 + amount - expected)

    env = make_env()
    check()


@pytest.mark.parametrize("n_budget", [0, 1, 2])
def test_compute_budget_instructions_shift_the_end_index(env: Env, n_budget: int) -> None:
    budget = [set_compute_unit_limit(400_000), set_compute_unit_price(1000)][:n_budget]
    ok(env.send([*budget, *env.flash(1_000_000, prefix=n_budget)]))
    if n_budget:
        assert_refused(env, [*budget, *env.flash(1_000_000)], n_budget, MarginfiError.ILLEGAL_FLASHLOAN)


def test_instructions_between_start_and_end_are_allowed(env: Env) -> None:
    memo = Instruction(ids.MEMO_PROGRAM, b"arb", [])
    ixs = [memo, env.start(5), memo, env.borrow(10**6), env.repay(), env.end(), memo]
    ok(env.send(ixs))


# --- refusals -----------------------------------------------------------------------------------


def test_missing_end_is_refused_by_start(env: Env) -> None:
    before = env.balances(), env.read_account()
    result = env.send([env.start(3), env.borrow(10**6), env.repay()])  # index 3 does not exist
    assert isinstance(result, FailedTransactionMetadata)
    err = result.err()
    assert isinstance(err, TransactionErrorInstructionError) and err.index == 0
    assert err.err == InstructionErrorFieldless.InvalidArgument  # load_instruction_at_checked
    assert (env.balances(), env.read_account()) == before


def test_end_index_at_another_instruction_is_refused(env: Env) -> None:
    assert_refused(
        env, [env.start(2), env.borrow(10**6), env.repay(), env.end()], 0, MarginfiError.ILLEGAL_FLASHLOAN
    )


def test_end_index_not_after_start_is_refused(env: Env) -> None:
    assert_refused(env, [env.end(), env.start(0)], 1, MarginfiError.ILLEGAL_FLASHLOAN)


def test_end_for_another_marginfi_account_is_refused(env: Env) -> None:
    other = Keypair().pubkey()
    set_data_account(
        env.svm,
        other,
        PROGRAM,
        encode_marginfi_account(MarginfiAccount(group=env.group, authority=env.user.pubkey())),
    )
    ixs = [env.start(3), env.borrow(10**6), env.repay(), env.end(marginfi_account=other)]
    assert_refused(env, ixs, 0, MarginfiError.ILLEGAL_FLASHLOAN)


def test_start_issued_by_cpi_is_refused(env: Env) -> None:
    assert_refused(
        env,
        [_cpi_relay(env.start(3)), env.borrow(10**6), env.repay(), env.end()],
        0,
        MarginfiError.NOT_ALLOWED_IN_CPI,
    )


def test_end_issued_by_cpi_is_refused(env: Env) -> None:
    # start's end_index names a top-level end; a second end reached by CPI is refused itself.
    ixs = [env.start(3), env.borrow(10**6), env.repay(), env.end(), _cpi_relay(env.end())]
    assert_refused(env, ixs, 4, MarginfiError.NOT_ALLOWED_IN_CPI)


def test_borrow_without_start_fails_the_health_check(env: Env) -> None:
    # No flash-loan flag: the new liability needs its bank and oracle in the remaining accounts
    # (the risk engine runs out of accounts at the first active balance),
    assert_refused(env, [env.borrow(10**6)], 0, MarginfiError.INVALID_BANK_ACCOUNT)
    assert_refused(
        env, [env.borrow(10**6, health_accounts=[env.bank])], 0, MarginfiError.WRONG_NUMBER_OF_ORACLE_ACCOUNTS
    )
    # and with them, an account with no collateral is rejected by the risk engine.
    assert_refused(
        env,
        [env.borrow(10**6, health_accounts=[env.bank, env.oracle])],
        0,
        MarginfiError.RISK_ENGINE_INIT_REJECTED,
    )


def test_repay_short_leaves_a_liability_that_end_refuses(env: Env) -> None:
    amount = 10**6
    ixs = [env.start(3), env.borrow(amount), env.repay(amount - 1, repay_all=None), env.end()]
    assert_refused(env, ixs, 3, MarginfiError.INVALID_BANK_ACCOUNT)
    ixs[3] = env.end(health=[env.bank, env.oracle])
    assert_refused(env, ixs, 3, MarginfiError.RISK_ENGINE_INIT_REJECTED)


def test_repay_all_without_the_tokens_fails_at_the_repay(env: Env) -> None:
    sink = Keypair().pubkey()
    set_token_account(env.svm, sink, env.mint, env.user.pubkey(), 0)
    amount = 10**6
    spend = _move(env.user_token, sink, env.user.pubkey(), USER_START + 1)
    ixs = [env.start(4), env.borrow(amount), spend, env.repay(), env.end()]
    before = env.balances()
    assert custom_error(env.send(ixs)) == (3, 1)  # SPL Token InsufficientFunds
    assert env.balances() == before


def test_repay_of_more_than_the_liability_is_refused(env: Env) -> None:
    ixs = [env.start(3), env.borrow(10**6), env.repay(10**6 + 1, repay_all=None), env.end()]
    assert_refused(env, ixs, 2, MarginfiError.OPERATION_REPAY_ONLY)


def test_borrow_from_a_bank_holding_the_accounts_deposit_is_refused(env: Env) -> None:
    account = env.read_account()
    deposit = mf_balance(env.bank, asset_shares=5 << 48)
    env.write_account(replace(account, balances=(deposit, *account.balances[1:])))
    assert_refused(env, env.flash(10**6), 1, MarginfiError.OPERATION_BORROW_ONLY)


def test_a_plain_repay_keeps_the_balance_open_with_the_banks_asset_tag(env: Env) -> None:
    env.write_bank(config=replace(env.bank_state.config, asset_tag=1))
    # repay (not repay_all) of the whole liability leaves an empty but active balance, so the
    # end's health check needs its bank and oracle.
    ixs = [env.start(3), env.borrow(10**6), env.repay(10**6, repay_all=None), env.end()]
    assert_refused(env, ixs, 3, MarginfiError.INVALID_BANK_ACCOUNT)
    ixs[3] = env.end(health=[env.bank, env.oracle])
    ok(env.send(ixs))
    (balance,) = env.read_account().active_balances()
    assert (balance.bank_pk, balance.bank_asset_tag, balance.liability_shares) == (env.bank, 1, 0)
    assert env.balances() == (SUPPLY, USER_START)


def test_repay_without_a_balance_is_refused(env: Env) -> None:
    assert_refused(env, [env.start(2), env.repay(), env.end()], 1, MarginfiError.BANK_ACCOUNT_NOT_FOUND)


def test_start_twice_is_refused(env: Env) -> None:
    env.write_account(with_flag(env.read_account(), ACCOUNT_IN_FLASHLOAN))
    assert_refused(env, env.flash(10**6), 0, MarginfiError.ILLEGAL_FLASHLOAN)


def test_account_in_receivership_cannot_start_a_flash_loan(env: Env) -> None:
    env.write_account(with_flag(env.read_account(), ACCOUNT_IN_RECEIVERSHIP))
    assert_refused(env, env.flash(10**6), 0, MarginfiError.FORBIDDEN_IX)


def test_disabled_account_is_refused(env: Env) -> None:
    env.write_account(with_flag(env.read_account(), ACCOUNT_DISABLED))
    assert_refused(env, env.flash(10**6), 0, MarginfiError.ACCOUNT_DISABLED)


@pytest.mark.parametrize(
    ("state", "error"),
    [
        (OperationalState.PAUSED, MarginfiError.BANK_PAUSED),
        (OperationalState.REDUCE_ONLY, MarginfiError.BANK_REDUCE_ONLY),
    ],
)
def test_borrow_from_a_paused_or_reduce_only_bank_is_refused(env: Env, state: int, error: int) -> None:
    env.write_bank(config=replace(env.bank_state.config, operational_state=state))
    assert_refused(env, env.flash(10**6), 1, error)


def test_borrow_cap_is_enforced(env: Env) -> None:
    env.write_bank(config=replace(env.bank_state.config, borrow_limit=10**6))
    assert_refused(env, env.flash(10**6), 1, MarginfiError.BANK_LIABILITY_CAPACITY_EXCEEDED)
    ok(env.send(env.flash(10**6 - 1)))


def test_borrow_above_the_banks_deposits_is_refused(env: Env) -> None:
    env.write_bank(total_asset_shares=(10**6) << 48)
    assert_refused(env, env.flash(10**6 + 1), 1, MarginfiError.ILLEGAL_UTILIZATION_RATIO)


def test_another_signer_is_refused(env: Env) -> None:
    intruder = Keypair()
    start = env.start(3, authority=intruder.pubkey())
    result = env.send([start, env.borrow(10**6), env.repay(), env.end()], extra=(intruder,))
    assert custom_error(result) == (0, AnchorError.CONSTRAINT_HAS_ONE)  # has_one = authority
    borrow = env.borrow(10**6, authority=intruder.pubkey())
    result = env.send([env.start(3), borrow, env.repay(), env.end()], extra=(intruder,))
    assert custom_error(result) == (1, MarginfiError.UNAUTHORIZED)


def test_wrong_vault_authority_and_wrong_vault_are_refused(env: Env) -> None:
    borrow = env.borrow(10**6)
    metas = list(borrow.accounts)
    metas[5] = AccountMeta(Keypair().pubkey(), is_signer=False, is_writable=False)
    assert_refused(
        env,
        [env.start(3), Instruction(PROGRAM, bytes(borrow.data), metas), env.repay(), env.end()],
        1,
        AnchorError.CONSTRAINT_SEEDS,
    )
    fake_vault = Keypair().pubkey()
    set_token_account(env.svm, fake_vault, env.mint, env.vault_authority, SUPPLY)
    metas = list(borrow.accounts)
    metas[6] = AccountMeta(fake_vault, is_signer=False, is_writable=True)
    assert_refused(
        env,
        [env.start(3), Instruction(PROGRAM, bytes(borrow.data), metas), env.repay(), env.end()],
        1,
        MarginfiError.INVALID_LIQUIDITY_VAULT,
    )


def test_bank_of_another_group_is_refused(env: Env) -> None:
    env.write_bank(group=Keypair().pubkey())
    assert_refused(env, env.flash(10**6), 1, MarginfiError.INVALID_GROUP)


def test_uninitialized_and_foreign_accounts_are_refused(env: Env) -> None:
    missing = Keypair().pubkey()
    ixs = [
        env.start(3, marginfi_account=missing),
        env.borrow(10**6),
        env.repay(),
        env.end(marginfi_account=missing),
    ]
    assert custom_error(env.send(ixs)) == (0, AnchorError.ACCOUNT_NOT_INITIALIZED)
    data = bytes(env.svm.get_account(env.account).data)  # type: ignore[union-attr]
    set_data_account(env.svm, env.account, ids.SYSTEM_PROGRAM, data)
    assert custom_error(env.send(env.flash(10**6))) == (0, AnchorError.ACCOUNT_OWNED_BY_WRONG_PROGRAM)
    set_data_account(env.svm, env.account, PROGRAM, bytes(8) + data[8:])
    assert custom_error(env.send(env.flash(10**6))) == (0, AnchorError.ACCOUNT_DISCRIMINATOR_MISMATCH)


def test_unknown_or_short_instruction_data_is_refused(env: Env) -> None:
    meta = [AccountMeta(env.account, is_signer=False, is_writable=True)]
    assert custom_error(env.send([Instruction(PROGRAM, b"\x01\x02", meta)])) == (
        0,
        AnchorError.INSTRUCTION_MISSING,
    )
    assert custom_error(env.send([Instruction(PROGRAM, bytes(8), meta)])) == (
        0,
        AnchorError.INSTRUCTION_FALLBACK_NOT_FOUND,
    )
    start = env.start(1)
    short = Instruction(PROGRAM, bytes(start.data)[:12], list(start.accounts))
    assert custom_error(env.send([short, env.end()])) == (0, AnchorError.INSTRUCTION_DID_NOT_DESERIALIZE)


# --- the risk engine outside a flash loan --------------------------------------------------------


def _collateral_env() -> tuple[Env, Pubkey, Pubkey]:
    """The user holds SOL-bank collateral worth 100 USD (weight 0.8 → 80 USD of borrowing power)."""
    env = make_env()
    sol_bank, sol_oracle = Keypair().pubkey(), Keypair().pubkey()
    sol_vault, _ = liquidity_vault(sol_bank)
    set_data_account(
        env.svm,
        sol_bank,
        PROGRAM,
        encode_bank(
            replace(
                env.bank_state,
                mint=Keypair().pubkey(),
                mint_decimals=9,
                liquidity_vault=sol_vault,
                config=replace(env.bank_state.config, oracle_keys=(sol_oracle,) + (Pubkey.default(),) * 4),
            )
        ),
    )
    set_oracle(env.svm, sol_oracle, price=200_00000000, exponent=-8)  # 200 USD
    account = env.read_account()
    balances = (Balance(bank_pk=sol_bank, asset_shares=(5 * 10**8) << 48), *account.balances[1:])  # 0.5 SOL
    env.write_account(replace(account, balances=balances))
    return env, sol_bank, sol_oracle


def test_risk_engine_accepts_a_borrow_within_the_initial_margin() -> None:
    env, sol_bank, sol_oracle = _collateral_env()
    # 64 USDC at liability weight 1.25 = 80 USD of weighted liabilities: exactly the limit.
    borrow = env.borrow(64_000_000)
    account_after = decode_marginfi_account(bytes(env.svm.get_account(env.account).data))  # type: ignore[union-attr]
    banks = {
        sol_bank: replace(
            env.bank_state,
            config=replace(env.bank_state.config, oracle_keys=(sol_oracle,) + (Pubkey.default(),) * 4),
        ),
        env.bank: env.bank_state,
    }
    # After the borrow the balances are sorted by bank key, descending.
    after_keys = sorted([sol_bank, env.bank], key=bytes, reverse=True)
    expected_order = health_accounts(
        replace(
            account_after, balances=tuple(Balance(bank_pk=k) for k in after_keys) + account_after.balances[2:]
        ),
        banks,
    )
    full = Instruction(
        PROGRAM,
        bytes(borrow.data),
        [*borrow.accounts, *(AccountMeta(k, is_signer=False, is_writable=False) for k in expected_order)],
    )
    ok(env.send([full]))
    assert [b.bank_pk for b in env.read_account().active_balances()] == after_keys
    assert token_amount(env.svm, env.user_token) == USER_START + 64_000_000


def test_risk_engine_rejects_one_unit_above_the_initial_margin() -> None:
    env, sol_bank, sol_oracle = _collateral_env()
    keys = sorted([sol_bank, env.bank], key=bytes, reverse=True)
    oracles = {sol_bank: sol_oracle, env.bank: env.oracle}
    health = [x for k in keys for x in (k, oracles[k])]
    assert_refused(
        env, [env.borrow(64_000_001, health_accounts=health)], 0, MarginfiError.RISK_ENGINE_INIT_REJECTED
    )
    # A collateral oracle that fails to load values the collateral at zero: rejected for health.
    set_oracle(env.svm, sol_oracle, price=200_00000000, exponent=-8, publish_time=NOW - 121)
    assert_refused(
        env, [env.borrow(10**6, health_accounts=health)], 0, MarginfiError.RISK_ENGINE_INIT_REJECTED
    )
    set_oracle(env.svm, sol_oracle, price=200_00000000, exponent=-8)
    # The liability's oracle must load: stale price, wrong oracle key.
    set_oracle(env.svm, env.oracle, price=100_000_000, exponent=-8, publish_time=NOW - 121)
    assert_refused(env, [env.borrow(10**6, health_accounts=health)], 0, MarginfiError.PYTH_PUSH_STALE_PRICE)
    set_oracle(env.svm, env.oracle, price=100_000_000, exponent=-8)
    wrong = [x for k in keys for x in (k, sol_oracle)]
    assert_refused(
        env, [env.borrow(10**6, health_accounts=wrong)], 0, MarginfiError.WRONG_ORACLE_ACCOUNT_KEYS
    )
    ok(env.send([env.borrow(10**6, health_accounts=health)]))
    swapped = [x for k in reversed(keys) for x in (k, oracles[k])]
    assert_refused(env, [env.borrow(10**6, health_accounts=swapped)], 0, MarginfiError.INVALID_BANK_ACCOUNT)


# --- marginfi_account_initialize ------------------------------------------------------------------


def test_initialize_creates_an_empty_account_for_the_authority(env: Env) -> None:
    new = Keypair()
    ix = marginfi_account_initialize(
        group=env.group,
        marginfi_account=new.pubkey(),
        authority=env.user.pubkey(),
        fee_payer=env.payer.pubkey(),
    )
    ok(env.send([ix], extra=(new,)))
    acc = env.svm.get_account(new.pubkey())
    assert acc is not None and acc.owner == PROGRAM and len(acc.data) == MARGINFI_ACCOUNT_LEN
    state = decode_marginfi_account(bytes(acc.data))
    assert state == MarginfiAccount(group=env.group, authority=env.user.pubkey())
    env.account = new.pubkey()
    ok(env.send(env.flash(10**6)))


# --- interest accrual ------------------------------------------------------------------------------


def test_borrow_accrues_interest_like_the_python_model() -> None:
    """Random bank states, curves, fees and elapsed seconds: the bank after a flash loan round trip
    equals accrue_interest() plus the round trip's own bookkeeping (and MathError where Python
    refuses)."""
    env = make_env()
    one = I80F48_ONE
    amount = 10**6

    @settings(max_examples=120, deadline=None)
    @given(
        asv=st.integers(one, 2 * one),
        lsv=st.integers(one, 3 * one),
        deposits=st.integers(10**9, 10**15),
        utilization_bps=st.integers(1, 9_000),
        curve=st.tuples(st.integers(1, one - 1), st.integers(0, 2 * one), st.integers(0, 8 * one)),
        fees=st.tuples(*(st.one_of(st.just(0), st.integers(0, one // 5)) for _ in range(4))),
        program=st.tuples(st.booleans(), st.integers(0, one // 10), st.integers(0, one // 100)),
        elapsed=st.one_of(st.integers(0, 5), st.integers(0, 10**8)),
    )
    def check(
        asv: int,
        lsv: int,
        deposits: int,
        utilization_bps: int,
        curve: tuple[int, int, int],
        fees: tuple[int, int, int, int],
        program: tuple[bool, int, int],
        elapsed: int,
    ) -> None:
        optimal, plateau, max_ir = curve
        group = MarginfiGroup(
            admin=Pubkey.default(),
            group_flags=int(program[0]),
            program_fee_rate=program[1],
            program_fee_fixed=program[2],
        )
        set_data_account(env.svm, env.group, PROGRAM, encode_marginfi_group(group))
        irc = InterestRateConfig(
            optimal_utilization_rate=optimal,
            plateau_interest_rate=plateau,
            max_interest_rate=max_ir,
            insurance_fee_fixed_apr=fees[0],
            insurance_ir_fee=fees[1],
            protocol_fixed_fee_apr=fees[2],
            protocol_ir_fee=fees[3],
        )
        tas = (deposits << 48) * one // asv
        tls = (deposits * utilization_bps // 10_000 << 48) * one // lsv
        env.write_bank(
            asset_share_value=asv,
            liability_share_value=lsv,
            total_asset_shares=tas,
            total_liability_shares=tls,
            last_update=NOW - elapsed,
            collected_group_fees_outstanding=0,
            collected_insurance_fees_outstanding=0,
            collected_program_fees_outstanding=0,
            config=replace(env.bank_state.config, interest_rate_config=irc),
        )
        set_token_account(env.svm, env.vault, env.mint, env.vault_authority, SUPPLY)
        set_token_account(env.svm, env.user_token, env.mint, env.user.pubkey(), USER_START)
        before = env.bank_state
        result = env.send(env.flash(amount))
        try:
            accrued = mf_accrue(before, group, NOW)
        except MarginfiFeeError as exc:
            assert custom_error(result) == (1, int(exc.error))
            return
        new_lsv = accrued.liability_share_value
        # Long enough at a high rate, debts outgrow deposits: the borrow's utilization check refuses.
        borrowed_shares = i80f48_div(amount << 48, new_lsv)
        total_liabilities = i80f48_mul(accrued.total_liability_shares + borrowed_shares, new_lsv)
        if i80f48_mul(accrued.total_asset_shares, accrued.asset_share_value) < total_liabilities:
            assert custom_error(result) == (1, 6026)
            return
        ok(result)
        liability = i80f48_mul(i80f48_div(amount << 48, new_lsv), new_lsv)
        dust = (-((-liability) >> 48) << 48) - liability
        repay = flash_loan_repay_amount(accrued, amount)
        assert env.balances() == (SUPPLY - amount + repay, USER_START + amount - repay)
        expected = replace(
            accrued, collected_insurance_fees_outstanding=accrued.collected_insurance_fees_outstanding + dust
        )
        assert env.read_bank() == expected

    check()


def test_interest_accrues_on_a_bank_with_debt() -> None:
    env = make_env()
    one = I80F48_ONE
    irc = InterestRateConfig(
        optimal_utilization_rate=i80f48(0.8),
        plateau_interest_rate=i80f48(0.1),
        max_interest_rate=i80f48(1.0),
        insurance_ir_fee=i80f48(0.1),
        protocol_ir_fee=i80f48(0.05),
    )
    env.write_bank(
        total_liability_shares=(SUPPLY // 2) << 48,
        last_update=NOW - 86_400,
        config=replace(env.bank_state.config, interest_rate_config=irc),
    )
    ok(env.send(env.flash(10**6)))
    bank = env.read_bank()
    # 50 % utilisation: base 6.25 % APR; lenders earn base × ur, borrowers base × 1.15; one day.
    assert one < bank.asset_share_value < bank.liability_share_value < one + one // 1000
    assert bank.collected_group_fees_outstanding > 0 and bank.collected_insurance_fees_outstanding > 0
    assert bank.last_update == NOW
