"""Daily-feed queries (SQL only; periods and ranking live in rank/daily.py).

A paper's *daily moment* is when it was submitted to the daily feed, else its publication date
(midnight), else when papersift first saw it. ``moment_expr`` is that expression, and migration 0004
indexes exactly it (together with ``upvotes``), so every feed query — a day, a week, a month, the
whole corpus newest first, the neighbouring days — is an index range scan, never a table scan.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import TIMESTAMP, and_, cast, false, func, literal_column, select

from papersift.store.db import Database
from papersift.store.schema import papers

COLUMNS = (papers.c.pk, papers.c.id, papers.c.upvotes, papers.c.source_upvotes, papers.c.submitted_on_daily_at,
           papers.c.published, papers.c.first_seen)
# the count trending scores: the source's upvotes plus papersift's own (migration 0006)
VOTES = papers.c.upvotes + papers.c.source_upvotes
MOMENT_INDEX = "ix_papers_daily_moment"
LIVE = papers.c.deleted == false()  # papers arXiv reported deleted are never shown (in the index: 0007)


def moment_expr(dialect: str) -> Any:
    """The daily moment, as the expression the index was built on.

    SQLite stores DateTime as 'YYYY-MM-DD HH:MM:SS.ffffff' and Date as 'YYYY-MM-DD': the date gets
    ' 00:00:00.000000' appended so that text order is time order. PostgreSQL casts the date."""
    if dialect == "sqlite":
        # the constant is inlined, not bound: SQLite matches an expression index only on the same text
        return func.coalesce(papers.c.submitted_on_daily_at,
                             papers.c.published.op("||")(literal_column("' 00:00:00.000000'")), papers.c.first_seen)
    return func.coalesce(papers.c.submitted_on_daily_at, cast(papers.c.published, TIMESTAMP), papers.c.first_seen)


def moment_sql(dialect: str) -> str:
    """The same expression as DDL text, for the index (store/migrations/versions/0004_*)."""
    if dialect == "sqlite":
        return "coalesce(submitted_on_daily_at, published || ' 00:00:00.000000', first_seen)"
    return "coalesce(submitted_on_daily_at, CAST(published AS TIMESTAMP), first_seen)"


def _bound(db: Database, d: date) -> Any:
    """Midnight of ``d``, bound as the expression's type."""
    t = datetime.combine(d, time())
    return t.isoformat(sep=" ", timespec="microseconds") if db.is_sqlite else t  # year 1 is "0001-..."


def _as_date(v: Any) -> date | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


def _where(db: Database, start: date | None, end: date | None, submitter: str | None) -> list[Any]:
    m = moment_expr(db.dialect)
    conds: list[Any] = [LIVE]
    if start is not None:
        conds.append(m >= _bound(db, start))
    if end is not None:
        conds.append(m < _bound(db, end + timedelta(days=1)) if end < date.max else m.is_not(None))
    if submitter:
        conds.append(papers.c.submitted_by == submitter)
    return conds


def latest_day(db: Database) -> date | None:
    with db.read() as conn:
        return _as_date(conn.execute(select(func.max(moment_expr(db.dialect))).where(LIVE)).scalar())


def day_before(db: Database, d: date) -> date | None:
    """The latest day with papers strictly before ``d``."""
    m = moment_expr(db.dialect)
    with db.read() as conn:
        return _as_date(conn.execute(select(func.max(m)).where(m < _bound(db, d), LIVE)).scalar())


def day_after(db: Database, d: date) -> date | None:
    """The earliest day with papers strictly after ``d``."""
    if d >= date.max:
        return None
    m = moment_expr(db.dialect)
    with db.read() as conn:
        return _as_date(conn.execute(select(func.min(m)).where(m >= _bound(db, d + timedelta(days=1)), LIVE))
                        .scalar())


def count(db: Database, start: date | None, end: date | None, submitter: str | None = None) -> int:
    conds = _where(db, start, end, submitter)
    q = select(func.count()).select_from(papers)
    if conds:
        q = q.where(and_(*conds))
    with db.read() as conn:
        return int(conn.execute(q).scalar() or 0)


def voted(db: Database, start: date | None, end: date | None, submitter: str | None = None) -> list[Any]:
    """The papers with upvotes in the range (the only ones with a trending score above 0)."""
    q = select(*COLUMNS).where(and_(VOTES > 0, *_where(db, start, end, submitter)))
    with db.read() as conn:
        return list(conn.execute(q).all())


def newest(db: Database, start: date | None, end: date | None, submitter: str | None = None,
           offset: int = 0, limit: int = 50, unvoted_only: bool = False) -> list[Any]:
    """One page of the range, newest daily moment first, then id (with ``unvoted_only``: only the
    papers without upvotes, which trending orders the same way)."""
    conds = _where(db, start, end, submitter)
    if unvoted_only:
        conds.append(VOTES <= 0)
    m = moment_expr(db.dialect)
    q = select(*COLUMNS).order_by(m.desc(), papers.c.id).offset(max(offset, 0)).limit(max(limit, 0))
    if conds:
        q = q.where(and_(*conds))
    with db.read() as conn:
        return list(conn.execute(q).all())
