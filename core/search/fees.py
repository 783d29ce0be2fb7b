"""Costs between gross and net profit: flash fee, network fees and the Jito tip estimate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from solders.pubkey import Pubkey

LAMPORTS_PER_SIGNATURE = 5000
# The block engine drops bundles that tip less than this.
JITO_MIN_TIP_LAMPORTS = 1000


@dataclass(frozen=True, slots=True)
class FeeBreakdown:
    """Every cost of one opportunity, in the loan token's base units (lamports kept for the tip)."""

    flash_fee: int
    network_fee: int
    network_fee_lamports: int
    tip: int
    tip_lamports: int

    @property
    def total(self) -> int:
        return self.flash_fee + self.network_fee + self.tip


_b_flash_fee, _b_network_fee, _b_network_fee_lamports, _b_tip, _b_tip_lamports = (
    FeeBreakdown.__dict__[f.name].__set__ for f in fields(FeeBreakdown)
)


def new_breakdown(
    flash_fee: int, network_fee: int, network_fee_lamports: int, tip: int, tip_lamports: int
) -> FeeBreakdown:
    """FeeBreakdown(...) with every field positional, its slots set through their descriptors: the
    same immutable object at about half the cost of the frozen dataclass's __init__."""
    b = object.__new__(FeeBreakdown)
    _b_flash_fee(b, flash_fee)
    _b_network_fee(b, network_fee)
    _b_network_fee_lamports(b, network_fee_lamports)
    _b_tip(b, tip)
    _b_tip_lamports(b, tip_lamports)
    return b


@dataclass(frozen=True, slots=True)
class FeeModel:
    """How gross profit becomes net.

    flash_fee(loan_mint, amount) -> fee in loan base units (e.g. Solend's rounded 0.05 %).
    lamports_to_loan(loan_mint, lamports) -> loan base units; round up so costs are never
    understated. For the SOL loan mint it is the identity.
    loan_to_lamports(loan_mint, amount) -> lamports, used only to express the tip in lamports.
    The tip estimate is `tip_share_bps` of what is left after flash and network fees, never less
    than `min_tip_lamports`.
    flash_rate_floor: a rate r with flash_fee(m, x) ≥ r·x − 1 for every amount x (0 if unknown);
    it lets the prefilter drop cycles that only the flash fee makes unprofitable.
    """

    flash_fee: Callable[[Pubkey, int], int]
    lamports_to_loan: Callable[[Pubkey, int], int]
    loan_to_lamports: Callable[[Pubkey, int], int]
    signatures: int = 1
    lamports_per_signature: int = LAMPORTS_PER_SIGNATURE
    priority_fee_lamports: int = 0
    tip_share_bps: int = 5000
    min_tip_lamports: int = JITO_MIN_TIP_LAMPORTS
    flash_rate_floor: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.tip_share_bps <= 10_000:
            raise ValueError(f"tip_share_bps must be within 0..10000, got {self.tip_share_bps}")
        if not 0.0 <= self.flash_rate_floor < 1.0:
            raise ValueError(f"flash_rate_floor must be within [0, 1), got {self.flash_rate_floor}")
        if self.signatures < 1 or self.priority_fee_lamports < 0 or self.min_tip_lamports < 0:
            raise ValueError("signatures must be ≥ 1 and fees ≥ 0")

    @property
    def network_fee_lamports(self) -> int:
        return self.signatures * self.lamports_per_signature + self.priority_fee_lamports

    def fixed_cost(self, loan_mint: Pubkey) -> int:
        """Costs that do not depend on the amount: a gross profit at or below this is never net positive."""
        return self.lamports_to_loan(loan_mint, self.network_fee_lamports) + self.lamports_to_loan(
            loan_mint, self.min_tip_lamports
        )

    def fixed_parts(self, loan_mint: Pubkey) -> tuple[int, int]:
        """(network fee, tip floor) in loan base units: what `breakdown` converts on every call."""
        return (
            self.lamports_to_loan(loan_mint, self.network_fee_lamports),
            self.lamports_to_loan(loan_mint, self.min_tip_lamports),
        )

    def breakdown(
        self, loan_mint: Pubkey, amount_in: int, gross: int, parts: tuple[int, int] | None = None,
        flash: int | None = None,
    ) -> FeeBreakdown:
        """`parts`: `fixed_parts(loan_mint)`, `flash`: `flash_fee(loan_mint, amount_in)`, when the
        caller already has them (same prices)."""
        if flash is None:
            flash = self.flash_fee(loan_mint, amount_in)
        network, min_tip = self.fixed_parts(loan_mint) if parts is None else parts
        left = gross - flash - network
        tip = max(min_tip, left * self.tip_share_bps // 10_000)
        tip_lamports = max(self.min_tip_lamports, self.loan_to_lamports(loan_mint, tip))
        # network_fee_lamports inlined and the breakdown built by new_breakdown: the search's hot path.
        network_lamports = self.signatures * self.lamports_per_signature + self.priority_fee_lamports
        return new_breakdown(flash, network, network_lamports, tip, tip_lamports)


def solend_flash_fee(flash_loan_fee_wad: int, host_fee_percentage: int) -> Callable[[Pubkey, int], int]:
    """Solend's total flash-loan fee (protocols.md §2.3) as a fee function: exact integer rounding.

    fee_d = max(amount·wad/1e18, 2 if host > 0 else 1); total = round_half_up(fee_d), so
    total ≥ amount·wad/1e18 − 1/2: `flash_loan_fee_wad / 1e18` is a valid `flash_rate_floor`.
    """
    wad = 10**18
    floor_fee = 2 if host_fee_percentage > 0 else 1

    def fee(_mint: Pubkey, amount: int) -> int:
        scaled = amount * flash_loan_fee_wad
        if scaled < floor_fee * wad:
            return floor_fee
        return (scaled + wad // 2) // wad

    return fee


# A borrow the lender would refuse costs this much: no cycle can pay it, so it is never chosen.
REFUSED_FLASH_FEE = 1 << 64


@dataclass(frozen=True, slots=True)
class FlashFeeSchedule:
    """One lender's flash fee as the search uses it: `fee(mint, amount)` in loan base units and a
    `rate_floor` r with fee(m, x) ≥ r·x − 1 for every x (what FeeModel.flash_rate_floor needs)."""

    name: str
    fee: Callable[[Pubkey, int], int]
    rate_floor: float


def solend_schedule(flash_loan_fee_wad: int, host_fee_percentage: int) -> FlashFeeSchedule:
    return FlashFeeSchedule(
        "solend", solend_flash_fee(flash_loan_fee_wad, host_fee_percentage), flash_loan_fee_wad / 10**18
    )


def kamino_schedule(flash_loan_fee_sf: int) -> FlashFeeSchedule:
    """Kamino's `calculate_fees` (core/protocols/kamino.py): round_half(max(amount·sf, 1.0)) in U68F60,
    so fee ≥ amount·sf/2^60 − 1/2. A borrow whose fee reaches the amount is refused (BorrowTooSmall)."""
    from core.protocols.kamino import FRACTION_BITS, KaminoError, flash_loan_fee

    def fee(_mint: Pubkey, amount: int) -> int:
        try:
            return flash_loan_fee(amount, flash_loan_fee_sf)
        except (KaminoError, ValueError):
            return REFUSED_FLASH_FEE

    return FlashFeeSchedule("kamino", fee, flash_loan_fee_sf / (1 << FRACTION_BITS))


def free_schedule(name: str) -> FlashFeeSchedule:
    """A lender that charges nothing (MarginFi banks without a protocol_origination_fee)."""
    return FlashFeeSchedule(name, lambda _mint, _amount: 0, 0.0)


def cheapest_schedule(schedules: Sequence[FlashFeeSchedule]) -> FlashFeeSchedule:
    """`provider = "auto"` as the search sees it: per amount, the cheapest of these lenders."""
    if not schedules:
        raise ValueError("at least one flash fee schedule is needed")
    if len(schedules) == 1:
        return schedules[0]
    fees = tuple(s.fee for s in schedules)

    def fee(mint: Pubkey, amount: int) -> int:
        return min(f(mint, amount) for f in fees)

    return FlashFeeSchedule("auto", fee, min(s.rate_floor for s in schedules))
