"""FlashLoanExecutor.handle with the real submit hook: one flash loan is one store row, end to end."""

from __future__ import annotations

from pathlib import Path

from core.execution.flashloan_submit import flash_loan_submit
from core.flashloan.executor import FlashLoanExecutor
from core.store import StoreReader
from tests.execution.conftest import Stack
from tests.execution.harness import wire
from tests.execution.test_flashloan_submit import flashnet_on
from tests.flashloan.test_executor import NO_CAPS, config, opportunity


async def test_executor_through_flash_loan_submit_writes_one_row_from_approved_to_settled(
    stack: Stack, tmp_path: Path
) -> None:
    f = await flashnet_on(stack)
    opp = await opportunity(f)
    usdc = f.scenario.wallet_token_accounts["USDC"]
    before = await f.token_balance(usdc)
    wired = await wire(stack, tmp_path, f.wallet.pubkey())
    await wired.submitter.start()
    submit = flash_loan_submit(wired.submitter, f.wallet, profit_lamports=lambda b: 10**9)
    executor = FlashLoanExecutor(
        config=config(dry_run=False, caps=NO_CAPS), client=f.client, payer=f.wallet, providers=[f.solend()],
        pricer=f.pricer(), store=wired.writer, store_dir=tmp_path, submit=submit,
    )
    outcome = await executor.handle(opp)
    await wired.writer.flush()
    await wired.shutdown()
    gain = await f.token_balance(usdc) - before
    await f.client.close()

    assert outcome.state == "landed", outcome.reason
    with StoreReader(tmp_path, "live") as reader:
        (row,) = reader.attempts_for(str(opp.id))
        states = list(dict.fromkeys(e.state for e in reader.events_for(row.id)))
    assert row.id == outcome.attempt_id and row.state == "settled"
    assert states == ["simulated", "submitted", "landed", "settled"]
    assert row.realised_profit == gain > 0
    assert row.provider == "solend" and row.validation_results is not None
