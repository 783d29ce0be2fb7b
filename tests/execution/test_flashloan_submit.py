"""The flash-loan executor's submit hook: a real flash-loan arbitrage through the block engine."""

from __future__ import annotations

from pathlib import Path

from solders.hash import Hash
from solders.message import MessageV0
from solders.transaction import VersionedTransaction

from core.execution.flashloan_submit import flash_loan_submit
from core.localnet.genesis import operator_keypair
from core.store import StoreReader
from tests.execution.conftest import Stack
from tests.execution.harness import wire
from tests.flashloan.conftest import FlashNet
from tests.flashloan.test_land import TIP, build_arb


async def flashnet_on(stack: Stack) -> FlashNet:
    wallet, _ = operator_keypair(stack.net.cluster.seed, None)
    return FlashNet(stack.net, stack.net.client(), wallet)


async def test_flash_loan_lands_through_the_submitter_with_the_exact_gain(
    stack: Stack, tmp_path: Path
) -> None:
    f = await flashnet_on(stack)
    built, _ = await build_arb(f)
    before = await f.token_balance(built.loan_token_account)
    wired = await wire(stack, tmp_path, f.wallet.pubkey())
    await wired.submitter.start()
    submit = flash_loan_submit(wired.submitter, f.wallet, profit_lamports=lambda b: 10**9,
                               opportunity_id=lambda b: "42")
    result = await submit(built.tx, built)
    await wired.shutdown()
    gain = await f.token_balance(built.loan_token_account) - before
    await f.client.close()
    assert result.landed, result.error
    assert result.signature == str(built.tx.signatures[0]) and result.region
    assert result.realised_profit == gain == built.expected_gain > 0
    with StoreReader(tmp_path, "live") as reader:
        (attempt,) = reader.attempts_for("42")
    assert attempt.state == "settled" and attempt.flash_mint == str(built.loan_mint)
    assert attempt.provider == "solend" and attempt.flash_amount == built.amount


async def test_stale_flash_loan_is_rebuilt_with_the_tip_bumped_in_place(stack: Stack, tmp_path: Path) -> None:
    f = await flashnet_on(stack)
    built, _ = await build_arb(f)
    stale = VersionedTransaction(
        MessageV0.try_compile(built.owner, list(built.instructions), list(built.lookup_tables),
                              Hash.new_unique()),
        [f.wallet],
    )
    tip_before = await f.lamports(built.tip_account)
    wired = await wire(stack, tmp_path, f.wallet.pubkey())
    await wired.submitter.start()
    submit = flash_loan_submit(wired.submitter, f.wallet, profit_lamports=lambda b: 10**9)
    result = await submit(stale, built)
    await wired.shutdown()
    tipped = await f.lamports(built.tip_account) - tip_before
    await f.client.close()
    assert result.landed, result.error
    assert result.signature != str(stale.signatures[0])
    assert tipped == round(TIP * 1.5)
