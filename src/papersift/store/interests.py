"""Interests (SQL only): follows, the library with tags, thumbs up/down, and the reads the For-you
ranker (rank/foryou.py) needs: a user's signals, candidate papers, stored vectors of given papers.

Writes are idempotent and race-free (``INSERT … ON CONFLICT``, ``DELETE`` by key): two clicks,
two tabs or a CLI beside the server never double a row.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, delete, desc, func, or_, select, update

from papersift.store import dialect
from papersift.store.db import Database
from papersift.store.embeddings import VECTOR_DTYPE
from papersift.store.schema import embeddings, feedback, follows, library, paper_aliases, papers, votes

CHUNK = 900
FOLLOW_KINDS = ("author", "category", "query")


@dataclass(frozen=True)
class Follow:
    id: int
    kind: str
    value: str
    created_at: datetime


@dataclass(frozen=True)
class SavedPaper:
    paper_pk: int
    tags: list[str]
    saved_at: datetime


# -- follows -------------------------------------------------------------------------------------
def add_follow(db: Database, user_id: int, kind: str, value: str, at: datetime) -> bool:
    """Follow (kind, value); True if it is new."""
    with db.write() as conn:  # RETURNING, not rowcount: with a serial key PostgreSQL's rowcount is not 0/1
        got = conn.execute(dialect.insert_ignore(db.dialect, follows, ["user_id", "kind", "value"]).values(
            user_id=user_id, kind=kind, value=value, created_at=at).returning(follows.c.id)).first()
    return got is not None


def remove_follow(db: Database, user_id: int, kind: str, value: str) -> bool:
    with db.write() as conn:
        res = conn.execute(delete(follows).where(follows.c.user_id == user_id, follows.c.kind == kind,
                                                 follows.c.value == value))
    return bool(res.rowcount)


def remove_follow_id(db: Database, user_id: int, follow_id: int) -> bool:
    with db.write() as conn:
        res = conn.execute(delete(follows).where(follows.c.user_id == user_id, follows.c.id == follow_id))
    return bool(res.rowcount)


def list_follows(db: Database, user_id: int) -> list[Follow]:
    q = select(follows).where(follows.c.user_id == user_id).order_by(follows.c.kind, follows.c.value)
    with db.read() as conn:
        return [Follow(int(r.id), r.kind, r.value, r.created_at) for r in conn.execute(q)]


# -- library -------------------------------------------------------------------------------------
def save(db: Database, user_id: int, paper_pk: int, tags: list[str], at: datetime) -> bool:
    """Save a paper (with tags, merged into the existing ones if it is saved already). True if new."""
    with db.write() as conn:
        new = conn.execute(dialect.insert_ignore(db.dialect, library, ["user_id", "paper_pk"]).values(
            user_id=user_id, paper_pk=paper_pk, tags=sorted(set(tags)), saved_at=at)
            .returning(library.c.paper_pk)).first() is not None  # RETURNING: psycopg's rowcount is not 0/1 here
        if new or not tags:
            return new
        _change_tags(conn, user_id, paper_pk, add=tags)
    return False


def save_many(db: Database, user_id: int, items: list[tuple[int, list[str]]], at: datetime) -> int:
    """Save many papers in one transaction (tags merged for those saved already). Returns how many
    were new."""
    new = 0
    with db.write() as conn:
        for pk, tags in items:
            got = conn.execute(dialect.insert_ignore(db.dialect, library, ["user_id", "paper_pk"]).values(
                user_id=user_id, paper_pk=pk, tags=sorted(set(tags)), saved_at=at)
                .returning(library.c.paper_pk)).first()
            if got is not None:
                new += 1
            elif tags:
                _change_tags(conn, user_id, pk, add=tags)
    return new


def unsave(db: Database, user_id: int, paper_pk: int) -> bool:
    with db.write() as conn:
        res = conn.execute(delete(library).where(library.c.user_id == user_id, library.c.paper_pk == paper_pk))
    return bool(res.rowcount)


def _change_tags(conn: Any, user_id: int, paper_pk: int, add: list[str] = (), remove: list[str] = (),  # type: ignore[assignment]
                 ) -> list[str] | None:
    # the write transaction holds the write lock, so this read-modify-write cannot race
    cur = conn.execute(select(library.c.tags).where(library.c.user_id == user_id,
                                                    library.c.paper_pk == paper_pk)).first()
    if cur is None:
        return None
    tags = sorted((set(cur.tags or []) | set(add)) - set(remove))
    conn.execute(update(library).where(library.c.user_id == user_id, library.c.paper_pk == paper_pk)
                 .values(tags=tags))
    return tags


def change_tags(db: Database, user_id: int, paper_pk: int, add: list[str] = (),  # type: ignore[assignment]
                remove: list[str] = ()) -> list[str] | None:  # type: ignore[assignment]
    """Add/remove tags of a saved paper; the new tags, or None when the paper is not saved."""
    with db.write() as conn:
        return _change_tags(conn, user_id, paper_pk, list(add), list(remove))


def library_items(db: Database, user_id: int, tag: str | None = None, limit: int | None = None,
                  offset: int = 0) -> list[SavedPaper]:
    """Saved papers, newest first (filtered by one tag in Python: tags are a JSON list)."""
    q = (select(library).where(library.c.user_id == user_id)
         .order_by(desc(library.c.saved_at), desc(library.c.paper_pk)))
    with db.read() as conn:
        rows = [SavedPaper(int(r.paper_pk), list(r.tags or []), r.saved_at) for r in conn.execute(q)]
    if tag:
        rows = [r for r in rows if tag in r.tags]
    return rows[offset:offset + limit] if limit is not None else rows[offset:]


def count_library(db: Database, user_id: int) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(library)
                                .where(library.c.user_id == user_id)).scalar() or 0)


def saved_pks(db: Database, user_id: int, pks: list[int]) -> set[int]:
    out: set[int] = set()
    with db.read() as conn:
        for i in range(0, len(pks), CHUNK):
            out.update(int(r[0]) for r in conn.execute(select(library.c.paper_pk).where(
                library.c.user_id == user_id, library.c.paper_pk.in_(pks[i:i + CHUNK]))))
    return out


# -- feedback ------------------------------------------------------------------------------------
def set_feedback(db: Database, user_id: int, paper_pk: int, value: int, at: datetime) -> None:
    """Thumbs up (+1), down (-1), or clear (0)."""
    with db.write() as conn:
        if value == 0:
            conn.execute(delete(feedback).where(feedback.c.user_id == user_id, feedback.c.paper_pk == paper_pk))
            return
        conn.execute(dialect.upsert(db.dialect, feedback, ["user_id", "paper_pk"], ["value", "at"]).values(
            user_id=user_id, paper_pk=paper_pk, value=1 if value > 0 else -1, at=at))


def feedback_on(db: Database, user_id: int, pks: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    with db.read() as conn:
        for i in range(0, len(pks), CHUNK):
            out.update((int(r.paper_pk), int(r.value)) for r in conn.execute(
                select(feedback.c.paper_pk, feedback.c.value).where(
                    feedback.c.user_id == user_id, feedback.c.paper_pk.in_(pks[i:i + CHUNK]))))
    return out


# -- what the ranker reads -------------------------------------------------------------------------
@dataclass
class Signals:
    """Everything one user told papersift: the ranker's training data."""

    library: dict[int, datetime]   # pk -> saved_at
    votes: dict[int, datetime]     # pk -> voted at (papersift upvotes)
    feedback: dict[int, int]       # pk -> +1 / -1
    follows: list[Follow]

    @property
    def positives(self) -> set[int]:
        return set(self.library) | set(self.votes) | {pk for pk, v in self.feedback.items() if v > 0}

    @property
    def negatives(self) -> set[int]:
        return {pk for pk, v in self.feedback.items() if v < 0}

    @property
    def seen(self) -> set[int]:
        return set(self.library) | set(self.votes) | set(self.feedback)


def signals(db: Database, user_id: int) -> Signals:
    with db.read() as conn:
        lib = {int(r.paper_pk): r.saved_at for r in conn.execute(
            select(library.c.paper_pk, library.c.saved_at).where(library.c.user_id == user_id))}
        vts = {int(r.paper_pk): r.created_at for r in conn.execute(
            select(votes.c.paper_pk, votes.c.created_at).where(votes.c.user_id == user_id))}
        fb = {int(r.paper_pk): int(r.value) for r in conn.execute(
            select(feedback.c.paper_pk, feedback.c.value).where(feedback.c.user_id == user_id))}
    return Signals(lib, vts, fb, list_follows(db, user_id))


def _shown() -> list[Any]:
    """Conditions that leave hidden papers out (the ``deleted`` flag of a later migration, when the
    store has it: papers withdrawn at their source are never recommended)."""
    deleted = papers.c.get("deleted")
    return [] if deleted is None else [deleted.is_not(True)]


def window_pks(db: Database, since: datetime, limit: int) -> list[int]:
    """Papers new since ``since`` (first seen, or published on/after its day), newest pk first."""
    q = (select(papers.c.pk).where(or_(papers.c.first_seen >= since, papers.c.published >= since.date()),
                                   *_shown())
         .order_by(desc(papers.c.pk)).limit(limit))
    with db.read() as conn:
        return [int(r[0]) for r in conn.execute(q)]


def newest_pks(db: Database, limit: int) -> list[int]:
    """The most recently published papers (then most recently stored)."""
    q = select(papers.c.pk).where(*_shown()).order_by(desc(papers.c.published), desc(papers.c.pk)).limit(limit)
    with db.read() as conn:
        return [int(r[0]) for r in conn.execute(q)]


def vectors(db: Database, model: str, pks: list[int]) -> dict[int, np.ndarray]:
    """Stored vectors of these papers for ``model`` (papers without one are left out)."""
    out: dict[int, np.ndarray] = {}
    with db.read() as conn:
        for i in range(0, len(pks), CHUNK):
            q = select(embeddings.c.paper_pk, embeddings.c.vector).where(
                embeddings.c.model == model, embeddings.c.paper_pk.in_(pks[i:i + CHUNK]))
            out.update((int(r.paper_pk), np.frombuffer(r.vector, dtype=VECTOR_DTYPE)) for r in conn.execute(q))
    return out


def sample_vectors(db: Database, model: str, n: int, seed: int, exclude: set[int]) -> dict[int, np.ndarray]:
    """About ``n`` vectors of random papers (random pks probed by key: no table scan)."""
    with db.read() as conn:
        lo, hi = conn.execute(select(func.min(embeddings.c.paper_pk), func.max(embeddings.c.paper_pk))
                              .where(embeddings.c.model == model)).one()
    if lo is None:
        return {}
    rng = random.Random(seed)
    span = int(hi) - int(lo) + 1
    probe = list({rng.randrange(int(lo), int(hi) + 1) for _ in range(min(n * 3, span))} - exclude)
    got = vectors(db, model, probe)
    return dict(list(got.items())[:n])


def has_vectors(db: Database, model: str) -> bool:
    with db.read() as conn:
        return conn.execute(select(embeddings.c.paper_pk).where(embeddings.c.model == model).limit(1)
                            ).first() is not None


def recent_voted(db: Database, since: datetime, limit: int = 500) -> list[tuple[int, int]]:
    """(pk, upvotes) of papers with votes first seen or submitted since ``since``: trending candidates."""
    q = (select(papers.c.pk, papers.c.upvotes)
         .where(papers.c.upvotes > 0, or_(papers.c.first_seen >= since,
                                          and_(papers.c.submitted_on_daily_at.is_not(None),
                                               papers.c.submitted_on_daily_at >= since)), *_shown())
         .order_by(desc(papers.c.upvotes)).limit(limit))
    with db.read() as conn:
        return [(int(r.pk), int(r.upvotes)) for r in conn.execute(q)]



def find_pks(db: Database, arxiv_ids: list[str], dois: list[str], titles: list[str],
             ) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Stored papers by arXiv id (or id / alias), by DOI, by normalised title: three {key: pk}."""
    by_aid: dict[str, int] = {}
    by_doi: dict[str, int] = {}
    by_title: dict[str, int] = {}
    with db.read() as conn:
        for i in range(0, len(arxiv_ids), CHUNK):
            part = arxiv_ids[i:i + CHUNK]
            for col in (papers.c.arxiv_id, papers.c.id):
                for r in conn.execute(select(col, papers.c.pk).where(col.in_(part))):
                    by_aid.setdefault(str(r[0]), int(r[1]))
            for r in conn.execute(select(paper_aliases.c.alias, paper_aliases.c.pk)
                                  .where(paper_aliases.c.alias.in_(part))):
                by_aid.setdefault(str(r[0]), int(r[1]))
        for i in range(0, len(dois), CHUNK):
            for r in conn.execute(select(papers.c.doi, papers.c.pk).where(papers.c.doi.in_(dois[i:i + CHUNK]))
                                  .order_by(papers.c.pk)):
                by_doi.setdefault(str(r[0]), int(r[1]))
        for i in range(0, len(titles), CHUNK):
            for r in conn.execute(select(papers.c.norm_title, papers.c.pk)
                                  .where(papers.c.norm_title.in_(titles[i:i + CHUNK])).order_by(papers.c.pk)):
                by_title.setdefault(str(r[0]), int(r[1]))
    return by_aid, by_doi, by_title


@dataclass
class Brief:
    """What the ranker scores a candidate on (no abstract, links or sources: cheap to read)."""

    pk: int
    id: str
    authors: list[str]
    categories: list[str]
    votes: int  # papersift upvotes + the source's, when the store has them
    moment: datetime | date | None  # daily-feed moment: submitted, else published, else first seen

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None


def briefs(db: Database, pks: list[int]) -> dict[int, Brief]:
    cols = [papers.c.pk, papers.c.id, papers.c.authors, papers.c.categories, papers.c.upvotes,
            papers.c.submitted_on_daily_at, papers.c.published, papers.c.first_seen]
    source = papers.c.get("source_upvotes")  # added by a later migration; counted when present
    if source is not None:
        cols.append(source)
    out: dict[int, Brief] = {}
    with db.read() as conn:
        for i in range(0, len(pks), CHUNK):
            for r in conn.execute(select(*cols).where(papers.c.pk.in_(pks[i:i + CHUNK]), *_shown())):
                m = r._mapping
                out[int(r.pk)] = Brief(int(r.pk), r.id, list(r.authors or []), list(r.categories or []),
                                       int(r.upvotes or 0) + int(m.get("source_upvotes") or 0),
                                       r.submitted_on_daily_at or r.published or r.first_seen)
    return out
