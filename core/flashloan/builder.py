"""FlashLoanTxBuilder: one atomic v0 transaction for a flash-loan arbitrage.

Order (indexes fixed before any provider leg is built)::

    [SetComputeUnitLimit] [SetComputeUnitPrice]       0, 1 or 2 compute-budget instructions
    [idempotent ATA create]*                          token accounts the route needs and lacks
    provider legs.before                              Solend [borrow]; MarginFi [start, borrow] ...
    swap hop 1 .. hop n                               exact-in, min-out from the exact quoters
    provider legs.after                               Solend [repay]; MarginFi [repay, end] ...
    profit guard                                      fail unless the loan account ends >= floor
    tip transfer                                      LAST, to a mainnet Jito tip account

The tip account is always a static key of the message: lookup tables are filtered so it can never
be loaded through one (block engines ignore tips to ALT-loaded accounts).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from spl.token.instructions import create_idempotent_associated_token_account, get_associated_token_address

from core.flashloan.provider import FlashLoanProvider
from core.flashloan.venues import Venue, VenueError
from core.protocols import ids, profit_guard
from core.search.opportunities import Hop

MAX_TX_SIZE = 1232
MAX_SLIPPAGE_BPS = 10_000
U64_MAX = 2**64 - 1


class BuildError(Exception):
    """The opportunity cannot become a transaction (unknown pool, quote fails, no tip account...)."""


@lru_cache(maxsize=4096)
def associated_token_address(owner: Pubkey, mint: Pubkey) -> Pubkey:
    return get_associated_token_address(owner, mint, ids.TOKEN_PROGRAM)


@dataclass(frozen=True)
class SwapLeg:
    """One hop as it will be sent: input, the quoted output, and the program's min-out."""

    venue: Venue
    a_to_b: bool
    mint_in: Pubkey
    mint_out: Pubkey
    amount_in: int
    expected_out: int
    min_out: int


@dataclass(frozen=True)
class Layout:
    """Absolute top-level instruction indexes of the final message."""

    compute_budget: int  # how many compute-budget instructions lead
    ata_start: int
    ata_count: int
    before_index: int  # legs.before[0]
    swaps_start: int
    swap_count: int
    after_index: int  # legs.after[0]
    guard_index: int
    tip_index: int
    total: int


@dataclass(frozen=True)
class BuiltFlashLoan:
    """A signed transaction and everything the validator and the profitability need about it."""

    tx: VersionedTransaction
    instructions: tuple[Instruction, ...]
    layout: Layout
    provider: str
    provider_program: Pubkey
    loan_mint: Pubkey
    amount: int
    provider_fee: int
    legs: tuple[SwapLeg, ...]
    owner: Pubkey
    loan_token_account: Pubkey
    created_token_accounts: tuple[Pubkey, ...]
    cu_limit: int | None
    cu_price_micro_lamports: int | None
    tip_lamports: int
    tip_account: Pubkey
    guard_floor: int
    loan_balance_before: int
    lookup_tables: tuple[AddressLookupTableAccount, ...]

    @property
    def expected_out(self) -> int:
        return self.legs[-1].expected_out

    @property
    def gross(self) -> int:
        return self.expected_out - self.amount

    @property
    def expected_gain(self) -> int:
        """Loan-token change of the wallet if every hop pays its quote."""
        return self.expected_out - self.amount - self.provider_fee

    @property
    def size(self) -> int:
        return len(bytes(self.tx))

    @property
    def signed(self) -> bool:
        return all(s != Signature.default() for s in self.tx.signatures)

    def signed_by(self, payer: Keypair) -> BuiltFlashLoan:
        """The same message signed (a dry-run build carries a placeholder signature only)."""
        if payer.pubkey() != self.owner:
            raise BuildError(f"signer {payer.pubkey()} is not the transaction's owner {self.owner}")
        return replace(self, tx=VersionedTransaction(self.tx.message, [payer]))


def min_out_for(expected_out: int, slippage_bps: int) -> int:
    """Floor of expected × (1 − bps/10⁴): the swap fails rather than pay less."""
    return expected_out * (MAX_SLIPPAGE_BPS - slippage_bps) // MAX_SLIPPAGE_BPS


def quote_route(
    route: Sequence[Hop], venues: Mapping[Pubkey, Venue], amount: int, slippage_bps: int = 0
) -> tuple[SwapLeg, ...]:
    """Chain the exact quoters: hop i+1 spends exactly hop i's quoted output.

    A hop that delivers less than its quote makes the next hop's transfer fail, so the whole
    transaction fails atomically; `min_out` only lets the last hop (and each hop's own check)
    tolerate `slippage_bps`.
    """
    if not 0 <= slippage_bps <= MAX_SLIPPAGE_BPS:
        raise BuildError(f"slippage_bps {slippage_bps} is not within 0..10000")
    if amount <= 0:
        raise BuildError(f"amount {amount} must be positive")
    if amount > U64_MAX:
        raise BuildError(f"amount {amount} does not fit a u64")
    legs: list[SwapLeg] = []
    amount_in = amount
    for i, hop in enumerate(route):
        if i > 0 and hop.mint_in != route[i - 1].mint_out:
            raise BuildError(f"hop {i} spends {hop.mint_in}, hop {i - 1} delivers {route[i - 1].mint_out}")
        venue = venues.get(hop.pool)
        if venue is None:
            raise BuildError(f"no state for pool {hop.pool}")
        expected_in = venue.mint_a if hop.a_to_b else venue.mint_b
        expected_out_mint = venue.mint_b if hop.a_to_b else venue.mint_a
        if (hop.mint_in, hop.mint_out) != (expected_in, expected_out_mint):
            raise BuildError(f"pool {hop.pool} trades {expected_in}→{expected_out_mint}, "
                             f"the route says {hop.mint_in}→{hop.mint_out}")
        try:
            out = venue.quote(hop.a_to_b, amount_in)
        except (VenueError, ArithmeticError, ValueError) as exc:
            raise BuildError(f"quote on {hop.pool} failed: {exc}") from exc
        except Exception as exc:  # the quoters raise their program's own error types
            raise BuildError(f"quote on {hop.pool} failed: {type(exc).__name__}: {exc}") from exc
        legs.append(SwapLeg(venue, hop.a_to_b, hop.mint_in, hop.mint_out, amount_in, out,
                            min_out_for(out, slippage_bps)))
        amount_in = out
    if not legs:
        raise BuildError("empty route")
    return tuple(legs)


def _without(
    tables: Sequence[AddressLookupTableAccount], banned: set[Pubkey]
) -> list[AddressLookupTableAccount]:
    """Tables with the banned keys blanked (indexes of every other address unchanged)."""
    out = []
    for table in tables:
        addresses = list(table.addresses)
        if banned.isdisjoint(addresses):
            out.append(table)
            continue
        # The system program id is a placeholder no instruction can load through a table: it is
        # always invoked as a program by the tip transfer, so it stays a static key.
        out.append(AddressLookupTableAccount(
            table.key, [ids.SYSTEM_PROGRAM if a in banned else a for a in addresses]))
    return out


class FlashLoanTxBuilder:
    """Builds and signs flash-loan arbitrage transactions for one payer.

    `payer` may be a bare public key: dry-run holds no signing key, so the transaction then carries
    a placeholder signature (simulate it with sigVerify off; `BuiltFlashLoan.signed_by` signs it).

    `slippage_bps` is the per-hop min-out tolerance; `tip_accounts` defaults to the 8 mainnet Jito
    tip accounts (never the testnet list) and one is picked at random per transaction.
    """

    def __init__(
        self,
        payer: Keypair | Pubkey,
        *,
        slippage_bps: int = 0,
        rng: random.Random | None = None,
        tip_accounts: Sequence[Pubkey] = ids.JITO_TIP_ACCOUNTS,
        guard_program: Pubkey = profit_guard.PROGRAM_ID,
    ) -> None:
        if not 0 <= slippage_bps <= MAX_SLIPPAGE_BPS:
            raise BuildError(f"slippage_bps {slippage_bps} is not within 0..10000")
        if not tip_accounts:
            raise BuildError("no tip accounts")
        self.payer = payer if isinstance(payer, Keypair) else None
        self.owner = payer.pubkey() if isinstance(payer, Keypair) else payer
        self.slippage_bps = slippage_bps
        self.tip_accounts = tuple(tip_accounts)
        self.guard_program = guard_program
        self._rng = rng or random.SystemRandom()

    def token_account(self, mint: Pubkey) -> Pubkey:
        return associated_token_address(self.owner, mint)

    def quote(self, route: Sequence[Hop], venues: Mapping[Pubkey, Venue], amount: int) -> tuple[SwapLeg, ...]:
        return quote_route(route, venues, amount, self.slippage_bps)

    @staticmethod
    def layout(
        *, compute_budget: int, ata_count: int, before_count: int, swap_count: int, after_count: int
    ) -> Layout:
        """Where every instruction goes; computed before any index-bearing instruction exists."""
        ata_start = compute_budget
        before_index = ata_start + ata_count
        swaps_start = before_index + before_count
        after_index = swaps_start + swap_count
        guard_index = after_index + after_count
        tip_index = guard_index + 1
        return Layout(compute_budget, ata_start, ata_count, before_index, swaps_start, swap_count,
                      after_index, guard_index, tip_index, tip_index + 1)

    def build(
        self,
        *,
        provider: FlashLoanProvider,
        loan_mint: Pubkey,
        amount: int,
        legs: Sequence[SwapLeg],
        recent_blockhash: Hash,
        tip_lamports: int,
        loan_balance_before: int,
        cu_limit: int | None = None,
        cu_price_micro_lamports: int | None = None,
        min_gain: int | None = None,
        create_token_accounts: Sequence[Pubkey] = (),
        lookup_tables: Sequence[AddressLookupTableAccount] = (),
        tip_account: Pubkey | None = None,
    ) -> BuiltFlashLoan:
        """Assemble, compile and sign.

        `loan_balance_before`: the loan token account's balance now; the profit guard's floor is
        that plus `min_gain` (default: the last hop's min-out − amount − fee, at least 0).
        `create_token_accounts`: mints whose ATA must be created (idempotently) in this tx.
        """
        if not legs:
            raise BuildError("no swap legs")
        if legs[0].mint_in != loan_mint or legs[-1].mint_out != loan_mint:
            raise BuildError("the route must start and end in the loan mint")
        if legs[0].amount_in != amount:
            raise BuildError(f"first hop spends {legs[0].amount_in}, the loan is {amount}")
        if tip_lamports <= 0:
            raise BuildError("tip_lamports must be positive")
        tip_to = tip_account if tip_account is not None else self._rng.choice(self.tip_accounts)
        if tip_to not in self.tip_accounts:
            raise BuildError(f"{tip_to} is not a configured tip account")
        fee = provider.fee(loan_mint, amount)
        owner = self.owner
        loan_ata = self.token_account(loan_mint)

        budget: list[Instruction] = []
        if cu_limit is not None:
            budget.append(set_compute_unit_limit(cu_limit))
        if cu_price_micro_lamports is not None:
            budget.append(set_compute_unit_price(cu_price_micro_lamports))
        creates = [
            create_idempotent_associated_token_account(owner, owner, mint, ids.TOKEN_PROGRAM)
            for mint in dict.fromkeys(create_token_accounts)
        ]
        layout = self.layout(
            compute_budget=len(budget), ata_count=len(creates), before_count=provider.before_count,
            swap_count=len(legs), after_count=provider.after_count,
        )
        flash = provider.legs(loan_mint, amount, owner, loan_ata, layout.before_index, layout.after_index)
        if len(flash.before) != provider.before_count or len(flash.after) != provider.after_count:
            raise BuildError(f"provider {provider.name} returned legs of the wrong length")
        swaps = [
            leg.venue.swap_instruction(
                a_to_b=leg.a_to_b, owner=owner, token_account=self.token_account,
                amount_in=leg.amount_in, min_out=leg.min_out,
            )
            for leg in legs
        ]
        if min_gain is None:
            min_gain = max(legs[-1].min_out - amount - fee, 0)
        floor = loan_balance_before + min_gain
        guard = profit_guard.check_floor(loan_ata, floor, program_id=self.guard_program)
        tip = transfer(TransferParams(from_pubkey=owner, to_pubkey=tip_to, lamports=tip_lamports))
        instructions = (*budget, *creates, *flash.before, *swaps, *flash.after, guard, tip)
        assert len(instructions) == layout.total
        tables = _without(lookup_tables, set(self.tip_accounts))
        message = MessageV0.try_compile(owner, list(instructions), tables, recent_blockhash)
        if self.payer is not None:
            tx = VersionedTransaction(message, [self.payer])
        else:
            tx = VersionedTransaction.populate(message, [Signature.default()])
        return BuiltFlashLoan(
            tx=tx, instructions=instructions, layout=layout, provider=provider.name,
            provider_program=provider.program_id, loan_mint=loan_mint, amount=amount, provider_fee=fee,
            legs=tuple(legs), owner=owner, loan_token_account=loan_ata,
            created_token_accounts=tuple(self.token_account(m) for m in dict.fromkeys(create_token_accounts)),
            cu_limit=cu_limit, cu_price_micro_lamports=cu_price_micro_lamports, tip_lamports=tip_lamports,
            tip_account=tip_to, guard_floor=floor, loan_balance_before=loan_balance_before,
            lookup_tables=tuple(tables),
        )
