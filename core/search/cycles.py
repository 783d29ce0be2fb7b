"""The cycle index: for each pool, the 2- and 3-hop cycles through it from a loan token back to it.

Built incrementally: adding a pool enumerates only the cycles that pool closes, removing one drops
only the cycles through it, so the index never needs a full rebuild. `enumerate_cycles` is the
from-scratch definition the incremental index must always equal.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import NamedTuple

HopKey = tuple[Hashable, bool]  # (pool, a_to_b)


class Cycle(NamedTuple):
    """`loan` → ... → `loan` through `hops`, each (pool, a_to_b) in trade order."""

    loan: Hashable
    hops: tuple[HopKey, ...]


class CycleIndex:
    """Pool → cycle ids, with cycles numbered stably while they exist."""

    def __init__(self, loan_mints: Iterable[Hashable]) -> None:
        self._loans = tuple(dict.fromkeys(loan_mints))
        self._mints: dict[Hashable, tuple[Hashable, Hashable]] = {}
        # adj[m][n] is the list of pools on the pair {m, n}; adj[n][m] is the same list object.
        self._adj: dict[Hashable, dict[Hashable, list[Hashable]]] = {}
        self._cycles: dict[int, Cycle] = {}
        self._ids: dict[Cycle, int] = {}
        self._through: dict[Hashable, set[int]] = {}
        self._next_id = 0

    @property
    def loan_mints(self) -> tuple[Hashable, ...]:
        return self._loans

    def __len__(self) -> int:
        return len(self._cycles)

    def __contains__(self, pool: Hashable) -> bool:
        return pool in self._mints

    def cycle(self, cycle_id: int) -> Cycle:
        return self._cycles[cycle_id]

    def cycles(self) -> Mapping[int, Cycle]:
        return self._cycles

    def through(self, pool: Hashable) -> set[int]:
        """Ids of the cycles that trade through `pool` (live view; do not mutate)."""
        return self._through.get(pool, set())

    def add_pool(self, pool: Hashable, mint_a: Hashable, mint_b: Hashable) -> list[int]:
        """Register a pool; returns the ids of the cycles it closes."""
        if pool in self._mints:
            raise ValueError(f"pool {pool} is already indexed")
        if mint_a == mint_b:
            raise ValueError(f"pool {pool} trades {mint_a} against itself")
        self._mints[pool] = (mint_a, mint_b)
        self._through[pool] = set()
        new = [self._register(c) for c in self._cycles_closed_by(pool, mint_a, mint_b)]
        pair = self._adj.setdefault(mint_a, {}).get(mint_b)
        if pair is None:
            pair = []
            self._adj[mint_a][mint_b] = pair
            self._adj.setdefault(mint_b, {})[mint_a] = pair
        pair.append(pool)
        return new

    def remove_pool(self, pool: Hashable) -> list[int]:
        """Forget a pool; returns the ids of the cycles that went with it."""
        mint_a, mint_b = self._mints.pop(pool)
        pair = self._adj[mint_a][mint_b]
        pair.remove(pool)
        if not pair:
            del self._adj[mint_a][mint_b]
            del self._adj[mint_b][mint_a]
        gone = sorted(self._through.pop(pool))
        for cid in gone:
            cycle = self._cycles.pop(cid)
            del self._ids[cycle]
            for other, _ in cycle.hops:
                if other != pool:
                    self._through[other].discard(cid)
        return gone

    def _register(self, cycle: Cycle) -> int:
        cid = self._next_id
        self._next_id += 1
        self._cycles[cid] = cycle
        self._ids[cycle] = cid
        for pool, _ in cycle.hops:
            self._through[pool].add(cid)
        return cid

    def _dir(self, pool: Hashable, mint_in: Hashable) -> bool:
        return self._mints[pool][0] == mint_in

    def _cycles_closed_by(self, p: Hashable, u: Hashable, v: Hashable) -> Iterator[Cycle]:
        """Every cycle through p, enumerated once each by the position p takes in it."""
        adj = self._adj
        d = self._dir
        for loan in self._loans:
            if loan in (u, v):
                x = v if loan == u else u
                p_out, p_back = d(p, loan), d(p, x)
                for q in adj.get(loan, {}).get(x, ()):
                    yield Cycle(loan, ((p, p_out), (q, d(q, x))))
                    yield Cycle(loan, ((q, d(q, loan)), (p, p_back)))
                loan_adj = adj.get(loan, {})
                for y, pools_xy in adj.get(x, {}).items():
                    if y == loan:
                        continue
                    pools_yl = loan_adj.get(y)
                    if not pools_yl:
                        continue
                    for q in pools_xy:
                        q_xy, q_yx = d(q, x), d(q, y)
                        for r in pools_yl:
                            # p first: loan → x → y → loan; p last: loan → y → x → loan.
                            yield Cycle(loan, ((p, p_out), (q, q_xy), (r, d(r, y))))
                            yield Cycle(loan, ((r, d(r, loan)), (q, q_yx), (p, p_back)))
            else:
                loan_adj = adj.get(loan, {})
                for src, dst in ((u, v), (v, u)):
                    for q in loan_adj.get(src, ()):
                        for r in loan_adj.get(dst, ()):
                            yield Cycle(loan, ((q, d(q, loan)), (p, d(p, src)), (r, d(r, dst))))


def enumerate_cycles(
    pools: Mapping[Hashable, tuple[Hashable, Hashable]], loan_mints: Iterable[Hashable]
) -> set[Cycle]:
    """All 2- and 3-hop cycles from scratch, by walking every path from each loan token."""
    out_edges: dict[Hashable, list[tuple[Hashable, bool, Hashable]]] = {}
    for pool, (a, b) in pools.items():
        out_edges.setdefault(a, []).append((pool, True, b))
        out_edges.setdefault(b, []).append((pool, False, a))
    found: set[Cycle] = set()
    for loan in dict.fromkeys(loan_mints):
        for p1, d1, m1 in out_edges.get(loan, ()):
            for p2, d2, m2 in out_edges.get(m1, ()):
                if p2 == p1:
                    continue
                if m2 == loan:
                    found.add(Cycle(loan, ((p1, d1), (p2, d2))))
                    continue
                for p3, d3, m3 in out_edges.get(m2, ()):
                    if m3 == loan and p3 not in (p1, p2):
                        found.add(Cycle(loan, ((p1, d1), (p2, d2), (p3, d3))))
    return found
