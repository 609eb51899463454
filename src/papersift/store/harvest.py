"""Harvest state and harvested pages (SQL only).

``commit_page`` writes one OAI-PMH page in ONE write transaction: its papers (merged as any ingest
merges them), its deletions (``papers.deleted``), its rejected records (the ingest log) and the
state to go on from (the next resumption token, or the new high-water mark when the list is
complete). A harvest killed at any moment therefore resumes from the last committed page, with
no duplicates and no gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from papersift.models import IngestStats, Paper, ParseError
from papersift.store import dialect
from papersift.store import embeddings as vectors_sql
from papersift.store.db import Database, next_change
from papersift.store.papers import SQLStore
from papersift.store.schema import harvest_state, ingest_errors, papers

STATE_COLUMNS = ("high_water", "endpoint", "metadata_prefix", "token", "run_from", "run_until", "run_max",
                 "pages", "cursor", "complete_size")


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class HarvestState:
    source: str
    set_spec: str = ""
    high_water: str | None = None
    endpoint: str | None = None
    metadata_prefix: str | None = None
    token: str | None = None
    run_from: str | None = None
    run_until: str | None = None
    run_max: str | None = None
    pages: int = 0
    cursor: int | None = None
    complete_size: int | None = None
    updated_at: datetime | None = None

    def values(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in STATE_COLUMNS}


@dataclass
class PageResult:
    stats: IngestStats = field(default_factory=IngestStats)
    deleted: int = 0  # papers hidden by this page
    deleted_unknown: int = 0  # deleted records of papers the store does not hold
    restored: int = 0  # papers reported deleted before, live again


def get_state(db: Database, source: str, set_spec: str = "") -> HarvestState:
    with db.read() as conn:
        row = conn.execute(select(harvest_state).where(harvest_state.c.source == source,
                                                       harvest_state.c.set_spec == set_spec)).first()
    return HarvestState(**dict(row._mapping)) if row else HarvestState(source, set_spec)


def all_states(db: Database) -> list[HarvestState]:
    with db.read() as conn:
        return [HarvestState(**dict(r._mapping)) for r in
                conn.execute(select(harvest_state).order_by(harvest_state.c.source, harvest_state.c.set_spec))]


def save_state(conn: Connection, db: Database, state: HarvestState) -> None:
    state.updated_at = now()
    values = {**state.values(), "updated_at": state.updated_at}
    conn.execute(dialect.upsert(db.dialect, harvest_state, ["source", "set_spec"], list(values)),
                 {"source": state.source, "set_spec": state.set_spec, **values})


def write_state(db: Database, state: HarvestState) -> None:
    with db.write() as conn:
        save_state(conn, db, state)


def _mark(conn: Connection, arxiv_ids: list[str], deleted: bool) -> tuple[list[int], int]:
    """Set ``papers.deleted`` on the papers with these arXiv ids where it differs. Returns the pks
    changed (their seq still to stamp) and how many of the ids the store holds."""
    pks: list[int] = []
    held = 0
    for i in range(0, len(arxiv_ids), 900):
        chunk = arxiv_ids[i:i + 900]
        for pk, flag in conn.execute(select(papers.c.pk, papers.c.deleted).where(papers.c.arxiv_id.in_(chunk))):
            held += 1
            if bool(flag) != deleted:
                pks.append(int(pk))
    return pks, held


def apply_deletions(conn: Connection, live_ids: list[str], deleted_ids: list[str]) -> tuple[int, int, int]:
    """Inside a write: hide the papers of ``deleted_ids``, bring back those of ``live_ids`` that were
    hidden; both get a change number (the indexes drop / re-add them, vectors included). Returns
    (hidden, deleted ids not held, restored)."""
    gone, held = _mark(conn, deleted_ids, True)
    back, _ = _mark(conn, live_ids, False)
    if gone or back:
        seq = next_change(conn)
        for pks, flag in ((gone, True), (back, False)):
            for i in range(0, len(pks), 900):
                conn.execute(update(papers).where(papers.c.pk.in_(pks[i:i + 900])).values(deleted=flag, seq=seq))
            vectors_sql.touch(conn, pks, seq)
    return len(gone), len(set(deleted_ids)) - held, len(back)


def record_errors(conn: Connection, errors: list[ParseError]) -> None:
    rows = [{"source": e.source, "location": e.location, "reason": e.reason[:2000], "at": now()} for e in errors]
    if rows:
        conn.execute(ingest_errors.insert(), rows)


def commit_page(store: SQLStore, state: HarvestState | None, found: list[Paper], errors: list[ParseError],
                deleted_ids: list[str], source: str, restore: bool = True) -> PageResult:
    """One harvested page and the state after it, in one transaction (see the module doc).
    ``restore``: a live record brings back a paper reported deleted before (OAI-PMH is
    authoritative for arXiv; the Hugging Face list is not). ``state`` None: no state to keep (a fetch)."""
    res = PageResult()
    with store.db.write() as conn:
        if found:
            res.stats = store.upsert_in(conn, found, source=source)
        live = [p.arxiv_id for p in found if p.arxiv_id] if restore else []
        res.deleted, res.deleted_unknown, res.restored = apply_deletions(conn, live, deleted_ids)
        rejected = res.stats.errors + errors
        res.stats.read += len(errors)
        res.stats.rejected += len(errors)
        res.stats.errors = rejected
        record_errors(conn, rejected)
        if state is not None:
            save_state(conn, store.db, state)
    return res
