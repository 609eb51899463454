"""Read-only mode (``--read-only``, ``PAPERSIFT_READ_ONLY=1``, or a data dir nobody may write): the
CLI and the web app read and search, every write is refused with one clear line (CLI exit 4, web 403),
nothing is migrated or written. And the database file is private (mode 0600).

The option, the setting and a read-only ``Database`` are tested on SQLite and PostgreSQL; the rest
is about the SQLite file and its directory."""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import InternalError, OperationalError
from typer.testing import CliRunner

from papersift import accounts
from papersift.cli import app
from papersift.config import Settings
from papersift.store.db import Database
from papersift.web.app import create_app
from tests.conftest import backend_database_url, make_paper, restored_root_logger

ENV = {"PAPERSIFT_EMBEDDER": "hashing-384", "COLUMNS": "200", "PAPERSIFT_LOG_LEVEL": "WARNING"}
runner = CliRunner(env=ENV)
READ_ONLY_EXIT = 4


def cli(data: Path, *args: str):
    with restored_root_logger():
        return runner.invoke(app, ["--data-dir", str(data), *args])


def build(data: Path, url: str | None = None) -> str:
    """A cleanly closed data dir (its database at ``url`` if given) with 5 papers and a user; returns
    the user's API token."""
    from papersift.engine import open_engine

    eng = open_engine(Settings(data_dir=data, embedder="hashing-384", database_url=url), "owner", upgrade=True)
    try:
        eng.store.upsert_many([make_paper(n) for n in range(1, 6)])
        eng.catch_up()
        user = accounts.create_user(eng.db, "reader", "reader-password-1")
        return accounts.create_api_token(eng.db, user)
    finally:
        eng.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def data(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
         monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """On PostgreSQL the database is also named in PAPERSIFT_DATABASE_URL, for the CLI."""
    d = tmp_path / "data"
    return d, build(d, backend_database_url(backend, request, monkeypatch))


def db_digest(d: Path, backend: str) -> str:
    """The SQLite file's digest, or (PostgreSQL) every table's rows and the schema revision."""
    if backend == "sqlite":
        return digest(d / "papersift.db")
    from sqlalchemy import MetaData

    db = Database(os.environ["PAPERSIFT_DATABASE_URL"], read_only=True)
    try:
        meta = MetaData()
        meta.reflect(db.engine)
        with db.read() as conn:
            rows = {t.name: sorted(map(repr, conn.execute(t.select()).all())) for t in meta.sorted_tables}
        return hashlib.sha256(repr(sorted(rows.items())).encode()).hexdigest()
    finally:
        db.close()


@pytest.fixture
def read_only_view(tmp_path: Path) -> Iterator:
    """``view(src)``: a read-only bind mount of ``src`` (as root: permissions alone do not stop root)."""
    mounts: list[Path] = []

    def view(src: Path) -> Path:
        where = tmp_path / f"ro{len(mounts)}"
        where.mkdir()
        done = subprocess.run(f"mount --bind {src} {where} && mount -o remount,ro,bind {where}", shell=True,
                              capture_output=True, text=True)
        if done.returncode != 0:
            subprocess.run(["umount", str(where)], capture_output=True)
            pytest.skip(f"cannot make a read-only bind mount here (needs root): {done.stderr.strip()}")
        mounts.append(where)
        return where

    yield view
    gc.collect()  # closed engines' tantivy readers may still map index files
    for where in mounts:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False)


def assert_refused(result) -> None:
    assert result.exit_code == READ_ONLY_EXIT, result.output
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "read-only" in lines[0], result.output


# -- the --read-only option -------------------------------------------------------------------------
@pytest.mark.backends
def test_read_only_option_reads_and_refuses_writes(data: tuple[Path, str], tmp_path: Path, backend: str) -> None:
    d, _token = data
    before = db_digest(d, backend)
    r = cli(d, "--read-only", "stats", "--json")
    assert r.exit_code == 0, r.output
    assert '"papers": 5' in r.output
    r = cli(d, "--read-only", "search", "message passing")
    assert r.exit_code == 0 and "Paper number" in r.output, r.output
    r = cli(d, "--read-only", "show", "2301.00003")
    assert r.exit_code == 0 and "Paper number 3" in r.output, r.output
    jsonl = tmp_path / "more.jsonl"
    jsonl.write_text('{"arxiv_id": "2402.00001", "title": "One more paper on graphs"}\n')
    assert_refused(cli(d, "--read-only", "ingest", str(jsonl)))
    assert_refused(cli(d, "--read-only", "reindex"))
    assert_refused(cli(d, "--read-only", "user", "create", "writer", "--password", "writer-password-1"))
    assert_refused(cli(d, "--read-only", "serve", "--worker"))
    assert db_digest(d, backend) == before  # nothing was written, nothing migrated
    r = cli(d, "stats", "--json")  # and without the option it is an ordinary data dir again
    assert r.exit_code == 0 and '"papers": 5' in r.output


# SQLite only: read-only mode finds no database file (and creates no data dir)
def test_read_only_env_and_a_missing_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERSIFT_READ_ONLY", "1")
    r = cli(tmp_path / "nothing-here", "stats")
    assert_refused(r)
    assert "no database" in r.output
    assert not (tmp_path / "nothing-here").exists()  # read-only mode creates nothing


@pytest.mark.backends
def test_database_refuses_writes_when_read_only(data: tuple[Path, str], backend: str) -> None:
    from papersift.store.db import ReadOnlyStore

    d, _ = data
    url = os.environ["PAPERSIFT_DATABASE_URL"] if backend == "postgres" else f"sqlite:///{d / 'papersift.db'}"
    db = Database(url, read_only=True)
    try:
        assert db.upgrade() is False  # checks the schema, never migrates
        with pytest.raises(ReadOnlyStore), db.write():
            pass
        # and the database itself refuses (SQLite: query_only; PostgreSQL: a read-only transaction),
        # whatever a caller does
        with db.read() as conn, pytest.raises(
                (OperationalError, InternalError),
                match=r"readonly|query_only|attempt to write|read-only transaction"):
            conn.exec_driver_sql("DELETE FROM papers")
    finally:
        db.close()


@pytest.mark.backends
def test_read_only_setting_serves_and_refuses_writes(data: tuple[Path, str], backend: str) -> None:
    d, token = data
    before = db_digest(d, backend)
    settings = Settings(data_dir=d, embedder="hashing-384", read_only=True)
    with TestClient(create_app(settings)) as c:
        for url in ("/search?q=graphs", "/papers/2301.00002", "/api/v1/search?q=graphs", "/login"):
            assert c.get(url).status_code == 200, url
        assert "graph neural networks" in c.get("/search?q=graphs").text
        assert 'class="read-only"' in c.get("/daily").text
        form = c.get("/signup").text
        csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        assert_writes_refused(c, csrf, token)
    assert db_digest(d, backend) == before


# -- a read-only data dir (SQLite only: these are about the database file and its directory) ---------
def test_read_only_data_dir_serves_and_searches(data: tuple[Path, str], read_only_view) -> None:
    d, token = data
    ro = read_only_view(d)
    assert not (ro / "papersift.db-wal").exists()  # cleanly closed: opened as immutable
    for args in (("stats",), ("search", "graphs"), ("show", "2301.00002")):
        r = cli(ro, *args)
        assert r.exit_code == 0, (args, r.output)
    assert_refused(cli(ro, "demo"))
    settings = Settings(data_dir=ro, embedder="hashing-384")
    with TestClient(create_app(settings)) as c:
        assert settings.read_only  # found out on open
        for url in ("/daily?month=2023-01", "/search?q=graphs", "/papers/2301.00002", "/papers/2301.00002.md",
                    "/api/v1/search?q=graphs", "/api/daily_papers?month=2023-01", "/daily.atom", "/login",
                    "/signup"):
            assert c.get(url).status_code == 200, url
        assert "graph neural networks" in c.get("/search?q=graphs").text
        assert 'class="read-only"' in c.get("/daily").text  # every page says so
        form = c.get("/signup").text
        csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        r = c.post("/signup", data={"username": "newbie", "password": "newbie-password-1",
                                    "password2": "newbie-password-1", "csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 403 and "read-only" in r.text and "<!doctype html>" in r.text.lower()
        assert_writes_refused(c, csrf, token)


def assert_writes_refused(c: TestClient, csrf: str, token: str) -> None:
    """A log-in, an API upvote and an API submit are refused (403) by a read-only app."""
    r = c.post("/login", data={"username": "reader", "password": "reader-password-1", "csrf_token": csrf},
               follow_redirects=False)
    assert r.status_code == 403 and "read-only" in r.text
    r = c.post("/api/v1/papers/2301.00002/upvote", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and "read-only" in r.json()["error"]
    r = c.post("/api/v1/submit", json={"paper": "2301.00002"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


def test_wal_left_without_its_shm_is_refused_in_one_line(tmp_path: Path, read_only_view) -> None:
    d = tmp_path / "data"
    build(d)
    copy = tmp_path / "copy"
    writer = sqlite3.connect(d / "papersift.db")  # keeps -wal and -shm alive while we copy
    try:
        writer.execute("UPDATE papers SET upvotes = 1 WHERE id = '2301.00001'")
        writer.commit()
        shutil.copytree(d, copy)
    finally:
        writer.close()
    (copy / "papersift.db-shm").unlink()
    assert (copy / "papersift.db-wal").stat().st_size > 0
    r = cli(read_only_view(copy), "stats")
    assert r.exit_code == READ_ONLY_EXIT and "no -shm" in r.output, r.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_on_a_read_only_data_dir(data: tuple[Path, str], read_only_view) -> None:
    d, token = data
    ro = read_only_view(d)
    port = free_port()
    env = {**os.environ, **ENV, "PAPERSIFT_DATA": str(ro)}
    env.pop("PAPERSIFT_READ_ONLY", None)
    proc = subprocess.Popen([sys.executable, "-m", "papersift", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(url + "/search?q=graphs", timeout=5, trust_env=False)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        assert r.status_code == 200 and "graph neural networks" in r.text
        r = httpx.post(url + "/api/v1/papers/2301.00002/upvote", headers={"Authorization": f"Bearer {token}"},
                       trust_env=False)
        assert r.status_code == 403 and "read-only" in r.json()["error"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "read-only" in out and "Traceback" not in out, out


# -- file modes --------------------------------------------------------------------------------------
def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "d" / "papersift.db"
        path.parent.mkdir()
        db = Database(f"sqlite:///{path}")
        try:
            db.upgrade()
            with db.write() as conn:
                conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('k', 'v')")
            assert (path.parent / "papersift.db-wal").exists()
            for name in ("papersift.db", "papersift.db-wal", "papersift.db-shm"):
                assert mode(path.parent / name) == 0o600, name
        finally:
            db.close()
        os.chmod(path, 0o644)  # a database made by an older papersift: tightened on open
        Database(f"sqlite:///{path}").close()
        assert mode(path) == 0o600
    finally:
        os.umask(old)


# -- a PostgreSQL that refuses writes (a standby, or a database set read-only) -------------------------
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_postgres_refusing_writes_gives_503(data: tuple[Path, str]) -> None:
    """Not in read-only mode, but the server refuses writes: 503 (as for an unwritable SQLite file)."""
    from sqlalchemy.engine.url import make_url

    from papersift.store.db import unavailable

    d, token = data
    url = os.environ["PAPERSIFT_DATABASE_URL"]
    db = Database(url)
    try:
        with pytest.raises(InternalError) as e, db.write() as conn:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            conn.exec_driver_sql("DELETE FROM papers")
        got = unavailable(e.value)
        assert got is not None and "read-only" in got[0]
        with db.read() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{make_url(url).database}" SET default_transaction_read_only = on')
            conn.commit()
    finally:
        db.close()
    with TestClient(create_app(Settings(data_dir=d, embedder="hashing-384"))) as c:
        assert c.get("/search?q=graphs").status_code == 200
        r = c.post("/api/v1/papers/2301.00002/upvote", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 503 and "read-only" in r.json()["error"], r.text
