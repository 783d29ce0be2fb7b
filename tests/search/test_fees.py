"""Fee model: the lenders' flash fee schedules (Solend, Kamino, free, cheapest) and gross → net."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.protocols import kamino
from core.protocols.ids import NATIVE_MINT, USDC_MINT
from core.search import FeeModel
from core.search.fees import (
    REFUSED_FLASH_FEE,
    cheapest_schedule,
    free_schedule,
    kamino_schedule,
    solend_flash_fee,
    solend_schedule,
)


def test_solend_flash_fee_matches_program_test_vector() -> None:
    # protocols.md §2.3: 1,000 USDC at 0.3 % with a 20 % host share → 3,000,000 total.
    fee = solend_flash_fee(3_000_000_000_000_000, 20)
    assert fee(USDC_MINT, 1_000_000_000) == 3_000_000


def test_solend_flash_fee_has_a_floor_of_two_with_a_host_share_and_one_without() -> None:
    assert solend_flash_fee(500_000_000_000_000, 20)(USDC_MINT, 10) == 2
    assert solend_flash_fee(500_000_000_000_000, 0)(USDC_MINT, 10) == 1


@given(st.integers(1, 10**16))
def test_solend_flash_fee_rounds_half_up(amount: int) -> None:
    wad = 500_000_000_000_000
    got = solend_flash_fee(wad, 20)(USDC_MINT, amount)
    exact_twice = 2 * amount * wad  # 2·fee·1e18, so half-up is floor((2x + 1e18) / 2e18)
    assert got == max(2, (exact_twice + 10**18) // (2 * 10**18))


def test_breakdown_takes_network_fees_tip_and_flash_fee_from_gross() -> None:
    usdc_per_lamport = 150e6 / 1e9  # SOL at 150 USDC
    model = FeeModel(
        flash_fee=solend_flash_fee(500_000_000_000_000, 20),
        lamports_to_loan=lambda m, lam: lam if m == NATIVE_MINT else -(-lam * 150 // 1000),
        loan_to_lamports=lambda m, amt: amt if m == NATIVE_MINT else int(amt / usdc_per_lamport),
        signatures=2,
        priority_fee_lamports=10_000,
        tip_share_bps=5000,
        min_tip_lamports=1000,
    )
    b = model.breakdown(USDC_MINT, 1_000_000_000, 2_000_000)
    assert b.flash_fee == 500_000
    assert b.network_fee_lamports == 2 * 5000 + 10_000
    assert b.network_fee == 3_000  # 20,000 lamports at 0.15 USDC units each
    assert b.tip == (2_000_000 - 500_000 - 3_000) // 2
    assert b.total == b.flash_fee + b.network_fee + b.tip
    assert model.fixed_cost(USDC_MINT) == 3_000 + 150


@given(st.integers(1, 10**16), st.sampled_from([11_529_215_046_068, 3 * 10**15, 10**12]))
def test_kamino_schedule_is_the_programs_fee_and_never_below_its_rate_floor(amount: int, sf: int) -> None:
    schedule = kamino_schedule(sf)
    got = schedule.fee(USDC_MINT, amount)
    try:
        expected = kamino.flash_loan_fee(amount, sf)
    except kamino.KaminoError:
        assert got == REFUSED_FLASH_FEE  # BorrowTooSmall: a cost no cycle can pay
        return
    assert got == expected
    assert got >= schedule.rate_floor * amount - 1


@given(st.integers(1, 10**16))
def test_cheapest_schedule_charges_the_lowest_fee_of_its_lenders(amount: int) -> None:
    solend = solend_schedule(500_000_000_000_000, 20)
    kamino_s = kamino_schedule(11_529_215_046_068)
    auto = cheapest_schedule([solend, kamino_s])
    got = auto.fee(USDC_MINT, amount)
    assert got == min(solend.fee(USDC_MINT, amount), kamino_s.fee(USDC_MINT, amount))
    assert got >= auto.rate_floor * amount - 1
    assert cheapest_schedule([solend, free_schedule("marginfi")]).fee(USDC_MINT, amount) == 0
