"""papersift.accounts and papersift.rank.daily on a real (temp) SQLite store."""

from __future__ import annotations

import os
import stat
from datetime import date, datetime

import pytest
from sqlalchemy import inspect, select

from papersift import accounts
from papersift.rank import daily as feeds
from papersift.store.schema import api_tokens, papers, sessions, users
from tests.conftest import make_paper

pytestmark = pytest.mark.backends


@pytest.fixture
def db(engine):
    engine.store.upsert_many([make_paper(i) for i in range(1, 6)])
    return engine.db


def test_migration_creates_tables(engine) -> None:
    names = set(inspect(engine.store.engine).get_table_names())
    assert {"users", "sessions", "api_tokens", "votes", "login_attempts"} <= names


def test_passwords_are_argon2_hashes(db) -> None:
    u = accounts.create_user(db, "Alice", "a-long-password")
    assert u.username == "alice"
    with db.read() as c:
        h = c.execute(select(users.c.password_hash)).scalar()
    assert h.startswith("$argon2id$") and "a-long-password" not in h
    assert accounts.authenticate(db, "ALICE", "a-long-password", "1.2.3.4").id == u.id
    with pytest.raises(accounts.AccountError):
        accounts.authenticate(db, "alice", "wrong-password", "1.2.3.4")
    with pytest.raises(accounts.AccountError, match="taken"):
        accounts.create_user(db, "alice", "another-password")
    for bad in ("a", "-x", "has space", "x" * 41):
        with pytest.raises(accounts.AccountError):
            accounts.create_user(db, bad, "a-long-password")
    with pytest.raises(accounts.AccountError, match="at least"):
        accounts.create_user(db, "bob", "short")


def test_rate_limit_per_username_and_ip(db) -> None:
    accounts.create_user(db, "carol", "carol-password")
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(accounts.AccountError):
            accounts.authenticate(db, "carol", "nope-nope", "9.9.9.9")
    with pytest.raises(accounts.RateLimited):
        accounts.authenticate(db, "carol", "carol-password", "9.9.9.9")
    assert accounts.authenticate(db, "carol", "carol-password", "8.8.8.8").username == "carol"


def test_sessions_store_only_hashes(db) -> None:
    u = accounts.create_user(db, "dave", "dave-password")
    token = accounts.create_session(db, u)
    with db.read() as c:
        stored = c.execute(select(sessions.c.token_hash)).scalar()
    assert stored != token and stored == accounts.sha256(token)
    s = accounts.get_session(db, token)
    assert s and s.user.username == "dave" and len(s.csrf_token) >= 32
    assert accounts.get_session(db, "forged") is None
    accounts.end_session(db, token)
    assert accounts.get_session(db, token) is None


def test_api_tokens(db) -> None:
    u = accounts.create_user(db, "erin", "erin-password")
    tok = accounts.create_api_token(db, u, "ci")
    with db.read() as c:
        assert c.execute(select(api_tokens.c.token_hash)).scalar() == accounts.sha256(tok)
    assert accounts.user_for_api_token(db, tok).username == "erin"
    assert accounts.user_for_api_token(db, tok + "x") is None
    [row] = accounts.list_api_tokens(db, u)
    assert row["last_used_at"] is not None
    assert accounts.revoke_api_token(db, u, row["id"])
    assert accounts.user_for_api_token(db, tok) is None


def test_votes_are_idempotent_and_synced(engine, db) -> None:
    u1 = accounts.create_user(db, "u1", "password-1")
    u2 = accounts.create_user(db, "u2", "password-2")
    p = engine.store.get("2301.00001")
    assert accounts.set_vote(db, u1, p) == (True, 1)
    assert accounts.set_vote(db, u1, p) == (True, 1)
    assert accounts.set_vote(db, u2, p) == (True, 2)
    assert accounts.set_vote(db, u1, p, up=False) == (False, 1)
    assert accounts.set_vote(db, u1, p, up=False) == (False, 1)
    assert engine.store.get("2301.00001").upvotes == 1
    assert accounts.has_voted(db, u2, p) and not accounts.has_voted(db, u1, p)


def test_submit_paper(engine, db) -> None:
    u = accounts.create_user(db, "sub", "sub-password")
    p, new = accounts.submit_paper(engine.store, u, "https://arxiv.org/abs/2301.00002v3")
    assert new and p.submitted_by == "sub" and p.submitted_on_daily_at is not None
    assert accounts.submit_paper(engine.store, u, "2301.00002")[1] is False
    with pytest.raises(accounts.AccountError, match="ingest it first"):
        accounts.submit_paper(engine.store, u, "2999.00001")
    page = feeds.by_submitter(engine.store, "sub")
    assert [x.id for x in page.papers] == ["2301.00002"]


def test_daily_date_and_periods(engine, db) -> None:
    engine.store.upsert_many([make_paper(50, published=None, arxiv_id="2302.00050")])
    undated = engine.store.get("2302.00050")
    assert feeds.daily_date(undated) == undated.first_seen.date()
    day = feeds.daily(engine.store, feeds.period_of("day", date(2023, 1, 3)))
    assert [p.id for p in day.papers] == ["2301.00002"]
    month = feeds.daily(engine.store, feeds.parse_period(month="2023-01"), sort="publishedAt")
    assert [p.id for p in month.papers] == ["2301.00005", "2301.00004", "2301.00003", "2301.00002",
                                            "2301.00001"]
    assert feeds.nearest_day(db, date(2022, 6, 1)) == date(2023, 1, 2)
    assert feeds.day_before(db, date(2023, 1, 4)) == date(2023, 1, 3)
    assert feeds.day_after(db, date(2023, 1, 4)) == date(2023, 1, 5)
    assert feeds.parse_period(week="2023-W01") == feeds.Period("week", date(2023, 1, 2), date(2023, 1, 8))
    for bad in ({"date_s": "x"}, {"week": "2023-W60"}, {"month": "2023-13"}, {"date_s": "2023-01-01",
                                                                              "month": "2023-01"}):
        with pytest.raises(ValueError):
            feeds.parse_period(**bad)


def test_trending_sort_uses_votes(engine, db) -> None:
    u = accounts.create_user(db, "voter", "voter-password")
    accounts.set_vote(db, u, engine.store.get("2301.00003"))
    res = feeds.daily(engine.store, feeds.parse_period(month="2023-01"), sort="trending",
                      now=datetime(2023, 2, 1))
    assert res.papers[0].id == "2301.00003"
    assert [p.id for p in res.papers[1:]] == ["2301.00005", "2301.00004", "2301.00002", "2301.00001"]
    with db.read() as c:
        assert c.execute(select(papers.c.upvotes).where(papers.c.id == "2301.00003")).scalar() == 1


def test_secret_key_file(tmp_path) -> None:
    k1 = accounts.secret_key(tmp_path)
    assert k1 == accounts.secret_key(tmp_path) and len(k1) >= 40
    assert stat.S_IMODE(os.stat(tmp_path / "secret.key").st_mode) == 0o600
    assert accounts.secret_key(tmp_path, "configured") == "configured"
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]  # no temp file left behind


def test_secret_key_is_0600_whatever_the_umask(tmp_path) -> None:
    old = os.umask(0)
    try:
        accounts.secret_key(tmp_path / "a")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "secret.key").st_mode) == 0o600
    loose = tmp_path / "b" / "secret.key"  # an older or copied key readable by others is narrowed
    loose.parent.mkdir()
    loose.write_text("k" * 64)
    loose.chmod(0o644)
    assert accounts.secret_key(tmp_path / "b") == "k" * 64
    assert stat.S_IMODE(os.stat(loose).st_mode) == 0o600


def test_argon2_parameters_and_old_hashes_upgrade_on_login(db) -> None:
    from argon2 import PasswordHasher, extract_parameters

    from papersift.accounts import users as accounts_users

    u = accounts.create_user(db, "legacy", "legacy-password")
    with db.read() as c:
        params = extract_parameters(c.execute(select(users.c.password_hash)).scalar())
    assert (params.memory_cost, params.time_cost, params.parallelism) == (
        accounts_users.ARGON2_MEMORY_KIB, accounts_users.ARGON2_TIME_COST, accounts_users.ARGON2_PARALLELISM)
    old = PasswordHasher()  # argon2-cffi's default (64 MiB, t=3, p=4): what earlier papersift stored
    with db.write() as c:
        c.execute(users.update().where(users.c.id == u.id).values(password_hash=old.hash("legacy-password")))
    with pytest.raises(accounts.AccountError):
        accounts.authenticate(db, "legacy", "wrong-password", "1.1.1.1")
    assert accounts.authenticate(db, "legacy", "legacy-password", "1.1.1.1").id == u.id
    with db.read() as c:
        h = c.execute(select(users.c.password_hash).where(users.c.id == u.id)).scalar()
    assert extract_parameters(h).memory_cost == accounts_users.ARGON2_MEMORY_KIB  # rehashed
    assert accounts.authenticate(db, "legacy", "legacy-password", "1.1.1.1").id == u.id


def test_cli_user_create(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from papersift.cli import app

    data = tmp_path / "d"
    monkeypatch.setenv("PAPERSIFT_PASSWORD", "admin-password")
    r = CliRunner().invoke(app, ["--data-dir", str(data), "user", "create", "Root", "--admin"])
    assert r.exit_code == 0, r.output
    assert "created admin user root" in r.output
    r = CliRunner().invoke(app, ["--data-dir", str(data), "user", "create", "root"])
    assert r.exit_code == 1 and "taken" in r.output
    r = CliRunner().invoke(app, ["--data-dir", str(data), "user", "list"])
    assert "root  (admin)" in r.output


def test_a_nul_in_a_lookup_or_a_name_is_no_error(db, engine) -> None:
    """PostgreSQL text cannot hold NUL: hostile input with one is looked up or stored, never a 500."""
    assert engine.store.get("\x00") is None and engine.store.get("2301.0\x000001") is None
    with pytest.raises(accounts.AccountError):
        accounts.authenticate(db, "\x00", "a-long-password", "1.2.3.4")
    u = accounts.create_user(db, "nulname", "a-long-password")
    assert accounts.create_api_token(db, u, name="\x00")
    with db.read() as c:
        assert c.execute(select(api_tokens.c.name)).scalar() in ("\x00", "\ufffd")
