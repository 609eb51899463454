"""A real papersift server (uvicorn in a thread, 127.0.0.1, free port) over a seeded temp data dir."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from papersift import accounts
from papersift.config import Settings
from papersift.models import Paper
from papersift.pipeline import catch_up, open_engine
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


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("live") / "data"
    settings = Settings(data_dir=data)
    eng = open_engine(settings)
    eng.store.upsert_many(seed_papers())
    catch_up(eng)
    submitter = accounts.create_user(eng.store.engine, "curator", "curator-password")
    accounts.submit_paper(eng.store, submitter, "https://arxiv.org/abs/2401.00003v2")
    eng.close()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("papersift test server did not start")
        time.sleep(0.05)
    yield Live(f"http://127.0.0.1:{port}", settings, data)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def client(live: Live) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, follow_redirects=False, timeout=20, trust_env=False) as c:
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
