"""The approval queue decides nothing on its own: approve re-checks, expiry and rejection are recorded."""

from __future__ import annotations

from pathlib import Path

from solders.pubkey import Pubkey

from core.approvals import ApprovalQueue, Candidate
from core.config import ModeConfig
from core.events import ApprovalDecision, EventBus, PendingApproval
from core.search.fees import FeeBreakdown
from core.search.opportunities import Hop, Opportunity
from core.store import StoreReader, StoreWriter

USDC = Pubkey.new_unique()


def candidate(oid: int, amount_usd: float = 100.0, net_usd: float = 20.0) -> Candidate:
    fees = FeeBreakdown(0, 0, 0, 0, 0)
    hop = Hop(Pubkey.new_unique(), "raydium", True, USDC, USDC)
    opp = Opportunity(
        oid, oid, USDC, (hop,), 100_000_000, 101_000_000, 1_000_000, fees, 1_000_000, 5, (5,), 0
    )
    return Candidate(opp, f"att-{oid}", amount_usd, net_usd)


class Harness:
    def __init__(self, tmp_path: Path, policy: ModeConfig, refusal: str | None = None) -> None:
        self.writer = StoreWriter(tmp_path, "dry-run")
        self.bus = EventBus()
        self.sub = self.bus.subscribe()
        self.dispatched: list[int] = []
        self.refusal = refusal
        self.queue = ApprovalQueue(
            policy, self.writer, self.bus, recheck=self.recheck, dispatch=self.dispatch
        )
        self.tmp_path = tmp_path

    async def recheck(self, c: Candidate) -> str | None:
        return self.refusal

    async def dispatch(self, c: Candidate) -> None:
        self.dispatched.append(c.opportunity_id)

    async def decisions(self) -> list[tuple[str, str, str, str | None]]:
        await self.writer.flush()
        with StoreReader(self.tmp_path, "dry-run") as reader:
            return [(a.opportunity_id, a.decision, a.key, a.reason) for a in reader.approvals()]


async def test_manual_candidate_waits_then_approve_dispatches_and_persists(tmp_path: Path) -> None:
    h = Harness(tmp_path, ModeConfig(approval="manual", approval_ttl_slots=20))
    assert await h.queue.offer(candidate(1), slot=100) is None
    assert [p.expires_slot for p in h.queue.pending()] == [120]
    assert h.dispatched == []
    outcome = await h.queue.approve(1, key="a")
    assert outcome.accepted and h.dispatched == [1]
    assert await h.decisions() == [("1", "approved", "a", None)]
    events = list(h.sub.drain())
    assert isinstance(events[0], PendingApproval) and isinstance(events[1], ApprovalDecision)
    await h.writer.close()


async def test_approve_refused_by_recheck_is_recorded_and_not_dispatched(tmp_path: Path) -> None:
    h = Harness(tmp_path, ModeConfig(), refusal="net profit 0.10 < 0.50 after re-quote")
    await h.queue.offer(candidate(2), slot=1)
    outcome = await h.queue.approve(2)
    assert not outcome.accepted and "re-quote" in outcome.reason
    assert h.dispatched == []
    assert (await h.decisions())[0][1] == "rejected"
    await h.writer.close()


async def test_expiry_after_ttl_slots(tmp_path: Path) -> None:
    h = Harness(tmp_path, ModeConfig(approval_ttl_slots=3))
    await h.queue.offer(candidate(3), slot=10)
    assert h.queue.expire(13) == []
    assert [o.decision for o in h.queue.expire(14)] == ["expired"]
    assert not h.queue.pending()
    assert (await h.queue.approve(3)).decision is None
    assert [d[1] for d in await h.decisions()] == ["expired"]
    await h.writer.close()


async def test_reject_twice_only_records_once(tmp_path: Path) -> None:
    h = Harness(tmp_path, ModeConfig())
    await h.queue.offer(candidate(4), slot=1)
    assert h.queue.reject(4, key="r").decision == "rejected"
    assert h.queue.reject(4, key="r").decision is None
    assert await h.decisions() == [("4", "rejected", "r", "operator")]
    await h.writer.close()


async def test_auto_policy_approves_only_within_thresholds(tmp_path: Path) -> None:
    policy = ModeConfig(approval="auto", auto_max_amount_usdc=1000, auto_min_profit_usd=10.0)
    h = Harness(tmp_path, policy)
    assert (await h.queue.offer(candidate(5, amount_usd=500, net_usd=12), slot=1)).accepted  # type: ignore[union-attr]
    assert await h.queue.offer(candidate(6, amount_usd=5000, net_usd=12), slot=1) is None
    assert await h.queue.offer(candidate(7, amount_usd=500, net_usd=2), slot=1) is None
    assert h.dispatched == [5]
    assert sorted(p.candidate.opportunity_id for p in h.queue.pending()) == [6, 7]
    outcomes = await h.queue.approve_all()
    assert [o.decision for o in outcomes] == ["approved", "approved"]
    keys = sorted((d[0], d[2]) for d in await h.decisions())
    assert keys == [("5", "auto"), ("6", "A"), ("7", "A")]
    await h.writer.close()


async def test_clear_expires_everything_pending_with_the_reason(tmp_path: Path) -> None:
    h = Harness(tmp_path, ModeConfig())
    await h.queue.offer(candidate(8), slot=1)
    await h.queue.offer(candidate(9), slot=1)
    h.queue.clear("switched to live")
    assert not h.queue.pending()
    assert {(d[1], d[3]) for d in await h.decisions()} == {("expired", "switched to live")}
    await h.writer.close()
