"""The arXiv OAI-PMH harvester against fake endpoints over real HTTP on 127.0.0.1 (tests/fakes)."""

from __future__ import annotations

import email.utils
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from papersift.config import Settings
from papersift.engine import Engine, open_engine
from papersift.harvest import harvest_arxiv
from papersift.sources.http import PoliteClient, SourceError
from papersift.sources.oai import OaiError
from papersift.store import feeds, stats
from papersift.store import harvest as harvest_sql
from papersift.store.db import current_change
from tests.conftest import backend_database_url
from tests.fakes.servers import FakeOai, Fault, StaticOai, make_records

PAPERSIFT = str(Path(sys.executable).with_name("papersift"))
pytestmark = pytest.mark.backends



def client(delay: float = 0.0, **kw: object) -> PoliteClient:
    return PoliteClient(delay=delay, contact="harvest-tests@example.org", backoff=0.05, **kw)  # type: ignore[arg-type]


def harvest(eng: Engine, srv: FakeOai, delay: float = 0.0, **kw: object):
    with client(delay) as c:
        return harvest_arxiv(eng, c, endpoint=f"{srv.base}/oai", **kw)  # type: ignore[arg-type]


def papers_of(eng: Engine) -> list[tuple[str, str, int | None, bool]]:
    """Every stored paper, deleted ones included: (id, title, version, deleted)."""
    with eng.db.read() as conn:
        return sorted((r[0], r[1], r[2], bool(r[3])) for r in conn.exec_driver_sql(
            "SELECT id, title, version, deleted FROM papers"))


def test_full_harvest_across_resumption_tokens(engine: Engine) -> None:
    with FakeOai(make_records(23), page_size=5) as srv:
        rep = harvest(engine, srv)
    assert (rep.pages, rep.new, rep.updated, rep.deleted, rep.rejected) == (5, 23, 0, 0, 0)
    assert rep.complete and rep.list_size == 23
    reqs = srv.list_requests()
    assert len(reqs) == 5
    assert reqs[0].query == {"verb": "ListRecords", "metadataPrefix": "arXivRaw"}  # no state: from the start
    assert [r.query.get("resumptionToken") for r in reqs[1:]] == [f"o{n}|||" for n in (5, 10, 15, 20)]
    assert all(r.user_agent.startswith("papersift/") and "harvest-tests@example.org" in r.user_agent for r in reqs)
    assert engine.store.count() == 23
    p = engine.store.get("2401.00007")
    assert p is not None and p.title == "Harvested paper number 7 on resumption tokens"
    assert p.authors == ["Ada Lovelace", "Alan Turing"] and p.categories == ["cs.LG", "stat.ML"]
    assert p.published == date(2024, 1, 1) and p.version == 1
    hits, total = engine.lexical.search("resumption tokens", limit=50)
    assert total == 23 and len(hits) == 23  # indexed as it went (this process owns the indexes)
    state = harvest_sql.get_state(engine.db, "arxiv")
    assert state.high_water == "2024-01-10" and state.token is None


def test_rerun_fetches_nothing_new_then_only_what_is_new(engine: Engine) -> None:
    records = make_records(12)
    with FakeOai(records, page_size=5) as srv:
        harvest(engine, srv)
        with engine.db.read() as conn:
            change = current_change(conn)
        before = papers_of(engine)
        srv.requests.clear()
        again = harvest(engine, srv)
        assert srv.list_requests()[0].query["from"] == "2024-01-10"  # the high-water mark
        assert (again.new, again.updated, again.deleted) == (0, 0, 0)
        assert again.unchanged == 12  # the overlapping day, fetched again, changes nothing
        with engine.db.read() as conn:
            assert current_change(conn) == change  # not even a change number
        assert papers_of(engine) == before
        # a new day arrives: a plain re-run gets it (and the old day again, unchanged)
        srv.records += make_records(4, day="2024-01-11", start=100)
        srv.requests.clear()
        third = harvest(engine, srv)
        assert srv.list_requests()[0].query["from"] == "2024-01-10"
        assert (third.new, third.updated) == (4, 0)
        assert harvest_sql.get_state(engine.db, "arxiv").high_water == "2024-01-11"
        srv.requests.clear()
        fourth = harvest(engine, srv)
        assert srv.list_requests()[0].query["from"] == "2024-01-11"
        assert (fourth.new, fourth.updated, fourth.unchanged) == (0, 0, 4)
    assert engine.store.count() == 16


def test_503_retry_after_is_honoured_and_delay_between_requests_kept(engine: Engine,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    http_date = email.utils.formatdate(time.time() + 5, usegmt=True)  # ~3 s ahead by request 4
    with FakeOai(make_records(20), page_size=5) as srv:
        srv.faults = {2: Fault(503, retry_after="1"), 4: Fault(503, retry_after=http_date)}
        with caplog.at_level(logging.WARNING, "papersift.sources.http"):
            rep = harvest(engine, srv, delay=0.3)
    assert rep.new == 20 and rep.pages == 4 and rep.requests == 6
    gaps = srv.gaps()
    assert len(gaps) == 5
    assert min(gaps) >= 0.3, gaps  # the delay between requests, measured where the requests arrive
    assert gaps[1] >= 1.0, gaps  # request 2 answered 503 Retry-After: 1 -> request 3 a second later
    assert gaps[3] >= 2.0, gaps  # Retry-After as an HTTP date
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("HTTP 503" in w and "Retry-After" in w for w in warnings)


def test_truncated_slow_and_malformed_pages_are_fetched_again(engine: Engine) -> None:
    with FakeOai(make_records(15), page_size=5) as srv:
        srv.faults = {2: Fault(truncate=200), 3: Fault(body=b"<OAI-PMH><ListRecords><record>"),
                      5: Fault(slow=0.3)}
        rep = harvest(engine, srv)
    assert (rep.pages, rep.new, rep.rejected) == (3, 15, 0)
    assert rep.requests == 5  # 3 pages + a truncated and a malformed answer fetched again
    assert engine.store.count() == 15


def test_gives_up_after_bounded_tries_and_keeps_committed_pages(engine: Engine) -> None:
    with FakeOai(make_records(15), page_size=5) as srv:
        srv.faults = {n: Fault(503) for n in range(2, 10)}  # no Retry-After: exponential backoff
        with client(tries=3) as c, pytest.raises(SourceError, match="after 3 tries"):
            harvest_arxiv(engine, c, endpoint=f"{srv.base}/oai")
        assert len(srv.requests) == 4
        assert engine.store.count() == 5  # the first page was committed
        state = harvest_sql.get_state(engine.db, "arxiv")
        assert state.token == "o5|||" and state.pages == 1
        srv.faults = {}
        srv.requests.clear()
        rep = harvest(engine, srv)  # a plain re-run goes on from the committed token
    assert rep.resumed and rep.pages == 2 and rep.new == 10
    assert srv.requests[0].query == {"verb": "ListRecords", "resumptionToken": "o5|||"}
    assert engine.store.count() == 15


def test_expired_resumption_token_starts_the_list_again(engine: Engine) -> None:
    with FakeOai(make_records(15), page_size=5) as srv:
        srv.faults = {n: Fault(503) for n in range(2, 10)}
        with client(tries=1) as c, pytest.raises(SourceError):
            harvest_arxiv(engine, c, endpoint=f"{srv.base}/oai", from_=date(2024, 1, 1))
        srv.faults = {}
        srv.expired_tokens.add("o5|2024-01-01||")
        rep = harvest(engine, srv)
    assert (rep.new, rep.unchanged, rep.pages) == (10, 5, 3)
    assert engine.store.count() == 15


def test_oai_errors_are_clear(engine: Engine) -> None:
    with FakeOai(make_records(3)) as srv:
        rep = harvest(engine, srv, from_=date(2030, 1, 1))  # noRecordsMatch: done, nothing to do
        assert (rep.pages, rep.new, rep.complete) == (1, 0, True)
        with client() as c, pytest.raises(OaiError, match="cannotDisseminateFormat"):
            harvest_arxiv(engine, c, endpoint=f"{srv.base}/oai", prefix="arXiv")
        srv.requests.clear()
        by_set = harvest(engine, srv, set_spec="math")  # the records are all in "cs"
        assert srv.requests[0].query["set"] == "math" and (by_set.new, by_set.complete) == (0, True)
        cs = harvest(engine, srv, set_spec="cs")
        assert cs.new == 3
    states = {s.set_spec: s.high_water for s in harvest_sql.all_states(engine.db)}
    assert states == {"": None, "math": None, "cs": "2024-01-10"}  # one high-water mark per set


def test_deleted_and_malformed_records_are_handled_and_reported(tmp_path: Path, backend: str,
                                                               request: pytest.FixtureRequest,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path / "d", embedder="hashing-384",
                        database_url=backend_database_url(backend, request, monkeypatch))
    eng = open_engine(settings, "owner", upgrade=True)
    try:
        records = make_records(10)
        with FakeOai(records, page_size=4) as srv:
            harvest(eng, srv)
            from papersift.index.embed_stage import embed_pending

            embed_pending(eng.db, eng.semantic.encoder.embedder())
            eng.catch_up_vectors(force_save=True)
            victim = eng.store.get("2401.00003")
            assert victim is not None and victim.pk in eng.semantic.vectors.index
            assert stats.compute(eng.db)["papers"] == 10
            # the next day: two papers deleted (one held, one never seen), one record malformed
            srv.records = [*records,
                           *make_records(1, day="2024-01-11", start=3, deleted=True),
                           *make_records(1, day="2024-01-11", start=900, deleted=True),
                           *make_records(1, day="2024-01-11", start=500, malformed=True),
                           *make_records(1, day="2024-01-11", start=501)]
            srv.records = [r for r in srv.records if not (r.arxiv_id == "2401.00003" and not r.deleted)]
            rep = harvest(eng, srv)
        assert (rep.deleted, rep.deleted_unknown, rep.rejected, rep.new) == (1, 1, 1, 1)
        assert len(rep.errors) == 1 and "2401.00500" in rep.errors[0].reason and "no title" in rep.errors[0].reason
        assert rep.errors[0].location.startswith("record ")
        with eng.db.read() as conn:
            logged = [r[0] for r in conn.exec_driver_sql("SELECT reason FROM ingest_errors")]
        assert any("2401.00500" in r for r in logged)  # in the ingest log too
        # hidden everywhere, not silently kept
        assert eng.store.get("2401.00003") is None and eng.store.is_deleted("2401.00003")
        assert victim.pk not in eng.store.get_many([victim.pk])
        assert eng.store.count() == 10  # 10 - 1 deleted + 1 new
        hits, total = eng.lexical.search("harvested paper number 3", limit=100)
        assert victim.pk not in {pk for pk, _ in hits} and total == 10
        assert victim.pk not in {r.pk for r in feeds.newest(eng.db, None, None, limit=100)}
        assert feeds.count(eng.db, None, None) == 10
        eng.catch_up_vectors(force_save=True)
        assert victim.pk not in eng.semantic.vectors.index
        s = stats.compute(eng.db)
        assert s["papers"] == 10 and s["deleted"] == 1
        from papersift.store import embeddings as vectors_sql

        assert victim.pk not in {p.pk for p in vectors_sql.pending(eng.db, "hashing-384", limit=100)}
        # a reader sees the same (the owner's index commits)
        reader = open_engine(settings, "reader")
        try:
            assert reader.store.get("2401.00003") is None
            assert victim.pk not in {pk for pk, _ in reader.lexical.search("harvested paper", limit=100)[0]}
        finally:
            reader.close()
        # arXiv lists it live again: it comes back
        with FakeOai([*make_records(1, day="2024-01-12", start=3)], page_size=4) as srv2:
            back = harvest(eng, srv2)
        assert back.restored == 1 and eng.store.get("2401.00003") is not None
        eng.catch_up_vectors(force_save=True)
        assert victim.pk in eng.semantic.vectors.index
    finally:
        eng.close()


def test_delay_zero_only_for_loopback(tmp_path: Path) -> None:  # refused before any store opens: one backend
    env = {**os.environ, "PAPERSIFT_HARVEST_DELAY": "0", "PAPERSIFT_DATA": str(tmp_path / "d")}
    r = subprocess.run([PAPERSIFT, "harvest", "arxiv", "--endpoint", "https://oaipmh.arxiv.org/oai"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "only for a loopback endpoint" in " ".join(r.stderr.split())


def test_issue_command_against_a_minimal_server(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's exact command, against a server that serves the recorded ListRecordsResponse.xml."""
    backend_database_url(backend, request, monkeypatch)
    env = {**os.environ, "PAPERSIFT_HARVEST_DELAY": "0", "PAPERSIFT_DATA": str(tmp_path / "d"), "COLUMNS": "200"}
    with StaticOai() as srv:
        r = subprocess.run([PAPERSIFT, "harvest", "arxiv", "--endpoint", f"http://127.0.0.1:{srv.port}/oai2",
                            "--from", "2014-10-01", "--format", "arXivRaw"], env=env, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        assert srv.requests[0].query == {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "from": "2014-10-01"}
    assert "new 6" in r.stdout and "rejected 0" in r.stdout
    shown = subprocess.run([PAPERSIFT, "show", "0704.0471", "--json"], env=env, capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0 and '"Density dependence of the symmetry energy' in shown.stdout
    status = subprocess.run([PAPERSIFT, "harvest", "status", "--json"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert status.returncode == 0, status.stderr
    (row,) = json.loads(status.stdout)
    assert (row["source"], row["high_water"], row["in_progress"]) == ("arxiv", "2014-12-22", False)
    assert (tmp_path / "d" / "papersift.db").exists() == (backend == "sqlite")  # the CLI used this backend


def _state_pages(data: Path, url: str | None) -> int:
    """The pages the harvest in ``data`` has committed, read without opening a store of ours on
    SQLite (read-only: the file may not exist yet)."""
    if url is not None:
        from papersift.store import Database

        db = Database(url)
        try:
            return harvest_sql.get_state(db, "arxiv").pages
        finally:
            db.close()
    try:
        con = sqlite3.connect(f"file:{data / 'papersift.db'}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT pages FROM harvest_state WHERE source = 'arxiv'").fetchone()
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0
    return int(row[0]) if row else 0


PAPER_COLUMNS = "id, arxiv_id, title, abstract, authors, categories, published, updated, version, deleted"


def _paper_rows(data: Path, url: str | None) -> list[tuple[object, ...]]:
    if url is not None:
        from papersift.store import Database

        db = Database(url)
        try:
            with db.read() as conn:
                return sorted(tuple(r) for r in conn.exec_driver_sql(f"SELECT {PAPER_COLUMNS} FROM papers"))
        finally:
            db.close()
    con = sqlite3.connect(data / "papersift.db")
    try:
        return sorted(con.execute(f"SELECT {PAPER_COLUMNS} FROM papers").fetchall())
    finally:
        con.close()


@pytest.mark.slow
def test_sigkill_mid_harvest_then_rerun_equals_an_uninterrupted_run(tmp_path: Path, backend: str,
                                                                    request: pytest.FixtureRequest) -> None:
    records = make_records(60)
    for r in records[10:13]:
        r.versions = 2
    env = {**os.environ, "PAPERSIFT_HARVEST_DELAY": "0", "COLUMNS": "200", "PAPERSIFT_EMBEDDER": "hashing-384"}
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    urls: dict[Path, str | None] = {killed: None, whole: None}
    if backend == "postgres":  # two stores: a fresh database each
        cluster = request.getfixturevalue("pg_cluster")
        urls[killed] = str(request.getfixturevalue("pg_url"))
        urls[whole] = other = cluster.create_database(migrated=True)
        request.addfinalizer(lambda: cluster.drop_database(other))

    def run(data: Path, url: str) -> subprocess.Popen[str]:
        db_env = {"PAPERSIFT_DATABASE_URL": urls[data]} if urls[data] else {}
        return subprocess.Popen([PAPERSIFT, "--data-dir", str(data), "harvest", "arxiv", "--endpoint", url],
                                env={**env, **db_env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    with FakeOai(records, page_size=5) as srv:
        srv.delay_each = 0.15
        proc = run(killed, f"{srv.base}/oai")
        deadline = time.monotonic() + 60
        while _state_pages(killed, urls[killed]) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        done_before = _state_pages(killed, urls[killed])
        assert 3 <= done_before < 12, "the kill must land mid-harvest"
        srv.requests.clear()
        srv.delay_each = 0.0
        again = run(killed, f"{srv.base}/oai")
        _out, errs = again.communicate(timeout=120)
        assert again.returncode == 0, errs
        assert "is gone (killed?); taking over its lease" in " ".join(errs.split())  # not a minute's wait
        assert srv.requests[0].query.get("resumptionToken"), "the re-run resumes from the committed token"
        assert len(srv.list_requests()) <= 12 - done_before + 1
        full = run(whole, f"{srv.base}/oai")
        full.communicate(timeout=120)
        assert full.returncode == 0

    got, want = _paper_rows(killed, urls[killed]), _paper_rows(whole, urls[whole])
    assert len(want) == 60
    assert got == want  # no duplicates, no gap
    eng = open_engine(Settings(data_dir=killed, database_url=urls[killed]), "reader")
    try:
        assert eng.lexical.search("harvested paper", limit=100)[1] == 60
    finally:
        eng.close()


def test_cli_harvest_takes_the_job_lease(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A command-line harvest runs under the worker job's lease: never beside the worker's harvest of
    the same source, and it shows in `papersift jobs` like a worker run."""
    from papersift.store import Database
    from papersift.store import jobs as jobs_sql

    data = tmp_path / "d"
    url = backend_database_url(backend, request, monkeypatch) or f"sqlite:///{data / 'papersift.db'}"
    env = {**os.environ, "PAPERSIFT_HARVEST_DELAY": "0", "PAPERSIFT_DATA": str(data), "COLUMNS": "200"}
    with FakeOai(make_records(7), page_size=5) as srv:
        cmd = [PAPERSIFT, "harvest", "arxiv", "--endpoint", f"{srv.base}/oai"]
        assert subprocess.run([PAPERSIFT, "db", "upgrade"], env=env, capture_output=True, timeout=60).returncode == 0
        db = Database(url)
        try:
            jobs_sql.ensure(db, ["harvest-arxiv"])
            assert jobs_sql.claim(db, "harvest-arxiv", "worker@elsewhere:1:abc", ttl=60, due_only=False)
            busy = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
            assert busy.returncode == 1 and "worker@elsewhere:1:abc is running harvest-arxiv" in " ".join(
                busy.stderr.split())
            assert srv.requests == []  # not a single request
            jobs_sql.release(db, "harvest-arxiv", "worker@elsewhere:1:abc")
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr
            row = jobs_sql.get(db, "harvest-arxiv")
            assert row is not None and row.last_outcome == "ok" and row.lease_owner is None
            assert row.last_detail == "cli: pages 2  new 7  updated 0  unchanged 0  deleted 0  rejected 0"
            assert row.next_run_at is not None and row.next_run_at.strftime("%H:%M") == "03:30"
        finally:
            db.close()
