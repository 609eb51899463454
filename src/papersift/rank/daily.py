"""The daily feed: papers by daily date (day, ISO week, month), sorted by trending or newest.

A paper's *daily date* is the day it was submitted to the daily feed (``submitted_on_daily_at``),
else its publication date, else the day papersift first saw it.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from papersift.models import Paper
from papersift.rank import trending
from papersift.store import SQLStore
from papersift.store import feeds as sql
from papersift.store.db import Database

SORTS = ("trending", "publishedAt")
WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def daily_datetime(p: Paper) -> datetime | None:
    """When the paper is on the daily feed: submitted to it, else published, else (no date known)
    first seen by papersift: ``p.daily_basis`` says which ("daily" | "published" | "added")."""
    return trending.as_datetime(p.submitted_on_daily_at or p.published or p.first_seen)


def daily_date(p: Paper) -> date | None:
    dt = daily_datetime(p)
    return dt.date() if dt else None


@dataclass(frozen=True)
class Period:
    kind: str  # day | week | month
    start: date
    end: date  # inclusive

    @property
    def key(self) -> str:
        if self.kind == "week":
            y, w, _ = self.start.isocalendar()
            return f"{y:04d}-W{w:02d}"  # zero-padded: year 1 is "0001-W01", which parse_period reads
        if self.kind == "month":
            return f"{self.start.year:04d}-{self.start.month:02d}"
        return self.start.isoformat()

    @property
    def label(self) -> str:
        if self.kind == "week":
            return f"week {self.key} ({self.start:%b %d} – {self.end:%b %d, %Y})"
        if self.kind == "month":
            return f"{self.start:%B %Y}"
        return f"{self.start:%A, %B} {self.start.day}, {self.start.year}"

    @property
    def param(self) -> dict[str, str]:
        return {{"day": "date"}.get(self.kind, self.kind): self.key}

    def containing(self, d: date) -> Period:
        return period_of(self.kind, d)


def period_of(kind: str, d: date) -> Period:
    """The day, ISO week (Monday to Sunday) or month containing ``d``. Never leaves the calendar
    (a period that would run past 9999-12-31 ends there; 0001-01-01 is a Monday)."""
    if kind == "week":
        start = d - timedelta(days=d.weekday())
        end = start + timedelta(days=6) if start <= date.max - timedelta(days=6) else date.max
        return Period("week", start, end)
    if kind == "month":
        start = d.replace(day=1)
        return Period("month", start, start.replace(day=calendar.monthrange(start.year, start.month)[1]))
    return Period("day", d, d)


def parse_period(date_s: str | None = None, week: str | None = None, month: str | None = None) -> Period | None:
    """The period named by exactly one of date (YYYY-MM-DD), week (YYYY-Www), month (YYYY-MM);
    None when none is given. Raises ValueError with a readable message."""
    given = [x for x in (date_s, week, month) if x]
    if len(given) > 1:
        raise ValueError("give only one of date, week and month")
    if date_s:
        try:
            return period_of("day", date.fromisoformat(date_s.strip()))
        except (ValueError, OverflowError):
            raise ValueError(f"date must look like 2025-02-27, not {date_s!r}") from None
    if week:
        m = WEEK_RE.match(week.strip())
        try:
            if not m:
                raise ValueError
            return period_of("week", date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1))
        except (ValueError, OverflowError):
            raise ValueError(f"week must look like 2025-W09, not {week!r}") from None
    if month:
        m = MONTH_RE.match(month.strip())
        try:
            if not m:
                raise ValueError
            return period_of("month", date(int(m.group(1)), int(m.group(2)), 1))
        except (ValueError, OverflowError):
            raise ValueError(f"month must look like 2025-02, not {month!r}") from None
    return None


def latest_day(db: Database) -> date | None:
    return sql.latest_day(db)


def day_before(db: Database, d: date) -> date | None:
    return sql.day_before(db, d)


def day_after(db: Database, d: date) -> date | None:
    return sql.day_after(db, d)


def nearest_day(db: Database, d: date) -> date | None:
    """The day with papers closest to ``d`` (earlier wins a tie)."""
    before, after = day_before(db, d), day_after(db, d)
    if before and after:
        return before if (d - before) <= (after - d) else after
    return before or after


@dataclass
class DailyPage:
    papers: list[Paper]
    total: int
    period: Period | None


def daily(store: SQLStore, period: Period | None, sort: str = "trending", submitter: str | None = None,
          limit: int = 50, offset: int = 0, now: datetime | None = None) -> DailyPage:
    """Papers whose daily date falls in ``period`` (all papers when None), sorted and paged.

    ``sort``: "trending" (see rank/trending.py) or "publishedAt" (newest daily date first, then id).
    Never reads the whole period: a page of "publishedAt" is one index range scan (store/feeds.py);
    for "trending" only the papers *with* upvotes are scored (a paper without votes scores 0, and
    those keep the "publishedAt" order after every voted one), the rest of the page is read in order.
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    start, end = (period.start, period.end) if period else (None, None)
    who = submitter.strip().lower() if submitter else None
    limit, offset = max(limit, 0), max(offset, 0)
    total = sql.count(store.db, start, end, who)
    if sort == "publishedAt":
        rows = sql.newest(store.db, start, end, who, offset, limit)
    else:
        now = now or trending.as_datetime(datetime.now().astimezone())

        def when(r: Any) -> datetime | None:
            return trending.as_datetime(r.submitted_on_daily_at or r.published or r.first_seen)

        def votes(r: Any) -> int:  # the source's upvotes plus papersift's own
            return int(r.upvotes or 0) + int(r.source_upvotes or 0)

        voted = trending.rank(sql.voted(store.db, start, end, who), votes, when,
                              lambda r: r.id, now)  # type: ignore[arg-type]
        rows = voted[offset:offset + limit]
        if len(rows) < limit:
            rows += sql.newest(store.db, start, end, who, max(offset - len(voted), 0), limit - len(rows),
                               unvoted_only=True)
    got = store.get_many(r.pk for r in rows)
    return DailyPage([got[r.pk] for r in rows if r.pk in got], total, period)


def by_submitter(store: SQLStore, username: str, limit: int = 50, offset: int = 0) -> DailyPage:
    return daily(store, None, "publishedAt", submitter=username, limit=limit, offset=offset)
