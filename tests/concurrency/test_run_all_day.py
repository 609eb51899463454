"""Several papersift processes at once, as in production: a server with two web workers, ingests,
embedding, a background worker, CLI reads — on one data dir. Each test runs real processes."""

from __future__ import annotations

import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from papersift import accounts
from papersift.config import Settings
from papersift.engine import open_engine
from tests.concurrency.conftest import cli, spawn, store_rows, token, write_corpus
from tests.conftest import backend_database_url

pytestmark = [pytest.mark.slow, pytest.mark.backends]


def seed(data_dir: Path, tmp: Path, count: int = 1000, tag: str = "seed", start: int = 900_000) -> None:
    corpus = write_corpus(tmp / f"{tag}.jsonl", start, count, tag)
    r = cli(data_dir, "ingest", str(corpus))
    assert r.returncode == 0, r.stderr


def wait_for(pred, timeout: float, what: str, step: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def test_big_ingest_while_server_and_cli_reads_run(
        tmp_path: Path, start_server, backend: str, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """~200k papers ingested while `serve --workers 2` answers searches and other processes run
    show / search / stats: no errors anywhere, and every paper is findable without a restart."""
    backend_database_url(backend, request, monkeypatch)
    # PostgreSQL: 20k papers, not 200k, so that the [postgres] run finishes well within a minute
    big_n = 20_000 if backend == "postgres" else 200_000
    data = tmp_path / "data"
    seed(data, tmp_path)
    big = write_corpus(tmp_path / "big.jsonl", 0, big_n, "big")
    server = start_server(data, workers=2)
    stop = threading.Event()
    http_errors: list[str] = []
    cli_errors: list[str] = []
    counts = {"http": 0, "cli": 0}

    def http_loop() -> None:
        with server.client() as c:
            while not stop.is_set():
                try:
                    r = c.get("/api/v1/search", params={"q": "sparse attention", "limit": 5, "mode": "lexical"})
                    if r.status_code != 200 or not r.json()["results"]:
                        http_errors.append(f"{r.status_code} {r.text[:200]}")
                except httpx.HTTPError as e:
                    http_errors.append(repr(e))
                counts["http"] += 1

    def cli_loop() -> None:
        cmds = [("show", "2009.00000"), ("search", "sparse attention", "--limit", "3"), ("stats",)]
        i = 0
        while not stop.is_set():
            r = cli(data, *cmds[i % 3], timeout=120)
            if r.returncode != 0 or "Traceback" in r.stderr:
                cli_errors.append(f"{cmds[i % 3]}: rc {r.returncode}: {r.stderr[-500:]}")
            counts["cli"] += 1
            i += 1

    threads = [threading.Thread(target=http_loop), threading.Thread(target=cli_loop)]
    for t in threads:
        t.start()
    try:
        r = cli(data, "ingest", str(big), "--json", timeout=900)
    finally:
        time.sleep(1)
        stop.set()
        for t in threads:
            t.join(timeout=180)
    assert r.returncode == 0, r.stderr
    assert f'"new": {big_n}' in r.stdout
    assert "Traceback" not in r.stderr
    assert counts["http"] > 10 and counts["cli"] >= 3, counts
    assert http_errors == [], http_errors[:5]
    assert cli_errors == [], cli_errors[:5]

    with server.client() as c:
        wait_for(lambda: c.get("/api/v1/stats").json()["indexed"] == big_n + 1000, 30, "server to see every paper")
        for n in random.Random(7).sample(range(big_n), 300):
            res = c.get("/api/v1/search", params={"q": token(n), "mode": "lexical"}).json()
            assert res["total"] == 1, (n, res)
            assert res["results"][0]["paper"]["title"].startswith(f"Paper {token(n)} ")


def test_two_ingests_at_once_get_unique_ordered_change_numbers(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = backend_database_url(backend, request, monkeypatch)
    # PostgreSQL: 10k papers a file (2 batches each), not 30k, so that the [postgres] run stays well under a minute
    each = 10_000 if backend == "postgres" else 30_000
    data = tmp_path / "data"
    a = write_corpus(tmp_path / "a.jsonl", 0, each, "a")
    b = write_corpus(tmp_path / "b.jsonl", 100_000, each, "b")
    cli(data, "db", "upgrade")
    procs = [spawn(data, "ingest", str(p), log=tmp_path / f"{p.stem}.log") for p in (a, b)]
    for p in procs:
        assert p.wait(timeout=600) == 0, (tmp_path / "a.log").read_text() + (tmp_path / "b.log").read_text()
    # every change number belongs to one batch of one process (5,000 papers each), never two
    rows = store_rows(data, "SELECT seq, count(*), count(DISTINCT substr(arxiv_id, 1, 4)) FROM papers GROUP BY seq",
                      url)
    by_seq = store_rows(data, "SELECT seq, min(pk), max(pk), count(*) FROM papers GROUP BY seq ORDER BY seq", url)
    assert len(rows) == 2 * each // 5000 and all(n == 5000 and files == 1 for _s, n, files in rows), rows
    # a batch's rows are consecutive primary keys, and later change numbers hold later rows
    assert all(hi - lo + 1 == n for _s, lo, hi, n in by_seq)
    assert [lo for _s, lo, _h, _n in by_seq] == sorted(lo for _s, lo, _h, _n in by_seq)
    (counter,) = store_rows(data, "SELECT value FROM counters WHERE name = 'change'", url)[0]
    assert counter >= max(s for s, *_ in rows)
    eng = open_engine(Settings(data_dir=data, database_url=url), "reader")
    try:
        assert eng.store.count() == 2 * each
        assert len(eng.lexical) == 2 * each
        assert eng.lexical.seq == max(s for s, *_ in rows)
        for n in (0, each - 1, 100_000, 100_000 + each - 1):
            _hits, total = eng.lexical.search(token(n))
            assert total == 1
    finally:
        eng.close()


def test_embedding_in_another_process_reaches_the_running_server(
        tmp_path: Path, start_server, backend: str, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    backend_database_url(backend, request, monkeypatch)
    data = tmp_path / "data"
    seed(data, tmp_path, 2000)
    server = start_server(data, workers=2)
    with server.client() as c:
        before = c.get("/api/v1/search", params={"q": "sparse attention graphs", "mode": "semantic"}).json()
        assert "Semantic index is empty" in before["message"]
        r = cli(data, "embed")
        assert r.returncode == 0, r.stderr
        assert "embedded 2000 papers" in r.stdout

        def semantic_hits():
            q = f"Paper {token(900_005)} on sparse attention for graph data 900005"
            res = c.get("/api/v1/search", params={"q": q, "mode": "semantic", "limit": 3}).json()
            return res if res["mode"] == "semantic" and res["results"] and not res["message"] else None

        res = wait_for(semantic_hits, 20, "semantic results from the new vectors")
        # hashing embedder: the paper whose title is the query is the nearest one
        assert res["results"][0]["paper"]["title"].startswith(f"Paper {token(900_005)} ")


def test_concurrent_votes_through_two_web_workers_count_exactly(
        tmp_path: Path, start_server, backend: str, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = backend_database_url(backend, request, monkeypatch)
    data = tmp_path / "data"
    seed(data, tmp_path, 50)
    eng = open_engine(Settings(data_dir=data, database_url=url), "reader")
    try:
        users = [accounts.create_user(eng.db, f"voter{i:03d}", "voter-password-1") for i in range(200)]
        tokens = [accounts.create_api_token(eng.db, u) for u in users]
    finally:
        eng.close()
    server = start_server(data, workers=2)
    paper, other = "2009.00000", "2009.00001"

    def call(method: str, tok: str, pid: str) -> int:
        with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as c:
            r = c.request(method, f"/api/v1/papers/{pid}/upvote", headers={"Authorization": f"Bearer {tok}"})
            assert r.status_code == 200, r.text
            return int(r.json()["upvotes"])

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(lambda t: call("POST", t, paper), tokens))
    with server.client() as c:
        assert c.get(f"/api/v1/papers/{paper}").json()["upvotes"] == 200
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda t: call("DELETE", t, paper), tokens[:8]))
    rows = store_rows(data, f"SELECT count(*) FROM votes JOIN papers ON papers.pk = votes.paper_pk "
                         f"WHERE papers.arxiv_id = '{paper}'", url)[0][0]
    with server.client() as c:
        assert c.get(f"/api/v1/papers/{paper}").json()["upvotes"] == rows == 192
    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(lambda _i: call("POST", tokens[0], other), range(50)))
    with server.client() as c:
        assert c.get(f"/api/v1/papers/{other}").json()["upvotes"] == 1


def test_killed_worker_embed_job_is_taken_over_after_its_lease(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = backend_database_url(backend, request, monkeypatch)
    data = tmp_path / "data"
    n = 30_000
    seed(data, tmp_path, n)
    knobs = {"PAPERSIFT_LEASE_SECONDS": "3", "PAPERSIFT_EMBED_EVERY": "3600", "PAPERSIFT_INDEX_EVERY": "1",
             "PAPERSIFT_LOG_LEVEL": "INFO"}
    first = spawn(data, "worker", log=tmp_path / "w1.log", **knobs)
    wait_for(lambda: store_rows(data, "SELECT count(*) FROM embeddings", url)[0][0] >= 512, 120,
             "the first worker to store some vectors", step=0.1)
    second = spawn(data, "worker", log=tmp_path / "w2.log", **knobs)
    try:
        time.sleep(1.0)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        done_by_first = store_rows(data, "SELECT count(*) FROM embeddings", url)[0][0]
        assert 0 < done_by_first < n, "kill the first worker in the middle of its embed job"
        lease = store_rows(data, "SELECT lease_owner FROM jobs WHERE name = 'embed'", url)[0][0]
        assert lease is not None and f":{first.pid}:" in lease  # the dead worker's lease, not yet expired

        def finished() -> bool:
            rows = store_rows(data, "SELECT worker, outcome, detail FROM job_runs WHERE job = 'embed' "
                                 "AND outcome IS NOT NULL", url)
            return bool(rows) and rows
        runs = wait_for(finished, 180, "the second worker to finish the embed job")
        assert len(runs) == 1
        worker, outcome, detail = runs[0]
        assert f":{second.pid}:" in worker and outcome == "ok", runs
        assert f"embedded {n - done_by_first} papers" in detail, (detail, done_by_first)
        assert store_rows(data, "SELECT count(*), count(DISTINCT paper_pk) FROM embeddings", url)[0] == (n, n)
        # the second worker owns the indexes now and put every vector in the vector index
        state = wait_for(lambda: (data / "vectors").exists() and any(
            f'"count": {n}' in p.read_text() for p in (data / "vectors").rglob("state.json")), 30,
            "the vector index to hold every vector")
        assert state
    finally:
        for p in (first, second):
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
    log2 = (tmp_path / "w2.log").read_text()
    assert "owns the indexes" in log2 and "job embed ok" in log2
    assert "Traceback" not in log2
