"""Login abuse resistance, in process: the atomic login limiter (per username+address, per address
across usernames, per username across addresses), the per-process cap on concurrent password
hashes (429 "busy"), and X-Forwarded-For believed only from configured trusted proxies."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.requests import Request

from papersift import accounts
from papersift.accounts import users
from papersift.config import Settings
from papersift.engine import Engine
from papersift.store.schema import login_attempts
from papersift.web.app import create_app
from papersift.web.deps import client_ip

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
pytestmark = pytest.mark.backends


def attempts(db: Any, **where: str) -> int:
    with db.read() as c:
        q = select(func.count()).select_from(login_attempts)
        for col, value in where.items():
            q = q.where(login_attempts.c[col] == value)
        return int(c.execute(q).scalar() or 0)


def counting_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the passwords actually evaluated (each ``_check`` is one argon2 verify or hash)."""
    calls: list[int] = []
    real = users._check

    def check(stored: str | None, password: str) -> tuple[bool, str | None]:
        calls.append(1)
        return real(stored, password)

    monkeypatch.setattr(users, "_check", check)
    return calls


def guess_all(db: Any, guesses: list[tuple[str, str, str]]) -> list[str]:
    """Run the (username, password, ip) guesses at once, one thread each; the outcome of each."""
    barrier = threading.Barrier(len(guesses))
    out: list[str] = [""] * len(guesses)

    def one(i: int) -> None:
        name, pw, ip = guesses[i]
        barrier.wait()
        try:
            accounts.authenticate(db, name, pw, ip)
            out[i] = "ok"
        except users.Busy:
            out[i] = "busy"
        except accounts.RateLimited:
            out[i] = "limited"
        except accounts.AccountError:
            out[i] = "wrong"

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(guesses))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


# -- the limiter -----------------------------------------------------------------------------------
def test_concurrent_guesses_evaluate_at_most_the_limit(engine: Engine, monkeypatch) -> None:
    """60 threads guess one account from one address at the same moment: the reservation is one
    write transaction with the count, so at most MAX_FAILURES passwords are evaluated."""
    db = engine.db
    accounts.create_user(db, "target", "target-password")
    calls = counting_checks(monkeypatch)
    out = guess_all(db, [("target", f"guess-{i}", "10.1.1.1") for i in range(60)])
    wrong = out.count("wrong")
    assert 1 <= wrong <= accounts.MAX_FAILURES, out
    assert len(calls) == wrong  # nothing else was evaluated
    assert out.count("limited") + out.count("busy") == 60 - wrong and "ok" not in out
    assert attempts(db, username="target") == wrong  # busy reservations were given back
    sequential = 0  # on a loaded machine a few may have been "busy": the rest of the allowance
    while _try(db, "target", "10.1.1.1") == "wrong":
        sequential += 1
    assert wrong + sequential == accounts.MAX_FAILURES
    with pytest.raises(accounts.RateLimited):
        accounts.authenticate(db, "target", "target-password", "10.1.1.1")  # even the right one waits


def test_success_clears_the_accounts_failures_for_that_address(engine: Engine) -> None:
    db = engine.db
    accounts.create_user(db, "typo", "typo-password")
    for _ in range(accounts.MAX_FAILURES - 1):
        with pytest.raises(accounts.AccountError):
            accounts.authenticate(db, "typo", "typo-passwort", "10.2.2.2")
    with pytest.raises(accounts.AccountError):
        accounts.authenticate(db, "typo", "nope-nope", "10.2.2.3")  # another address: not cleared
    assert accounts.authenticate(db, "typo", "typo-password", "10.2.2.2").username == "typo"
    assert users.recent_failures(db, "typo", "10.2.2.2") == 0
    assert users.recent_failures(db, "typo", "10.2.2.3") == 1
    for _ in range(accounts.MAX_FAILURES):  # a fresh allowance
        with pytest.raises(accounts.AccountError) as e:
            accounts.authenticate(db, "typo", "typo-passwort", "10.2.2.2")
        assert not isinstance(e.value, accounts.RateLimited)
    with pytest.raises(accounts.RateLimited):
        accounts.authenticate(db, "typo", "typo-password", "10.2.2.2")


def test_one_address_across_usernames_is_capped(engine: Engine, monkeypatch) -> None:
    """One address trying many usernames (one guess each) is stopped at MAX_ADDRESS_FAILURES,
    also when the guesses arrive at once; other addresses are unaffected."""
    db = engine.db
    assert users.MAX_FAILURES < users.MAX_ADDRESS_FAILURES
    accounts.create_user(db, "known", "known-password")
    calls = counting_checks(monkeypatch)
    names = [f"user{i:03d}" for i in range(users.MAX_ADDRESS_FAILURES + 12)]
    out = guess_all(db, [(n, "password-guess", "10.3.3.3") for n in names])
    assert out.count("wrong") <= users.MAX_ADDRESS_FAILURES
    assert len(calls) == out.count("wrong")
    assert set(out) <= {"wrong", "limited", "busy"}
    sequential = sum(1 for n in names if _try(db, n, "10.3.3.3") == "wrong")  # the rest, one by one
    assert out.count("wrong") + sequential == users.MAX_ADDRESS_FAILURES
    assert attempts(db, ip="10.3.3.3") == users.MAX_ADDRESS_FAILURES
    with pytest.raises(accounts.RateLimited):  # that address is shut for the window, known user too
        accounts.authenticate(db, "known", "known-password", "10.3.3.3")
    assert accounts.authenticate(db, "known", "known-password", "10.3.3.4").username == "known"


def _try(db: Any, name: str, ip: str, password: str = "password-guess") -> str:
    try:
        accounts.authenticate(db, name, password, ip)
        return "ok"
    except accounts.RateLimited:
        return "limited"
    except accounts.AccountError:
        return "wrong"


def test_one_username_across_addresses_is_capped(engine: Engine, monkeypatch) -> None:
    """Distributed guessing at one account: MAX_ACCOUNT_FAILURES across all addresses."""
    monkeypatch.setattr(users, "MAX_ACCOUNT_FAILURES", 8)
    db = engine.db
    accounts.create_user(db, "popular", "popular-password")
    outcomes = [_try(db, "popular", f"10.4.4.{i}") for i in range(12)]
    assert outcomes == ["wrong"] * 8 + ["limited"] * 4
    assert _try(db, "popular", "10.4.5.1", "popular-password") == "limited"


# -- hash slots ----------------------------------------------------------------------------------
@contextmanager
def all_slots_taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(users, "HASH_WAIT", 0.05)
    for _ in range(users.HASH_SLOTS):
        assert users._hash_slots.acquire(timeout=5)
    try:
        yield
    finally:
        for _ in range(users.HASH_SLOTS):
            users._hash_slots.release()


def test_hash_slots_bound_concurrency() -> None:
    """However many threads hash at once, at most HASH_SLOTS computations run together; the rest
    wait (up to HASH_WAIT) or are refused with Busy, never queued without bound."""
    lock = threading.Lock()
    running = [0, 0]  # now, peak

    def slow() -> None:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    outcomes: list[str] = []

    def one() -> None:
        try:
            users.hashing(slow)
            outcomes.append("ran")
        except users.Busy:
            outcomes.append("busy")

    threads = [threading.Thread(target=one) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert running[1] == users.HASH_SLOTS
    assert len(outcomes) == 40 and outcomes.count("ran") >= users.HASH_SLOTS
    assert outcomes.count("busy") > 0  # 40 x 50 ms cannot all fit in 4 slots within HASH_WAIT


def test_busy_login_is_not_counted_and_busy_everywhere(engine: Engine, monkeypatch) -> None:
    db = engine.db
    accounts.create_user(db, "patient", "patient-password")
    with all_slots_taken(monkeypatch):
        with pytest.raises(users.Busy):
            accounts.authenticate(db, "patient", "patient-password", "10.5.5.5")
        with pytest.raises(users.Busy):
            accounts.create_user(db, "newcomer", "newcomer-password")
        with pytest.raises(users.Busy):
            accounts.set_password(db, "patient", "another-password")
    assert attempts(db, username="patient") == 0  # given back: it was never evaluated
    assert accounts.get_user(db, "newcomer") is None
    assert accounts.authenticate(db, "patient", "patient-password", "10.5.5.5").username == "patient"


# -- through the web app ---------------------------------------------------------------------------
def web(settings: Settings, peer: str = "203.0.113.7") -> TestClient:
    return TestClient(create_app(settings), client=(peer, 40000), follow_redirects=False)


def login(c: TestClient, username: str, password: str, **headers: str) -> Any:
    token = CSRF_RE.search(c.get("/login").text)
    assert token
    return c.post("/login", data={"username": username, "password": password, "csrf_token": token.group(1)},
                  headers=headers)


def test_login_and_signup_answer_429_busy_when_hash_slots_are_full(engine: Engine, settings: Settings,
                                                                    monkeypatch) -> None:
    accounts.create_user(engine.db, "webuser", "webuser-password")
    with web(settings) as c:
        token = CSRF_RE.search(c.get("/signup").text).group(1)  # type: ignore[union-attr]
        with all_slots_taken(monkeypatch):
            r = login(c, "webuser", "webuser-password")
            assert r.status_code == 429 and r.headers["retry-after"] == "1"
            assert "busy" in r.text and "papersift_session" not in r.cookies
            r = c.post("/signup", data={"username": "fresh", "password": "fresh-password",
                                        "password2": "fresh-password", "csrf_token": token})
            assert r.status_code == 429 and r.headers["retry-after"] == "1" and "busy" in r.text
        assert attempts(engine.db, username="webuser") == 0
        r = login(c, "webuser", "webuser-password")
        assert r.status_code == 303 and "papersift_session" in r.cookies


def test_rate_limited_login_keeps_its_message_and_retry_after(engine: Engine, settings: Settings) -> None:
    accounts.create_user(engine.db, "webvictim", "webvictim-password")
    with web(settings) as c:
        codes = [login(c, "webvictim", f"wrong-{i}").status_code for i in range(accounts.MAX_FAILURES + 1)]
        assert codes == [401] * accounts.MAX_FAILURES + [429]
        r = login(c, "webvictim", "webvictim-password")
        assert r.status_code == 429 and r.headers["retry-after"] == "300"
        assert "Too many failed logins" in r.text


def test_spoofed_forwarded_for_is_ignored_by_default(engine: Engine, settings: Settings) -> None:
    """A new X-Forwarded-For on every guess used to reset the limit: now it is not believed."""
    accounts.create_user(engine.db, "spoofed", "spoofed-password")
    assert settings.trusted_proxies == []
    with web(settings) as c:
        codes = [login(c, "spoofed", "wrong-guess", **{"X-Forwarded-For": f"198.51.100.{i}"}).status_code
                 for i in range(accounts.MAX_FAILURES + 3)]
    assert codes == [401] * accounts.MAX_FAILURES + [429] * 3
    assert attempts(engine.db, username="spoofed", ip="203.0.113.7") == accounts.MAX_FAILURES


def test_forwarded_for_is_believed_from_a_configured_proxy(engine: Engine, settings: Settings) -> None:
    accounts.create_user(engine.db, "proxied", "proxied-password")
    settings.trusted_proxies = ["203.0.113.0/24"]
    with web(settings, peer="203.0.113.7") as c:
        for i in range(accounts.MAX_FAILURES):  # five clients behind the proxy, one guess each
            assert login(c, "proxied", "wrong-guess", **{"X-Forwarded-For": f"198.51.100.{i}"}).status_code == 401
        # the client's own left part of the header is not believed: the proxy's entry is
        assert login(c, "proxied", "wrong", **{"X-Forwarded-For": "1.1.1.1, 198.51.100.0"}).status_code == 401
        assert attempts(engine.db, username="proxied", ip="198.51.100.0") == 2
        assert attempts(engine.db, username="proxied", ip="1.1.1.1") == 0
    with web(settings, peer="192.0.2.50") as c:  # not a trusted peer: its header is ignored
        assert login(c, "proxied", "wrong", **{"X-Forwarded-For": "198.51.100.77"}).status_code == 401
        assert attempts(engine.db, username="proxied", ip="192.0.2.50") == 1


def request_from(peer: str, xff: list[str], trusted: list[str]) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(settings=Settings(trusted_proxies=trusted)))
    headers = [(b"x-forwarded-for", v.encode()) for v in xff]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 1),
                    "app": app})


@pytest.mark.parametrize(("peer", "xff", "trusted", "want"), [
    ("127.0.0.1", ["6.6.6.6"], [], "127.0.0.1"),  # nothing trusted by default, not even localhost
    ("10.0.0.2", ["6.6.6.6"], ["127.0.0.1"], "10.0.0.2"),
    ("127.0.0.1", ["6.6.6.6"], ["127.0.0.1"], "6.6.6.6"),
    ("127.0.0.1", ["9.9.9.9, 6.6.6.6"], ["127.0.0.1"], "6.6.6.6"),  # the left part is the client's
    ("127.0.0.1", ["9.9.9.9, 6.6.6.6, 10.0.0.3"], ["127.0.0.1", "10.0.0.0/8"], "6.6.6.6"),
    ("127.0.0.1", ["9.9.9.9", "6.6.6.6"], ["127.0.0.1"], "6.6.6.6"),  # repeated header lines
    ("127.0.0.1", ["not-an-ip"], ["127.0.0.1"], "127.0.0.1"),
    ("127.0.0.1", [], ["127.0.0.1"], "127.0.0.1"),
    ("::1", ["2001:db8::5"], ["::1"], "2001:db8::5"),
    ("127.0.0.1", ["6.6.6.6"], ["bogus", "127.0.0.0/8"], "6.6.6.6"),  # a bad entry is skipped
])
def test_client_ip(peer: str, xff: list[str], trusted: list[str], want: str) -> None:
    assert client_ip(request_from(peer, xff, trusted)) == want


def test_trusted_proxies_setting_from_env(monkeypatch) -> None:
    monkeypatch.setenv("PAPERSIFT_TRUSTED_PROXIES", " 10.0.0.1, 192.168.0.0/16 ,")
    assert Settings().trusted_proxies == ["10.0.0.1", "192.168.0.0/16"]
    monkeypatch.delenv("PAPERSIFT_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == []


def test_serve_does_not_let_uvicorn_rewrite_the_client(tmp_path, monkeypatch) -> None:
    """uvicorn's own proxy headers trust X-Forwarded-For from 127.0.0.1 by default: serve turns
    them off (client_ip decides, from PAPERSIFT_TRUSTED_PROXIES)."""
    import uvicorn
    from typer.testing import CliRunner

    from papersift.cli import app

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    r = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "d"), "serve", "--port", "1"])
    assert r.exit_code == 0, r.output
    assert seen["proxy_headers"] is False
