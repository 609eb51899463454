"""Corpus statistics (sources, categories, date range, counts) without a scan per request.

Computing them reads every paper row, so requests never do it: they read a snapshot kept in
``meta`` (key "stats") together with the change number it reflects. The index owner refreshes it
after catching up (at most every ``REFRESH_EVERY`` seconds while the store changes, at once when
asked), and the first reader of a data dir that has none computes it once.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import false, func, select, true

from papersift.store import dialect
from papersift.store.db import Database, current_change
from papersift.store.schema import ingest_errors, ingest_files, meta, papers

log = logging.getLogger(__name__)
KEY = "stats"
REFRESH_EVERY = 60.0  # seconds


def compute(db: Database) -> dict[str, Any]:
    """Aggregate the papers table in SQL (a scan, O(N): for the owner and the CLI, never for a
    request); only the grouped counts travel to Python."""
    d = db.dialect
    with db.read() as conn:
        change = current_change(conn)
        live = papers.c.deleted == false()  # papers arXiv reported deleted are not counted
        n = conn.execute(select(func.count()).select_from(papers).where(live)).scalar() or 0
        deleted = conn.execute(select(func.count()).select_from(papers).where(papers.c.deleted.is_(True))).scalar()
        lo, hi = conn.execute(select(func.min(papers.c.published), func.max(papers.c.published)).where(live)).one()
        files = conn.execute(select(func.count()).select_from(ingest_files)).scalar() or 0
        errors = conn.execute(select(func.count()).select_from(ingest_errors)).scalar() or 0
        item = dialect.json_array_items(d, papers.c.sources)
        sources = {str(k): int(v) for k, v in conn.execute(
            select(item.c.value, func.count()).select_from(papers).join(item, true()).where(live)
            .group_by(item.c.value))
            if k is not None}
        first = dialect.json_first(d, papers.c.categories).label("cat")
        top = {str(k): int(v) for k, v in conn.execute(
            select(first, func.count().label("n")).where(live, first.is_not(None)).group_by(first)
            .order_by(func.count().desc(), first).limit(20))}
    return {"papers": int(n), "deleted": int(deleted or 0), "published_min": lo.isoformat() if lo else None,
            "published_max": hi.isoformat() if hi else None, "files_ingested": int(files),
            "ingest_errors": int(errors), "sources": dict(sorted(sources.items())), "top_categories": top,
            "as_of_change": change, "as_of": datetime.now(UTC).isoformat(timespec="seconds")}


def save(db: Database, stats: dict[str, Any]) -> None:
    with db.write() as conn:
        conn.execute(dialect.upsert(db.dialect, meta, ["key"], ["value"]), {"key": KEY, "value": json.dumps(stats)})


def load(db: Database) -> dict[str, Any] | None:
    with db.read() as conn:
        raw = conn.execute(select(meta.c.value).where(meta.c.key == KEY)).scalar()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        log.warning("stats snapshot is not JSON; recomputing it")
        return None


def snapshot(db: Database) -> dict[str, Any]:
    """The latest snapshot (computed once if the data dir has none)."""
    got = load(db)
    if got is None:
        got = compute(db)
        if not db.read_only:  # a read-only data dir computes it for every caller instead
            save(db, got)
    return got


def refresh(db: Database, force: bool = False) -> bool:
    """Owner: recompute the snapshot if the store changed since it was taken and it is older than
    REFRESH_EVERY seconds (or ``force``). True if it was recomputed."""
    old = load(db)
    with db.read() as conn:
        change = current_change(conn)
    if old is not None and int(old.get("as_of_change", -1)) == change:
        return False
    if old is not None and not force:
        try:
            age = time.time() - datetime.fromisoformat(old["as_of"]).timestamp()
        except (KeyError, ValueError):
            age = REFRESH_EVERY
        if age < REFRESH_EVERY:
            return False
    save(db, compute(db))
    return True
