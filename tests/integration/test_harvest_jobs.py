"""The worker's harvest-arxiv and harvest-hf jobs against fake endpoints, and offline."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from papersift.cli import app
from papersift.config import Settings
from papersift.jobs import harvest as harvest_jobs
from papersift.jobs.registry import jobs_for
from papersift.jobs.worker import Worker, lease_name
from papersift.store import Database
from papersift.store import jobs as jobs_sql
from tests.conftest import backend_database_url, restored_root_logger
from tests.fakes.servers import FakeHf, FakeOai, make_records

pytestmark = pytest.mark.backends



def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()  # nothing listens there now: connection refused
    return port


def settings_for(tmp_path: Path, oai: str, hf: str, database_url: str | None = None) -> Settings:
    s = Settings(data_dir=tmp_path / "d", embedder="hashing-384", database_url=database_url)
    s.harvest_enabled = True
    s.harvest_delay = 0.0
    s.arxiv_oai_endpoint, s.hf_endpoint = oai, hf
    s.contact_email = "ops@example.org"
    s.hf_days = 1
    return s


def test_seconds_until_the_daily_time() -> None:
    now = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    assert harvest_jobs.seconds_until("03:30", now) == 5400
    assert harvest_jobs.seconds_until("01:00", now) == 23 * 3600
    with pytest.raises(ValueError, match="03:30"):
        harvest_jobs.seconds_until("25:00", now)


def test_worker_runs_both_harvests_then_indexes_them(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url = backend_database_url(backend, request, monkeypatch)
    today = datetime.now(UTC).date()
    with FakeOai(make_records(12, day=(today - timedelta(days=1)).isoformat()), page_size=5) as oai, \
            FakeHf(lists={}) as hf:
        settings = settings_for(tmp_path, f"{oai.base}/oai", f"{hf.base}/api/daily_papers", url)
        names = [j.name for j in jobs_for(settings)]
        assert "harvest-arxiv" in names and "harvest-hf" in names
        w = Worker(settings)
        w.run(once=True)
        # never harvested: the job starts PAPERSIFT_HARVEST_ARXIV_START_DAYS (7) back, not at 1991
        assert oai.requests[0].query["from"] == (today - timedelta(days=7)).isoformat()
        assert "ops@example.org" in oai.requests[0].user_agent
        assert [r.query["date"] for r in hf.requests] == [today.isoformat()]
    db = Database(settings.db_url)
    try:
        rows = {r.name: r for r in jobs_sql.all_jobs(db)}
        arx, hfj = rows["harvest-arxiv"], rows["harvest-hf"]
        assert arx.last_outcome == "ok" and "new 12" in (arx.last_detail or "")
        assert hfj.last_outcome == "ok"
        assert arx.next_run_at is not None and arx.next_run_at.strftime("%H:%M") == "03:30"
        assert hfj.next_run_at is not None
        assert timedelta(minutes=55) < hfj.next_run_at - datetime.now(UTC).replace(tzinfo=None) <= timedelta(hours=1)
    finally:
        db.close()
    from papersift.engine import open_engine

    eng = open_engine(settings, "reader")
    try:
        assert eng.store.count() == 12
        assert eng.lexical.search("resumption tokens", limit=50)[1] == 12  # indexed by the owning worker
    finally:
        eng.close()
    with restored_root_logger():
        res = CliRunner(env={"COLUMNS": "200", "PAPERSIFT_HARVEST": "1"}).invoke(
            app, ["--data-dir", str(settings.data_dir), "jobs"])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("harvest-arxiv"))
    assert "ok" in line and "new 12" in line


def test_offline_harvest_fails_politely_and_backs_off(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch, backend: str,
                                                     request: pytest.FixtureRequest) -> None:
    url = backend_database_url(backend, request, monkeypatch)
    monkeypatch.setattr(harvest_jobs, "RETRY_BACKOFF", 0.05)  # seconds between tries, not 5
    port = closed_port()
    settings = settings_for(tmp_path, f"http://127.0.0.1:{port}/oai", f"http://127.0.0.1:{port}/api/daily_papers",
                            url)
    harvest_jobs._backoff.clear()
    w = Worker(settings)
    with caplog.at_level(logging.WARNING):
        w.run(once=True)
    db = Database(settings.db_url)
    try:
        rows = {r.name: r for r in jobs_sql.all_jobs(db)}
        for name in ("harvest-arxiv", "harvest-hf"):
            r = rows[name]
            assert r.last_outcome == "failed" and r.failures == 1
            assert "cannot connect" in (r.last_detail or "") and "next try in 300s" in (r.last_detail or "")
            assert r.next_run_at is not None
            wait = (r.next_run_at - datetime.now(UTC).replace(tzinfo=None)).total_seconds()
            assert 250 < wait <= 300  # backoff, not a day
        index_row = next(lease_name(settings, j) for j in jobs_for(settings) if j.name == "index")  # index@… (PG)
        assert rows[index_row].last_outcome == "ok"  # the other jobs go on
    finally:
        db.close()
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING and "127.0.0.1" in r.getMessage()]
    # offline: one warning line per job (no retries of a connection that cannot be made), no traceback
    assert len(warned) == 2, [r.getMessage() for r in warned]
    assert all("cannot connect" in r.getMessage() and "next try in 300s" in r.getMessage() for r in warned)
    assert not any(r.exc_info for r in caplog.records)
    assert harvest_jobs._backoff["harvest-arxiv"] == 600  # the next failure waits twice as long
