"""The incremental cycle index always equals a from-scratch enumeration."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.search.cycles import Cycle, CycleIndex, enumerate_cycles

N_TOKENS = 6
LOANS = (0, 1)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, N_TOKENS - 1), st.integers(0, N_TOKENS - 1)),
        st.tuples(st.just("remove"), st.integers(0, 10**6), st.just(0)),
    ),
    max_size=40,
)


def check(index: CycleIndex, pools: dict[int, tuple[int, int]]) -> None:
    cycles = index.cycles()
    assert set(cycles.values()) == enumerate_cycles(pools, LOANS)
    assert len(set(cycles.values())) == len(cycles)
    for p in pools:
        assert index.through(p) == {cid for cid, c in cycles.items() if any(q == p for q, _ in c.hops)}


@settings(max_examples=150, deadline=None)
@given(ops)
def test_index_after_random_adds_and_removes_equals_rebuild(operations) -> None:
    index = CycleIndex(LOANS)
    pools: dict[int, tuple[int, int]] = {}
    next_id = 0
    for op, x, y in operations:
        if op == "add":
            if x == y:
                continue
            index.add_pool(next_id, x, y)
            pools[next_id] = (x, y)
            next_id += 1
        elif pools:
            victim = sorted(pools)[x % len(pools)]
            index.remove_pool(victim)
            del pools[victim]
        check(index, pools)


def test_cycles_start_and_end_in_a_loan_token_with_directions_that_chain() -> None:
    index = CycleIndex(LOANS)
    pools = {0: (0, 2), 1: (2, 0), 2: (2, 3), 3: (3, 0), 4: (1, 3), 5: (0, 1)}
    for p, (a, b) in pools.items():
        index.add_pool(p, a, b)
    assert index.cycles()
    for cycle in index.cycles().values():
        at = cycle.loan
        for p, a_to_b in cycle.hops:
            a, b = pools[p]
            assert at == (a if a_to_b else b)
            at = b if a_to_b else a
        assert at == cycle.loan and 2 <= len(cycle.hops) <= 3


def test_two_pools_on_a_loan_pair_make_two_two_hop_cycles() -> None:
    index = CycleIndex((0,))
    index.add_pool("p", 0, 7)
    assert len(index) == 0
    new = index.add_pool("q", 7, 0)
    got = {index.cycle(c) for c in new}
    assert got == {Cycle(0, (("p", True), ("q", True))), Cycle(0, (("q", False), ("p", False)))}


def test_removing_a_pool_drops_exactly_its_cycles_and_keeps_the_others_ids() -> None:
    index = CycleIndex(LOANS)
    for p, (a, b) in {0: (0, 2), 1: (0, 2), 2: (2, 3), 3: (3, 0), 4: (0, 3)}.items():
        index.add_pool(p, a, b)
    before = dict(index.cycles())
    gone = index.remove_pool(2)
    assert set(gone) == {cid for cid, c in before.items() if any(q == 2 for q, _ in c.hops)}
    assert {cid: c for cid, c in before.items() if cid not in gone} == dict(index.cycles())
