"""Copy a papersift database to another backend (``papersift migrate --from URL --to URL``).

Generic over ``schema.metadata.sorted_tables`` (foreign keys first), so every table of the schema
comes along, those added later included. Per table: rows in primary-key order, ``batch`` at a time,
written with ``INSERT … ON CONFLICT (primary key) DO UPDATE`` (so a re-run converges instead of
failing), then verified: row count and an order-independent checksum of every value on both sides.
Afterwards PostgreSQL's sequences are moved past the copied ids. Change numbers (``papers.seq``,
``embeddings.seq``, ``counters``) are copied as they are, so index files that followed the source
stay valid against the target.

The source should not be written during the copy (stop the server, worker and ingests, or accept
that a re-run is needed: it picks up new and changed rows; ``replace=True`` empties the target's
tables first, which also drops rows deleted from the source since the last run).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, Table, delete, func, select, text, tuple_
from sqlalchemy.engine import Connection

from papersift.store import dialect
from papersift.store.db import Database, SchemaOutOfDate, head_revision
from papersift.store.schema import metadata

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (table, rows done, rows in table)


class MigrationMismatch(RuntimeError):
    """The target does not hold what the source holds after the copy (counts or checksums differ)."""


@dataclass
class TableReport:
    table: str
    source_rows: int
    target_rows: int
    copied: int
    source_checksum: str
    target_checksum: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum


def _norm(v: Any) -> str:
    """One value as text, the same whichever backend it came from."""
    if v is None:
        return "\x00"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v).hex()
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _pk(table: Table) -> list[Any]:
    cols = list(table.primary_key.columns)
    if not cols:
        raise ValueError(f"table {table.name} has no primary key: cannot copy it in batches")
    return cols


def _batches(conn: Connection, table: Table, batch: int) -> Iterator[list[dict[str, Any]]]:
    """Every row of ``table``, in primary-key order (keyset pagination: no OFFSET scans)."""
    pk = _pk(table)
    key = tuple_(*pk) if len(pk) > 1 else pk[0]
    last: Any = None
    while True:
        q = select(table).order_by(*pk).limit(batch)
        if last is not None:
            q = q.where(key > (tuple_(*last) if len(pk) > 1 else last))
        rows = [dict(r._mapping) for r in conn.execute(q)]
        if not rows:
            return
        yield rows
        last = tuple(rows[-1][c.name] for c in pk) if len(pk) > 1 else rows[-1][pk[0].name]


def checksum(db: Database, table: Table, batch: int = 5000) -> tuple[int, str]:
    """(rows, checksum): the sum of each row's sha256 (mod 2**128), so row order does not matter
    (PostgreSQL and SQLite sort text keys differently)."""
    names = [c.name for c in table.columns]
    total, n = 0, 0
    with db.read() as conn:
        for rows in _batches(conn, table, batch):
            for r in rows:
                h = hashlib.sha256("\x1f".join(_norm(r[c]) for c in names).encode("utf-8", "surrogatepass"))
                total = (total + int.from_bytes(h.digest()[:16], "big")) % (1 << 128)
                n += 1
    return n, f"{total:032x}"


def _count(db: Database, table: Table) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def _upsert(db: Database, table: Table) -> Any:
    keys = [c.name for c in _pk(table)]
    rest = [c.name for c in table.columns if c.name not in keys]
    if not rest:
        return dialect.insert_ignore(db.dialect, table, keys)
    return dialect.upsert(db.dialect, table, keys, rest)


def reset_sequences(db: Database) -> list[str]:
    """PostgreSQL: move every serial column's sequence past the highest copied id (else the next
    insert would reuse id 1). Returns the sequences set. SQLite needs nothing."""
    if db.is_sqlite:
        return []
    done = []
    with db.write() as conn:
        for table in metadata.sorted_tables:
            pk = list(table.primary_key.columns)
            if len(pk) != 1 or not isinstance(pk[0].type, Integer) or pk[0].autoincrement is False:
                continue
            seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": table.name, "c": pk[0].name}).scalar()
            if not seq:
                continue
            top = conn.execute(select(func.max(pk[0]))).scalar()
            conn.execute(text("SELECT setval(:s, :v, :called)"),
                         {"s": seq, "v": int(top or 1), "called": top is not None})
            done.append(str(seq))
    return done


def copy_database(source_url: str, target_url: str, *, batch: int = 2000, replace: bool = False,
                  progress: Progress | None = None) -> list[TableReport]:
    """Copy every table of the schema from ``source_url`` to ``target_url`` (migrated first, under
    its lock), verify counts and checksums, reset sequences. Raises MigrationMismatch when a table
    differs afterwards (the reports say which)."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    src = Database(source_url, read_only=True)
    dst = Database(target_url)
    try:
        have = src.revision()
        if have != head_revision():
            raise SchemaOutOfDate(f"the source {src.safe_url} is at schema revision {have or '(none)'}, this "
                                  f"papersift copies {head_revision()}: run `papersift db upgrade` on it first")
        dst.upgrade()
        tables = list(metadata.sorted_tables)
        if replace:
            with dst.write() as conn:
                for table in reversed(tables):
                    conn.execute(delete(table))
        reports = []
        for table in tables:
            total = _count(src, table)
            done = 0
            if progress:
                progress(table.name, 0, total)
            stmt = _upsert(dst, table)
            with src.read() as sconn:
                for rows in _batches(sconn, table, batch):
                    with dst.write() as dconn:
                        dconn.execute(stmt, rows)
                    done += len(rows)
                    if progress:
                        progress(table.name, done, total)
            s_rows, s_sum = checksum(src, table)
            t_rows, t_sum = checksum(dst, table)
            reports.append(TableReport(table.name, s_rows, t_rows, done, s_sum, t_sum))
            log.info("migrate: %s: %d rows copied, source %d / target %d rows, checksums %s", table.name, done,
                     s_rows, t_rows, "equal" if s_sum == t_sum else "DIFFER")
        reset_sequences(dst)
    finally:
        src.close()
        dst.close()
    bad = [r for r in reports if not r.ok]
    if bad:
        raise MigrationMismatch("the target differs from the source in " + ", ".join(
            f"{r.table} ({r.source_rows} rows in the source, {r.target_rows} in the target)" for r in bad)
            + ": rows deleted from the source since an earlier run stay in the target; re-run with --replace")
    return reports
