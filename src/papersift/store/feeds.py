"""Daily-feed queries (SQL only; periods and ranking live in rank/daily.py).

A paper's *daily date* is the day it was submitted to the daily feed, else its publication date,
else the day papersift first saw it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select

from papersift.store import dialect
from papersift.store.db import Database
from papersift.store.schema import papers


def day_expr(db: Database) -> Any:
    """SQL for a paper's daily date."""
    return func.coalesce(dialect.as_day(db.dialect, papers.c.submitted_on_daily_at), papers.c.published,
                         dialect.as_day(db.dialect, papers.c.first_seen))


def _as_date(v: Any) -> date | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


def latest_day(db: Database) -> date | None:
    with db.read() as conn:
        return _as_date(conn.execute(select(func.max(day_expr(db)))).scalar())


def day_before(db: Database, d: date) -> date | None:
    """The latest day with papers strictly before ``d``."""
    e = day_expr(db)
    with db.read() as conn:
        return _as_date(conn.execute(select(func.max(e)).where(e < dialect.day_param(db.dialect, d))).scalar())


def day_after(db: Database, d: date) -> date | None:
    """The earliest day with papers strictly after ``d``."""
    e = day_expr(db)
    with db.read() as conn:
        return _as_date(conn.execute(select(func.min(e)).where(e > dialect.day_param(db.dialect, d))).scalar())


def candidates(db: Database, start: date | None, end: date | None, submitter: str | None) -> list[Any]:
    """(pk, id, upvotes, submitted_on_daily_at, published, first_seen) of the papers whose daily
    date is within [start, end] (all when None), optionally only one submitter's."""
    e = day_expr(db)
    conds = []
    if start is not None:
        conds.append(e >= dialect.day_param(db.dialect, start))
    if end is not None:
        conds.append(e <= dialect.day_param(db.dialect, end))
    if submitter:
        conds.append(papers.c.submitted_by == submitter)
    q = select(papers.c.pk, papers.c.id, papers.c.upvotes, papers.c.submitted_on_daily_at,
               papers.c.published, papers.c.first_seen)
    if conds:
        q = q.where(and_(*conds))
    with db.read() as conn:
        return list(conn.execute(q).all())
