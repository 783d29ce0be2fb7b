"""The hot path's positional constructors build the very objects the dataclasses' own do."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.search.fees import FeeBreakdown, new_breakdown
from core.search.opportunities import (
    Hop,
    Opportunity,
    OpportunityWithdrawn,
    new_opportunity,
    new_withdrawn,
)

ints = st.integers(-(2**70), 2**70)


@given(st.lists(ints, min_size=5, max_size=5))
def test_new_breakdown_equals_the_dataclass_constructor(values: list[int]) -> None:
    made = new_breakdown(*values)
    assert type(made) is FeeBreakdown
    assert made == FeeBreakdown(*values)
    assert [getattr(made, f.name) for f in dataclasses.fields(FeeBreakdown)] == values
    assert hash(made) == hash(FeeBreakdown(*values))


@given(st.lists(ints, min_size=9, max_size=9), st.booleans())
def test_new_opportunity_equals_the_dataclass_constructor(values: list[int], a_to_b: bool) -> None:
    mint = Pubkey.new_unique()
    route = (Hop(Pubkey.new_unique(), "raydium_amm_v4", a_to_b, mint, Pubkey.new_unique()),)
    fees = FeeBreakdown(*values[:5])
    # Each field gets its own value, so a field set into the wrong slot cannot go unnoticed.
    args = (values[0], values[1], mint, route, values[2], values[3], values[4], fees, values[5],
            values[6], (values[7], values[8]), values[8])
    made = new_opportunity(*args)
    assert type(made) is Opportunity
    assert made == Opportunity(*args)
    assert tuple(getattr(made, f.name) for f in dataclasses.fields(Opportunity)) == args
    assert hash(made) == hash(Opportunity(*args))


@given(st.lists(ints, min_size=5, max_size=5), st.text(max_size=20))
def test_new_withdrawn_equals_the_dataclass_constructor(values: list[int], reason: str) -> None:
    args = (values[0], values[1], values[2], reason, values[3], values[4])
    made = new_withdrawn(*args)
    assert type(made) is OpportunityWithdrawn
    assert made == OpportunityWithdrawn(*args)
    assert tuple(getattr(made, f.name) for f in dataclasses.fields(OpportunityWithdrawn)) == args


def test_fast_constructed_objects_stay_immutable() -> None:
    made = new_withdrawn(1, 2, 3, "gone", 4, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.reason = "back"  # type: ignore[misc]
    breakdown = new_breakdown(1, 2, 3, 4, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        breakdown.tip = 0  # type: ignore[misc]
