"""`from_json_dict` is the inverse of `to_json_dict` for every event the engine publishes."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from core.events import (
    EVENT_TYPES,
    ApprovalDecision,
    EventDecodeError,
    _plain,
    from_json_dict,
    to_json_dict,
)
from core.search.fees import FeeBreakdown
from core.search.opportunities import Hop, Opportunity

pubkeys = st.binary(min_size=32, max_size=32).map(Pubkey.from_bytes)
texts = st.text(max_size=20)
ints = st.integers(min_value=-(2**70), max_value=2**70)  # u64 amounts and beyond survive JSON
floats = st.floats(allow_nan=False, allow_infinity=False)


def strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(strategy_for(a) for a in typing.get_args(hint)))
    if origin is tuple:
        return st.lists(strategy_for(typing.get_args(hint)[0]), max_size=4).map(tuple)
    if dataclasses.is_dataclass(hint):
        return fields_of(hint)
    return {Pubkey: pubkeys, int: ints, str: texts, bool: st.booleans(), float: floats,
            type(None): st.none()}[hint]


def fields_of(cls: type[Any]) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(cls)})


any_event = st.one_of(*(fields_of(cls) for cls in EVENT_TYPES.values()))


@settings(max_examples=200)
@given(any_event)
def test_every_event_survives_a_json_round_trip_as_the_same_typed_value(event: Any) -> None:
    wire = json.dumps(to_json_dict(event))
    assert from_json_dict(json.loads(wire)) == event


@settings(max_examples=200)
@given(any_event)
def test_the_compiled_encoder_writes_exactly_what_the_general_walk_writes(event: Any) -> None:
    assert to_json_dict(event) == {"type": type(event).__name__, **_plain(event)}


def test_opportunity_comes_back_with_pubkeys_hops_and_fee_breakdown() -> None:
    mint, pool = Pubkey.new_unique(), Pubkey.new_unique()
    fees = FeeBreakdown(1, 2, 5000, 3, 10_000)
    opp = Opportunity(7, 1, mint, (Hop(pool, "raydium", True, mint, mint),), 100, 110, 10, fees, 4,
                      5, (5,), 0)
    back = from_json_dict(json.loads(json.dumps(to_json_dict(opp))))
    assert isinstance(back, Opportunity)
    assert back.loan_mint == mint and isinstance(back.route, tuple)
    assert isinstance(back.route[0], Hop) and back.route[0].pool == pool
    assert isinstance(back.fees, FeeBreakdown) and back.fees.total == 6


def test_fields_unknown_to_this_version_are_ignored_and_missing_defaults_kept() -> None:
    data = {"type": "ApprovalDecision", "opportunity_id": 3, "decision": "approved", "key": "a",
            "from_the_future": 1}
    back = from_json_dict(data)
    assert isinstance(back, ApprovalDecision) and back.reason == "" and back.opportunity_id == 3


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"type": "NoSuchEvent"}, "unknown event type"),
        ({"type": "SlotTick"}, "SlotTick.slot: missing"),
        ({"type": "SlotTick", "slot": "12"}, "expected int"),
        ({"type": "Opportunity", **{k: 0 for k in ("id", "cycle_id")}, "loan_mint": "not-base58"},
         "not a base58 pubkey"),
        ([1, 2], "expected an object"),
    ],
)
def test_malformed_json_events_raise_event_decode_error_naming_the_field(data: Any, says: str) -> None:
    with pytest.raises(EventDecodeError, match=says):
        from_json_dict(data)
