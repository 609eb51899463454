"""Paper embeddings (SQL only): the source of truth for every vector index.

One row per (paper, model): the float32 vector, the ``papers.seq`` and a hash of the text it was
computed from, and the change number of the write. Any process may embed (a store write); the
index owner follows ``seq`` into the vector index file, as the lexical index follows ``papers.seq``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sqlalchemy import ColumnElement, and_, false, func, or_, select, update
from sqlalchemy.engine import Connection

from papersift.store import dialect
from papersift.store.db import Database, next_change
from papersift.store.schema import embeddings, papers

VECTOR_DTYPE = np.dtype("<f4")


@dataclass
class Pending:
    """A paper whose embedding for a model is missing or older than its text."""

    pk: int
    seq: int
    title: str
    abstract: str
    stored_hash: str | None  # hash of the text embedded before (None: never embedded)


def _pending_cond(model: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    join = and_(embeddings.c.paper_pk == papers.c.pk, embeddings.c.model == model)
    cond = and_(or_(embeddings.c.paper_pk.is_(None), embeddings.c.paper_seq < papers.c.seq),
                papers.c.deleted == false())  # a deleted paper is never embedded
    return join, cond


def pending(db: Database, model: str, after_pk: int = 0, limit: int = 256) -> list[Pending]:
    """The next papers (in pk order, after ``after_pk``) that need an embedding for ``model``."""
    join, cond = _pending_cond(model)
    q = (select(papers.c.pk, papers.c.seq, papers.c.title, papers.c.abstract, embeddings.c.text_hash)
         .select_from(papers.outerjoin(embeddings, join)).where(cond, papers.c.pk > after_pk)
         .order_by(papers.c.pk).limit(limit))
    with db.read() as conn:
        return [Pending(int(r.pk), int(r.seq), r.title, r.abstract, r.text_hash) for r in conn.execute(q)]


def count_pending(db: Database, model: str) -> int:
    join, cond = _pending_cond(model)
    q = select(func.count()).select_from(papers.outerjoin(embeddings, join)).where(cond)
    with db.read() as conn:
        return int(conn.execute(q).scalar() or 0)


def count(db: Database, model: str) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(embeddings)
                                .where(embeddings.c.model == model)).scalar() or 0)


def write(db: Database, model: str, rows: list[tuple[int, int, str, np.ndarray | None]]) -> int:
    """Store a batch of (pk, paper_seq, text_hash, vector) in one write transaction under one
    change number; a None vector means "text unchanged": only its paper_seq moves on. Returns the
    change number."""
    if not rows:
        return 0
    with db.write() as conn:
        seq = next_change(conn)
        full = [{"paper_pk": pk, "model": model, "paper_seq": pseq, "text_hash": h, "seq": seq,
                 "vector": np.ascontiguousarray(v, dtype=VECTOR_DTYPE).tobytes()}
                for pk, pseq, h, v in rows if v is not None]
        if full:
            conn.execute(dialect.upsert(db.dialect, embeddings, ["paper_pk", "model"],
                                        ["paper_seq", "text_hash", "seq", "vector"]), full)
        for pk, pseq, _h, v in rows:
            if v is None:
                conn.execute(embeddings.update().where(embeddings.c.paper_pk == pk, embeddings.c.model == model)
                             .values(paper_seq=pseq))
    return seq


def changed(db: Database, model: str, after_seq: int, batch: int = 8192, gone: list[int] | None = None,
            ) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """(keys, vectors, highest seq in batch) of the embeddings written after ``after_seq``, in
    (seq, pk) order, so a consumer can checkpoint at any batch boundary. The vectors of deleted
    papers are left out (a batch may then be empty); their keys are appended to ``gone``, for the
    index to drop (marking a paper deleted moves its embeddings' seq: store/harvest.py)."""
    cursor: tuple[int, int] | None = None  # (seq, pk) of the last row read
    while True:
        after = (embeddings.c.seq > after_seq if cursor is None else
                 or_(embeddings.c.seq > cursor[0], and_(embeddings.c.seq == cursor[0],
                                                        embeddings.c.paper_pk > cursor[1])))
        q = (select(embeddings.c.paper_pk, embeddings.c.seq, embeddings.c.vector, papers.c.deleted)
             .select_from(embeddings.join(papers, papers.c.pk == embeddings.c.paper_pk))
             .where(embeddings.c.model == model, after)
             .order_by(embeddings.c.seq, embeddings.c.paper_pk).limit(batch))
        with db.read() as conn:
            rows = conn.execute(q).all()
        if not rows:
            return
        cursor = (int(rows[-1].seq), int(rows[-1].paper_pk))
        live = [r for r in rows if not r.deleted]
        if gone is not None:
            gone.extend(int(r.paper_pk) for r in rows if r.deleted)
        keys = np.fromiter((r.paper_pk for r in live), dtype=np.int64, count=len(live))
        dim = len(rows[0].vector) // VECTOR_DTYPE.itemsize
        vecs = (np.stack([np.frombuffer(r.vector, dtype=VECTOR_DTYPE) for r in live]) if live
                else np.empty((0, dim), dtype=VECTOR_DTYPE))
        yield keys, vecs, cursor[0]


def touch(conn: Connection, pks: list[int], seq: int) -> None:
    """Inside a write: move the embeddings of these papers (every model) to change ``seq``, so the
    vector indexes see them again (a paper deleted or brought back)."""
    for i in range(0, len(pks), 900):
        conn.execute(update(embeddings).where(embeddings.c.paper_pk.in_(pks[i:i + 900])).values(seq=seq))


def max_seq(db: Database, model: str) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.max(embeddings.c.seq)).where(embeddings.c.model == model))
                   .scalar() or 0)


def texts(db: Database, pks: list[int]) -> dict[int, tuple[int, str, str]]:
    """{pk: (papers.seq, title, abstract)} of these papers (those that exist)."""
    out: dict[int, tuple[int, str, str]] = {}
    with db.read() as conn:
        for i in range(0, len(pks), 900):
            q = select(papers.c.pk, papers.c.seq, papers.c.title, papers.c.abstract).where(
                papers.c.pk.in_(pks[i:i + 900]))
            out.update({int(r.pk): (int(r.seq), r.title, r.abstract) for r in conn.execute(q)})
    return out
