"""The worker's building blocks in one process: change log, leases, index ownership, jobs."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from papersift.config import Settings
from papersift.engine import IndexBusy, open_engine
from papersift.index.owner import IndexLock
from papersift.jobs.lease import JobLease
from papersift.jobs.registry import Job, Result
from papersift.jobs.worker import Worker
from papersift.models import Paper
from papersift.store import Database, SchemaOutOfDate, SQLStore
from papersift.store import jobs as jobs_sql
from papersift.store.db import head_revision


def papers(start: int, n: int, tag: str = "t") -> list[Paper]:
    return [Paper(title=f"{tag} paper {i} about lease tests", abstract=f"abstract {i}", arxiv_id=f"2101.{i:05d}",
                  sources=["test"]) for i in range(start, start + n)]


pytestmark = pytest.mark.backends


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    d = Database(db_url)
    d.upgrade()
    yield d
    d.close()


def test_concurrent_upserts_in_threads_get_unique_change_numbers(db: Database) -> None:
    store = SQLStore(db)
    seqs: list[int] = []
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for j in range(5):
                seqs.append(store.upsert_many(papers(k * 1000 + j * 100, 100)).seq)
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(seqs) == 40 and len(set(seqs)) == 40
    assert store.count() == 4000
    assert store.max_seq() == max(seqs)


def test_migrations_run_once_under_a_lock_from_many_threads(empty_db_url: str) -> None:
    url = empty_db_url
    results: list[bool] = []
    errors: list[BaseException] = []

    def up() -> None:
        try:
            results.append(Database(url).upgrade())
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=up) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results.count(True) == 1
    assert Database(url).revision() == head_revision()


def test_opening_a_store_never_migrates(empty_db_url: str) -> None:
    url = empty_db_url
    with pytest.raises(SchemaOutOfDate, match="papersift db upgrade"):
        SQLStore(url)
    assert Database(url).revision() is None


def test_lease_is_exclusive_and_expires(db: Database) -> None:
    jobs_sql.ensure(db, ["j"])
    got = []
    barrier = threading.Barrier(8)

    def claim(i: int) -> None:
        barrier.wait()
        got.append(jobs_sql.claim(db, "j", f"w{i}", ttl=60, due_only=False))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got.count(True) == 1
    assert not jobs_sql.claim(db, "j", "late", ttl=60, due_only=False)
    # an expired lease (its holder died) is taken over
    jobs_sql.ensure(db, ["k"])
    assert jobs_sql.claim(db, "k", "dead", ttl=1, due_only=False)
    time.sleep(1.1)
    assert not jobs_sql.renew(db, "k", "someone-else", 60)
    assert jobs_sql.claim(db, "k", "heir", ttl=60, due_only=False)
    assert not jobs_sql.renew(db, "k", "dead", 60)  # the dead holder cannot come back
    assert jobs_sql.get(db, "k").lease_owner == "heir"


def test_job_lease_records_outcome_and_history(db: Database) -> None:
    with JobLease(db, "demo", "w1", ttl=30, every=60) as lease:
        assert lease.acquired
        lease.detail = "did 3 things"
    row = jobs_sql.get(db, "demo")
    assert row is not None and row.last_outcome == "ok" and row.runs == 1 and row.lease_owner is None
    assert row.next_run_at is not None and row.last_detail == "did 3 things"
    with pytest.raises(RuntimeError), JobLease(db, "demo", "w1", ttl=30, every=60):
        raise RuntimeError("boom")
    row = jobs_sql.get(db, "demo")
    assert row.last_outcome == "failed" and row.failures == 1 and "boom" in row.last_detail
    assert [r["outcome"] for r in jobs_sql.runs(db, "demo")] == ["failed", "ok"]


def test_only_one_owner_per_data_dir_and_readers_never_write(settings: Settings) -> None:
    owner = open_engine(settings, "owner", owner="test", upgrade=True)
    try:
        with pytest.raises(IndexBusy, match="test"):
            open_engine(settings, "owner")
        reader = open_engine(settings, "auto")
        assert not reader.is_owner
        with pytest.raises(IndexBusy):
            reader.catch_up()
        owner.store.upsert_many(papers(0, 10))
        owner.catch_up()
        assert len(reader.refresh(force=True).lexical) == 10
        reader.close()
    finally:
        owner.close()
    again = open_engine(settings, "owner")
    assert again.is_owner
    again.close()


def test_a_killed_owner_leaves_no_stuck_lock(tmp_path: Path) -> None:  # the data dir's lock file: no store
    data = tmp_path / "d"
    code = ("import sys, time; from papersift.index.owner import IndexLock; from pathlib import Path;"
            "l = IndexLock(Path(sys.argv[1])); assert l.acquire('holder'); print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(data)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        lock = IndexLock(data)
        assert not lock.acquire("me")
        assert lock.owner()["role"] == "holder"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert lock.acquire("me")
        lock.release()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_lexical_only_data_dir_never_loads_the_model(settings: Settings) -> None:
    from papersift.search.service import search

    eng = open_engine(settings, "owner", upgrade=True)
    try:
        eng.store.upsert_many(papers(0, 5))
        eng.catch_up()
        res = search(eng, "lease tests")
        assert res.mode == "lexical" and len(res.hits) == 5
        assert eng.semantic.encoder._embedder is None
    finally:
        eng.close()


def test_worker_runs_index_and_embed_jobs_and_logs_one_line_each(settings: Settings,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    from papersift.jobs.registry import builtin_jobs
    from papersift.jobs.worker import lease_name

    settings.embedder = "hashing-384"
    eng = open_engine(settings, "reader", upgrade=True)
    eng.store.upsert_many(papers(0, 40))
    eng.close()
    caplog.set_level(logging.DEBUG, logger="papersift")
    Worker(settings).run(once=True)
    eng = open_engine(settings, "reader")
    try:
        assert len(eng.lexical) == 40
        assert len(eng.semantic) == 40
        rows = {r.name: r for r in jobs_sql.all_jobs(eng.db)}
        index_row = lease_name(settings, builtin_jobs(settings)[0])  # "index" (SQLite), "index@host:dir" (PG)
        assert index_row == "index" or (settings.database_url and index_row.startswith("index@"))
        assert rows[index_row].last_outcome == "ok" and rows["embed"].last_outcome == "ok"
        assert "embedded 40 papers" in rows["embed"].last_detail
    finally:
        eng.close()
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.getMessage().startswith("job ")]
    assert [m.split(" ")[1] for _lvl, m in lines] == ["index", "embed"]  # one line per job run
    # the index was caught up when the worker became owner: its run found nothing (DEBUG, not INFO)
    assert lines[0] == (logging.DEBUG, lines[0][1]) and lines[0][1].startswith("job index ok")
    assert lines[1][0] == logging.INFO and "embedded 40 papers" in lines[1][1]


def test_a_failing_job_is_recorded_with_its_traceback_and_the_worker_goes_on(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:

    def broken(_ctx: object) -> Result:
        raise ValueError("no such feed")

    ran = []

    def fine(_ctx: object) -> Result:
        ran.append(1)
        return Result("fine")

    caplog.set_level(logging.INFO, logger="papersift")
    Worker(settings, jobs=[Job("broken", 60, broken), Job("fine", 60, fine)]).run(once=True)
    db = Database(settings.db_url)
    row = jobs_sql.get(db, "broken")
    assert row.last_outcome == "failed" and "ValueError: no such feed" in row.last_detail
    assert ran == [1]
    failed = [r for r in caplog.records if "job broken failed" in r.getMessage()]
    assert failed and failed[0].exc_info is not None


def test_vector_catch_up_reads_each_new_vector_once(settings: Settings) -> None:
    from papersift.index.embed_stage import embed_pending
    from papersift.store import embeddings as vectors_sql

    settings.embedder = "hashing-384"
    eng = open_engine(settings, "owner", upgrade=True)
    try:
        eng.store.upsert_many(papers(0, 300))
        report = embed_pending(eng.db, eng.semantic.encoder.embedder(), chunk=64)
        assert report.embedded == 300
        pages = list(vectors_sql.changed(eng.db, "hashing-384", 0, batch=50))
        keys = [int(k) for ks, _v, _s in pages for k in ks]
        assert len(keys) == len(set(keys)) == 300
        assert eng.catch_up_vectors(force_save=True) == 300
        assert eng.catch_up_vectors(force_save=True) == 0  # nothing read twice
        # a changed text is embedded again; an unchanged one only moves its change number on
        eng.store.upsert_many([Paper(title="t paper 0 about lease tests", abstract="a new abstract",
                                     arxiv_id="2101.00000", version=2, sources=["test"])])
        again = embed_pending(eng.db, eng.semantic.encoder.embedder())
        assert (again.embedded, again.unchanged) == (1, 0)
        assert eng.catch_up_vectors(force_save=True) == 1
    finally:
        eng.close()


def test_feed_queries_use_the_daily_moment_index(db: Database) -> None:
    """The DDL of migration 0004 and the expression the feed queries build must stay the same, so
    that every feed query is an index range scan (no full scan, no sort of the whole table)."""
    from datetime import date

    from sqlalchemy import func, select, text

    from papersift.store import feeds
    from papersift.store.schema import papers as papers_t

    SQLStore(db).upsert_many(papers(0, 50))
    m = feeds.moment_expr(db.dialect)
    day = feeds._where(db, date(2024, 1, 1), date(2024, 1, 31), None)
    queries = {
        "newest page": select(*feeds.COLUMNS).where(*day).order_by(m.desc(), papers_t.c.id).limit(25),
        "latest day": select(func.max(m)),
        "count": select(func.count()).select_from(papers_t).where(*day),
        "voted": select(papers_t.c.pk).where(papers_t.c.upvotes > 0, *day),
    }
    if not db.is_sqlite:
        with db.read() as conn:
            # 50 rows: the planner would rightly scan; forbid that to see whether the index matches
            conn.execute(text("SET enable_seqscan = off"))
            conn.execute(text("SET enable_sort = off"))
            for name, q in queries.items():
                compiled = q.compile(dialect=db.engine.dialect)
                plan = " | ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params))
                assert "ix_papers_daily_moment" in plan, (name, plan)
                # an incremental sort orders only the ties of one moment (by id); a full sort is a failure
                rest = plan.replace("Incremental Sort", "").replace("Sort Key", "").replace("Presorted Key", "")
                assert "Sort" not in rest, (name, plan)
        return
    with db.read() as conn:
        ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ix_papers_daily_moment'")).scalar()
        assert feeds.moment_sql("sqlite") in ddl
        for name, q in queries.items():
            compiled = q.compile(dialect=db.engine.dialect)  # with its parameters bound, as at run time
            params = tuple(compiled.params[k] for k in compiled.positiontup or ())
            plan = " | ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params))
            assert "ix_papers_daily_moment" in plan, (name, plan)
            assert "TEMP B-TREE FOR ORDER BY" not in plan, (name, plan)


def test_stats_snapshot_is_what_requests_read_and_the_owner_refreshes(db: Database,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from papersift.store import stats

    store = SQLStore(db)
    store.upsert_many(papers(0, 10))
    first = stats.snapshot(db)  # none yet: computed once
    assert first["papers"] == 10 and first["sources"] == {"test": 10}
    store.upsert_many(papers(10, 5))
    assert stats.snapshot(db)["papers"] == 10  # a request never recomputes
    assert not stats.refresh(db)  # changed, but younger than REFRESH_EVERY
    monkeypatch.setattr(stats, "REFRESH_EVERY", 0.0)
    assert stats.refresh(db)
    assert stats.snapshot(db)["papers"] == 15
    assert not stats.refresh(db, force=True)  # nothing changed since: nothing to do


def test_vectors_of_an_older_data_dir_are_imported_not_embedded_again(tmp_path: Path) -> None:
    """A data dir embedded before vectors lived in the store keeps its vectors after the upgrade.
    SQLite only: the old layout is an older SQLite data dir, rewritten here through its file."""
    import json
    import sqlite3

    from papersift.index.embed_stage import embed_pending, pending

    settings = Settings(data_dir=tmp_path / "d", embedder="hashing-384")
    eng = open_engine(settings, "owner", upgrade=True)
    eng.store.upsert_many(papers(0, 30))
    embed_pending(eng.db, eng.semantic.encoder.embedder())
    eng.catch_up_vectors(force_save=True)
    eng.close()
    # turn it into the old layout: vectors only in the index file, state.json with "run" and the
    # store change it reached
    state_path = next((tmp_path / "d" / "vectors").rglob("state.json"))
    state = json.loads(state_path.read_text())
    con = sqlite3.connect(tmp_path / "d" / "papersift.db")
    top = con.execute("SELECT max(seq) FROM papers").fetchone()[0]
    con.execute("DELETE FROM embeddings")
    con.commit()
    con.close()
    state_path.write_text(json.dumps({**state, "seq": top, "run": None}))
    eng = open_engine(settings, "owner")  # the owner's catch-up imports them
    try:
        assert pending(eng.db, "hashing-384") == 0
        assert len(eng.semantic) == 30
        hits = eng.semantic.search("t paper 7 about lease tests", 1)
        assert hits and eng.store.get_many([hits[0][0]])[hits[0][0]].arxiv_id == "2101.00007"
        assert "run" not in json.loads(state_path.read_text())
    finally:
        eng.close()


def test_every_host_follows_the_change_log_into_its_own_indexes(tmp_path: Path, pg_url: str) -> None:
    """Two data dirs on one PostgreSQL (two app hosts): a paper written by any process becomes
    searchable on both, each host's worker indexing its own files under its own lease, with no
    manual step; the store-wide embed job still runs once."""
    from papersift.jobs.registry import builtin_jobs
    from papersift.jobs.worker import lease_name
    from papersift.search.service import search

    db_url = pg_url
    hosts = [Settings(data_dir=tmp_path / f"host{i}", database_url=db_url, embedder="hashing-384") for i in (1, 2)]
    writer = open_engine(hosts[0], "reader", upgrade=True)  # e.g. an ingest beside host 1's worker
    writer.store.upsert_many(papers(0, 12, tag="zqshared"))
    writer.close()
    for s in hosts:
        Worker(s).run(once=True)
    index_jobs = {lease_name(s, builtin_jobs(s)[0]) for s in hosts}
    assert len(index_jobs) == 2 and all(n.startswith("index@") for n in index_jobs)
    db = Database(db_url)
    try:
        rows = {r.name: r for r in jobs_sql.all_jobs(db)}
        assert all(rows[n].last_outcome == "ok" for n in index_jobs)
        assert rows["embed"].runs == 1  # store-wide: the second host's worker found it done
    finally:
        db.close()
    for s in hosts:
        eng = open_engine(s, "reader")
        try:
            assert len(eng.lexical) == 12 and len(eng.semantic) == 12
            assert len(search(eng, "zqshared paper 7", limit=3).hits) >= 1
        finally:
            eng.close()
