"""Login floods against a real `papersift serve --workers 2`: the login limiter holds across
processes, password hashing stays within its memory bound, and no worker dies."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from papersift.accounts import users
from tests.concurrency.conftest import Server, cli, store_rows
from tests.conftest import backend_database_url

pytestmark = [pytest.mark.slow, pytest.mark.backends]

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
MIB = 1024 * 1024


def worker_pids(server_pid: int) -> list[int]:
    """The uvicorn worker processes of a `papersift serve` (its children running the app)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == server_pid and b"resource_tracker" not in cmdline:
            pids.append(int(stat.parent.name))
    return sorted(pids)


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in bytes."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def anonymous_form(server: Server, page: str) -> tuple[str, dict[str, str]]:
    """A CSRF token and its signed cookie, valid in every worker (the secret key is shared)."""
    with server.client() as c:
        r = c.get(page)
        m = CSRF_RE.search(r.text)
        assert m, r.text[:500]
        return m.group(1), dict(c.cookies)


def burst(server: Server, n: int, cookies: dict[str, str], make_request) -> list[httpx.Response]:
    """n requests released at the same moment, each on its own connection."""
    barrier = threading.Barrier(n)

    def one(i: int) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=120, trust_env=False, cookies=cookies) as c:
            barrier.wait()
            return make_request(c, i)

    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(one, range(n)))


def still_healthy(server: Server) -> None:
    assert server.proc.poll() is None, server.log.read_text()[-3000:]
    with server.client() as c:
        assert c.get("/api/v1/stats").status_code == 200
    log = server.log.read_text()
    for bad in ("Traceback", "died", "Child process", "Killed", "Internal Server Error"):
        assert bad not in log, log[-3000:]


def test_concurrent_wrong_logins_evaluate_at_most_the_limit(tmp_path: Path, start_server, backend: str,
                                                             request: pytest.FixtureRequest,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """100 wrong passwords for one account, all at once, over two web workers: at most
    MAX_FAILURES are evaluated (401), every other answer is 429, and no worker dies."""
    url = backend_database_url(backend, request, monkeypatch)
    data = tmp_path / "data"
    r = cli(data, "user", "create", "victim", PAPERSIFT_PASSWORD="victim-password-1")
    assert r.returncode == 0, r.stderr
    server = start_server(data, workers=2)
    assert len(worker_pids(server.proc.pid)) == 2
    token, cookies = anonymous_form(server, "/login")
    n = 100

    def guess(c: httpx.Client, i: int) -> httpx.Response:
        return c.post("/login", data={"username": "victim", "password": f"guess-{i}", "csrf_token": token})

    t0 = time.monotonic()
    answers = burst(server, n, cookies, guess)
    took = time.monotonic() - t0
    codes = [a.status_code for a in answers]
    evaluated = codes.count(401)
    limited = [a for a in answers if a.status_code == 429]
    print(f"\n{n} concurrent wrong logins -> {evaluated} evaluated (401), {len(limited)} answered 429 "
          f"({sum('busy' in a.text for a in limited)} of them 'busy') in {took:.2f}s")
    assert 1 <= evaluated <= users.MAX_FAILURES
    assert evaluated + len(limited) == n, sorted(set(codes))
    assert all(a.headers.get("retry-after") for a in limited)
    rows = store_rows(data, "select count(*) from login_attempts where username = 'victim'", url)[0][0]
    assert rows == evaluated  # one stored failure per evaluated password, none for the refused
    with httpx.Client(base_url=server.url, timeout=30, trust_env=False, cookies=cookies) as c:
        r = c.post("/login", data={"username": "victim", "password": "victim-password-1", "csrf_token": token})
        assert r.status_code == 429 and "papersift_session" not in r.cookies  # the window still holds
    still_healthy(server)


def test_signup_flood_keeps_hash_memory_bounded(tmp_path: Path, start_server, backend: str,
                                                 request: pytest.FixtureRequest,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """150 sign-ups at once (each an argon2 hash, no rate limit of their own): each worker hashes
    at most HASH_SLOTS at a time and answers the rest 429 "busy"; its peak RSS grows by at most
    the hash slots' memory and falls back afterwards; a GET meanwhile is answered."""
    url = backend_database_url(backend, request, monkeypatch)
    data = tmp_path / "data"
    assert cli(data, "user", "list").returncode == 0
    server = start_server(data, workers=2)
    pids = worker_pids(server.proc.pid)
    assert len(pids) == 2
    token, cookies = anonymous_form(server, "/signup")
    with server.client() as c:  # warm each worker up a little, then take the baseline
        for _ in range(10):
            c.get("/signup")
    before = {pid: memory(pid) for pid in pids}
    get_times: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with server.client() as c:
            while not stop.is_set():
                t = time.monotonic()
                assert c.get("/api/v1/stats").status_code == 200
                get_times.append(time.monotonic() - t)
                time.sleep(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    n = 150

    def signup(c: httpx.Client, i: int) -> httpx.Response:
        pw = f"flood-password-{i}"
        return c.post("/signup", data={"username": f"flood{i:03d}", "password": pw, "password2": pw,
                                       "csrf_token": token})

    try:
        answers = burst(server, n, cookies, signup)
    finally:
        stop.set()
        prober.join()
    codes = [a.status_code for a in answers]
    created, busy = codes.count(303), codes.count(429)
    after = {pid: memory(pid) for pid in pids}
    slots_mem = users.HASH_SLOTS * users.ARGON2_MEMORY_KIB * 1024
    growth = {pid: after[pid]["VmHWM"] - before[pid]["VmHWM"] for pid in pids}
    print(f"\n{n} concurrent sign-ups -> {created} created, {busy} answered 429 busy; peak RSS per worker "
          + ", ".join(f"{after[p]['VmHWM'] / MIB:.0f} MiB (+{growth[p] / MIB:.0f}, after "
                      f"{after[p]['VmRSS'] / MIB:.0f})" for p in pids)
          + f"; slowest GET meanwhile {max(get_times) * 1000:.0f} ms over {len(get_times)} GETs")
    assert created + busy == n, sorted(set(codes))
    assert created >= 1
    assert all("busy" in a.text and a.headers.get("retry-after") for a in answers if a.status_code == 429)
    assert store_rows(data, "select count(*) from users", url)[0][0] == created
    for pid in pids:  # the hash slots' matrices (mapped, then given back), plus room for threads
        assert growth[pid] <= slots_mem + 48 * MIB, (growth, slots_mem)
        assert after[pid]["VmRSS"] <= before[pid]["VmRSS"] + 48 * MIB, (before, after)
    still_healthy(server)
