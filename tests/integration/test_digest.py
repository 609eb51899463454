"""The e-mail digest end to end, against a real SMTP server (aiosmtpd on 127.0.0.1): ranking and
reasons per user, exactly once per (user, period) across re-runs, concurrent senders and a
SIGKILLed sender, SMTP failures retried and never marked sent, one-click unsubscribe over real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller

from papersift import accounts
from papersift.accounts import interests
from papersift.config import Settings
from papersift.engine import Engine, open_engine
from papersift.models import Paper
from papersift.notify import prefs as digest_prefs
from papersift.notify.mail import MailSettings, compose, unsubscribe_token, unsubscribe_user
from papersift.notify.schedule import due_period
from papersift.notify.sender import picks_for, preview, send_due
from papersift.store import digest as digest_sql
from papersift.web.app import create_app
from tests.conftest import backend_database_url

pytestmark = pytest.mark.backends  # SQLite and PostgreSQL (tests/conftest.py)

SECRET = "test-secret-key-for-digest-signing-0123456789"
BASE = "https://papers.example.org"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- a real SMTP server --------------------------------------------------------------------------
class Inbox:
    """aiosmtpd handler: keeps every accepted message; ``fail_next`` answers that many DATA commands
    with ``fail_reply`` (a 451 by default) instead."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.fail_next = 0
        self.fail_reply = "451 4.3.0 Try again later"
        self.refused = 0
        self.delay = 0.0  # seconds each DATA takes (widens the window two senders share)
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            if self.fail_next:
                self.fail_next -= 1
                self.refused += 1
                return self.fail_reply
            msg = message_from_bytes(envelope.content, policy=default_policy)
            assert isinstance(msg, EmailMessage)
            self.messages.append(msg)
        return "250 OK"

    def to(self) -> list[str]:
        with self.lock:
            return [str(m["To"]) for m in self.messages]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield inbox, port
    finally:
        ctl.stop()


def mail_settings(port: int, attempts: int = 3, backoff: float = 0.01) -> MailSettings:
    return MailSettings(base_url=BASE, mail_from="papersift <digest@papers.example.org>", secret=SECRET,
                        host="127.0.0.1", port=port, security="none", timeout=5, attempts=attempts,
                        backoff=backoff)


# -- a corpus with two topics and two people -----------------------------------------------------
GRAPH_AUTHOR = "Ada Lovelace"
SPEECH_AUTHOR = "Grace Hopper"


def corpus() -> list[Paper]:
    graph = [Paper(title=f"Graph neural network message passing study {i}", arxiv_id=f"2501.{i:05d}",
                   abstract=f"Graph neural networks with message passing over molecule graphs, variant {i}.",
                   authors=[GRAPH_AUTHOR if i % 2 == 0 else f"Graph Person {i}"], categories=["cs.LG"],
                   published=date(2025, 1, 1 + i), sources=["test"],
                   links={"abs": f"https://arxiv.org/abs/2501.{i:05d}"}) for i in range(1, 9)]
    speech = [Paper(title=f"Speech recognition acoustic model study {i}", arxiv_id=f"2502.{i:05d}",
                    abstract=f"Automatic speech recognition with acoustic models and audio encoders, variant {i}.",
                    authors=[SPEECH_AUTHOR if i % 2 == 0 else f"Speech Person {i}"], categories=["eess.AS"],
                    published=date(2025, 2, 1 + i), sources=["test"]) for i in range(1, 9)]
    other = [Paper(title=f"Soil chemistry field survey {i}", arxiv_id=f"2503.{i:05d}",
                   abstract="Soil samples from farms.", authors=["Soil Person"], categories=["physics.geo-ph"],
                   published=date(2025, 3, 1 + i), sources=["test"]) for i in range(1, 5)]
    return graph + speech + other


def make_user(eng: Engine, name: str, email: str | None, **prefs: Any) -> accounts.User:
    user = accounts.create_user(eng.db, name, "password-" + name, email=email)
    digest_prefs.update_prefs(eng.db, user.id, enabled=True, hour=0, timezone="UTC", **prefs)
    return user



@pytest.fixture
def world(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, Engine]]:
    """The corpus without vectors: the ranker's keyword (BM25 profile) mode."""
    yield from _world(tmp_path, None, backend_database_url(backend, request, monkeypatch))


@pytest.fixture(params=["keywords", "vectors"])
def any_world(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, Engine]]:
    """The corpus without vectors, and embedded (the deterministic hashing embedder: the learned model)."""
    url = backend_database_url(backend, request, monkeypatch)
    yield from _world(tmp_path, "hashing-384" if request.param == "vectors" else None, url)


def _world(tmp_path: Path, embedder: str | None, database_url: str | None = None,
           ) -> Iterator[tuple[Settings, Engine]]:
    settings = Settings(data_dir=tmp_path / "data", embedder=embedder, database_url=database_url)
    eng = open_engine(settings, "owner", owner="test", upgrade=True)
    eng.store.upsert_many(corpus())
    eng.catch_up()
    if embedder:
        from papersift.index.embed_stage import embed_pending

        assert embed_pending(eng.db, eng.semantic.encoder.embedder()).embedded == len(corpus())
        eng.catch_up_vectors(force_save=True)
    (settings.data_dir / "secret.key").write_text(SECRET)
    try:
        yield settings, eng
    finally:
        eng.close()


def graph_and_speech_people(eng: Engine) -> tuple[accounts.User, accounts.User]:
    alice = make_user(eng, "alice", "alice@example.org", max_papers=5)
    bob = make_user(eng, "bob", "bob@example.org", max_papers=5)
    interests.follow(eng.db, alice, "category", "cs.LG")
    interests.follow(eng.db, alice, "author", GRAPH_AUTHOR)
    interests.set_feedback(eng.store, alice, "2501.00001", 1)
    interests.follow(eng.db, bob, "author", SPEECH_AUTHOR)
    interests.set_feedback(eng.store, bob, "2502.00001", 1)
    interests.set_feedback(eng.store, bob, "2501.00003", -1)
    return alice, bob


def sends(eng: Engine, user: accounts.User) -> list[Any]:
    return digest_sql.sends_of(eng.db, user.id)


# -- compose: pure -------------------------------------------------------------------------------
def test_compose_is_pure_with_stable_id_unsubscribe_headers_and_escaped_html(world: tuple[Settings, Engine]) -> None:
    _settings, _eng = world
    from papersift.notify.mail import Recipient
    from papersift.rank.foryou import Pick

    hostile = Paper(title="<script>alert(1)</script> Attention", arxiv_id="2504.00001", abstract="x " * 400,
                    authors=[f"Author {i}" for i in range(8)], sources=["t"], id="2504.00001",
                    links={"pdf": "https://arxiv.org/pdf/2504.00001", "evil": "javascript:alert(1)"})
    picks = [Pick(hostile, 1.0, ["by Author 0, whom you follow"])]
    ms = mail_settings(25)
    who = Recipient(7, "alice", "alice@example.org")
    period = due_period("daily", 7, "Europe/Berlin", datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
    a, b = compose(who, picks, period, ms), compose(who, picks, period, ms)
    assert a.as_bytes() == b.as_bytes()  # pure: same input, same bytes
    assert a["Message-ID"] == b["Message-ID"] and a["Message-ID"].endswith("@papers.example.org>")
    other_day = due_period("daily", 7, "Europe/Berlin", datetime(2026, 12, 6, 9, 0, tzinfo=UTC))
    assert compose(who, picks, other_day, ms)["Message-ID"] != a["Message-ID"]
    assert a["Date"] is None  # the clock is send's business
    assert a["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsub = a["List-Unsubscribe"].strip("<>")
    assert unsub.startswith(BASE + "/digest/unsubscribe/")
    assert unsubscribe_user(SECRET, unsub.rsplit("/", 1)[1]) == 7
    assert "alice" in a["Subject"] and "December 5, 2026" in a["Subject"]
    text = a.get_body(("plain",)).get_content()
    html = a.get_body(("html",)).get_content()
    assert "Why: by Author 0, whom you follow" in text
    assert f"{BASE}/papers/2504.00001" in text and "https://arxiv.org/pdf/2504.00001" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html and "javascript:" not in text
    assert "et al." in text and "…" in text  # short author list and abstract
    with pytest.raises(ValueError):
        compose(who, [], period, ms)


def test_unsubscribe_tokens_refuse_tampering_and_foreign_keys() -> None:
    token = unsubscribe_token(SECRET, 42)
    assert unsubscribe_user(SECRET, token) == 42
    assert unsubscribe_user(SECRET, token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
    assert unsubscribe_user("another-instance-secret", token) is None
    assert unsubscribe_user(SECRET, "") is None and unsubscribe_user(SECRET, "x" * 500) is None


def test_periods_follow_hour_and_time_zone() -> None:
    berlin_before = due_period("daily", 7, "Europe/Berlin", datetime(2026, 12, 5, 5, 59, tzinfo=UTC))
    berlin_after = due_period("daily", 7, "Europe/Berlin", datetime(2026, 12, 5, 6, 0, tzinfo=UTC))
    assert (berlin_before.key, berlin_after.key) == ("2026-12-04", "2026-12-05")
    assert due_period("weekly", 9, "America/New_York", datetime(2026, 12, 7, 13, 59, tzinfo=UTC)).key == "2026-W49"
    assert due_period("weekly", 9, "America/New_York", datetime(2026, 12, 7, 14, 0, tzinfo=UTC)).key == "2026-W50"
    with pytest.raises(ValueError, match="time zone"):
        due_period("daily", 7, "Mars/Olympus")


# -- ranking and reasons -------------------------------------------------------------------------
def test_two_users_get_different_correctly_ranked_digests_with_reasons(world: tuple[Settings, Engine],
                                                                       smtp: tuple[Inbox, int]) -> None:
    _settings, eng = world
    inbox, port = smtp
    alice, bob = graph_and_speech_people(eng)
    expected = {u.email: [p.paper.id for p in picks_for(eng, u.id, digest_prefs.get_prefs(eng.db, u.id))]
                for u in (alice, bob)}
    out = send_due(eng, mail_settings(port), 600, "test-sender")
    assert sorted(o.status for o in out) == ["sent", "sent"]
    assert len(inbox.messages) == 2
    got = {m["To"].addresses[0].addr_spec: m for m in inbox.messages}
    for who, msg in got.items():
        ids = next(o.papers for o in out if o.email == who)
        assert ids == expected[who] and len(ids) == 5  # the e-mail carries the ranker's order
        text = msg.get_body(("plain",)).get_content()
        positions = [text.index(f"{BASE}/papers/{pid}") for pid in ids]
        assert positions == sorted(positions)  # in rank order in the e-mail
    a_text = got["alice@example.org"].get_body(("plain",)).get_content()
    b_text = got["bob@example.org"].get_body(("plain",)).get_content()
    assert all(pid.startswith("2501.") for pid in expected["alice@example.org"])  # graph papers
    assert all(pid.startswith("2502.") for pid in expected["bob@example.org"])  # speech papers
    assert f"by {GRAPH_AUTHOR}, whom you follow" in a_text and "a category you follow" in a_text
    assert f"by {SPEECH_AUTHOR}, whom you follow" in b_text and "which you liked" in b_text
    assert set(expected["alice@example.org"]).isdisjoint(expected["bob@example.org"])
    # the followed author's papers rank first for alice (follow + category + similarity)
    first = expected["alice@example.org"][0]
    assert GRAPH_AUTHOR in (eng.store.get(first).authors if eng.store.get(first) else [])
    rows = {r.user_id: r for r in (sends(eng, alice) + sends(eng, bob))}
    assert rows[alice.id].status == "sent" and rows[alice.id].message_id == str(got["alice@example.org"]["Message-ID"])


def test_feedback_moves_the_next_digest(any_world: tuple[Settings, Engine], smtp: tuple[Inbox, int]) -> None:
    settings, eng = any_world
    inbox, port = smtp
    from papersift.rank.foryou import mode

    assert mode(eng) == ("vectors" if settings.embedder else "keywords")
    carol = make_user(eng, "carol", "carol@example.org", max_papers=4, include_trending=False)
    interests.follow(eng.db, carol, "category", "cs.LG")  # starts with graph papers only
    ms = mail_settings(port)
    _msg, before, _ = preview(eng, ms, carol.id, "carol", carol.email)
    assert before and all(p.paper.id.startswith("2501.") for p in before)
    for ref in ("2502.00001", "2502.00002", "2502.00003"):  # three thumbs up on speech
        interests.set_feedback(eng.store, carol, ref, 1)
    _msg, after, _ = preview(eng, ms, carol.id, "carol", carol.email)
    speech_after = [p for p in after if p.paper.id.startswith("2502.")]
    assert speech_after, "three thumbs up on speech papers put speech papers in the digest"
    assert after[0].paper.id.startswith("2502.")  # and at the top
    assert any("which you liked" in r for p in speech_after for r in p.reasons)
    send_due(eng, ms, 600, "test-sender")
    text = inbox.messages[-1].get_body(("plain",)).get_content()
    assert "Speech recognition" in text.split("\n\n", 2)[1]  # the first paper of the sent digest


# -- exactly once --------------------------------------------------------------------------------
def cli(data: Path, port: int, *args: str, env: dict[str, str] | None = None, **kw: Any) -> subprocess.Popen[str]:
    e = {**os.environ, "PAPERSIFT_SMTP_HOST": "127.0.0.1", "PAPERSIFT_SMTP_PORT": str(port),
         "PAPERSIFT_SMTP_SECURITY": "none", "PAPERSIFT_MAIL_FROM": "papersift <digest@papers.example.org>",
         "PAPERSIFT_BASE_URL": BASE, "PAPERSIFT_SMTP_BACKOFF": "0.01", "PAPERSIFT_LOG_LEVEL": "INFO",
         **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "papersift", "--data-dir", str(data), "digest", "send", *args],
                            env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def run_cli(data: Path, port: int, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = cli(data, port, "--json", *args, env=env)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode in (0, 1), stderr
    return {"rc": proc.returncode, "json": json.loads(stdout), "stderr": stderr}


def three_people(eng: Engine) -> None:
    for name, cat in (("dora", "cs.LG"), ("erin", "eess.AS"), ("fred", "cs.LG")):
        u = make_user(eng, name, f"{name}@example.org", max_papers=3)
        interests.follow(eng.db, u, "category", cat)


def test_send_twice_sends_nothing_the_second_time(world: tuple[Settings, Engine], smtp: tuple[Inbox, int]) -> None:
    settings, eng = world
    inbox, port = smtp
    three_people(eng)
    only = run_cli(settings.data_dir, port, "--user", "dora")
    assert only["rc"] == 0 and [(r["user"], r["status"]) for r in only["json"]["results"]] == [("dora", "sent")]
    first = run_cli(settings.data_dir, port)
    assert first["rc"] == 0 and first["json"]["counts"] == {"sent": 2}
    second = run_cli(settings.data_dir, port)
    assert second["rc"] == 0 and second["json"]["results"] == []
    assert sorted(inbox.to()) == ["dora <dora@example.org>", "erin <erin@example.org>", "fred <fred@example.org>"]
    dry = run_cli(settings.data_dir, port, "--dry-run")
    assert dry["json"]["results"] == []  # nothing due any more
    status = subprocess.run([sys.executable, "-m", "papersift", "--data-dir", str(settings.data_dir), "digest",
                             "status", "--json"], capture_output=True, text=True, timeout=60)
    states = {d["user"]: d for d in json.loads(status.stdout)}
    assert {u: d["state"] for u, d in states.items()} == {"dora": "sent", "erin": "sent", "fred": "sent"}
    assert all(d["last_sent_at"] for d in states.values())


def test_two_processes_started_together_send_each_email_once(world: tuple[Settings, Engine],
                                                             smtp: tuple[Inbox, int]) -> None:
    settings, eng = world
    inbox, port = smtp
    three_people(eng)
    for i in range(3):  # more people: more chances to collide
        u = make_user(eng, f"extra{i}", f"extra{i}@example.org", max_papers=2)
        interests.follow(eng.db, u, "author", GRAPH_AUTHOR)
    inbox.delay = 0.4  # each e-mail takes a while: the two senders overlap
    procs = [cli(settings.data_dir, port, "--json") for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    results = [r for o in outs for r in json.loads(o[0])["results"]]
    sent = [r["user"] for r in results if r["status"] == "sent"]
    assert sorted(sent) == sorted(set(sent)) and len(sent) == 6  # each user sent by exactly one process
    assert len(inbox.messages) == 6 and len(set(inbox.to())) == 6


def wait_for(cond: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_sigkill_after_the_first_email_then_a_rerun_sends_only_the_missing(
        world: tuple[Settings, Engine], smtp: tuple[Inbox, int], tmp_path: Path) -> None:
    settings, eng = world
    inbox, port = smtp
    three_people(eng)
    marker = tmp_path / "paused"
    proc = cli(settings.data_dir, port, env={"PAPERSIFT_DIGEST_TEST_PAUSE": "sent",
                                             "PAPERSIFT_DIGEST_TEST_PAUSE_FILE": str(marker)})
    wait_for(marker.exists)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert len(inbox.messages) == 1
    first = inbox.to()[0]
    again = run_cli(settings.data_dir, port)
    assert again["json"]["counts"] == {"sent": 2}
    assert len(inbox.messages) == 3 and len(set(inbox.to())) == 3 and inbox.to().count(first) == 1


def test_a_stale_claim_of_a_killed_sender_is_retaken_after_the_lease(
        world: tuple[Settings, Engine], smtp: tuple[Inbox, int], tmp_path: Path) -> None:
    settings, eng = world
    inbox, port = smtp
    three_people(eng)
    marker = tmp_path / "paused"
    proc = cli(settings.data_dir, port, env={"PAPERSIFT_DIGEST_TEST_PAUSE": "claimed",
                                             "PAPERSIFT_DIGEST_TEST_PAUSE_FILE": str(marker)})
    wait_for(marker.exists)
    os.kill(proc.pid, signal.SIGKILL)  # killed holding a claim, before sending
    proc.communicate(timeout=30)
    assert inbox.messages == []
    held = run_cli(settings.data_dir, port, env={"PAPERSIFT_DIGEST_LEASE": "600"})
    assert held["json"]["counts"] == {"busy": 1, "sent": 2}  # the live claim is respected
    time.sleep(1.1)
    retaken = run_cli(settings.data_dir, port, env={"PAPERSIFT_DIGEST_LEASE": "1"})
    assert retaken["json"]["counts"] == {"sent": 1}
    assert len(inbox.messages) == 3 and len(set(inbox.to())) == 3


# -- SMTP failures -------------------------------------------------------------------------------
def test_451_is_retried_with_backoff_and_logged(world: tuple[Settings, Engine], smtp: tuple[Inbox, int],
                                               caplog: pytest.LogCaptureFixture) -> None:
    _settings, eng = world
    inbox, port = smtp
    alice, _bob = graph_and_speech_people(eng)
    inbox.fail_next = 2
    with caplog.at_level(logging.WARNING, logger="papersift.notify.mail"):
        out = send_due(eng, mail_settings(port, attempts=4), 600, "s", username="alice")
    assert [o.status for o in out] == ["sent"] and out[0].attempts == 3 and inbox.refused == 2
    assert sum("451" in r.getMessage() and "retrying" in r.getMessage() for r in caplog.records) == 2
    assert sends(eng, alice)[0].status == "sent" and sends(eng, alice)[0].attempts == 3


def drop_server() -> tuple[int, threading.Event, list[int]]:
    """A TCP server on 127.0.0.1 that accepts and closes every connection at once."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    stop = threading.Event()
    count = [0]

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            count[0] += 1
            conn.close()
        srv.close()

    threading.Thread(target=loop, daemon=True).start()
    return int(srv.getsockname()[1]), stop, count


@pytest.mark.parametrize("failure", ["refused", "dropped", "451-always"])
def test_failing_smtp_is_retried_logged_and_never_marked_sent(world: tuple[Settings, Engine],
                                                              smtp: tuple[Inbox, int], failure: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    _settings, eng = world
    inbox, good_port = smtp
    alice, _bob = graph_and_speech_people(eng)
    stop = None
    if failure == "refused":
        port = free_port()  # nothing listens there
    elif failure == "dropped":
        port, stop, count = drop_server()
    else:
        port, inbox.fail_next = good_port, 10**6
    try:
        with caplog.at_level(logging.WARNING):
            out = send_due(eng, mail_settings(port, attempts=3), 600, "s", username="alice")
    finally:
        if stop is not None:
            stop.set()
    assert [o.status for o in out] == ["failed"] and out[0].attempts == 3
    if failure == "dropped":
        assert count[0] == 3
    row = sends(eng, alice)[0]
    assert row.status == "failed" and row.sent_at is None and row.message_id is None
    assert row.attempts == 3 and row.next_attempt_at is not None and row.error
    assert sum("retrying" in r.getMessage() for r in caplog.records) == 2
    assert any("not sent after 3 attempt" in r.getMessage() for r in caplog.records)
    assert inbox.messages == []
    # not due for a retry yet: nothing happens; once due, the retry goes out to a working server
    assert send_due(eng, mail_settings(good_port), 600, "s", username="alice") == []
    inbox.fail_next = 0
    later = datetime.now(UTC).replace(tzinfo=None) + digest_sql_retry_after()
    out = send_due(eng, mail_settings(good_port), 600, "s", username="alice", at=later)
    assert [o.status for o in out] == ["sent"] and len(inbox.messages) == 1


def digest_sql_retry_after() -> Any:
    from papersift.notify.sender import RETRY_AFTER

    return RETRY_AFTER * 1.01


def test_5xx_refusal_is_not_retried(world: tuple[Settings, Engine], smtp: tuple[Inbox, int]) -> None:
    _settings, eng = world
    inbox, port = smtp
    alice, _bob = graph_and_speech_people(eng)
    inbox.fail_next, inbox.fail_reply = 10, "550 5.1.1 No such mailbox"
    out = send_due(eng, mail_settings(port, attempts=4), 600, "s", username="alice")
    assert out[0].status == "failed" and out[0].attempts == 1 and inbox.refused == 1
    row = sends(eng, alice)[0]
    assert row.status == "failed" and row.next_attempt_at is None
    later = datetime.now(UTC).replace(tzinfo=None) + digest_sql_retry_after() * 3
    again = send_due(eng, mail_settings(port), 600, "s", username="alice", at=later)
    assert all(o.period != out[0].period for o in again)  # that period is never retried (the next one is new)
    assert inbox.refused == 1 + len(again)


def test_an_empty_digest_is_never_sent(world: tuple[Settings, Engine], smtp: tuple[Inbox, int]) -> None:
    _settings, eng = world
    inbox, port = smtp
    gus = make_user(eng, "gus", "gus@example.org", include_trending=False)  # no interests at all
    out = send_due(eng, mail_settings(port), 600, "s")
    assert [o.status for o in out] == ["empty"] and inbox.messages == []
    assert sends(eng, gus)[0].status == "empty"
    assert send_due(eng, mail_settings(port), 600, "s") == []  # recorded: not recomputed this period


# -- one-click unsubscribe over real HTTP ---------------------------------------------------------
@pytest.fixture
def server(world: tuple[Settings, Engine]) -> Iterator[str]:
    settings, _eng = world
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(Settings(data_dir=settings.data_dir)), host="127.0.0.1",
                                        port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_for(lambda: srv.started, 20)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_one_click_unsubscribe_without_login_stops_the_next_digest(
        world: tuple[Settings, Engine], smtp: tuple[Inbox, int], server: str) -> None:
    _settings, eng = world
    inbox, port = smtp
    alice, bob = graph_and_speech_people(eng)
    send_due(eng, mail_settings(port), 600, "s")
    msg = next(m for m in inbox.messages if "alice" in str(m["To"]))
    url = msg["List-Unsubscribe"].strip("<>").replace(BASE, server)
    with httpx.Client() as http:
        page = http.get(url)
        assert page.status_code == 200 and "Stop the papersift digest" in page.text
        assert digest_prefs.get_prefs(eng.db, alice.id).enabled  # GET changes nothing
        tampered = url[:-3] + ("xyz" if not url.endswith("xyz") else "abc")
        bad = http.post(tampered, data={"List-Unsubscribe": "One-Click"})
        assert bad.status_code == 400 and digest_prefs.get_prefs(eng.db, alice.id).enabled
        foreign = server + "/digest/unsubscribe/" + unsubscribe_token("another-papersift-secret", alice.id)
        assert http.post(foreign, data={"List-Unsubscribe": "One-Click"}).status_code == 400
        assert http.get(foreign).status_code == 400
        assert digest_prefs.get_prefs(eng.db, alice.id).enabled
        # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click", no cookie, no CSRF token
        done = http.post(url, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "no more digest" in done.text
    prefs = digest_prefs.get_prefs(eng.db, alice.id)
    assert not prefs.enabled and prefs.unsubscribed_at is not None
    assert digest_prefs.get_prefs(eng.db, bob.id).enabled
    time.sleep(0.01)
    fresh = [Paper(title=f"Fresh {topic} paper {i}", arxiv_id=f"2509.{k * 10 + i:05d}", abstract=abstract,
                   authors=[author], categories=[cat], sources=["test"])
             for k, (topic, abstract, author, cat) in enumerate([
                 ("graph", "Graph neural networks with message passing.", GRAPH_AUTHOR, "cs.LG"),
                 ("speech", "Automatic speech recognition with acoustic models.", SPEECH_AUTHOR, "eess.AS")])
             for i in range(3)]
    eng.store.upsert_many(fresh)
    eng.catch_up()
    tomorrow = datetime.now(UTC).replace(tzinfo=None) + digest_sql_retry_after() * 6 * 24
    out = send_due(eng, mail_settings(port), 600, "s", at=tomorrow)
    assert [(o.user, o.status) for o in out] == [("bob", "sent")]  # alice unsubscribed: not even considered
    assert all(p.startswith("2509.") for p in out[0].papers)  # only papers new since the last digest
    assert len(inbox.messages) == 3
    again = digest_prefs.update_prefs(eng.db, alice.id, enabled=True)  # turned on again in the settings
    assert again.enabled and again.unsubscribed_at is None


def test_the_worker_digest_job_sends_once(world: tuple[Settings, Engine], smtp: tuple[Inbox, int]) -> None:
    settings, eng = world
    inbox, port = smtp
    three_people(eng)
    env = {**os.environ, "PAPERSIFT_SMTP_HOST": "127.0.0.1", "PAPERSIFT_SMTP_PORT": str(port),
           "PAPERSIFT_SMTP_SECURITY": "none", "PAPERSIFT_BASE_URL": BASE, "PAPERSIFT_EMBED_EVERY": "100000"}
    for _ in range(2):  # the second pass: the job is not due yet, and nothing is due anyway
        done = subprocess.run([sys.executable, "-m", "papersift", "--data-dir", str(settings.data_dir), "worker",
                               "--once"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert len(inbox.messages) == 3 and len(set(inbox.to())) == 3
    jobs = subprocess.run([sys.executable, "-m", "papersift", "--data-dir", str(settings.data_dir), "jobs",
                           "--json"], env=env, capture_output=True, text=True, timeout=60)
    digest = next(j for j in json.loads(jobs.stdout) if j["name"] == "digest")
    assert digest["last_outcome"] == "ok" and "3 sent" in digest["last_detail"]
