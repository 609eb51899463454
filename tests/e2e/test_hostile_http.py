"""Hostile requests on a live server (issue 12, part B): far dates, oversized bodies, a database
whose write lock is held, a full disk, hostile paper ids in Markdown and Atom, the Host header."""

from __future__ import annotations

import gc
import html
import re
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from papersift import accounts
from papersift.config import Settings
from papersift.engine import open_engine
from papersift.models import Paper
from papersift.store.db import Database
from tests.e2e.conftest import Live, build_on, csrf_from, http, serve, signup

EVIL_ID = 'x><img src=x onerror=alert(1)> "quoted" [link](javascript:alert(1))'
FAR = {"date": ["9999-12-31", "0001-01-01"], "week": ["9999-W52", "0001-W01", "9998-W53"],
       "month": ["9999-12", "0001-01"]}
BAD = {"date": ["10000-01-01", "0000-12-31", "9999-12-32", "-0001-01-01"],
       "week": ["9999-W53", "0000-W01", "2024-W00", "10000-W01"], "month": ["0000-12", "9999-13", "10000-01"]}
DAILY_ROUTES = ["/daily", "/", "/daily.atom", "/feeds/daily.xml", "/api/daily_papers", "/api/v1/daily"]

pytestmark = pytest.mark.backends


def sqlite_only(backend: str, why: str) -> None:
    if backend != "sqlite":
        pytest.skip(f"SQLite only: {why}")


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def odd_template(e2e_backend: str, seeded_template: Path, tmp_path_factory: pytest.TempPathFactory,
                 request: pytest.FixtureRequest) -> Path:
    """The seeded data dir (on PostgreSQL, a copy of its database too) plus papers on the calendar's
    first and last day and one whose id is hostile Markdown/HTML."""
    cluster = getattr(seeded_template, "cluster", None)
    url = cluster.create_database(template=seeded_template.db_url.rsplit("/", 1)[1]) if cluster else None  # type: ignore[attr-defined]

    def build(data: Path, db_url: str | None) -> Path:
        shutil.copytree(seeded_template, data)
        add_odd_papers(data, db_url)
        return data

    return build_on(e2e_backend, tmp_path_factory.mktemp("odd") / "data", build, request, db_url=url)


def add_odd_papers(data: Path, db_url: str | None) -> None:
    eng = open_engine(Settings(data_dir=data, database_url=db_url), "owner", owner="test-seed")
    try:
        eng.store.upsert_many([
            Paper(title="The first paper of the calendar", arxiv_id="0101.00001", published=date.min,
                  abstract="Edge of time.", authors=["Ada Lovelace"], categories=["cs.LG"], sources=["test"]),
            Paper(title="The last paper of the calendar", arxiv_id="9912.99999", published=date.max,
                  abstract="Edge of time.", authors=["Ada Lovelace"], categories=["cs.LG"], sources=["test"]),
            Paper(title="A paper with a hostile id", id=EVIL_ID, abstract="Its id is markup.",
                  authors=["Mallory"], categories=["cs.CR"], published=date(2024, 1, 5), sources=["test"]),
        ])
        eng.catch_up()
    finally:
        eng.close()


@pytest.fixture(scope="module")
def odd(odd_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A server over ``odd_template`` with a configured base URL (PAPERSIFT_BASE_URL)."""
    with serve(odd_template, tmp_path_factory.mktemp("odd-live")) as lv:
        lv.settings.base_url = "https://papers.example.org/"  # the app's own Settings object
        yield lv


@pytest.fixture
def quick(e2e_backend: str, seeded_template: Path, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """A server of the test's own whose writes wait at most 4 s for the database lock."""
    # PAPERSIFT_WRITE_WAIT and the one-writer gate are SQLite's write path (PostgreSQL writes do not queue)
    sqlite_only(e2e_backend, "the write lock and its wait are SQLite's")
    monkeypatch.setenv("PAPERSIFT_WRITE_WAIT", "4")
    with serve(seeded_template, tmp_path) as lv:
        yield lv


def api_token(live: Live, username: str = "tokenholder") -> str:
    db = Database(live.settings.db_url)
    try:
        user = accounts.create_user(db, username, "token-password-1")
        return accounts.create_api_token(db, user)
    finally:
        db.close()


def logged_in(live: Live) -> tuple[httpx.Client, str]:
    c = http(live.url)
    signup(c)
    return c, csrf_from(c.get("/account").text)


# -- far dates -----------------------------------------------------------------------------------
def test_far_periods_answer_200_and_out_of_calendar_ones_400(odd: Live) -> None:
    with http(odd.url) as c:
        tried = 0
        for route in DAILY_ROUTES:
            for kind, values in FAR.items():
                for v in values:
                    for view in (None, "day", "week", "month"):
                        params = {kind: v, **({"view": view} if view else {})}
                        r = c.get(route, params=params)
                        tried += 1
                        assert r.status_code == 200, (route, params, r.text[:300])
            for kind, values in BAD.items():
                for v in values:
                    r = c.get(route, params={kind: v})
                    tried += 1
                    assert r.status_code == 400, (route, kind, v, r.status_code)
                    if route.startswith("/api/"):
                        assert r.json()["error"].startswith(kind)
        assert tried == len(DAILY_ROUTES) * (7 * 4 + 11)
        last = c.get("/api/v1/daily", params={"week": "9999-W52"}).json()
        assert last["period"] == {"kind": "week", "key": "9999-W52", "start": "9999-12-27", "end": "9999-12-31"}
        assert [p["id"] for p in last["papers"]] == ["9912.99999"]
        month = c.get("/api/v1/daily", params={"month": "9999-12"}).json()["period"]
        assert (month["start"], month["end"]) == ("9999-12-01", "9999-12-31")


def test_the_first_day_of_the_calendar_lists_its_paper(odd: Live) -> None:
    with http(odd.url) as c:
        first = c.get("/api/daily_papers", params={"date": "0001-01-01"}).json()
        assert [e["paper"]["id"] for e in first] == ["0101.00001"]
        page = c.get("/daily", params={"date": "0001-01-01"})
        assert "The first paper of the calendar" in page.text and "prev" not in nav_links(page.text)


def nav_links(page: str) -> dict[str, str]:
    return {rel: html.unescape(href) for rel, href in re.findall(r'<a rel="(prev|next)" href="([^"]+)"', page)}


def gap_links(page: str) -> dict[str, str]:
    """The links past a gap of more than a year (never offered as prev/next)."""
    found = re.findall(r'the closest (earlier|later) are on <a href="([^"]+)"', " ".join(page.split()))
    return {{"earlier": "prev", "later": "next"}[k]: html.unescape(href) for k, href in found}


def test_prev_next_at_the_edges_of_the_calendar(odd: Live) -> None:
    with http(odd.url) as c:
        last = c.get("/daily", params={"date": "9999-12-31"})
        assert last.status_code == 200 and "The last paper of the calendar" in last.text
        links = nav_links(last.text)
        assert links == {}  # the papers before it are millennia away: no "previous day" arrow...
        assert gap_links(last.text)["prev"].startswith("/papers/date/")  # ...but a labelled link (today)
        first = c.get("/daily", params={"date": "0001-01-01"})
        assert first.status_code == 200
        assert gap_links(first.text)["next"].startswith("/papers/date/2023-12-")
        for kind, key in (("week", "9999-W52"), ("month", "9999-12"), ("week", "0001-W01"), ("month", "0001-01")):
            page = c.get("/daily", params={kind: key})
            assert page.status_code == 200
            for href in [*nav_links(page.text).values(), *gap_links(page.text).values()]:  # every neighbour opens
                assert c.get(href).status_code == 200, href
        # walking "next" from the first day reaches the last one without an error
        href, seen = "/daily?date=0001-01-01", 0
        while href and seen < 50:
            page = c.get(href)
            assert page.status_code == 200, href
            href, seen = {**gap_links(page.text), **nav_links(page.text)}.get("next", ""), seen + 1
        assert "The last paper of the calendar" in page.text


# -- request bodies ------------------------------------------------------------------------------
def raw_post(url: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, str, float]:
    """Send a request head by hand (a 100 MB Content-Length with no such body behind it); return the
    status, the response text and the seconds it took."""
    u = urlsplit(url)
    t0 = time.perf_counter()
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        head = f"POST {path} HTTP/1.1\r\nHost: {u.netloc}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        s.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while chunk := s.recv(65536):  # the answer ends with "Connection: close"
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.decode("utf-8", "replace"), time.perf_counter() - t0


def test_announced_huge_body_is_413_before_anything_reads_it(fresh_live: Live) -> None:
    token = api_token(fresh_live)
    for auth in ({}, {"Authorization": f"Bearer {token}"}):
        status, text, took = raw_post(fresh_live.url, "/api/v1/submit",
                                      {"Content-Type": "application/json", "Content-Length": str(100 << 20), **auth},
                                      b'{"paper": "')
        assert status == 413 and took < 2, (status, took)
        assert "too large" in text and "1048576 bytes" in text and '"error"' in text
    status, text, _ = raw_post(fresh_live.url, "/vote", {"Content-Type": "application/x-www-form-urlencoded",
                                                         "Content-Length": str(50 << 20)})
    assert status == 413 and "<!doctype html>" in text.lower() and "too large" in text


def test_streamed_body_is_counted_and_stopped_at_the_limit(fresh_live: Live) -> None:
    token = api_token(fresh_live)

    def chunks(n: int) -> Iterator[bytes]:
        yield b'{"paper": "'
        for _ in range(n):
            yield b"x" * 65536
        yield b'"}'

    with http(fresh_live.url) as c:
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        r = c.post("/api/v1/submit", content=chunks(40), headers=auth)  # 2.5 MiB, chunked: no length
        assert r.status_code == 413 and "too large" in r.json()["error"]
        r = c.post("/api/v1/submit", content=chunks(1), headers=auth)  # 64 KiB: parsed, then refused
        assert r.status_code == 404 and "not in the store" in r.json()["error"]
        r = c.post("/api/v1/submit", json={"paper": "2401.00002"}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["submitted"] is True
        for junk in (b"not json", b"[" * 500_000, b"\xff\xfe{", b'{"paper": 1}', b"[]"):
            r = c.post("/api/v1/submit", content=junk, headers=auth)
            assert r.status_code == 400, (junk[:20], r.status_code)


def test_api_submit_checks_auth_before_reading_the_body(fresh_live: Live) -> None:
    with http(fresh_live.url) as c:
        r = c.post("/api/v1/submit", content=b"{ not even json", headers={"Content-Type": "application/json"})
        assert r.status_code == 401  # not 422: the body was never parsed


def test_body_limit_is_configurable(seeded_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERSIFT_MAX_BODY_BYTES", "200")
    with serve(seeded_template, tmp_path) as lv, http(lv.url) as c:
        token = csrf_from(c.get("/login").text)
        r = c.post("/login", data={"username": "u" * 200, "password": "p", "csrf_token": token})
        assert r.status_code == 413 and "at most 200 bytes" in r.text
        r = c.post("/login", data={"username": "nobody", "password": "wrong-password", "csrf_token": token})
        assert r.status_code == 401


# -- the database cannot write -------------------------------------------------------------------
def hold_write_lock(db_path: Path, seconds: float, held: threading.Event) -> None:
    con = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    try:
        con.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        con.execute("ROLLBACK")
    finally:
        con.close()


def timed_get(c: httpx.Client, url: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    r = c.get(url)
    return r.status_code, time.perf_counter() - t0


VOTERS = 30  # under uvicorn's 40 threads: the GETs must not queue for a thread, only not for the database


def test_write_lock_held_elsewhere_gives_503_and_reads_stay_fast(quick: Live) -> None:
    token = api_token(quick)
    browser, csrf = logged_in(quick)
    held = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(quick.data_dir / "papersift.db", 8.0, held))
    holder.start()
    assert held.wait(5)
    t0 = time.perf_counter()

    def upvote(_: int) -> tuple[int, float, httpx.Response]:
        with http(quick.url) as c:
            t = time.perf_counter()
            r = c.post("/api/v1/papers/2401.00001/upvote", headers={"Authorization": f"Bearer {token}"})
            return r.status_code, time.perf_counter() - t, r

    try:
        with ThreadPoolExecutor(VOTERS) as pool, http(quick.url) as reader:
            votes = [pool.submit(upvote, i) for i in range(VOTERS - 1)]
            form_vote = pool.submit(browser.post, "/vote", data={"paper_id": "2401.00001", "csrf_token": csrf})
            time.sleep(0.3)
            reads = [timed_get(reader, u) for u in ("/api/v1/papers/2401.00001", "/daily", "/search?q=attention",
                                                     "/api/v1/daily", "/papers/2401.00002")]
            results = [f.result() for f in votes]
            page = form_vote.result()
    finally:
        holder.join()
        browser.close()
    statuses = [s for s, _, _ in results]
    waits = sorted(t for _, t, _ in results)
    assert statuses == [503] * (VOTERS - 1), statuses
    for _, _, r in results:
        assert r.headers["retry-after"] == "5" and "busy" in r.json()["error"]
    assert waits[-1] < 4.0 + 1.0, waits  # the write wait (4 s), never the 30 s busy timeout
    assert waits[-2] < 2.5, waits  # only the writer at the lock waits it out; the rest give up after ~1 s
    assert all(s == 200 for s, _ in reads), reads
    assert max(t for _, t in reads) < 1.0, reads
    assert page.status_code == 503 and page.headers["retry-after"] == "5"
    assert "<!doctype html>" in page.text.lower() and "busy" in page.text
    print(f"\nlock held 8 s: {VOTERS - 1} API upvotes + 1 form vote -> 503 in {waits[0]:.2f}..{waits[-1]:.2f} s "
          f"(median {waits[len(waits) // 2]:.2f}); GETs meanwhile {min(t for _, t in reads) * 1000:.0f}.."
          f"{max(t for _, t in reads) * 1000:.0f} ms; all done {time.perf_counter() - t0:.1f} s")
    with http(quick.url) as c:  # the lock is free again: writes work
        r = c.post("/api/v1/papers/2401.00001/upvote", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["upvotes"] == 1


@pytest.fixture
def tiny_disk(e2e_backend: str, tmp_path: Path) -> Iterator[Path]:
    sqlite_only(e2e_backend, "the database file must live on the full disk (PostgreSQL's is the cluster's)")
    where = tmp_path / "tiny"
    where.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield where
    finally:
        gc.collect()  # the stopped server's tantivy readers still map index files on the tmpfs
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False)  # detach now, freed when unused


def fill(where: Path) -> Path:
    """Fill the disk at ``where``: unbuffered (a buffered file would raise ENOSPC again when it
    closes, flushing what the full disk refused), in smaller and smaller writes to the last block."""
    filler = where / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for size in (65536, 4096, 512):
            chunk = b"\0" * size
            try:
                while fh.write(chunk):
                    pass
            except OSError:
                pass
    return filler


def test_full_disk_gives_503_for_writes_and_reads_still_work(seeded_template: Path, tiny_disk: Path) -> None:
    with serve(seeded_template, tiny_disk) as lv:
        browser, _csrf = logged_in(lv)
        token = api_token(lv)
        filler = fill(tiny_disk)
        try:
            with http(lv.url) as c:
                anon = csrf_from(c.get("/signup").text)
                failures = []
                for i in range(30):  # the -wal may still have room for a few pages: write until it has not
                    r = c.post("/signup", data={"username": f"diskfull{i}", "password": "correct-horse-1",
                                                "password2": "correct-horse-1", "csrf_token": anon})
                    assert r.status_code in (303, 503), r.text
                    if r.status_code == 503:
                        failures.append(r)
                        break
                    c.cookies.clear()
                    anon = csrf_from(c.get("/signup").text)
                assert failures, "the disk never filled"
                r = failures[0]
                assert r.headers["retry-after"] == "120" and "disk is full" in r.text
                r = c.post("/api/v1/papers/2401.00001/upvote", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 503 and "disk is full" in r.json()["error"]
                c.cookies.clear()
                anon = csrf_from(c.get("/login").text)
                r = c.post("/login", data={"username": "curator", "password": "curator-password",
                                           "csrf_token": anon})
                assert r.status_code == 503 and "disk is full" in r.text
                for url in ("/daily", "/search?q=attention", "/api/v1/papers/2401.00001", "/papers/2401.00001"):
                    assert c.get(url).status_code == 200, url
                assert browser.get("/account").status_code == 200  # sessions are read, not written
        finally:
            filler.unlink()
            browser.close()
        with http(lv.url) as c:
            r = c.post("/api/v1/papers/2401.00001/upvote", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200


# -- links: hostile ids, the Host header -----------------------------------------------------------
def test_markdown_and_atom_escape_a_hostile_id_and_use_the_base_url(odd: Live) -> None:
    md_it = pytest.importorskip("markdown_it")
    with http(odd.url) as c:
        r = c.get("/papers/" + quote(EVIL_ID, safe="") + ".md", headers={"Host": "evil.example"})
        assert r.status_code == 200
        rendered = md_it.MarkdownIt("commonmark").render(r.text)
        assert "<img" not in rendered and "javascript:" not in rendered.replace("javascript%3A", "")
        assert "Paper page: <https://papers.example.org/papers/x%3E%3Cimg%20src%3Dx%20onerror" in r.text
        assert "evil.example" not in r.text
        page = re.search(r"Paper page: <([^>]+)>", r.text)
        assert page and c.get(urlsplit(page.group(1)).path).status_code == 200  # the link opens the paper
        atom = c.get("/daily.atom", params={"date": "2024-01-05"}, headers={"Host": "evil.example"}).text
        assert "evil.example" not in atom
        assert "https://papers.example.org/papers/x%3E%3Cimg" in atom
        assert "https://papers.example.org/daily.atom?date=2024-01-05" in atom


def test_without_a_base_url_links_follow_the_request(client: httpx.Client) -> None:
    """Documented fallback (docs/web.md): with PAPERSIFT_BASE_URL unset, links use the request's URL."""
    md = client.get("/papers/2401.00001.md", headers={"Host": "mirror.example:8080"}).text
    assert "Paper page: <http://mirror.example:8080/papers/2401.00001>" in md
