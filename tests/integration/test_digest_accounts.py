"""Accounts for people: e-mail on the CLI, on sign-up and in the settings page (CSRF), digest
preferences, the private feed (create, read, revoke), the worker's digest job registration."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
import uvicorn

from papersift import accounts
from papersift.accounts import interests
from papersift.config import Settings
from papersift.engine import open_engine
from papersift.jobs.registry import jobs_for
from papersift.notify import prefs as digest_prefs
from tests.conftest import backend_database_url
from tests.integration.test_digest import corpus, free_port, wait_for

pytestmark = pytest.mark.backends  # SQLite and PostgreSQL (tests/conftest.py)

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def papersift(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "papersift", "--data-dir", str(data), *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_cli_user_create_with_email_and_password_stdin_then_change_it(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    backend_database_url(backend, request, monkeypatch)  # the CLI processes use this test's store
    data = tmp_path / "data"
    made = papersift(data, "user", "create", "Ada", "--email", "Ada@Example.ORG", "--password-stdin",
                     stdin="correct horse battery\n")
    assert made.returncode == 0, made.stderr
    assert "created user ada <ada@example.org>" in made.stdout
    clash = papersift(data, "user", "create", "bob", "--email", "ada@example.org", "--password-stdin",
                      stdin="another password\n")
    assert clash.returncode == 1 and "belongs to another account" in clash.stderr
    bad = papersift(data, "user", "create", "carl", "--email", "not-an-address", "--password-stdin",
                    stdin="another password\n")
    assert bad.returncode == 1 and "is not an e-mail address" in bad.stderr
    assert papersift(data, "user", "email", "ada", "ada@lab.example.net").returncode == 0
    listed = papersift(data, "user", "list").stdout
    assert "ada" in listed and "<ada@lab.example.net>" in listed and "bob" not in listed and "carl" not in listed
    db_settings = Settings(data_dir=data)
    eng = open_engine(db_settings, "reader")
    try:
        assert accounts.authenticate(eng.db, "ada", "correct horse battery").email == "ada@lab.example.net"
    finally:
        eng.close()
    conf = papersift(data, "digest", "settings", "ada", "--on", "--frequency", "weekly", "--hour", "8",
                     "--tz", "Europe/Berlin", "--max", "7", "--no-trending")
    assert conf.returncode == 0, conf.stderr
    assert "digest on, weekly from 08:00 Europe/Berlin, at most 7 papers, trending left out" in conf.stdout
    wrong = papersift(data, "digest", "settings", "ada", "--tz", "Mars/Olympus")
    assert wrong.returncode == 1 and "Unknown time zone 'Mars/Olympus'" in wrong.stderr
    assert "Europe/Berlin" in papersift(data, "digest", "settings", "ada").stdout  # nothing lost
    refused = papersift(data, "digest", "send")
    assert refused.returncode == 2 and "PAPERSIFT_SMTP_HOST" in refused.stderr
    assert (data / "papersift.db").exists() == (backend == "sqlite")  # the CLI used this backend


def test_worker_runs_the_digest_job_only_when_smtp_is_configured(tmp_path: Path) -> None:
    assert "digest" not in [j.name for j in jobs_for(Settings(data_dir=tmp_path))]
    with_smtp = Settings(data_dir=tmp_path)
    with_smtp.smtp_host = "127.0.0.1"
    job = {j.name: j for j in jobs_for(with_smtp)}["digest"]
    assert 0 < job.every <= 900


@pytest.fixture
def site(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Settings]]:
    settings = Settings(data_dir=tmp_path / "data", database_url=backend_database_url(backend, request, monkeypatch))
    eng = open_engine(settings, "owner", owner="test", upgrade=True)
    eng.store.upsert_many(corpus())
    eng.catch_up()
    eng.close()
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app_for(settings), host="127.0.0.1", port=port,
                                        log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_for(lambda: srv.started, 20)
    try:
        yield f"http://127.0.0.1:{port}", settings
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def create_app_for(settings: Settings):
    from papersift.web.app import create_app

    return create_app(Settings(data_dir=settings.data_dir, database_url=settings.database_url))


def csrf(page: httpx.Response) -> str:
    m = CSRF_RE.search(page.text)
    assert m, page.text[:500]
    return m.group(1)


def test_signup_with_email_settings_page_and_private_feed(site: tuple[str, Settings]) -> None:
    url, settings = site
    with httpx.Client(base_url=url) as http:
        form = http.get("/signup")
        bad = http.post("/signup", data={"username": "dana", "password": "password-dana", "password2": "password-dana",
                                         "email": "dana@", "csrf_token": csrf(form)})
        assert bad.status_code == 400 and "is not an e-mail address" in bad.text
        assert 'value="dana@"' in bad.text  # what was typed comes back
        ok = http.post("/signup", data={"username": "dana", "password": "password-dana", "password2": "password-dana",
                                        "email": "Dana@Example.org", "digest": "1", "csrf_token": csrf(bad)})
        assert ok.status_code == 303
        page = http.get("/settings")
        assert page.status_code == 200 and 'value="dana@example.org"' in page.text
        token = csrf(page)
        no_csrf = http.post("/settings", data={"email": "x@example.org", "enabled": "1", "frequency": "daily",
                                               "hour": "7", "timezone": "UTC", "max_papers": "5"})
        assert no_csrf.status_code == 403
        wrong = http.post("/settings", data={"csrf_token": token, "email": "new@example.org", "enabled": "1",
                                             "frequency": "daily", "hour": "7", "timezone": "Nowhere/Land",
                                             "max_papers": "5"})
        assert wrong.status_code == 400 and "unknown time zone" in wrong.text.lower()
        saved = http.post("/settings", data={"csrf_token": token, "email": "new@example.org", "enabled": "1",
                                             "frequency": "weekly", "hour": "18", "timezone": "Asia/Tokyo",
                                             "max_papers": "12"})
        assert saved.status_code == 303
        created = http.post("/settings/feed", data={"csrf_token": token})
        feed_url = re.search(r'id="feed-url">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
        assert feed_url.startswith(url + "/feeds/private/pf_")
    eng = open_engine(settings, "reader")
    try:
        user = accounts.get_user(eng.db, "dana")
        assert user is not None and user.email == "new@example.org"  # the bad form changed nothing
        prefs = digest_prefs.get_prefs(eng.db, user.id)
        assert (prefs.enabled, prefs.frequency, prefs.hour, prefs.timezone, prefs.max_papers,
                prefs.include_trending) == (True, "weekly", 18, "Asia/Tokyo", 12, False)
        interests.follow(eng.db, user, "author", "Grace Hopper")
    finally:
        eng.close()
    with httpx.Client() as anon:  # the feed needs no login: the URL is the secret
        atom = anon.get(feed_url)
        assert atom.status_code == 200 and atom.headers["content-type"].startswith("application/atom+xml")
        assert "private" in atom.headers["cache-control"]
        entries = ET.fromstring(atom.content).findall("{http://www.w3.org/2005/Atom}entry")
        assert entries and all("Speech" in (e.findtext("{http://www.w3.org/2005/Atom}title") or "")
                               for e in entries)
        assert "whom you follow" in atom.text
        rss = anon.get(feed_url.replace(".atom", ".rss"))
        assert rss.status_code == 200 and ET.fromstring(rss.content).find("channel/item") is not None
        assert anon.get(feed_url[:-8] + "XXXX.atom").status_code == 404
    with httpx.Client(base_url=url, cookies=http.cookies) as http2:
        token = csrf(http2.get("/settings"))
        assert http2.post("/settings/feed/revoke", data={"csrf_token": token}).status_code == 303
    assert httpx.get(feed_url).status_code == 404  # revoked
    assert (settings.data_dir / "papersift.db").exists() == (settings.database_url is None)  # the site's backend
