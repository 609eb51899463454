"""Bulk load: new papers straight into the table, everything else through the merging upsert.

``SQLStore.upsert_many`` reads back every stored row that could match a record of the batch
(by id, arXiv id, alias, DOI, normalised title), merges in Python and writes. Loading a snapshot
into a store that does not hold those papers yet, almost every record is new; ``insert_new`` asks
the store only *whether* any key of the batch is taken (five indexed ``IN`` look-ups returning the
keys), inserts the records that collide with nothing (in the store or earlier in the batch) with
one ``executemany`` of prepared tuples, and hands the others, in file order, to ``upsert_many``: a
duplicate is merged exactly as before (docs/architecture.md, "Deduplication rules").

The row layout comes from the schema (``papers.columns``): a column added to the table is filled
from the Paper attribute of the same name (or ``paper_to_row``), else from its column default, so a
new column needs no change here. SQLite only (the driver-level ``executemany`` with pks assigned
under the write lock); on other databases ``insert_new`` is ``upsert_many``.

The batch's checkpoint (``meta`` row ``ingest_checkpoint:<path>``: file digest, byte offset, line)
is written in the transaction that completes the batch, so a killed ingest resumes after the last
committed batch (pipeline_bulk.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Date, DateTime
from sqlalchemy.engine import Connection
from sqlalchemy.pool import QueuePool

from papersift.index.authors import AUTHOR_KEYS
from papersift.models import IngestStats, Paper
from papersift.store.db import next_change
from papersift.store.papers import MIN_TITLE_WORDS, SQLITE_MAX_BINDS, SQLStore, now, paper_to_row
from papersift.store.schema import meta, papers

_STDLIB_JSON = json.JSONEncoder().encode  # as SQLAlchemy's JSON type stores values on SQLite


def _JSON(value: Any) -> str:
    """A JSON column's text: orjson (~10x faster; compact, UTF-8: SQLite's json functions and the
    JSON type read it alike), the standard encoder for what orjson refuses (an int over 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return _STDLIB_JSON(value)
CHECKPOINT = "ingest_checkpoint:"
ROW = "_bulk_row"  # a Paper's prepared row (Layout.template), set by a parser process


def _sqlite_converter(col: Any) -> Callable[[Any], Any] | None:
    t = col.type
    if isinstance(t, JSON):
        return _JSON
    if isinstance(t, DateTime):
        return lambda v: v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v
    if isinstance(t, Date):
        return lambda v: v.isoformat() if isinstance(v, date) else v
    if isinstance(t, Boolean):
        return lambda v: int(bool(v))
    return None


def _default(col: Any) -> Any:
    d = col.default
    if d is None:
        return None
    if getattr(d, "is_scalar", False):
        return d.arg
    if getattr(d, "is_callable", False):
        return d.arg(None)
    return None


class Layout:
    """The papers table's columns (from the schema), their SQLite encoders and defaults."""

    def __init__(self) -> None:
        self.columns = [c.name for c in papers.columns]
        self.convert = [_sqlite_converter(c) for c in papers.columns]
        self.defaults = {c.name: _default(c) for c in papers.columns}
        self.sql = (f"INSERT INTO papers ({', '.join(self.columns)}) "
                    f"VALUES ({', '.join('?' * len(self.columns))})")
        self.i_pk, self.i_seq = self.columns.index("pk"), self.columns.index("seq")
        self.i_first_seen = self.columns.index("first_seen")

    def template(self, p: Paper) -> list[Any]:
        """The row of a new paper, encoded for SQLite, with ``pk``, ``seq`` and ``first_seen`` left
        to ``fill`` (a parser process can build it; the writer fills the three under its lock)."""
        base = paper_to_row(p)
        base.update(pk=None, seq=None, first_seen=None, upvotes=0)
        out: list[Any] = []
        for name, conv in zip(self.columns, self.convert, strict=True):
            if name in base:
                v = base[name]
            else:
                v = getattr(p, name, self.defaults[name])
                if v is None:
                    v = self.defaults[name]
            out.append(conv(v) if conv is not None and v is not None else v)
        return out

    def fill(self, row: list[Any], pk: int, seq: int, stamp: str) -> tuple[Any, ...]:
        row[self.i_pk], row[self.i_seq], row[self.i_first_seen] = pk, seq, stamp
        return tuple(row)


_LAYOUT: Layout | None = None


def layout() -> Layout:
    global _LAYOUT
    if _LAYOUT is None:
        _LAYOUT = Layout()
    return _LAYOUT


def _keys(p: Paper) -> tuple[str, ...]:
    keys = ["i" + p.id]
    if p.arxiv_id and p.arxiv_id != p.id:
        keys.append("i" + p.arxiv_id)
    if p.doi:
        keys.append("d" + p.doi)
    t = p.norm_title
    if t.count(" ") + 1 >= MIN_TITLE_WORDS:
        keys.append("t" + t)
    return tuple(keys)


def _taken(conn: Connection, batch: Sequence[Paper]) -> set[str]:
    """The keys (``_keys`` form) of ``batch`` that a stored paper or alias already has."""
    ids = list({k for p in batch for k in (p.id, p.arxiv_id) if k})
    dois = list({p.doi for p in batch if p.doi})
    titles = list({p.norm_title for p in batch})
    taken: set[str] = set()
    queries = (("i", "SELECT id FROM papers WHERE id IN ({})", ids),
               ("i", "SELECT arxiv_id FROM papers WHERE arxiv_id IN ({})", ids),
               ("i", "SELECT alias FROM paper_aliases WHERE alias IN ({})", ids),
               ("d", "SELECT doi FROM papers WHERE doi IN ({})", dois),
               ("t", "SELECT norm_title FROM papers WHERE norm_title IN ({})", titles))
    per = SQLITE_MAX_BINDS
    for prefix, sql, values in queries:
        for i in range(0, len(values), per):
            chunk = values[i:i + per]
            for (v,) in conn.exec_driver_sql(sql.format(", ".join("?" * len(chunk))), tuple(chunk)):
                taken.add(prefix + str(v))
    return taken


def set_checkpoint(conn: Connection, path: str, value: dict[str, Any]) -> None:
    key = CHECKPOINT + path
    conn.execute(meta.delete().where(meta.c.key == key))
    conn.execute(meta.insert(), {"key": key, "value": json.dumps(value)})


def get_checkpoint(store: SQLStore, path: str) -> dict[str, Any] | None:
    with store.engine.connect() as conn:
        got = conn.execute(meta.select().where(meta.c.key == CHECKPOINT + path)).first()
    if got is None:
        return None
    try:
        value = json.loads(got.value)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def clear_checkpoint(store: SQLStore, path: str) -> None:
    with store.db.write() as conn:
        conn.execute(meta.delete().where(meta.c.key == CHECKPOINT + path))


def insert_new(store: SQLStore, batch: list[Paper], source: str | None = None,
               checkpoint: tuple[str, dict[str, Any]] | None = None,
               wal_pages: int | None = None) -> list[IngestStats]:
    """Store a batch: papers no stored paper (or earlier record of the batch) shares a key with are
    inserted directly; the rest are merged by ``upsert_many``, after them, in file order. Returns
    one IngestStats per transaction (with its ``seq``, ``inserted`` and ``changed`` papers).
    ``wal_pages``: SQLite's automatic checkpoint threshold for this write's connection (``end_load``
    puts it back)."""
    if not store.db.is_sqlite:
        out = [store.upsert_many(batch, source=source)]
        if checkpoint:
            with store.db.write() as conn:
                set_checkpoint(conn, *checkpoint)
        return out
    seen: set[str] = set()
    fresh: list[tuple[int, Paper]] = []
    rest: list[tuple[int, Paper]] = []
    for i, p in enumerate(batch):
        keys = _keys(p)
        (rest if any(k in seen for k in keys) else fresh).append((i, p))
        seen.update(keys)
    lay = layout()
    stats = IngestStats()
    with store.db.write() as conn:
        if wal_pages is not None:
            conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={int(wal_pages)}")
        if fresh:
            taken = _taken(conn, [p for _, p in fresh])
            if taken:
                keep: list[tuple[int, Paper]] = []
                for i, p in fresh:
                    (rest if any(k in taken for k in _keys(p)) else keep).append((i, p))
                fresh = keep
                rest.sort(key=lambda x: x[0])
        if fresh:
            seq = next_change(conn)
            top = conn.exec_driver_sql("SELECT max(pk) FROM papers").scalar() or 0
            first_seen = now()
            stamp = first_seen.strftime("%Y-%m-%d %H:%M:%S.%f")
            rows = []
            for n, (_, p) in enumerate(fresh, start=int(top) + 1):
                p.pk = n
                p.first_seen = first_seen
                # a parser process may have built the row already (pipeline_bulk.py)
                template = p.__dict__.pop(ROW, None) or lay.template(p)
                rows.append(lay.fill(template, n, seq, stamp))
            conn.exec_driver_sql(lay.sql, rows)  # a list of tuples: executemany
            stats = IngestStats(read=len(fresh), new=len(fresh), seq=seq, inserted=[p for _, p in fresh])
        if checkpoint and not rest:
            set_checkpoint(conn, *checkpoint)
    for _, p in rest:  # merged with a stored paper: what the parser prepared no longer applies
        p.__dict__.pop(ROW, None)
        p.__dict__.pop(AUTHOR_KEYS, None)
    out = [stats] if fresh else []
    if rest:
        out.append(store.upsert_many([p for _, p in rest], source=source))
        if checkpoint:
            with store.db.write() as conn:
                set_checkpoint(conn, *checkpoint)
    return out


# -- a load's write-ahead log ---------------------------------------------------------------------
# SQLite copies its write-ahead log into the database file (a checkpoint, with an fsync) once the log
# passes 1,000 pages (4 MB): during a bulk load that is after every batch, and the index pages a
# batch touches are written again by the next one. A load lets the log grow to BULK_WAL_PAGES first:
# 1M papers loaded in 98 s instead of 107 s (PAPERSIFT_BULK_WAL_PAGES; the default is ~200 MB of
# log, removed when the last connection closes).
BULK_WAL_PAGES = int(os.environ.get("PAPERSIFT_BULK_WAL_PAGES", 50_000))
WAL_PAGES_DEFAULT = 1000  # SQLite's own


def end_load(store: SQLStore) -> None:
    """Back to SQLite's checkpoint threshold (the next commit then checkpoints the grown log), on the
    connection the load used; the pool's other connections are closed, so none keeps the load's."""
    if not store.db.is_sqlite or store.db.read_only:
        return
    with store.db.write() as conn:
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={WAL_PAGES_DEFAULT}")
    if isinstance(store.engine.pool, QueuePool):  # a file's pool (one in memory would lose its data)
        store.engine.dispose()


# -- first load: secondary indexes after the data -----------------------------------------------
DEFERRED = "bulk_deferred_indexes"
# what the load itself reads while it runs: dedup look-ups (doi, norm_title) and the change log (seq)
LOAD_NEEDS = frozenset({"doi", "norm_title", "seq"})


def defer_indexes(store: SQLStore) -> list[str]:
    """First load into an empty SQLite store: drop the papers indexes the load does not read (feed
    order, dates, submitters: about half the cost of an insert), remembering their DDL in ``meta``
    in the same transaction; ``restore_indexes`` builds them again after the data, in one pass
    each. Readers meanwhile get the same answers, only by scanning. Returns the dropped names."""
    if not store.db.is_sqlite:
        return []
    with store.db.write() as conn:
        if conn.exec_driver_sql("SELECT 1 FROM papers LIMIT 1").first() is not None:
            return []
        found = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                     "AND tbl_name = 'papers' AND sql IS NOT NULL").all()
        drop: list[tuple[str, str]] = []
        for name, sql in found:
            if sql.upper().startswith("CREATE UNIQUE"):
                continue
            cols = [r[2] for r in conn.exec_driver_sql(f'PRAGMA index_info("{name}")')]
            if cols and all(c in LOAD_NEEDS for c in cols):
                continue
            drop.append((name, sql))
        if not drop:
            return []
        old = conn.execute(meta.select().where(meta.c.key == DEFERRED)).first()
        kept = json.loads(old.value) if old else []
        conn.execute(meta.delete().where(meta.c.key == DEFERRED))
        conn.execute(meta.insert(), {"key": DEFERRED, "value": json.dumps(kept + [sql for _, sql in drop])})
        for name, _ in drop:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [name for name, _ in drop]


def restore_indexes(store: SQLStore) -> int:
    """Build the indexes a first load deferred (also after a killed load: the next ingest does it).
    Returns how many were built."""
    if not store.db.is_sqlite:
        return 0
    with store.engine.connect() as conn:
        if conn.execute(meta.select().where(meta.c.key == DEFERRED)).first() is None:
            return 0
    with store.db.write() as conn:
        row = conn.execute(meta.select().where(meta.c.key == DEFERRED)).first()
        if row is None:
            return 0
        ddl = json.loads(row.value)
        for sql in ddl:
            conn.exec_driver_sql(sql.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
        conn.execute(meta.delete().where(meta.c.key == DEFERRED))
    return len(ddl)
