"""Votes and daily-feed submissions (SQL only). Every count change is decided by rows changed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from papersift.store import dialect
from papersift.store.db import Database
from papersift.store.schema import papers, votes


def set_vote(db: Database, user_id: int, paper_pk: int, up: bool, at: datetime) -> tuple[bool, int]:
    """Add (``up``) or withdraw one user's vote on one paper, in one write transaction.

    The vote row is inserted with ``ON CONFLICT DO NOTHING`` / deleted, and ``papers.upvotes``
    moves by exactly the number of rows that changed, so concurrent repeats and un-votes can never
    double count or drift. Returns (user has voted now, paper's upvotes now)."""
    with db.write() as conn:
        if up:
            # the row inserted comes back through RETURNING (a DO NOTHING insert's rowcount is not
            # reported by every driver: psycopg gives -1)
            changed = len(conn.execute(dialect.insert_ignore(db.dialect, votes, ["user_id", "paper_pk"]).values(
                user_id=user_id, paper_pk=paper_pk, created_at=at).returning(votes.c.user_id)).all())
            delta = papers.c.upvotes + 1
        else:
            changed = conn.execute(delete(votes).where(votes.c.user_id == user_id,
                                                       votes.c.paper_pk == paper_pk)).rowcount
            delta = dialect.greatest(db.dialect, papers.c.upvotes - 1, 0)
        if changed:
            count = conn.execute(update(papers).where(papers.c.pk == paper_pk).values(upvotes=delta)
                                 .returning(papers.c.upvotes)).scalar()
        else:
            count = conn.execute(select(papers.c.upvotes).where(papers.c.pk == paper_pk)).scalar()
    return up, int(count or 0)


def has_voted(db: Database, user_id: int, paper_pk: int) -> bool:
    with db.read() as conn:
        return conn.execute(select(votes.c.user_id).where(votes.c.user_id == user_id,
                                                          votes.c.paper_pk == paper_pk)).first() is not None


def voted_pks(db: Database, user_id: int, pks: list[int]) -> set[int]:
    with db.read() as conn:
        return {r[0] for r in conn.execute(select(votes.c.paper_pk).where(
            votes.c.user_id == user_id, votes.c.paper_pk.in_(pks[:900])))}


def count_votes(db: Database, paper_pk: int) -> int:
    from sqlalchemy import func

    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(votes).where(votes.c.paper_pk == paper_pk))
                   .scalar() or 0)


def submit_to_daily(db: Database, paper_pk: int, username: str, at: datetime) -> bool:
    """Put a paper on the daily feed unless it is there already; True if this call did it."""
    with db.write() as conn:
        res = conn.execute(update(papers).where(papers.c.pk == paper_pk, papers.c.submitted_on_daily_at.is_(None))
                           .values(submitted_by=username, submitted_on_daily_at=at))
    return bool(res.rowcount)
