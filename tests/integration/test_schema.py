"""The migrated schema equals the models (store/schema.py), on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, BigInteger, Integer, String, inspect, text

from papersift.store import Database
from papersift.store.schema import metadata
from tests.conftest import make_paper

pytestmark = pytest.mark.backends


def _sqlite_type_differs(_ctx: Any, _col: Any, _meta_col: Any, inspected: Any, metadata_type: Any) -> bool | None:
    """SQLite stores by storage class and ignores declared widths (VARCHAR(200) holds 512 characters,
    INTEGER holds 64 bits), so migration 0005 rewrites no SQLite table: compare classes there."""
    def cls(t: Any) -> str:
        if isinstance(t, String):
            return "text"
        if isinstance(t, Integer | BigInteger):
            return "int"
        if isinstance(t, JSON):
            return "json"
        return type(t).__name__
    if cls(inspected) == cls(metadata_type) or {cls(inspected), cls(metadata_type)} == {"text", "json"}:
        return False
    return None  # alembic's own comparison


def _not_the_moment_index(obj: Any, name: str | None, type_: str, _reflected: bool, _other: Any) -> bool:
    return not (type_ == "index" and name == "ix_papers_daily_moment")


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrated_schema_equals_the_models(empty_db_url: str, backend: str) -> None:
    db = Database(empty_db_url)
    try:
        db.upgrade()
        with db.engine.connect() as conn:
            opts: dict[str, Any] = {"compare_type": _sqlite_type_differs if backend == "sqlite" else True,
                                    "include_object": _not_the_moment_index}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
            # the daily-moment expression index (0004) differs by dialect, so the models do not declare
            # it: it must exist by name (tests/integration/test_worker.py checks the planner uses it)
            q = ("SELECT name FROM sqlite_master WHERE type = 'index'" if backend == "sqlite"
                 else "SELECT indexname FROM pg_indexes WHERE tablename = 'papers'")
            names = set(conn.execute(text(q)).scalars())
        assert diff == [], "\n".join(map(str, diff))
        assert {"ix_papers_daily_moment", "ix_papers_submitted_by"} <= names
    finally:
        db.close()


def test_postgres_columns_have_the_portable_types(pg_empty_url: str) -> None:
    """PostgreSQL enforces declared types (SQLite does not): they are the portable ones."""
    db = Database(pg_empty_url)
    try:
        db.upgrade()
        cols = {(t, c["name"]): c["type"] for t in ("papers", "paper_aliases", "ingest_files")
                for c in inspect(db.engine).get_columns(t)}
    finally:
        db.close()
    assert type(cols["papers", "authors"]).__name__ == "JSONB"
    assert cols["papers", "id"].length == 512 and cols["paper_aliases", "alias"].length == 512
    assert isinstance(cols["ingest_files", "size"], BigInteger) and isinstance(cols["papers", "seq"], BigInteger)


def test_postgres_upgrade_from_0004_keeps_the_rows(pg_empty_url: str) -> None:
    """0005 (and every later migration) on a PostgreSQL database with data: JSON becomes JSONB value
    for value, sizes BIGINT, the row survives to the newest revision."""
    from pathlib import Path

    from alembic import command
    from alembic.config import Config

    from papersift.store import open_store
    from papersift.store.db import MIGRATIONS, head_revision

    db = Database(pg_empty_url)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0004")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO papers (id, norm_title, title, abstract, authors, categories, links, "
                              "sources, first_seen, seq, upvotes) VALUES ('x1', 'a b c', 'A b c', '', '[\"Ada\"]', "
                              "'[\"cs.LG\"]', '{\"abs\": \"u\"}', '[\"t\"]', now(), 1, 0)"))
        assert db.upgrade() is True and db.revision() == head_revision()
    finally:
        db.close()
    store = open_store(pg_empty_url)
    try:
        p = store.get("x1")
        assert p is not None and (p.authors, p.categories, p.links) == (["Ada"], ["cs.LG"], {"abs": "u"})
        big = Path(__file__)
        store.mark_file(big, "0" * 64, "jsonl", 1, 0)
        assert store.file_done(big, "0" * 64)
        assert store.upsert_many([make_paper(1, arxiv_id=None, id="y" * 512)]).new == 1  # 512 characters fit
    finally:
        store.close()
