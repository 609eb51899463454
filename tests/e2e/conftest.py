"""Real papersift servers (uvicorn in a thread, 127.0.0.1, free port), each over its own copy of a
seeded temp data dir: one per test module (``live``), or one per test for tests that change papers
(``fresh_live``).

Modules marked ``pytestmark = pytest.mark.backends`` run once on SQLite and once on PostgreSQL
(``e2e_backend``, module-scoped): there the seeded database is a PostgreSQL template database and
every server gets its own ``CREATE DATABASE … TEMPLATE`` copy beside its copy of the data dir."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from papersift import accounts
from papersift.config import Settings
from papersift.engine import open_engine
from papersift.models import Paper
from papersift.store import Database
from papersift.store.schema import papers
from papersift.web.app import create_app

HOSTILE_ID = "2401.00666"
HOSTILE = '<script>alert(1)</script> "onerror=alert(1) <img src=x onerror=alert(1)>'
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def seed_papers() -> list[Paper]:
    return [
        Paper(title="Attention Is All You Need For Graph Transformers", arxiv_id="2401.00001",
              abstract="We study attention mechanisms for graph transformers at scale.",
              authors=["Ada Lovelace", "Alan Turing"], categories=["cs.LG", "cs.AI"],
              published=date(2024, 1, 2), sources=["test"], links={"code": "https://github.com/x/y"}),
        Paper(title="Quantum Error Correction With Surface Codes", arxiv_id="2401.00002",
              abstract="Surface codes protect quantum information against noise.",
              authors=["Grace Hopper"], categories=["quant-ph"], published=date(2024, 1, 2), sources=["test"]),
        Paper(title="Retrieval Augmented Generation Benchmarks Revisited", arxiv_id="2401.00003",
              abstract="A benchmark of retrieval augmented generation systems with attention analysis.",
              authors=["Alan Turing", "Barbara Liskov"], categories=["cs.CL"], published=date(2024, 1, 5),
              sources=["test"]),
        Paper(title=f"Hostile title {HOSTILE}", arxiv_id=HOSTILE_ID,
              abstract=f"Hostile abstract {HOSTILE} about attention.",
              authors=[f"Mallory {HOSTILE}"], categories=["cs.CR"], published=date(2024, 1, 5),
              sources=["test"]),
    ] + [Paper(title=f"Filler paper {i} on sparse attention kernels", arxiv_id=f"2312.{i:05d}",
               abstract="Sparse attention kernels for long sequences.", authors=["Edsger Dijkstra"],
               categories=["cs.LG"], published=date(2023, 12, 1 + i), sources=["test"]) for i in range(1, 8)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Live:
    url: str
    settings: Settings
    data_dir: Path


class Seeded(type(Path())):  # type: ignore[misc]
    """A seeded data dir (a Path, as before) and, on PostgreSQL, its template database URL and the
    cluster that copies it."""

    db_url: str | None = None
    cluster: object | None = None


def build_seeded(data: Path, db_url: str | None = None) -> Path:
    """The seeded data dir, built the way `papersift ingest` builds one (as index owner), then
    closed: the web app opens its engine as a reader."""
    eng = open_engine(Settings(data_dir=data, database_url=db_url), "owner", owner="test-seed", upgrade=True)
    try:
        eng.store.upsert_many(seed_papers())
        eng.catch_up()
        submitter = accounts.create_user(eng.db, "curator", "curator-password")
        accounts.submit_paper(eng.store, submitter, "https://arxiv.org/abs/2401.00003v2")
    finally:
        eng.close()
    return data


_SEEDED: dict[tuple[str, str], Seeded] = {}


@pytest.fixture(scope="module")
def e2e_backend(request: pytest.FixtureRequest) -> str:
    """The module's backend: "sqlite", or both for modules marked ``backends`` (tests/conftest.py)."""
    return str(getattr(request, "param", "sqlite"))


def build_on(backend: str, where: Path, build: Callable[[Path, str | None], Path],
             request: pytest.FixtureRequest, db_url: str | None = None) -> Seeded:
    """``build(data_dir, database_url)`` on ``backend``, as a template ``serve`` copies: on PostgreSQL
    into ``db_url`` (else a fresh migrated database of the session's cluster)."""
    if backend != "postgres":
        return Seeded(build(where, None))
    cluster = request.getfixturevalue("pg_cluster")
    url = db_url or cluster.create_database(migrated=True)
    seeded = Seeded(build(where, url))
    seeded.db_url, seeded.cluster = url, cluster
    return seeded


def template_on(name: str, backend: str, build: Callable[[Path, str | None], Path],
                tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Seeded:
    """The template ``name`` on ``backend``, built once per session."""
    if (name, backend) not in _SEEDED:
        where = tmp_path_factory.mktemp(f"{name}-{backend}") / "data"
        _SEEDED[name, backend] = build_on(backend, where, build, request)
    return _SEEDED[name, backend]


@pytest.fixture(scope="module")
def seeded_template(e2e_backend: str, tmp_path_factory: pytest.TempPathFactory,
                    request: pytest.FixtureRequest) -> Path:
    """Built once per session and backend; every server gets its own copy, so no test sees another's writes."""
    return template_on("seeded", e2e_backend, build_seeded, tmp_path_factory, request)


def _db_url(data: Path, template: Path) -> str:
    return getattr(template, "db_url", None) or f"sqlite:///{data / 'papersift.db'}"


@contextmanager
def serve(template: Path, where: Path) -> Iterator[Live]:
    """A real server (uvicorn in a thread, 127.0.0.1, free port) over a private copy of ``template``
    (data dir, and on PostgreSQL its database)."""
    data = where / "data"
    shutil.copytree(template, data)
    cluster = getattr(template, "cluster", None)
    url = cluster.create_database(template=template.db_url.rsplit("/", 1)[1]) if cluster else None  # type: ignore[attr-defined]
    settings = Settings(data_dir=data, database_url=url)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("papersift test server did not start")
            time.sleep(0.02)
        yield Live(f"http://127.0.0.1:{port}", settings, data)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if cluster and url:
            cluster.drop_database(url)  # type: ignore[attr-defined]


def paper_state(url: str) -> list[tuple]:
    """What the feeds depend on: every paper's votes and daily-feed submission."""
    db = Database(url, read_only=True)
    try:
        with db.read() as conn:
            return [tuple(r) for r in conn.execute(
                select(papers.c.id, papers.c.upvotes, papers.c.submitted_by, papers.c.submitted_on_daily_at,
                       papers.c.seq).order_by(papers.c.id))]
    finally:
        db.close()


@pytest.fixture(scope="module")
def live(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One server per test module, over the module's own copy of the seeded data dir. Tests on it
    may create users (with unique names) but must not change papers: no votes, no submissions
    (checked when the module ends); those take ``fresh_live``."""
    with serve(seeded_template, tmp_path_factory.mktemp("live")) as lv:
        yield lv
        after = paper_state(lv.settings.db_url)
    assert after == paper_state(_db_url(seeded_template, seeded_template)), \
        "a test changed papers on the shared module server: give it fresh_live / fresh_client"


@pytest.fixture
def fresh_live(seeded_template: Path, tmp_path: Path) -> Iterator[Live]:
    """A server of the test's own, for tests that vote or submit (they change the feeds)."""
    with serve(seeded_template, tmp_path) as lv:
        yield lv


def http(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, follow_redirects=False, timeout=20, trust_env=False)


@pytest.fixture
def client(live: Live) -> Iterator[httpx.Client]:
    with http(live.url) as c:
        yield c


@pytest.fixture
def fresh_client(fresh_live: Live) -> Iterator[httpx.Client]:
    with http(fresh_live.url) as c:
        yield c


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "page has no CSRF token"
    return m.group(1)


_counter = iter(range(10**6))


def unique_name(prefix: str = "user") -> str:
    return f"{prefix}{datetime.now():%H%M%S}{next(_counter)}"


def signup(client: httpx.Client, username: str | None = None, password: str = "correct-horse-1") -> str:
    username = username or unique_name()
    token = csrf_from(client.get("/signup").text)
    r = client.post("/signup", data={"username": username, "password": password, "password2": password,
                                     "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text
    return username
