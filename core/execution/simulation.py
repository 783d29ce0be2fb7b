"""Bundle simulation through `simulateBundle` before every (re)submission, failures classified.

The reply follows jito-solana `rpc/src/rpc/bundles.rs` (protocols.md §1.3): `value.summary` is
"succeeded" or `{"failed": {"error": {"TransactionFailure": [sig, msg]} | <bundle error>,
"tx_signature": sig}}` (also seen as `txSignature`), and `value.transactionResults[i]` carries
`err`, `logs` and `unitsConsumed`. A failure becomes a `SimulationFailed` whose `kind` says what
to do next: `blockhash` can be rebuilt and retried; the others stop the submission.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from core.execution.rpc import JsonRpc, RpcError
from core.protocols import ids
from core.protocols.profit_guard import ProfitGuardError
from core.protocols.raydium_amm import AmmError
from core.protocols.whirlpool import WhirlpoolErrorCode

# (program, custom error) pairs meaning "the price moved": the opportunity is gone, not the bot broken.
SLIPPAGE_ERRORS: dict[Pubkey, frozenset[int]] = {
    ids.PROFIT_GUARD: frozenset({ProfitGuardError.TokenBelowFloor, ProfitGuardError.LamportsBelowFloor}),
    ids.ORCA_WHIRLPOOL: frozenset(
        {
            WhirlpoolErrorCode.AMOUNT_OUT_BELOW_MINIMUM,
            WhirlpoolErrorCode.AMOUNT_IN_ABOVE_MAXIMUM,
            WhirlpoolErrorCode.TOKEN_MIN_SUBCEEDED,
            WhirlpoolErrorCode.TOKEN_MAX_EXCEEDED,
        }
    ),
    ids.RAYDIUM_AMM_V4: frozenset({AmmError.EXCEEDED_SLIPPAGE}),
}


def register_guard_program(program: Pubkey) -> None:
    """A profit guard deployed at another id (`flash_loan.profit_guard_program`) fails with the
    same errors, and they mean the same: the price moved."""
    SLIPPAGE_ERRORS.setdefault(program, SLIPPAGE_ERRORS[ids.PROFIT_GUARD])


# SPL Token `InsufficientFunds` and System `ResultWithNegativeLamports` are both Custom(1).
INSUFFICIENT_FUNDS_ERRORS: dict[Pubkey, int] = {ids.TOKEN_PROGRAM: 1, ids.SYSTEM_PROGRAM: 1}
RETRYABLE_KINDS = frozenset({"blockhash", "rpc_unavailable"})


class SimulationFailed(Exception):
    """The bundle would fail; `kind` ∈ blockhash | insufficient_funds | slippage | program_error |
    instruction_error | transaction_error | bundle_error | rpc_unavailable | rpc_error."""

    def __init__(self, kind: str, detail: str, *, failed_index: int | None = None,
                 logs: Sequence[str] = (), custom_code: int | None = None) -> None:
        super().__init__(f"simulation failed ({kind}): {detail}")
        self.kind = kind
        self.detail = detail
        self.failed_index = failed_index
        self.logs = list(logs)
        self.custom_code = custom_code

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


@dataclass(frozen=True)
class SimulationReport:
    slot: int
    units_consumed: tuple[int, ...]
    logs: tuple[tuple[str, ...], ...]

    @property
    def total_units(self) -> int:
        return sum(self.units_consumed)


def _program_of(tx: VersionedTransaction, instruction_index: int) -> Pubkey | None:
    message = tx.message
    try:
        ix = message.instructions[instruction_index]
        keys = message.account_keys
        return keys[ix.program_id_index]
    except (IndexError, AttributeError):
        return None


def classify(err: Any, logs: Sequence[str] = (), tx: VersionedTransaction | None = None,
             *, failed_index: int | None = None) -> SimulationFailed:
    """Map a transaction error (RPC JSON form, or a bundle-level message) to a SimulationFailed."""
    text = err if isinstance(err, str) else repr(err)
    joined = "\n".join(logs).lower()
    if isinstance(err, dict) and "InstructionError" in err:
        index, inner = err["InstructionError"]
        program = _program_of(tx, index) if tx is not None else None
        if isinstance(inner, dict) and "Custom" in inner:
            code = int(inner["Custom"])
            if program is not None and code in SLIPPAGE_ERRORS.get(program, frozenset()):
                kind = "slippage"
            elif program is not None and INSUFFICIENT_FUNDS_ERRORS.get(program) == code:
                kind = "insufficient_funds"
            else:
                kind = "program_error"
            return SimulationFailed(
                kind, f"program error {code} in instruction {index} ({program})",
                failed_index=failed_index, logs=logs, custom_code=code,
            )
        poor = "insufficient funds" in joined or "insufficient lamports" in joined
        kind = "insufficient_funds" if poor else "instruction_error"
        return SimulationFailed(kind, f"instruction {index} ({program}): {inner}", failed_index=failed_index,
                                logs=logs)
    lowered = text.lower()
    if "blockhash" in lowered:
        kind = "blockhash"
    elif "insufficientfunds" in lowered.replace(" ", "") or "insufficient funds" in joined:
        kind = "insufficient_funds"
    else:
        custom = re.search(r"custom program error: 0x([0-9a-f]+)", lowered)
        if custom:
            code = int(custom.group(1), 16)
            return SimulationFailed("program_error", f"program error {code}: {text}",
                                    failed_index=failed_index, logs=logs, custom_code=code)
        kind = "transaction_error"
    return SimulationFailed(kind, text, failed_index=failed_index, logs=logs)


def _b64(tx: VersionedTransaction) -> str:
    return base64.b64encode(bytes(tx)).decode()


async def simulate_bundle(
    rpc: JsonRpc,
    rpc_url: str,
    txs: Sequence[VersionedTransaction],
    *,
    skip_sig_verify: bool = False,
) -> SimulationReport:
    """Simulate; return the per-transaction compute units, or raise a classified SimulationFailed."""
    config = {
        "transactionEncoding": "base64",
        "preExecutionAccountsConfigs": [None] * len(txs),
        "postExecutionAccountsConfigs": [None] * len(txs),
        "skipSigVerify": skip_sig_verify,
        "replaceRecentBlockhash": False,
    }
    try:
        encoded = {"encodedTransactions": [_b64(tx) for tx in txs]}
        result = await rpc.call(rpc_url, "simulateBundle", [encoded, config])
    except RpcError as exc:
        if exc.retryable:
            raise SimulationFailed("rpc_unavailable", exc.message) from exc
        if "blockhash" in exc.message.lower():
            raise SimulationFailed("blockhash", exc.message) from exc
        raise SimulationFailed("rpc_error", exc.message) from exc
    value = result.get("value", {}) if isinstance(result, dict) else {}
    slot = int(result.get("context", {}).get("slot", 0)) if isinstance(result, dict) else 0
    results = [r for r in value.get("transactionResults") or () if isinstance(r, dict)]
    summary = value.get("summary")
    if summary == "succeeded":
        return SimulationReport(
            slot,
            tuple(int(r.get("unitsConsumed") or 0) for r in results),
            tuple(tuple(r.get("logs") or ()) for r in results),
        )
    raise _failure(summary, results, txs)


def _failure(
    summary: Any, results: list[dict[str, Any]], txs: Sequence[VersionedTransaction]
) -> SimulationFailed:
    failed = summary.get("failed") if isinstance(summary, dict) else None
    if not isinstance(failed, dict):
        return SimulationFailed("rpc_error", f"unexpected simulateBundle summary {summary!r:.200}")
    signature = failed.get("tx_signature") or failed.get("txSignature")
    index = next((i for i, tx in enumerate(txs) if str(tx.signatures[0]) == signature), None)
    # The per-transaction result carries the structured error; the summary only a message.
    for i, res in enumerate(results):
        if res.get("err") is not None:
            return classify(res["err"], res.get("logs") or (), txs[i] if i < len(txs) else None,
                            failed_index=i)
    error = failed.get("error")
    if isinstance(error, dict) and "TransactionFailure" in error:
        _sig, message = error["TransactionFailure"]
        return classify(str(message), (), txs[index] if index is not None else None, failed_index=index)
    return SimulationFailed("bundle_error", str(error), failed_index=index)
