"""Opportunity → capped size → provider → build → validate → (dry-run: record | live: submit).

One row per attempt in the mode's store, with every validation result, whatever happened (a
refusal at any step is recorded with its reason); the ValidationResult goes out on the EventBus;
the plan's flash-loan metrics move when an attempt is made (attempted, amount) and when it lands
(successful, profit). Dry-run simulates and records and never sends anything: no sendTransaction,
no sendBundle, no `submit`. `flash_loan.enabled = false` turns the whole path off.

The engine's handler is the executor itself: `await executor(opportunity)`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import math
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Processed
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from core.config import AppConfig
from core.events import AttemptUpdate, EventBus, ValidationResult
from core.execution.simulation import register_guard_program
from core.execution.tips import TipDecision
from core.flashloan.builder import BuiltFlashLoan, FlashLoanTxBuilder
from core.flashloan.caps import cap_amount, successful_flash_loans
from core.flashloan.profitability import (
    TOKEN_ACCOUNT_RENT_LAMPORTS,
    LoanPrices,
    Profitability,
    evaluate,
    evaluate_built,
)
from core.flashloan.provider import FlashLoanProvider, select_provider
from core.flashloan.validator import FlashLoanValidator, SimulationOutcome
from core.flashloan.venues import Venue, load_venues
from core.metrics import Metrics
from core.search.fees import JITO_MIN_TIP_LAMPORTS
from core.search.opportunities import Opportunity
from core.store import BundleAttempt, StoreWriter
from core.store import Opportunity as StoredOpportunity

log = logging.getLogger(__name__)

# How old the count of live successes behind the graduated caps may be.
SUCCESSES_TTL_S = 1.0


@dataclass(frozen=True)
class SubmitResult:
    """What the execution layer reports for a submitted flash-loan transaction."""

    landed: bool
    signature: str = ""
    bundle_id: str = ""
    region: str = ""
    realised_profit: int | None = None  # loan base units; None: use the expected net
    fee_lamports: int | None = None
    error: str = ""
    slot: int | None = None  # where it landed


TipPolicy = Callable[[int, int], TipDecision]
"""`tip_policy(expected_profit_lamports, min_profit_lamports)`: the tip for a transaction whose
profit before its tip (every other cost paid) is the first, capped so that the second remains."""

PriorityFee = Callable[[Sequence[Pubkey], int, int], Awaitable[int]]
"""`priority_fee(writable_accounts, profit_lamports, min_profit_lamports)` → micro-lamports per CU
(the fee market over the accounts the transaction writes; the profits tell its urgency)."""

LookupTables = Callable[[], Awaitable[Sequence[AddressLookupTableAccount]]]

Submit = Callable[[VersionedTransaction, BuiltFlashLoan], Awaitable[SubmitResult]]
"""`submit(tx, built)`; a submit that also takes an `attempt=` keyword gets the executor's
BundleAttempt row (already written, state "approved") and owns it from then on — one row per
bundle attempt, never two."""


class Pricer(Protocol):
    async def prices(self, client: AsyncClient, loan_mint: Pubkey) -> LoanPrices: ...


@dataclass(frozen=True)
class AttemptOutcome:
    """What happened to one opportunity. state: disabled | rejected | simulated | landed | failed."""

    attempt_id: str
    state: str
    reason: str = ""
    amount: int = 0
    provider: str | None = None
    validation: ValidationResult | None = None
    profitability: Profitability | None = None
    simulation: SimulationOutcome | None = None
    built: BuiltFlashLoan | None = None


@dataclass
class Prepared:
    """An opportunity sized, built and validated, nothing sent: what `dispatch` (or an approval
    queue in between) needs. `refusal` is set when it must not be sent (the failing check named)."""

    opportunity: Opportunity
    attempt: BundleAttempt
    refusal: AttemptOutcome | None = None
    provider: FlashLoanProvider | None = None
    prices: LoanPrices | None = None
    profit: Profitability | None = None
    built: BuiltFlashLoan | None = None
    validation: ValidationResult | None = None
    simulation: SimulationOutcome | None = None
    tip: TipDecision | None = None  # the policy's decision the built tip came from
    # (expected profit before the tip, minimum profit) in lamports: what a retry's tip is capped by
    tip_basis: tuple[int, int] | None = None

    @property
    def passed(self) -> bool:
        return self.refusal is None and self.built is not None

    def outcome_fields(self) -> dict[str, Any]:
        return dict(amount=self.attempt.flash_amount or 0, provider=self.attempt.provider,
                    validation=self.validation, profitability=self.profit, simulation=self.simulation,
                    built=self.built)


def _takes_keyword(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


class _Refused(Exception):
    def __init__(self, error_class: str, detail: str) -> None:
        self.error_class = error_class
        super().__init__(detail)


class FlashLoanExecutor:
    """Turns opportunities into validated flash-loan transactions.

    config: the AppConfig (flash_loan, mode, compute sections are read at every call, so a mode
      switch takes effect on the next opportunity);
    providers: every configured provider; `flash_loan.provider` picks one by name, or "auto";
    pricer: on-cluster prices of the loan mint (PoolPricer);
    store: the writer of the current mode's store; store_dir: where the live store lives (caps);
    submit: live mode only — hands over the signed transaction (None: live attempts fail as unsent);
    states: optional pool → search state the opportunity was quoted on (the min-outs then come from
      that state, and the validator's slippage check measures the move since);
    cu_limit: (provider, dex names) → CU limit; default compute.default_cu_per_swap per hop +
      overhead_cu, capped at max_compute_units; cu_price_micro_lamports: the priority price;
    tip_lamports: opportunity → tip; default its fee breakdown's tip (at least Jito's minimum);
    tip_policy: when given, the tip comes from it instead (`TipPolicy`), with the expected profit
      after every other cost, and a tip that cannot leave `min_profit_usd` refuses the opportunity;
    priority_fee: when given, the CU price comes from it (`PriorityFee`) instead of the fixed one;
    lookup_tables_source: when given, the tables to compile with are asked for on every build.
    """

    def __init__(
        self,
        *,
        config: AppConfig,
        client: AsyncClient,
        payer: Keypair | Pubkey,
        providers: Sequence[FlashLoanProvider],
        pricer: Pricer,
        store: StoreWriter,
        store_dir: Path | None = None,
        bus: EventBus | None = None,
        metrics: Metrics | None = None,
        submit: Submit | None = None,
        lookup_tables: Sequence[AddressLookupTableAccount] = (),
        slippage_bps: int = 0,
        states: Callable[[Pubkey], Any | None] | None = None,
        cu_limit: Callable[[str, Sequence[str]], int] | None = None,
        cu_price_micro_lamports: int = 0,
        tip_lamports: Callable[[Opportunity], int] | None = None,
        rng: random.Random | None = None,
        tip_policy: TipPolicy | None = None,
        priority_fee: PriorityFee | None = None,
        lookup_tables_source: LookupTables | None = None,
    ) -> None:
        self.config = config
        self.client = client
        self.payer = payer
        self.providers = list(providers)
        self.pricer = pricer
        self.store = store
        self.store_dir = store_dir
        self.bus = bus
        self.metrics = metrics
        self.submit = submit
        self.lookup_tables = list(lookup_tables)
        self.slippage_bps = slippage_bps
        self.states = states
        self._cu_limit = cu_limit
        self.cu_price_micro_lamports = cu_price_micro_lamports
        self._tip = tip_lamports
        self._tip_policy = tip_policy
        self._priority_fee = priority_fee
        self._tables_source = lookup_tables_source
        self._successes_cached = 0
        self._successes_at: float | None = None
        self.builder = FlashLoanTxBuilder(payer, slippage_bps=slippage_bps, rng=rng,
                                          guard_program=config.flash_loan.guard_program())
        register_guard_program(self.builder.guard_program)
        self._known_accounts: set[Pubkey] = set()
        self._submit_takes_attempt = submit is not None and _takes_keyword(submit, "attempt")
        self._handed_over: set[str] = set()

    async def __call__(self, opportunity: Opportunity) -> None:
        await self.handle(opportunity)

    # -- policy pieces -------------------------------------------------------------------------

    @property
    def _dry_run(self) -> bool:
        return self.config.mode.dry_run or self.store.mode != "live"

    def successes(self) -> int:
        return 0 if self.store_dir is None else successful_flash_loans(self.store_dir)

    async def _successes(self) -> int:
        """`successes()` read off the event loop, at most once a second. Successes only grow, so
        a count up to a second old can only make the graduated cap smaller, never larger."""
        now = time.monotonic()
        if self._successes_at is None or now - self._successes_at >= SUCCESSES_TTL_S:
            self._successes_cached = await asyncio.to_thread(self.successes)
            self._successes_at = now
        return self._successes_cached

    def cu_limit_for(self, provider: str, dexes: Sequence[str]) -> int:
        compute = self.config.compute
        if self._cu_limit is not None:
            limit = self._cu_limit(provider, dexes)
        else:
            limit = compute.default_cu_per_swap * len(dexes) + compute.overhead_cu
        return min(limit, compute.max_compute_units)

    def tip_for(self, opportunity: Opportunity) -> int:
        tip = self._tip(opportunity) if self._tip is not None else opportunity.fees.tip_lamports
        return max(tip, JITO_MIN_TIP_LAMPORTS)

    def provider_named(self, name: str, mint: Pubkey, amount: int) -> FlashLoanProvider:
        if name == "auto":
            return select_provider(self.providers, mint, amount)
        for p in self.providers:
            if p.name == name:
                return p
        raise _Refused("provider", f"provider {name!r} is not configured")

    # -- the path ------------------------------------------------------------------------------

    def new_attempt(self, opp: Opportunity, mode: str | None = None) -> BundleAttempt:
        now = time.time()
        return BundleAttempt(
            id=uuid.uuid4().hex, opportunity_id=str(opp.id), mode=mode or self.store.mode,  # type: ignore[arg-type]
            created_at=now, state="detected", flash_mint=str(opp.loan_mint),
            route=[str(h.pool) for h in opp.route], detected_at=now,
        )

    async def handle(self, opp: Opportunity) -> AttemptOutcome:
        """prepare + dispatch: the whole path for one opportunity, one store row whatever happens."""
        if not self.config.flash_loan.enabled:
            return AttemptOutcome(uuid.uuid4().hex, "disabled", "flash_loan.enabled is false")
        # Rows go to the writer's own file (a mode switch swaps the writer); sending needs both the
        # config and the writer to say live, so a half-finished switch can only ever rehearse.
        attempt = self.new_attempt(opp)
        prepared = await self.prepare(opp, attempt)
        outcome = await self.dispatch(prepared)
        self._finish(opp, attempt, outcome)
        if self.bus is not None:
            await self.store.flush()  # an AttemptUpdate is published only once it is written
            self.bus.publish(AttemptUpdate(
                attempt_id=attempt.id, opportunity_id=opp.id, state=outcome.state,
                tip_lamports=attempt.tip_lamports or 0, bundle_id=attempt.bundle_id or "",
                reason=outcome.reason, realized_pnl=attempt.realised_profit,
            ))
        return outcome

    async def prepare(self, opp: Opportunity, attempt: BundleAttempt | None = None) -> Prepared:
        """Size, pick the provider, build and validate (simulation included) — never send.

        Never raises: a refusal at any step comes back as `Prepared.refusal` with its reason, and
        `attempt` carries every figure measured so far (the caller persists it)."""
        attempt = attempt if attempt is not None else self.new_attempt(opp)
        try:
            return await self._prepare(opp, attempt)
        except _Refused as exc:
            attempt.error_class, attempt.error_detail = exc.error_class, str(exc)
            reason = f"{exc.error_class}: {exc}"
        except Exception as exc:  # an RPC or decode failure: recorded, never raised into the engine
            log.exception("flash-loan attempt %s failed", attempt.id)
            attempt.error_class, attempt.error_detail = "error", f"{type(exc).__name__}: {exc}"
            reason = f"error: {type(exc).__name__}: {exc}"
        refusal = AttemptOutcome(attempt.id, "rejected", reason, amount=attempt.flash_amount or 0,
                                 provider=attempt.provider)
        return Prepared(opp, attempt, refusal=refusal)

    async def dispatch(self, prepared: Prepared) -> AttemptOutcome:
        """Dry-run: the simulated outcome. Live: hand the signed transaction to `submit`."""
        if prepared.built is None or prepared.profit is None or prepared.prices is None:
            assert prepared.refusal is not None
            return prepared.refusal
        if prepared.refusal is not None and (self.config.mode.require_validation or self._dry_run):
            return prepared.refusal
        if self._dry_run:
            return AttemptOutcome(prepared.attempt.id, "simulated", "dry-run: simulated, not sent",
                                  **prepared.outcome_fields())
        return await self._submit(prepared.attempt, prepared.built, prepared.profit, prepared.prices,
                                  prepared.outcome_fields())

    async def _prepare(self, opp: Opportunity, attempt: BundleAttempt) -> Prepared:
        cfg = self.config
        mint = opp.loan_mint
        for p in self.providers:
            if p.supports(mint):
                await p.refresh(self.client, mint)
        prices = await self.pricer.prices(self.client, mint)
        cap = cap_amount(cfg.flash_loan, await self._successes(), prices)
        amount = min(opp.amount_in, cap)
        if amount <= 0:
            raise _Refused("cap", f"cap {cap} leaves nothing to borrow")
        attempt.flash_amount = amount
        attempt.flash_amount_usd = prices.to_usd(amount)
        try:
            provider = self.provider_named(cfg.flash_loan.provider, mint, amount)
        except _Refused:
            raise
        except Exception as exc:
            raise _Refused("provider", str(exc)) from exc
        attempt.provider = provider.name
        if provider.setup_instructions(self.builder.owner):
            raise _Refused("provider_setup", f"{provider.name} needs its one-time setup transaction first")
        validator = self.validator()
        pre = validator.precheck(provider, mint, amount)
        if not all(c.passed for c in pre):
            # Refused before anything is built; the result still names the failing check.
            result = ValidationResult(opp.id, attempt.id, provider.name, amount, tuple(pre))
            self._record_validation(attempt, result, None, None)
            refusal = self._refusal(attempt, result, amount=amount, provider=provider.name)
            return Prepared(opp, attempt, refusal=refusal, provider=provider, prices=prices,
                            validation=result)

        venues = await load_venues(self.client, [(h.pool, h.dex) for h in opp.route])
        quote_venues = self._quote_venues(venues)
        legs = self.builder.quote(opp.route, quote_venues, amount)
        mints = list(dict.fromkeys([mint, *(h.mint_out for h in opp.route)]))
        missing = await self._missing_token_accounts(mints)
        loan_ata = self.builder.token_account(mint)
        before = 0 if mint in missing else await self._token_balance(loan_ata)
        cu_limit = self.cu_limit_for(provider.name, [h.dex for h in opp.route])
        fee = provider.fee(mint, amount)
        rent = TOKEN_ACCOUNT_RENT_LAMPORTS * len(missing)
        tables = list(await self._tables_source()) if self._tables_source is not None else self.lookup_tables
        blockhash = (await self.client.get_latest_blockhash()).value.blockhash
        min_units, min_lamports = min_profit_units(prices, cfg.flash_loan.min_profit_usd)

        def costed(cu_price: int, tip_lamports: int) -> Profitability:
            return evaluate(
                amount=amount, expected_out=legs[-1].expected_out, provider_fee=fee, prices=prices,
                min_profit_usd=cfg.flash_loan.min_profit_usd, cu_limit=cu_limit,
                cu_price_micro_lamports=cu_price, tip_lamports=tip_lamports, rent_lamports=rent,
            )

        cu_price = self.cu_price_micro_lamports
        if self._priority_fee is not None:
            # The fee market is read over the accounts this very transaction writes: a draft names them.
            draft = self.builder.build(
                provider=provider, loan_mint=mint, amount=amount, legs=legs, recent_blockhash=blockhash,
                tip_lamports=JITO_MIN_TIP_LAMPORTS, loan_balance_before=before, cu_limit=cu_limit,
                cu_price_micro_lamports=0, create_token_accounts=missing,
            )
            bare = costed(0, 0)
            cu_price = await self._priority_fee(
                writable_accounts(draft), prices.loan_to_lamports(max(bare.net, 0)), min_lamports)
        decision: TipDecision | None = None
        tip_basis: tuple[int, int] | None = None
        if self._tip_policy is not None:
            untipped = costed(cu_price, 0)
            tip_basis = (prices.loan_to_lamports(max(untipped.net, 0)), min_lamports)
            decision = self._tip_policy(*tip_basis)
            tip = max(decision.tip_lamports, JITO_MIN_TIP_LAMPORTS)
            if untipped.net < min_units:
                # Unprofitable before any tip: built with the floor, the profit check names why.
                tip = max(decision.floor_lamports, JITO_MIN_TIP_LAMPORTS)
            elif decision.dropped or tip > decision.cap_lamports:
                attempt.tip_lamports = None
                raise _Refused("tip_cap", decision.reason if decision.dropped else
                               f"Jito's minimum tip {tip} exceeds the profit cap {decision.cap_lamports}")
        else:
            tip = self._fallback_tip(opp, amount, legs[-1].expected_out, fee, prices)
        plan = costed(cu_price, tip)
        # The guard demands that the loan account gain at least what the lamport costs are worth.
        min_gain = max(legs[-1].min_out - amount - fee, plan.lamport_costs_in_loan, 0)
        built = self.builder.build(
            provider=provider, loan_mint=mint, amount=amount, legs=legs, recent_blockhash=blockhash,
            tip_lamports=tip, loan_balance_before=before, cu_limit=cu_limit,
            cu_price_micro_lamports=cu_price, min_gain=min_gain,
            create_token_accounts=missing, lookup_tables=tables,
        )
        profit = evaluate_built(built, prices, cfg.flash_loan.min_profit_usd)
        attempt.expected_profit = profit.net
        attempt.expected_profit_usd = profit.net_usd
        attempt.tip_lamports = tip
        attempt.fee_lamports = profit.signature_fee_lamports + profit.priority_fee_lamports
        attempt.cu_limit = cu_limit
        attempt.cu_price_micro_lamports = cu_price
        attempt.signatures = [str(built.tx.signatures[0])] if built.signed else None

        result, sim = await validator.validate(
            built, provider, profit, opportunity_id=opp.id, attempt_id=attempt.id
        )
        self._record_validation(attempt, result, profit, sim)
        assert attempt.validation_results is not None
        if decision is not None and tip_basis is not None:
            attempt.validation_results["tip"] = {
                **dataclasses.asdict(decision), "profit_lamports": tip_basis[0],
                "min_profit_lamports": tip_basis[1],
            }
        attempt.validation_results["transaction"] = {
            "size": built.size, "lookup_tables": [str(t.key) for t in built.lookup_tables]}
        now = time.time()
        attempt.simulated_at = now
        prepared = Prepared(opp, attempt, provider=provider, prices=prices, profit=profit, built=built,
                            validation=result, simulation=sim, tip=decision, tip_basis=tip_basis)
        if not result.passed:
            prepared.refusal = self._refusal(attempt, result, **prepared.outcome_fields())
        else:
            attempt.validated_at = now
        return prepared

    def _fallback_tip(self, opp: Opportunity, amount: int, expected_out: int, fee: int,
                      prices: LoanPrices) -> int:
        """Without a tip policy: the opportunity's own tip (or the `tip_lamports` hook's)."""
        cfg = self.config
        tip = self.tip_for(opp)
        if self._tip is None and amount < opp.amount_in:
            # The opportunity's tip was sized on its whole amount; a capped loan earns less, so its
            # tip shrinks to the same share of what the capped quote leaves (never below the floor).
            left = max(expected_out - amount - fee, 0)
            share = int(prices.loan_to_lamports(left) * cfg.jito.tip_percent / 100)
            tip = max(min(tip, share), cfg.jito.min_tip_lamports, JITO_MIN_TIP_LAMPORTS)
        return tip

    def validator(self) -> FlashLoanValidator:
        return FlashLoanValidator.from_config(self.client, self.config, self.slippage_bps,
                                              allow_unsigned=self.builder.payer is None)

    async def _submit(
        self, attempt: BundleAttempt, built: BuiltFlashLoan, profit: Profitability, prices: LoanPrices,
        outcome: dict[str, Any],
    ) -> AttemptOutcome:
        if self.submit is None:
            # Nothing was sent, so this is a refusal, not a failed attempt.
            attempt.error_class, attempt.error_detail = "submit", "no submit path configured"
            return AttemptOutcome(attempt.id, "rejected", "no submit path configured", **outcome)
        if not built.signed:
            attempt.error_class, attempt.error_detail = "submit", "unsigned: no signing key"
            return AttemptOutcome(attempt.id, "rejected", "unsigned: no signing key", **outcome)
        self._count_attempt(attempt)
        try:
            if self._submit_takes_attempt:
                # The submitter continues this very row (approved → simulated → submitted → landed,
                # retries as new rows), so it is written now and never overwritten afterwards.
                attempt.state, attempt.approved_at = "approved", time.time()
                self.store.save_attempt(attempt)
                await self.store.flush()
                self._handed_over.add(attempt.id)
                result = await self.submit(built.tx, built, attempt=attempt)  # type: ignore[call-arg]
            else:
                attempt.submitted_at = time.time()
                result = await self.submit(built.tx, built)
        except Exception as exc:  # counted as attempted, so it must end as a failed attempt
            log.exception("submit of attempt %s failed", attempt.id)
            self._handed_over.discard(attempt.id)  # whatever the submitter wrote, this row ends failed
            result = SubmitResult(landed=False, error=f"submit raised {type(exc).__name__}: {exc}")
        attempt.bundle_id = result.bundle_id or None
        attempt.landed_region = result.region or None
        if result.fee_lamports is not None:
            attempt.fee_lamports = result.fee_lamports
        if not result.landed:
            attempt.error_class, attempt.error_detail = "not_landed", result.error or "not landed"
            return AttemptOutcome(attempt.id, "failed", result.error or "not landed", **outcome)
        realised = result.realised_profit if result.realised_profit is not None else profit.net
        attempt.landed_at = time.time()
        attempt.realised_profit = realised
        attempt.realised_profit_usd = prices.to_usd(realised)
        if self.metrics is not None:
            self.metrics.flash_loans_successful.inc()
            self.metrics.flash_loan_profit_usd.observe(attempt.realised_profit_usd)
        return AttemptOutcome(attempt.id, "landed", "landed", **outcome)

    # -- helpers -------------------------------------------------------------------------------

    def _record_validation(
        self, attempt: BundleAttempt, result: ValidationResult, profit: Profitability | None,
        sim: SimulationOutcome | None,
    ) -> None:
        attempt.validation_results = {
            "passed": result.passed,
            "checks": [
                {"name": c.name, "passed": c.passed, "measured": c.measured, "threshold": c.threshold,
                 "detail": c.detail}
                for c in result.checks
            ],
            "profitability": profit.as_dict() if profit is not None else None,
            "simulation": {"err": sim.err, "units_consumed": sim.units_consumed} if sim is not None else None,
        }
        if self.bus is not None:
            self.bus.publish(result)

    def _refusal(self, attempt: BundleAttempt, result: ValidationResult, **outcome: Any) -> AttemptOutcome:
        failure = result.first_failure
        assert failure is not None
        reason = f"{failure.name}: measured {failure.measured}, threshold {failure.threshold}"
        if failure.detail:
            reason += f" ({failure.detail})"
        attempt.error_class, attempt.error_detail = f"validation:{failure.name}", reason
        return AttemptOutcome(attempt.id, "rejected", reason, **outcome)

    def _quote_venues(self, venues: dict[Pubkey, Venue]) -> dict[Pubkey, Venue]:
        if self.states is None:
            return venues
        out = {}
        for key, venue in venues.items():
            state = self.states(key)
            out[key] = venue if state is None else venue.with_state(state)
        return out

    async def _missing_token_accounts(self, mints: Sequence[Pubkey]) -> list[Pubkey]:
        """Mints whose ATA does not exist yet (created once, in the first transaction that needs it)."""
        unknown = [m for m in mints if self.builder.token_account(m) not in self._known_accounts]
        if not unknown:
            return []
        resp = await self.client.get_multiple_accounts(
            [self.builder.token_account(m) for m in unknown], commitment=Processed
        )
        missing = []
        for mint, account in zip(unknown, resp.value, strict=True):
            if account is None:
                missing.append(mint)
            else:
                self._known_accounts.add(self.builder.token_account(mint))
        return missing

    async def _token_balance(self, account: Pubkey) -> int:
        resp = await self.client.get_token_account_balance(account, commitment=Processed)
        return int(resp.value.amount)

    def _count_attempt(self, attempt: BundleAttempt) -> None:
        if self.metrics is not None:
            self.metrics.flash_loans_attempted.inc()
            if attempt.flash_amount_usd is not None:
                self.metrics.flash_loan_amount_usd.observe(attempt.flash_amount_usd)

    def _finish(self, opp: Opportunity, attempt: BundleAttempt, outcome: AttemptOutcome) -> None:
        self.store.add_opportunity(stored_opportunity(opp, attempt))
        if attempt.id in self._handed_over:
            # The submitter owns this row now; only the opportunity above is ours to write.
            self._handed_over.discard(attempt.id)
            return
        attempt.state = outcome.state
        if outcome.state == "rejected":
            attempt.rejected_at = time.time()
        elif outcome.state == "failed":
            attempt.failed_at = time.time()
        elif outcome.state == "simulated":
            # A dry-run attempt counts as made (what would have been sent), never as landed.
            self._count_attempt(attempt)
        attempt.updated_at = time.time()
        self.store.save_attempt(attempt)


def min_profit_units(prices: LoanPrices, min_profit_usd: float) -> tuple[int, int]:
    """The minimum profit in loan units and in lamports, both rounded up: a tip capped at
    (profit − this) lamports can never take the net below `min_profit_usd`."""
    if prices.usd_per_unit <= 0 or prices.loan_per_lamport <= 0:
        raise _Refused("price", f"{prices.mint}: no usable price")
    units = math.ceil(Fraction(min_profit_usd) / prices.usd_per_unit)
    return units, math.ceil(units / prices.loan_per_lamport)


def writable_accounts(built: BuiltFlashLoan) -> list[Pubkey]:
    """Accounts the transaction writes, for the fee market: not the payer (our own fee history would
    only echo back) and not the tip account (every bundle on the cluster writes it)."""
    skip = {built.owner, built.tip_account}
    out = (m.pubkey for ix in built.instructions for m in ix.accounts if m.is_writable)
    return list(dict.fromkeys(k for k in out if k not in skip))


def stored_opportunity(opp: Opportunity, attempt: BundleAttempt) -> StoredOpportunity:
    """The opportunity row written beside an attempt."""
    return StoredOpportunity(
        id=str(opp.id), detected_at=attempt.created_at, route=[str(h.pool) for h in opp.route],
        input_mint=str(opp.loan_mint), amount_in=opp.amount_in, expected_profit=opp.net,
        expected_profit_usd=attempt.expected_profit_usd or 0.0, slot=opp.slot,
        details={"cycle_id": opp.cycle_id, "gross": opp.gross, "expected_out": opp.expected_out},
    )
