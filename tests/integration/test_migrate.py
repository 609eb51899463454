"""`papersift migrate`: a SQLite data dir copied to PostgreSQL, verified, re-runnable."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from papersift import accounts
from papersift.accounts import interests
from papersift.cli import app
from papersift.config import Settings
from papersift.engine import open_engine
from papersift.index.embed_stage import embed_pending
from papersift.notify import prefs as digest_prefs
from papersift.search.service import search
from papersift.store import Database, embeddings
from papersift.store import digest as digest_sql
from papersift.store import harvest as harvest_sql
from papersift.store import jobs as jobs_sql
from papersift.store.migrate import MigrationMismatch, checksum, copy_database
from papersift.store.schema import metadata, votes
from tests.conftest import make_paper, restored_root_logger

runner = CliRunner(env={"PAPERSIFT_EMBEDDER": "hashing-384", "COLUMNS": "200", "PAPERSIFT_LOG_LEVEL": "WARNING"})


def _filled_sqlite(tmp_path: Path) -> Settings:
    """A SQLite data dir with a row in every table: papers (one with an alias), vectors, users,
    sessions, API tokens, votes, jobs and their runs, the ingest log, counters, meta, harvest state,
    follows, library, feedback, digest settings and sends."""
    settings = Settings(data_dir=tmp_path / "sqlite", embedder="hashing-384")
    eng = open_engine(settings, "owner", upgrade=True)
    try:
        store = eng.store
        store.upsert_many([make_paper(i) for i in range(1, 41)])
        store.upsert_many([make_paper(100, arxiv_id=None, title="A paper first seen without an arXiv id here",
                                      doi="10.1/x")])
        store.upsert_many([make_paper(100, arxiv_id="2301.09999", title="A paper first seen without an arXiv id "
                                                                        "here", doi="10.1/x")])  # -> alias
        f = tmp_path / "in.jsonl"
        f.write_text("{}\n")
        store.mark_file(f, "ab" * 32, "jsonl", 1, 1)
        store.record_errors([])
        embed_pending(eng.db, eng.semantic.encoder.embedder())
        alice = accounts.create_user(eng.db, "alice", "alice-password-1", is_admin=True)
        bob = accounts.create_user(eng.db, "bob", "bob-password-12")
        accounts.create_session(eng.db, alice)
        accounts.create_api_token(eng.db, bob, "script")
        for u in (alice, bob):
            accounts.set_vote(eng.db, u, store.get("2301.00003"))
        alice_u = accounts.get_user(eng.db, "alice")
        assert alice_u is not None
        interests.follow(eng.db, alice_u, "category", "cs.LG")
        interests.save(store, alice_u, "2301.00004", ["to-read"])
        interests.set_feedback(store, alice_u, "2301.00005", 1)
        digest_prefs.update_prefs(eng.db, alice_u.id, enabled=True, hour=7, timezone="Europe/Paris")
        now = datetime(2026, 1, 2, tzinfo=UTC).replace(tzinfo=None)
        send = digest_sql.claim(eng.db, alice_u.id, "2026-01-02", "w1", now, now, 3)
        assert send is not None and digest_sql.mark_empty(eng.db, send, "w1", now)
        harvest_sql.write_state(eng.db, harvest_sql.HarvestState("arxiv", "cs", high_water="2026-01-01"))
        jobs_sql.ensure(eng.db, ["index", "embed"])
        assert jobs_sql.claim(eng.db, "embed", "w1", 60)
        jobs_sql.finish(eng.db, "embed", "w1", "ok", 0.5, "embedded 41", None)
        eng.catch_up()
        from papersift.store import stats
        stats.save(eng.db, stats.compute(eng.db))
    finally:
        eng.close()
    return settings


def test_migrate_sqlite_to_postgres_copies_everything_and_can_be_rerun(tmp_path: Path, pg_url: str) -> None:
    src = _filled_sqlite(tmp_path)
    src_db = Database(src.db_url)
    try:
        for t in metadata.sorted_tables:
            assert checksum(src_db, t)[0] > 0 or t.name in ("ingest_errors", "login_attempts"), t.name
    finally:
        src_db.close()
    with restored_root_logger():
        res = runner.invoke(app, ["migrate", "--from", src.db_url, "--to", pg_url, "--batch", "7", "--json"])
    assert res.exit_code == 0, res.output
    tables = {t["table"]: t for t in json.loads(res.stdout)["tables"]}
    assert set(tables) == {t.name for t in metadata.sorted_tables}  # every table, generically
    assert tables["papers"]["rows"] == 41 and tables["paper_aliases"]["rows"] == 1
    assert tables["votes"]["rows"] == 2 and tables["embeddings"]["rows"] == 41 and all(t["ok"] for t in tables.values())
    again = copy_database(src.db_url, pg_url, batch=1000)  # re-running converges to the same rows
    assert {r.table: r.target_checksum for r in again} == {n: t["checksum"] for n, t in tables.items()}

    # the PostgreSQL side works as a papersift store: logins, votes, search, new ids after the copied ones
    pg = Settings(data_dir=tmp_path / "pg", database_url=pg_url, embedder="hashing-384")
    eng = open_engine(pg, "owner")
    try:
        assert eng.store.get("2301.09999").doi == "10.1/x"
        assert eng.store.get(eng.store.get("2301.09999").id) is not None
        assert eng.store.get("2301.00003").upvotes == 2
        assert accounts.authenticate(eng.db, "alice", "alice-password-1") is not None
        carol = accounts.create_user(eng.db, "carol", "carol-password-1")  # sequences were reset
        assert carol.id == 3
        assert accounts.set_vote(eng.db, carol, eng.store.get("2301.00003")) == (True, 3)
        assert len(eng.semantic) == 41 and np.isfinite(embeddings.max_seq(eng.db, "hashing-384"))
        assert search(eng, "graph neural networks", limit=5).hits
        assert eng.store.upsert_many([make_paper(500)]).new == 1
    finally:
        eng.close()

    # the target now has rows the source never had: a re-run says so instead of passing
    with pytest.raises(MigrationMismatch, match="papers"):
        copy_database(src.db_url, pg_url)


def test_migrate_reports_a_target_that_differs_and_replace_fixes_it(tmp_path: Path, pg_url: str) -> None:
    src = _filled_sqlite(tmp_path)
    copy_database(src.db_url, pg_url)
    db = Database(src.db_url)
    try:
        with db.write() as conn:
            conn.execute(delete(votes))  # withdrawn in the source after the first copy
    finally:
        db.close()
    with pytest.raises(MigrationMismatch, match="votes"):
        copy_database(src.db_url, pg_url)
    reports = copy_database(src.db_url, pg_url, replace=True)
    assert all(r.ok for r in reports)
    assert next(r for r in reports if r.table == "votes").target_rows == 0


def test_migrate_refuses_a_source_behind_the_schema(tmp_path: Path, pg_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Database(url).engine.connect().close()
    with restored_root_logger():
        res = runner.invoke(app, ["migrate", "--from", url, "--to", pg_url])
    assert res.exit_code == 1 and "db upgrade" in res.output


def test_eval_on_postgres_equals_eval_on_sqlite(tmp_path: Path, pg_empty_url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`papersift eval --database-url` stores the collection in PostgreSQL: same metrics, every mode."""
    from papersift.evaluate import evaluate
    from tests.integration.test_evaluate import write_collection

    monkeypatch.setenv("PAPERSIFT_EMBEDDER", "hashing-384")
    monkeypatch.setenv("PAPERSIFT_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/never-used")
    coll = write_collection(tmp_path / "coll")
    modes = ["lexical", "semantic", "hybrid"]
    on_sqlite = evaluate(coll, modes)  # the deployment's URL in the environment is never used
    on_pg = evaluate(coll, modes, database_url=pg_empty_url)
    strip = {m: {k: v for k, v in r.items() if k != "query_ms"} for m, r in on_sqlite["modes"].items()}
    assert {m: {k: v for k, v in r.items() if k != "query_ms"} for m, r in on_pg["modes"].items()} == strip
    assert on_pg["docs"] == on_sqlite["docs"] > 0
    with pytest.raises(ValueError, match="empty"):  # never into a database that holds papers
        evaluate(coll, ["lexical"], database_url=pg_empty_url)
