"""Report SQL against a store seeded with known trades; expectations computed in plain Python."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from core.report import ReportError, build_report, render_report
from core.store import BundleAttempt, StoreWriter

DAY0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp()
STATES = ["landed", "settled", "failed", "dropped", "rejected", "expired", "submitted", "simulated",
          "detected", "validated", "awaiting_approval", "approved"]
COUNTED = {"simulated", "submitted", "landed", "settled", "failed"}


def counted(a: BundleAttempt) -> bool:
    """Sent, or simulated for sending (a dropped row counts only once it was submitted)."""
    return a.state in COUNTED or (a.state == "dropped" and a.submitted_at is not None)


def seed(tmp_path: Path, n: int = 120, rng_seed: int = 7) -> list[BundleAttempt]:
    rng = random.Random(rng_seed)
    attempts = []
    for i in range(n):
        state = rng.choice(STATES)
        created = DAY0 + rng.randrange(0, 4 * 86400)
        landed = state in ("landed", "settled")
        attempts.append(
            BundleAttempt(
                id=f"a{i}",
                opportunity_id=f"o{i}",
                mode="dry-run",
                created_at=created,
                state=state,
                flash_amount_usd=rng.choice([None, 50.0, 999.99, 1000.0, 5000.0, 10000.0, 10000.01, 40000.0]),
                realised_profit_usd=round(rng.uniform(-2, 20), 2) if landed else None,
                tip_lamports=rng.randrange(10_000, 200_000),
                fee_lamports=rng.randrange(5_000, 50_000),
                landed_at=created + 1 if landed else None,
                submitted_at=created + 0.5 if state == "dropped" and rng.random() < 0.5 else None,
            )
        )
    writer = StoreWriter(tmp_path, "dry-run")
    for attempt in attempts:
        writer.save_attempt(attempt)
    writer.close_sync()
    return attempts


def expected_daily(
    attempts: list[BundleAttempt], since: float = float("-inf")
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for a in attempts:
        if not counted(a) or a.created_at < since:
            continue
        day = dt.datetime.fromtimestamp(a.created_at, dt.UTC).date().isoformat()
        row = out.setdefault(
            day, {"attempts": 0, "successes": 0, "volume": 0.0, "profit": 0.0, "tips": 0, "fees": 0}
        )
        row["attempts"] += 1
        row["volume"] += a.flash_amount_usd or 0.0
        if a.landed_at is not None:
            row["successes"] += 1
            row["profit"] += a.realised_profit_usd or 0.0
            row["tips"] += a.tip_lamports or 0
            row["fees"] += a.fee_lamports or 0
    return out


def bucket_of(usd: float) -> str:
    if usd < 1000:
        return "<1k"
    return "1k-10k" if usd <= 10000 else ">10k"


def test_daily_performance_matches_independent_computation(tmp_path: Path) -> None:
    attempts = seed(tmp_path)
    report = build_report(tmp_path, "dry-run")
    expected = expected_daily(attempts)
    assert [r.date for r in report.daily] == sorted(expected)
    for row in report.daily:
        want = expected[row.date]
        assert row.attempts == want["attempts"]
        assert row.successes == want["successes"]
        assert row.success_rate == pytest.approx(want["successes"] / want["attempts"])
        assert row.volume_usd == pytest.approx(want["volume"])
        assert row.profit_usd == pytest.approx(want["profit"])
        assert row.tips_sol == pytest.approx(want["tips"] / 1e9)
        assert row.fees_sol == pytest.approx(want["fees"] / 1e9)


def test_success_rate_by_flash_size_bucket(tmp_path: Path) -> None:
    attempts = seed(tmp_path)
    report = build_report(tmp_path, "dry-run")
    counts: dict[str, list[int]] = {"<1k": [0, 0], "1k-10k": [0, 0], ">10k": [0, 0]}
    for a in attempts:
        if not counted(a) or a.flash_amount_usd is None:
            continue
        counts[bucket_of(a.flash_amount_usd)][0] += 1
        counts[bucket_of(a.flash_amount_usd)][1] += a.landed_at is not None
    assert [b.bucket for b in report.by_size] == ["<1k", "1k-10k", ">10k"]
    for b in report.by_size:
        attempts_n, successes = counts[b.bucket]
        assert (b.attempts, b.successes) == (attempts_n, successes)
        assert b.success_rate == pytest.approx(successes / attempts_n if attempts_n else 0.0)


def test_since_filters_by_utc_date(tmp_path: Path) -> None:
    attempts = seed(tmp_path)
    report = build_report(tmp_path, "dry-run", since="2026-03-03")
    since = dt.datetime(2026, 3, 3, tzinfo=dt.UTC).timestamp()
    assert [r.date for r in report.daily] == sorted(expected_daily(attempts, since))
    assert all(r.date >= "2026-03-03" for r in report.daily)


def test_bad_since_is_a_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError):
        build_report(tmp_path, "dry-run", since="yesterday")


def test_missing_store_is_an_empty_report_and_is_not_created(tmp_path: Path) -> None:
    report = build_report(tmp_path, "live")
    assert report.empty
    assert report.to_dict()["daily"] == []
    assert "No trades recorded" in render_report(report)
    assert not (tmp_path / "trades-live.sqlite3").exists()


def test_candidates_and_unsent_rows_are_not_attempts(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path, "live")
    rows = {
        "awaiting_approval": None, "validated": None, "detected": None, "rejected": None,
        "expired": None, "approved": None, "dropped": None, "simulated": None, "failed": None,
        "settled": DAY0 + 2,
    }
    for i, (state, landed_at) in enumerate(rows.items()):
        writer.save_attempt(BundleAttempt(id=f"a{i}", opportunity_id=f"o{i}", mode="live", created_at=DAY0,
                                          state=state, flash_amount_usd=100.0, landed_at=landed_at))
    # Dropped after submission (its blockhash expired unlanded): it was sent, so it counts.
    writer.save_attempt(BundleAttempt(id="sent", opportunity_id="o-sent", mode="live", created_at=DAY0,
                                      state="dropped", flash_amount_usd=100.0, submitted_at=DAY0 + 1))
    writer.close_sync()

    (day,) = build_report(tmp_path, "live").daily

    # simulated + failed + settled + the submitted-then-dropped row; never the pending candidate.
    assert (day.attempts, day.successes) == (4, 1)
    assert day.volume_usd == pytest.approx(400.0)


def test_rendered_table_lists_every_day(tmp_path: Path) -> None:
    seed(tmp_path)
    report = build_report(tmp_path, "dry-run")
    text = render_report(report)
    for row in report.daily:
        assert row.date in text
    assert "1k-10k" in text
