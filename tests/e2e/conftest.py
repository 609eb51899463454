"""Real papersift servers (uvicorn in a thread, 127.0.0.1, free port), each over its own copy of a
seeded temp data dir: one per test module (``live``), or one per test for tests that change papers
(``fresh_live``)."""

from __future__ import annotations

import re
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from papersift import accounts
from papersift.config import Settings
from papersift.engine import open_engine
from papersift.models import Paper
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


def build_seeded(data: Path) -> Path:
    """The seeded data dir, built the way `papersift ingest` builds one (as index owner), then
    closed: the web app opens its engine as a reader."""
    eng = open_engine(Settings(data_dir=data), "owner", owner="test-seed", upgrade=True)
    try:
        eng.store.upsert_many(seed_papers())
        eng.catch_up()
        submitter = accounts.create_user(eng.db, "curator", "curator-password")
        accounts.submit_paper(eng.store, submitter, "https://arxiv.org/abs/2401.00003v2")
    finally:
        eng.close()
    return data


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per session; every server gets its own copy, so no test sees another's writes."""
    return build_seeded(tmp_path_factory.mktemp("seeded") / "data")


@contextmanager
def serve(template: Path, where: Path) -> Iterator[Live]:
    """A real server (uvicorn in a thread, 127.0.0.1, free port) over a private copy of ``template``."""
    data = where / "data"
    shutil.copytree(template, data)
    settings = Settings(data_dir=data)
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


def paper_state(data_dir: Path) -> list[tuple]:
    """What the feeds depend on: every paper's votes and daily-feed submission."""
    con = sqlite3.connect(f"file:{data_dir / 'papersift.db'}?mode=ro", uri=True)
    try:
        return con.execute("select id, upvotes, submitted_by, submitted_on_daily_at, seq from papers "
                           "order by id").fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def live(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One server per test module, over the module's own copy of the seeded data dir. Tests on it
    may create users (with unique names) but must not change papers: no votes, no submissions
    (checked when the module ends); those take ``fresh_live``."""
    with serve(seeded_template, tmp_path_factory.mktemp("live")) as lv:
        yield lv
    assert paper_state(lv.data_dir) == paper_state(seeded_template), \
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
