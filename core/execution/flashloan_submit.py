"""The flash-loan executor's `submit` hook, backed by the Submitter.

`FlashLoanExecutor(submit=flash_loan_submit(submitter, payer, ...))` hands each signed flash-loan
transaction to the submitter as a one-transaction bundle. Replacements are rebuilt from the
BuiltFlashLoan itself: same instructions, the tip transfer and the priority price bumped in place
(never added or removed, so the flash-loan legs' instruction indexes stay right), a fresh
blockhash, the same lookup tables, re-signed.
"""

from __future__ import annotations

from collections.abc import Callable

from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from core.execution.submitter import Rebuild, Replacement, Submitter
from core.flashloan.builder import BuiltFlashLoan
from core.flashloan.executor import Submit, SubmitResult
from core.protocols import ids
from core.store import BundleAttempt


def sol_loan_profit_lamports(built: BuiltFlashLoan) -> int:
    """Expected gain of a wrapped-SOL loan in lamports; other mints need a price (pass your own)."""
    if built.loan_mint != ids.NATIVE_MINT:
        raise ValueError(f"loan mint {built.loan_mint} is not SOL: pass profit_lamports")
    return built.legs[-1].expected_out - built.amount - built.provider_fee


def rebuild_flash_loan(built: BuiltFlashLoan, payer: Keypair) -> Rebuild:
    async def rebuild(replacement: Replacement) -> VersionedTransaction:
        ixs = list(built.instructions)
        budget = []
        if built.cu_limit is not None:
            budget.append(set_compute_unit_limit(replacement.cu_limit or built.cu_limit))
        if built.cu_price_micro_lamports is not None:
            budget.append(set_compute_unit_price(replacement.cu_price_micro_lamports))
        ixs[: built.layout.compute_budget] = budget
        ixs[built.layout.tip_index] = transfer(TransferParams(
            from_pubkey=built.owner, to_pubkey=built.tip_account, lamports=replacement.tip_lamports
        ))
        message = MessageV0.try_compile(built.owner, ixs, list(built.lookup_tables), replacement.blockhash)
        return VersionedTransaction(message, [payer])

    return rebuild


def flash_loan_submit(
    submitter: Submitter,
    payer: Keypair,
    *,
    profit_lamports: Callable[[BuiltFlashLoan], int] = sol_loan_profit_lamports,
    min_profit_lamports: int = 0,
    opportunity_id: Callable[[BuiltFlashLoan], str] | None = None,
    route_shape: Callable[[BuiltFlashLoan], str] | None = None,
    pnl_usd_per_unit: float | None = None,
) -> Submit:
    """A `Submit` for FlashLoanExecutor. `opportunity_id` defaults to the attempt row's opportunity,
    else the transaction's signature. `attempt=` (the executor's or pipeline's row, state approved)
    is continued by the submitter — approved → simulated → submitted → landed → settled — so one
    flash loan is one row. `pnl_usd_per_unit` (USD per loan base unit) makes settlement write the
    realised profit in USD too."""

    async def submit(
        tx: VersionedTransaction, built: BuiltFlashLoan, *, attempt: BundleAttempt | None = None
    ) -> SubmitResult:
        if opportunity_id is not None:
            oid = opportunity_id(built)
        elif attempt is not None:
            oid = attempt.opportunity_id
        else:
            oid = str(tx.signatures[0])
        outcome = await submitter.submit(
            tx,
            opportunity_id=oid,
            attempt=attempt,
            pnl_usd_per_unit=pnl_usd_per_unit,
            expected_profit_lamports=profit_lamports(built),
            min_profit_lamports=min_profit_lamports,
            tip_lamports=built.tip_lamports,
            cu_limit=built.cu_limit,
            cu_price_micro_lamports=built.cu_price_micro_lamports or 0,
            rebuild=rebuild_flash_loan(built, payer),
            route_shape=route_shape(built) if route_shape else None,
            provider=built.provider,
            flash_mint=str(built.loan_mint),
            flash_amount=built.amount,
        )
        return SubmitResult(
            landed=outcome.landed,
            signature=outcome.signatures[0] if outcome.signatures else "",
            bundle_id=outcome.bundle_id or "",
            region=submitter.landed_region(outcome.attempt_id) or "",
            realised_profit=outcome.realised_profit if outcome.landed else None,
            fee_lamports=None,
            error="" if outcome.landed else f"{outcome.error_class}: {outcome.reason}",
            slot=outcome.slot if outcome.landed else None,
        )

    return submit
