"""The safety validator: the plan's five checks plus the structural checks public bots skip.

Every check reports what it measured against its threshold, so a refusal says exactly why:

  liquidity       provider liquidity ≥ amount
  net_profit      net profit (USD) ≥ flash_loan.min_profit_usd
  compute_units   CU consumed in simulation ≤ compute.max_compute_units
  slippage        simulated loan-token output within `slippage_bps` of the quote (and no error)
  reserve_health  reserve accepts flash loans, fee not the disabled sentinel, utilisation sane
  tip_last        last instruction is a System transfer to a *mainnet* Jito tip account that is a
                  static key (not loaded from a lookup table)
  flash_indexes   the provider's instructions sit at the planned indexes and carry exactly the
                  indexes the provider derives from where they really are
  tx_size         serialized transaction ≤ 1232 bytes
  signers         every required signature present and valid
  profit_guard    the profit guard checks the loan account, after the repay and before the tip
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Processed
from solana.rpc.core import RPCException
from solders.instruction import CompiledInstruction
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature

from core.config import AppConfig
from core.events import CheckResult, ValidationResult
from core.flashloan.builder import MAX_TX_SIZE, BuiltFlashLoan
from core.flashloan.profitability import Profitability
from core.flashloan.provider import FlashLoanProvider
from core.protocols import ids, profit_guard, spl_token

SYSTEM_TRANSFER_TAG = 2
CHECK_NAMES = (
    "liquidity", "net_profit", "compute_units", "slippage", "reserve_health",
    "tip_last", "flash_indexes", "tx_size", "signers", "profit_guard",
)


@dataclass(frozen=True)
class SimulationOutcome:
    """What simulateTransaction said about the built transaction."""

    err: str | None
    units_consumed: int
    loan_balance_after: int | None
    logs: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.err is None


async def simulate(client: AsyncClient, built: BuiltFlashLoan) -> SimulationOutcome:
    """simulateTransaction against the current (processed) state, with the loan account's post state.

    An unsigned (dry-run) build is simulated with sigVerify off: the signature is a placeholder."""
    try:
        resp = await client.simulate_transaction(
            built.tx, sig_verify=built.signed, commitment=Processed,
            accounts_addresses=[built.loan_token_account],
        )
    except RPCException as exc:
        # The node refused to simulate at all (bad signature, oversized, unknown lookup table).
        return SimulationOutcome(err=f"rpc: {exc}", units_consumed=0, loan_balance_after=None)
    value = resp.value
    after: int | None = None
    if value.err is None and value.accounts and value.accounts[0] is not None:
        data = value.accounts[0].data
        raw = base64.b64decode(data[0]) if isinstance(data, list | tuple) else bytes(data)
        after = int(spl_token.decode_token_account(raw, built.loan_token_account).amount)
    return SimulationOutcome(
        err=None if value.err is None else str(value.err),
        units_consumed=int(value.units_consumed or 0),
        loan_balance_after=after,
        logs=tuple(value.logs or ()),
    )


def _loaded_keys(built: BuiltFlashLoan) -> tuple[list[Pubkey], int]:
    """Every account key in load order (static, ALT writable, ALT readonly), and the static count."""
    message = built.tx.message
    static = list(message.account_keys)
    writable: list[Pubkey] = []
    readonly: list[Pubkey] = []
    tables = {t.key: t for t in built.lookup_tables}
    if isinstance(message, MessageV0):
        for lookup in message.address_table_lookups:
            table = tables.get(lookup.account_key)
            if table is None:
                raise ValueError(f"lookup table {lookup.account_key} not given to the validator")
            addresses = list(table.addresses)
            writable += [addresses[i] for i in bytes(lookup.writable_indexes)]
            readonly += [addresses[i] for i in bytes(lookup.readonly_indexes)]
    return static + writable + readonly, len(static)


def _program(ix: CompiledInstruction, keys: Sequence[Pubkey]) -> Pubkey:
    return keys[ix.program_id_index]


def _accounts(ix: CompiledInstruction, keys: Sequence[Pubkey]) -> list[Pubkey]:
    return [keys[i] for i in bytes(ix.accounts)]


def _check(name: str, passed: bool, measured: object, threshold: object, detail: str = "") -> CheckResult:
    return CheckResult(name, bool(passed), str(measured), str(threshold), detail)


class FlashLoanValidator:
    def __init__(
        self,
        client: AsyncClient | None,
        *,
        min_profit_usd: float,
        max_compute_units: int,
        slippage_bps: int,
        max_utilization_bps: int = 10_000,
        tip_accounts: Sequence[Pubkey] = ids.JITO_TIP_ACCOUNTS,
        allow_unsigned: bool = False,
        guard_program: Pubkey = profit_guard.PROGRAM_ID,
    ) -> None:
        self.client = client
        self.min_profit_usd = min_profit_usd
        self.max_compute_units = max_compute_units
        self.slippage_bps = slippage_bps
        self.max_utilization_bps = max_utilization_bps
        self.tip_accounts = frozenset(tip_accounts)
        # Dry-run holds no key: an all-placeholder signature set passes the signer check, which
        # then only proves the slots are there; the signed transaction is checked again before sending.
        self.allow_unsigned = allow_unsigned
        self.guard_program = guard_program

    @classmethod
    def from_config(
        cls, client: AsyncClient | None, config: AppConfig, slippage_bps: int, *, allow_unsigned: bool = False
    ) -> FlashLoanValidator:
        return cls(client, min_profit_usd=config.flash_loan.min_profit_usd,
                   max_compute_units=config.compute.max_compute_units, slippage_bps=slippage_bps,
                   allow_unsigned=allow_unsigned, guard_program=config.flash_loan.guard_program())

    async def validate(
        self,
        built: BuiltFlashLoan,
        provider: FlashLoanProvider,
        profit: Profitability,
        *,
        opportunity_id: int,
        attempt_id: str,
        simulation: SimulationOutcome | None = None,
    ) -> tuple[ValidationResult, SimulationOutcome]:
        """Run every check; simulates over RPC unless `simulation` is given."""
        if simulation is None:
            if self.client is None:
                raise ValueError("no RPC client to simulate with")
            simulation = await simulate(self.client, built)
        checks = [
            *self.economic(built, provider, profit),
            self.compute_units(simulation),
            self.slippage(built, simulation),
            *self.structural(built, provider),
        ]
        checks.sort(key=lambda c: CHECK_NAMES.index(c.name))
        result = ValidationResult(opportunity_id, attempt_id, built.provider, built.amount, tuple(checks))
        return result, simulation

    # -- the five ------------------------------------------------------------------------------

    def precheck(self, provider: FlashLoanProvider, mint: Pubkey, amount: int) -> list[CheckResult]:
        """The checks that need no transaction (liquidity, reserve health): run before building, so
        a disabled or drained reserve is refused by name rather than by a builder error."""
        available = provider.available_liquidity(mint)
        health = provider.health(mint)
        health_ok = (
            health.enabled and health.fee_ok and 0 <= health.utilization_bps <= self.max_utilization_bps
        )
        return [
            _check("liquidity", available >= amount, available, f">= {amount}",
                   f"{provider.name} can lend {available}"),
            _check("reserve_health", health_ok,
                   f"enabled={health.enabled} fee_ok={health.fee_ok} utilization={health.utilization_bps}bps",
                   f"enabled, fee not disabled, utilization <= {self.max_utilization_bps}bps", health.reason),
        ]

    def economic(
        self, built: BuiltFlashLoan, provider: FlashLoanProvider, profit: Profitability
    ) -> list[CheckResult]:
        return [
            *self.precheck(provider, built.loan_mint, built.amount),
            _check("net_profit", profit.net > 0 and profit.net_usd >= self.min_profit_usd,
                   f"{profit.net_usd:.6f} USD ({profit.net} units)", f">= {self.min_profit_usd} USD",
                   f"gross {profit.gross} − fee {profit.provider_fee} − {profit.lamport_costs} lamports "
                   f"({profit.lamport_costs_in_loan} units)"),
        ]

    def compute_units(self, sim: SimulationOutcome) -> CheckResult:
        detail = "" if sim.ok else f"simulation failed: {sim.err}"
        return _check("compute_units", sim.units_consumed <= self.max_compute_units, sim.units_consumed,
                      f"<= {self.max_compute_units}", detail)

    def slippage(self, built: BuiltFlashLoan, sim: SimulationOutcome) -> CheckResult:
        quoted = built.expected_out
        threshold = f"<= {self.slippage_bps}bps of {quoted}"
        if not sim.ok or sim.loan_balance_after is None:
            return _check("slippage", False, "no output", threshold, f"simulation failed: {sim.err}")
        # The loan account gains out − amount − fee; add the loan and fee back to get the output.
        out = sim.loan_balance_after - built.loan_balance_before + built.amount + built.provider_fee
        slipped_bps = max(0, (quoted - out) * 10_000 // quoted) if quoted > 0 else 10_000
        return _check("slippage", slipped_bps <= self.slippage_bps and out > 0,
                      f"{slipped_bps}bps (out {out})", threshold)

    # -- structure -----------------------------------------------------------------------------

    def structural(self, built: BuiltFlashLoan, provider: FlashLoanProvider) -> list[CheckResult]:
        message = built.tx.message
        keys, n_static = _loaded_keys(built)
        ixs = list(message.instructions)
        return [
            self._tip_last(ixs, keys, n_static),
            self._flash_indexes(built, provider, ixs, keys),
            self._size(built),
            self._signers(built),
            self._guard(built, ixs, keys),
        ]

    def _tip_last(self, ixs: list[CompiledInstruction], keys: list[Pubkey], n_static: int) -> CheckResult:
        threshold = "last instruction: System transfer to a mainnet tip account, static key"
        if not ixs:
            return _check("tip_last", False, "no instructions", threshold)
        last = ixs[-1]
        data = bytes(last.data)
        accounts = bytes(last.accounts)
        if _program(last, keys) != ids.SYSTEM_PROGRAM or len(data) != 12 or len(accounts) != 2 or \
                struct.unpack_from("<I", data)[0] != SYSTEM_TRANSFER_TAG:
            return _check("tip_last", False, f"last is {_program(last, keys)} data {data.hex()}", threshold)
        to_index = accounts[1]
        to = keys[to_index]
        lamports = struct.unpack_from("<Q", data, 4)[0]
        if to not in self.tip_accounts:
            return _check("tip_last", False, f"tip to {to}", threshold, "not a mainnet Jito tip account")
        if to_index >= n_static:
            return _check("tip_last", False, f"tip to {to} via lookup table", threshold,
                          "block engines ignore tips to accounts loaded from a lookup table")
        others = [i for i, ix in enumerate(ixs[:-1]) if _program(ix, keys) == ids.SYSTEM_PROGRAM
                  and any(keys[a] in self.tip_accounts for a in bytes(ix.accounts))]
        if others:
            return _check("tip_last", False, f"tip account also used at {others}", threshold)
        return _check("tip_last", True, f"{lamports} lamports to {to} at {len(ixs) - 1}", threshold)

    def _flash_indexes(
        self, built: BuiltFlashLoan, provider: FlashLoanProvider, ixs: list[CompiledInstruction],
        keys: list[Pubkey],
    ) -> CheckResult:
        layout = built.layout
        planned = [*range(layout.before_index, layout.before_index + provider.before_count),
                   *range(layout.after_index, layout.after_index + provider.after_count)]
        found = [i for i, ix in enumerate(ixs) if _program(ix, keys) == provider.program_id]
        threshold = f"{provider.name} at {planned}, data matching their positions"
        if found != planned:
            return _check("flash_indexes", False, f"{provider.name} at {found}", threshold)
        # Rebuild the legs from where they really are: any index baked into their data must agree.
        expected = provider.legs(built.loan_mint, built.amount, built.owner, built.loan_token_account,
                                 found[0], found[provider.before_count])
        for position, ix in zip(found, [*expected.before, *expected.after], strict=True):
            actual = ixs[position]
            if bytes(actual.data) != bytes(ix.data):
                return _check("flash_indexes", False, f"data at {position} = {bytes(actual.data).hex()}",
                              threshold, f"expected {bytes(ix.data).hex()}")
            if _accounts(actual, keys) != [m.pubkey for m in ix.accounts]:
                return _check("flash_indexes", False, f"accounts at {position} differ", threshold)
        return _check("flash_indexes", True, f"{provider.name} at {found}", threshold)

    def _size(self, built: BuiltFlashLoan) -> CheckResult:
        size = len(bytes(built.tx))
        return _check("tx_size", size <= MAX_TX_SIZE, f"{size} bytes", f"<= {MAX_TX_SIZE} bytes")

    def signers(self, built: BuiltFlashLoan) -> CheckResult:
        return self._signers(built)

    def _signers(self, built: BuiltFlashLoan) -> CheckResult:
        tx = built.tx
        required = tx.message.header.num_required_signatures
        sigs = list(tx.signatures)
        if self.allow_unsigned and len(sigs) == required and all(s == Signature.default() for s in sigs):
            return _check("signers", True, f"0/{len(sigs)} signed (dry-run: no key loaded)",
                          f"{required} slots; signed before sending")
        valid = tx.verify_with_results() if len(sigs) == required else []
        good = sum(1 for s, ok in zip(sigs, valid, strict=False) if ok and s != Signature.default())
        return _check("signers", len(sigs) == required and good == required, f"{good}/{len(sigs)} valid",
                      f"{required} required")

    def _guard(
        self, built: BuiltFlashLoan, ixs: list[CompiledInstruction], keys: list[Pubkey]
    ) -> CheckResult:
        layout = built.layout
        where = [i for i, ix in enumerate(ixs) if _program(ix, keys) == self.guard_program]
        threshold = f"guard on {built.loan_token_account} between the repay and the tip, floor >= balance"
        if not where:
            return _check("profit_guard", False, "absent", threshold)
        last_after_leg = layout.guard_index - 1
        i = where[-1]
        ix = ixs[i]
        data = bytes(ix.data)
        accounts = _accounts(ix, keys)
        if len(data) not in (9, 17) or data[0] != profit_guard.CHECK_FLOOR_TAG:
            return _check("profit_guard", False, f"bad data at {i}", threshold)
        floor = struct.unpack_from("<Q", data, 1)[0]
        ok = (i > last_after_leg and i < len(ixs) - 1 and accounts[:1] == [built.loan_token_account]
              and floor >= built.loan_balance_before)
        return _check("profit_guard", ok, f"at {i}, floor {floor} on {accounts[0] if accounts else None}",
                      threshold)
