"""The provider interface with Solend: fee, health, legs at given indexes, and `auto` selection."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.flashloan.provider import FlashLoanProvider, NoProviderError, select_provider
from core.flashloan.solend import SolendProvider, is_flash_borrow, repay_borrow_index
from core.localnet.accounts import set_data_account
from core.protocols import ids, solend
from tests.flashloan.conftest import FlashNet

MINT = ids.USDC_MINT
RESERVE = Pubkey.new_unique()


def reserve(**kw: object) -> solend.Reserve:
    base = solend.Reserve(
        lending_market=Pubkey.new_unique(), liquidity_mint_pubkey=MINT,
        liquidity_supply_pubkey=Pubkey.new_unique(),
        fee_receiver=Pubkey.new_unique(), available_amount=10**12, flash_loan_fee_wad=5 * 10**14,
        host_fee_percentage=20,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def provider(name: str = "solend", **kw: object) -> SolendProvider:
    p = SolendProvider({MINT: RESERVE})
    p.name = name  # type: ignore[misc]
    p.set_reserve(MINT, reserve(**kw))
    return p


def test_solend_provider_satisfies_the_interface() -> None:
    assert isinstance(provider(), FlashLoanProvider)
    assert (provider().before_count, provider().after_count) == (1, 1)


@settings(max_examples=150)
@given(amount=st.integers(min_value=10_000, max_value=10**12), wad=st.integers(min_value=1, max_value=10**16))
def test_fee_is_the_programs_exact_fee(amount: int, wad: int) -> None:
    assert provider(flash_loan_fee_wad=wad).fee(MINT, amount) == solend.flash_loan_fees(amount, wad, 20)[0]


def test_health_reports_disabled_flash_loans_and_utilization() -> None:
    h = provider(flash_loan_fee_wad=solend.U64_MAX).health(MINT)
    assert not h.enabled and not h.fee_ok and "disabled" in h.reason
    h = provider(available_amount=3 * 10**6, borrowed_amount_wads=solend.WAD * 10**6).health(MINT)
    assert h.enabled and h.fee_ok and h.utilization_bps == 2_500


@pytest.mark.parametrize("before_index", [0, 1, 2, 7])
def test_legs_carry_the_index_they_are_given(before_index: int) -> None:
    owner, token = Pubkey.new_unique(), Pubkey.new_unique()
    legs = provider().legs(MINT, 10**9, owner, token, before_index, before_index + 4)
    assert is_flash_borrow(bytes(legs.before[0].data))
    assert repay_borrow_index(bytes(legs.after[0].data)) == before_index


def test_legs_refuse_a_repay_before_the_borrow() -> None:
    with pytest.raises(ValueError, match="must follow"):
        provider().legs(MINT, 10**9, Pubkey.new_unique(), Pubkey.new_unique(), 3, 3)


def test_auto_picks_the_cheapest_provider_with_liquidity_and_health() -> None:
    dear = provider("dear", flash_loan_fee_wad=9 * 10**14)
    cheap = provider("cheap", flash_loan_fee_wad=3 * 10**14)
    shallow = provider("shallow", flash_loan_fee_wad=10**14, available_amount=10**6)
    off = provider("off", flash_loan_fee_wad=solend.U64_MAX)
    assert select_provider([dear, shallow, off, cheap], MINT, 10**9) is cheap
    assert select_provider([dear, shallow], MINT, 10**5) is shallow


def test_auto_says_why_no_provider_qualifies() -> None:
    with pytest.raises(NoProviderError) as info:
        select_provider(
            [provider("shallow", available_amount=10), provider("off", flash_loan_fee_wad=solend.U64_MAX)],
            MINT, 10**9,
        )
    assert set(info.value.reasons) == {"shallow", "off"}
    assert "liquidity 10" in info.value.reasons["shallow"]
    with pytest.raises(NoProviderError):
        select_provider([provider()], Pubkey.new_unique(), 1)


async def test_refresh_reads_the_reserve_and_reports_a_changed_layout(flashnet: FlashNet) -> None:
    f = flashnet
    usdc = f.mint("USDC")
    p = f.solend()
    await p.refresh(f.client, usdc)
    r = next(r for r in f.scenario.solend_reserves if r.liquidity_mint == usdc)
    assert p.available_liquidity(usdc) == r.available_amount and p.health(usdc).enabled
    set_data_account(f.net.cluster.svm, r.address, ids.SOLEND, bytes(solend.RESERVE_LEN + 8))
    await p.refresh(f.client, usdc)
    health = p.health(usdc)
    assert not health.enabled and "619" in health.reason
    assert p.available_liquidity(usdc) == 0
