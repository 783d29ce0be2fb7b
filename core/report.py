"""`arbtui report`: the plan's analytics, computed in SQL over one mode's trade store.

Definitions (kept here so the table and the JSON mean the same thing):
- an *attempt* is a bundle_attempts row that was sent, or simulated for sending: states
  `simulated`, `submitted`, `landed`, `settled`, `failed`, and `dropped` only once submitted (a row
  dropped before submission — kill switch, restart — never left the engine). Rows still `detected`,
  `validated` or `awaiting_approval`, and `rejected`/`expired` ones, are candidates, not attempts;
- a *success* is an attempt that landed (`landed_at` set: state `landed` or `settled`);
- *volume* is the flash amount in USD over all attempts; *profit* the realised profit in USD of
  successes; *tips* and *fees* what landed bundles paid (a bundle that does not land pays nothing).
Days are UTC dates of the attempt's creation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.store import Mode, StoreReader, store_exists, store_path

LAMPORTS_PER_SOL = 1_000_000_000

SIZE_BUCKETS = ("<1k", "1k-10k", ">10k")


class ReportError(ValueError):
    """Bad report arguments (such as an unparseable --since)."""


@dataclass(frozen=True)
class DailyRow:
    date: str
    attempts: int
    successes: int
    success_rate: float
    volume_usd: float
    profit_usd: float
    tips_sol: float
    fees_sol: float


@dataclass(frozen=True)
class BucketRow:
    bucket: str
    attempts: int
    successes: int
    success_rate: float


@dataclass
class Report:
    mode: Mode
    store: str
    since: str | None
    daily: list[DailyRow] = field(default_factory=list)
    by_size: list[BucketRow] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.daily

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "store": self.store,
            "since": self.since,
            "empty": self.empty,
            "daily": [asdict(r) for r in self.daily],
            "by_size": [asdict(r) for r in self.by_size],
        }


SENT_OR_SIMULATED = ("simulated", "submitted", "landed", "settled", "failed")

_ATTEMPTS = f"""
    select * from bundle_attempts
    where (state in ({", ".join(repr(s) for s in SENT_OR_SIMULATED)})
           or (state = 'dropped' and submitted_at is not null))
      and created_at >= :since
"""

DAILY_SQL = f"""
    select date(created_at, 'unixepoch') as date,
           count(*) as attempts,
           sum(landed_at is not null) as successes,
           coalesce(sum(flash_amount_usd), 0.0) as volume_usd,
           coalesce(sum(case when landed_at is not null then realised_profit_usd end), 0.0) as profit_usd,
           coalesce(sum(case when landed_at is not null then tip_lamports end), 0) as tips_lamports,
           coalesce(sum(case when landed_at is not null then fee_lamports end), 0) as fees_lamports
    from ({_ATTEMPTS})
    group by date
    order by date
"""

BUCKET_SQL = f"""
    select case
             when flash_amount_usd < 1000 then '<1k'
             when flash_amount_usd <= 10000 then '1k-10k'
             else '>10k'
           end as bucket,
           count(*) as attempts,
           sum(landed_at is not null) as successes
    from ({_ATTEMPTS})
    where flash_amount_usd is not null
    group by bucket
"""


def parse_since(since: str | None) -> float:
    if since is None:
        return float("-inf")
    try:
        day = dt.date.fromisoformat(since)
    except ValueError:
        raise ReportError(f"--since: expected a date like 2026-01-31 (got {since!r})") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def build_report(store_dir: Path, mode: Mode, *, since: str | None = None) -> Report:
    start = parse_since(since)
    report = Report(mode=mode, store=str(store_path(store_dir, mode)), since=since)
    if not store_exists(store_dir, mode):
        return report
    with StoreReader(store_dir, mode) as reader:
        params = {"since": start if start != float("-inf") else -1e18}
        for row in reader.query(DAILY_SQL, params):
            report.daily.append(
                DailyRow(
                    date=row["date"],
                    attempts=row["attempts"],
                    successes=row["successes"],
                    success_rate=row["successes"] / row["attempts"],
                    volume_usd=row["volume_usd"],
                    profit_usd=row["profit_usd"],
                    tips_sol=row["tips_lamports"] / LAMPORTS_PER_SOL,
                    fees_sol=row["fees_lamports"] / LAMPORTS_PER_SOL,
                )
            )
        buckets = {row["bucket"]: row for row in reader.query(BUCKET_SQL, params)}
    for name in SIZE_BUCKETS:
        row = buckets.get(name)
        attempts = row["attempts"] if row else 0
        successes = row["successes"] if row else 0
        report.by_size.append(BucketRow(name, attempts, successes, successes / attempts if attempts else 0.0))
    return report


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(
        h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append(
            "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        )
    return out


def render_report(report: Report) -> str:
    since = f" since {report.since}" if report.since else ""
    if report.empty:
        return f"No trades recorded in the {report.mode} store{since} ({report.store})."
    lines = [f"Daily performance — {report.mode}{since} ({report.store})", ""]
    lines += _table(
        ["date", "attempts", "successes", "success", "volume USD", "profit USD", "tips SOL", "fees SOL"],
        [
            [
                r.date,
                str(r.attempts),
                str(r.successes),
                f"{r.success_rate:.1%}",
                f"{r.volume_usd:,.2f}",
                f"{r.profit_usd:,.2f}",
                f"{r.tips_sol:.6f}",
                f"{r.fees_sol:.6f}",
            ]
            for r in report.daily
        ],
    )
    lines += ["", "Success rate by flash size (USD)", ""]
    lines += _table(
        ["size", "attempts", "successes", "success"],
        [[b.bucket, str(b.attempts), str(b.successes), f"{b.success_rate:.1%}"] for b in report.by_size],
    )
    return "\n".join(lines)
