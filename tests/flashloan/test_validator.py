"""Each validator check fails on a transaction built to fail it, and says what it measured."""

from __future__ import annotations

from dataclasses import replace

from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.instruction import Instruction
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from core.events import ValidationResult
from core.flashloan.builder import BuiltFlashLoan, FlashLoanTxBuilder
from core.flashloan.profitability import evaluate_built
from core.flashloan.solend import SolendProvider
from core.flashloan.validator import CHECK_NAMES, FlashLoanValidator
from core.localnet.accounts import set_data_account
from core.protocols import ids, solend
from tests.flashloan.conftest import FlashNet
from tests.flashloan.test_land import build_arb

# The mev-protos list: the same seeds under the *testnet* tip-payment program.
TESTNET_TIP_PROGRAM = Pubkey.from_string("DCN82qDxJAQuSqHhv2BJuAgi41SPeKZB5ioBCTMNDrCC")


def validator(f: FlashNet, **kw: object) -> FlashLoanValidator:
    args: dict[str, object] = dict(min_profit_usd=1.0, max_compute_units=1_400_000, slippage_bps=50)
    args.update(kw)
    return FlashLoanValidator(f.client, **args)  # type: ignore[arg-type]


async def run(
    f: FlashNet, built: BuiltFlashLoan, provider: SolendProvider, v: FlashLoanValidator | None = None
) -> ValidationResult:
    prices = await f.pricer().prices(f.client, built.loan_mint)
    profit = evaluate_built(built, prices, 1.0)
    result, _ = await (v or validator(f)).validate(built, provider, profit, opportunity_id=1, attempt_id="t")
    return result


def check(result: ValidationResult, name: str) -> tuple[bool, str, str]:
    c = next(c for c in result.checks if c.name == name)
    return c.passed, c.measured, c.threshold


def failed(result: ValidationResult) -> set[str]:
    return {c.name for c in result.checks if not c.passed}


def resign(f: FlashNet, built: BuiltFlashLoan, ixs: list[Instruction],
           tables: list[AddressLookupTableAccount] | None = None) -> BuiltFlashLoan:
    message = MessageV0.try_compile(f.wallet.pubkey(), ixs, tables or [], built.tx.message.recent_blockhash)
    return replace(built, tx=VersionedTransaction(message, [f.wallet]), instructions=tuple(ixs),
                   lookup_tables=tuple(tables or ()))


def write_reserve(f: FlashNet, provider: SolendProvider, mint: Pubkey, **changes: object) -> None:
    address = next(r.address for r in f.scenario.solend_reserves if r.liquidity_mint == mint)
    reserve = replace(provider.reserve(mint), **changes)
    set_data_account(f.net.cluster.svm, address, ids.SOLEND, solend.encode_reserve(reserve))


async def test_a_sound_transaction_passes_every_check(flashnet: FlashNet) -> None:
    built, provider = await build_arb(flashnet)
    result = await run(flashnet, built, provider)
    assert [c.name for c in result.checks] == list(CHECK_NAMES)
    assert result.passed, result.first_failure


async def test_liquidity_fails_when_the_reserve_lends_less_than_the_amount(flashnet: FlashNet) -> None:
    f = flashnet
    built, provider = await build_arb(f)
    write_reserve(f, provider, built.loan_mint, available_amount=built.amount - 1)
    await provider.refresh(f.client, built.loan_mint)
    result = await run(f, built, provider)
    assert check(result, "liquidity") == (False, str(built.amount - 1), f">= {built.amount}")


async def test_net_profit_fails_below_the_threshold(flashnet: FlashNet) -> None:
    built, provider = await build_arb(flashnet)
    result = await run(flashnet, built, provider, validator(flashnet, min_profit_usd=1e9))
    assert failed(result) == {"net_profit"}
    assert check(result, "net_profit")[2] == ">= 1000000000.0 USD"


async def test_compute_units_fail_above_the_configured_maximum(flashnet: FlashNet) -> None:
    built, provider = await build_arb(flashnet)
    result = await run(flashnet, built, provider, validator(flashnet, max_compute_units=10_000))
    assert failed(result) == {"compute_units"}
    _, measured, threshold = check(result, "compute_units")
    assert int(measured) > 10_000 and threshold == "<= 10000"


async def test_slippage_fails_when_the_simulated_output_falls_short_of_the_quote(flashnet: FlashNet) -> None:
    f = flashnet
    # Min-outs of zero, so the simulation succeeds and the output is measured, not just refused.
    built, provider = await build_arb(f, slippage_bps=10_000)
    await f.big_swap(f.raydium("SOL", "USDC", 0), 20 * 10**9, coin_to_pc=True, trader=1)
    result = await run(f, built, provider, validator(f, slippage_bps=1))
    passed, measured, threshold = check(result, "slippage")
    assert not passed, measured
    assert int(measured.split("bps")[0]) > 1 and threshold.startswith("<= 1bps")
    assert failed(result) == {"slippage"}


async def test_slippage_fails_when_the_simulation_fails(flashnet: FlashNet) -> None:
    f = flashnet
    built, provider = await build_arb(f, slippage_bps=0)
    await f.big_swap(f.raydium("SOL", "USDC", 0), 400 * 10**9, coin_to_pc=True, trader=1)
    result = await run(f, built, provider)
    c = next(c for c in result.checks if c.name == "slippage")
    assert not c.passed and c.measured == "no output" and "simulation failed" in c.detail


async def test_reserve_health_fails_when_flash_loans_are_disabled(flashnet: FlashNet) -> None:
    f = flashnet
    built, provider = await build_arb(f)
    write_reserve(f, provider, built.loan_mint, flash_loan_fee_wad=solend.U64_MAX)
    await provider.refresh(f.client, built.loan_mint)
    result = await run(f, built, provider)
    passed, measured, _ = check(result, "reserve_health")
    assert not passed and "fee_ok=False" in measured


async def test_tip_last_fails_when_the_tip_is_not_the_last_instruction(flashnet: FlashNet) -> None:
    f = flashnet
    built, provider = await build_arb(f)
    ixs = list(built.instructions)
    ixs[-1], ixs[-2] = ixs[-2], ixs[-1]  # tip before the guard
    result = await run(f, resign(f, built, ixs), provider)
    assert "tip_last" in failed(result)


async def test_tip_last_fails_for_a_testnet_tip_account(flashnet: FlashNet) -> None:
    f = flashnet
    built, provider = await build_arb(f)
    testnet = Pubkey.find_program_address([b"TIP_ACCOUNT_0"], TESTNET_TIP_PROGRAM)[0]
    bad = FlashLoanTxBuilder(f.wallet, tip_accounts=[testnet]).build(
        provider=provider, loan_mint=built.loan_mint, amount=built.amount, legs=built.legs,
        recent_blockhash=built.tx.message.recent_blockhash, tip_lamports=built.tip_lamports,
        loan_balance_before=built.loan_balance_before, cu_limit=built.cu_limit,
        cu_price_micro_lamports=built.cu_price_micro_lamports,
    )
    result = await run(f, bad, provider)
    c = next(c for c in result.checks if c.name == "tip_last")
    assert not c.passed and "not a mainnet Jito tip account" in c.detail


async def test_tip_last_fails_when_the_tip_account_comes_from_a_lookup_table(flashnet: FlashNet) -> None:
    f = flashnet
    built, provider = await build_arb(f)
    table = AddressLookupTableAccount(Pubkey.new_unique(), [built.tip_account])
    result = await run(f, resign(f, built, list(built.instructions), [table]), provider)
    c = next(c for c in result.checks if c.name == "tip_last")
    assert not c.passed and "lookup table" in c.measured


async def test_builder_never_loads_the_tip_account_from_a_lookup_table(flashnet: FlashNet) -> None:
    f = flashnet
    built, provider = await build_arb(f)
    table = AddressLookupTableAccount(Pubkey.new_unique(), [built.tip_account, *ids.JITO_TIP_ACCOUNTS])
    rebuilt = FlashLoanTxBuilder(f.wallet).build(
        provider=provider, loan_mint=built.loan_mint, amount=built.amount, legs=built.legs,
        recent_blockhash=built.tx.message.recent_blockhash, tip_lamports=built.tip_lamports,
        loan_balance_before=built.loan_balance_before, lookup_tables=[table], tip_account=built.tip_account,
    )
    assert built.tip_account in rebuilt.tx.message.account_keys
    assert check(await run(f, rebuilt, provider), "tip_last")[0]


async def test_flash_indexes_fail_when_the_borrow_index_ignores_the_compute_budget_instructions(
    flashnet: FlashNet,
) -> None:
    f = flashnet
    built, provider = await build_arb(f, cu_limit=400_000, cu_price=1_000)
    # The public-bot bug: the repay's borrow index computed before the two budget instructions.
    wrong = provider.legs(built.loan_mint, built.amount, built.owner, built.loan_token_account,
                          built.layout.before_index - 2, built.layout.after_index - 2)
    ixs = list(built.instructions)
    ixs[built.layout.after_index] = wrong.after[0]
    result = await run(f, resign(f, built, ixs), provider)
    assert "flash_indexes" in failed(result)
    assert "slippage" in failed(result)  # and the program refuses it too


async def test_tx_size_fails_above_1232_bytes(flashnet: FlashNet) -> None:
    f = flashnet
    built, provider = await build_arb(f)
    big = FlashLoanTxBuilder(f.wallet).build(
        provider=provider, loan_mint=built.loan_mint, amount=built.amount, legs=built.legs,
        recent_blockhash=built.tx.message.recent_blockhash, tip_lamports=built.tip_lamports,
        loan_balance_before=built.loan_balance_before,
        create_token_accounts=[t.mint for t in f.scenario.tokens],
    )
    result = await run(f, big, provider)
    passed, measured, threshold = check(result, "tx_size")
    assert not passed and int(measured.split()[0]) > 1232 and threshold == "<= 1232 bytes"


async def test_signers_fail_when_a_signature_is_missing(flashnet: FlashNet) -> None:
    f = flashnet
    built, provider = await build_arb(f)
    unsigned = VersionedTransaction.populate(built.tx.message, [Signature.default()])
    result = await run(f, replace(built, tx=unsigned), provider)
    assert check(result, "signers")[:2] == (False, "0/1 valid")


async def test_profit_guard_fails_when_absent(flashnet: FlashNet) -> None:
    f = flashnet
    built, provider = await build_arb(f)
    ixs = [ix for i, ix in enumerate(built.instructions) if i != built.layout.guard_index]
    result = await run(f, resign(f, built, ixs), provider)
    assert check(result, "profit_guard")[:2] == (False, "absent")
