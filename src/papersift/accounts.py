"""Accounts, sessions, API tokens, login rate limiting, votes and daily-feed submissions.

Everything here is SQLAlchemy Core with bound parameters, on the store's engine.

* Passwords: argon2id (argon2-cffi), rehashed on login when the parameters change.
* Sessions: a random 256-bit token in a cookie; only its SHA-256 is stored. Each session carries
  its own CSRF token (random, compared in constant time).
* API tokens: ``ps_`` + 256 random bits, shown once, stored as SHA-256.
* Login rate limit: ``MAX_FAILURES`` failed logins per username+IP within ``FAILURE_WINDOW``.
* Votes: one row per (user, paper); ``papers.upvotes`` changes in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.exc import IntegrityError

from papersift.models import Paper, split_arxiv_id
from papersift.store.schema import api_tokens, login_attempts, papers, sessions, users, votes

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,39}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
SESSION_TTL = timedelta(days=30)
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=5)
TOKEN_PREFIX = "ps_"

_hasher = PasswordHasher()


class AccountError(ValueError):
    """A request that cannot be honoured; the message is safe to show to the person."""


class RateLimited(AccountError):
    pass


@dataclass
class User:
    id: int
    username: str
    is_admin: bool
    created_at: datetime


@dataclass
class Session:
    user: User
    csrf_token: str
    token_hash: str


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


def _user(row) -> User:
    return User(id=row.id, username=row.username, is_admin=bool(row.is_admin), created_at=row.created_at)


# -- secret key ----------------------------------------------------------------------------------
def secret_key(data_dir: Path, configured: str | None = None) -> str:
    """Settings.secret_key, else <data_dir>/secret.key (created once, mode 0600, race-free)."""
    if configured:
        return configured
    path = Path(data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".secret.key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # fails if another process won the race; then read theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


# -- users ---------------------------------------------------------------------------------------
def normalize_username(name: str) -> str:
    return (name or "").strip().lower()


def validate_credentials(username: str, password: str) -> str:
    name = normalize_username(username)
    if not USERNAME_RE.match(name):
        raise AccountError("Usernames are 2–40 characters: letters, digits, '.', '_' or '-', "
                           "starting with a letter or digit.")
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise AccountError("That password is too long.")
    return name


def create_user(engine: SAEngine, username: str, password: str, is_admin: bool = False) -> User:
    name = validate_credentials(username, password)
    row = {"username": name, "password_hash": _hasher.hash(password), "is_admin": is_admin,
           "created_at": now()}
    try:
        with engine.begin() as conn:
            uid = conn.execute(users.insert().values(row)).inserted_primary_key[0]
    except IntegrityError:
        raise AccountError(f"The username {name!r} is taken.") from None
    return User(id=int(uid), username=name, is_admin=is_admin, created_at=row["created_at"])


def get_user(engine: SAEngine, username: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.username == normalize_username(username))).first()
    return _user(row) if row else None


def set_admin(engine: SAEngine, username: str, is_admin: bool) -> None:
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.username == normalize_username(username))
                     .values(is_admin=is_admin))


def set_password(engine: SAEngine, username: str, password: str) -> None:
    validate_credentials(username, password)
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.username == normalize_username(username))
                     .values(password_hash=_hasher.hash(password)))


def list_users(engine: SAEngine) -> list[User]:
    with engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(users).order_by(users.c.id))]


def recent_failures(engine: SAEngine, username: str, ip: str) -> int:
    since = now() - FAILURE_WINDOW
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(login_attempts).where(
            login_attempts.c.username == normalize_username(username)[:40],
            login_attempts.c.ip == ip[:64], login_attempts.c.at >= since)).scalar() or 0)


def authenticate(engine: SAEngine, username: str, password: str, ip: str = "") -> User:
    """The user whose password this is; raises RateLimited or AccountError (one message for both
    unknown user and wrong password)."""
    name = normalize_username(username)[:40]
    if recent_failures(engine, name, ip) >= MAX_FAILURES:
        raise RateLimited("Too many failed logins; wait a few minutes and try again.")
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.username == name)).first()
    ok = False
    if row is not None and len(password or "") <= MAX_PASSWORD:
        try:
            ok = _hasher.verify(row.password_hash, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash("timing-equaliser")  # spend about the same time for unknown users
    if not ok:
        with engine.begin() as conn:  # committed before raising (a raise inside would roll it back)
            conn.execute(login_attempts.insert().values(username=name, ip=ip[:64], at=now()))
            conn.execute(delete(login_attempts).where(login_attempts.c.at < now() - FAILURE_WINDOW * 4))
        raise AccountError("Wrong username or password.")
    with engine.begin() as conn:
        conn.execute(delete(login_attempts).where(login_attempts.c.username == name,
                                                  login_attempts.c.ip == ip[:64]))
        if _hasher.check_needs_rehash(row.password_hash):
            conn.execute(update(users).where(users.c.id == row.id)
                         .values(password_hash=_hasher.hash(password)))
    return _user(row)


# -- sessions ------------------------------------------------------------------------------------
def create_session(engine: SAEngine, user: User) -> str:
    """Start a session; returns the cookie value (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    t = now()
    with engine.begin() as conn:
        conn.execute(sessions.insert().values(token_hash=sha256(token), user_id=user.id,
                                              csrf_token=secrets.token_urlsafe(32), created_at=t,
                                              expires_at=t + SESSION_TTL))
        conn.execute(delete(sessions).where(sessions.c.expires_at < t))
    return token


def get_session(engine: SAEngine, token: str | None) -> Session | None:
    if not token or len(token) > 200:
        return None
    h = sha256(token)
    with engine.connect() as conn:
        row = conn.execute(select(sessions.c.csrf_token, sessions.c.expires_at, users).join(
            users, users.c.id == sessions.c.user_id).where(sessions.c.token_hash == h)).first()
    if row is None or row.expires_at < now():
        return None
    return Session(user=_user(row), csrf_token=row.csrf_token, token_hash=h)


def end_session(engine: SAEngine, token: str | None) -> None:
    if token:
        with engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.token_hash == sha256(token)))


# -- API tokens ----------------------------------------------------------------------------------
def create_api_token(engine: SAEngine, user: User, name: str = "script") -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(api_tokens.insert().values(token_hash=sha256(token), user_id=user.id,
                                                name=(name or "script").strip()[:100] or "script",
                                                prefix=token[:10], created_at=now()))
    return token


def list_api_tokens(engine: SAEngine, user: User) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.prefix,
                                   api_tokens.c.created_at, api_tokens.c.last_used_at)
                            .where(api_tokens.c.user_id == user.id).order_by(api_tokens.c.id))
        return [dict(r._mapping) for r in rows]


def revoke_api_token(engine: SAEngine, user: User, token_id: int) -> bool:
    with engine.begin() as conn:
        res = conn.execute(delete(api_tokens).where(api_tokens.c.id == token_id,
                                                    api_tokens.c.user_id == user.id))
    return bool(res.rowcount)


def user_for_api_token(engine: SAEngine, token: str | None) -> User | None:
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    h = sha256(token)
    with engine.begin() as conn:
        row = conn.execute(select(api_tokens.c.id.label("token_id"), users).join(
            users, users.c.id == api_tokens.c.user_id).where(api_tokens.c.token_hash == h)).first()
        if row is None:
            return None
        conn.execute(update(api_tokens).where(api_tokens.c.id == row.token_id).values(last_used_at=now()))
    return _user(row)


# -- votes ---------------------------------------------------------------------------------------
def _paper_pk(conn, paper: Paper | int) -> int:
    return paper if isinstance(paper, int) else int(paper.pk)  # type: ignore[arg-type]


def set_vote(engine: SAEngine, user: User, paper: Paper | int, up: bool = True) -> tuple[bool, int]:
    """Upvote (``up``) or withdraw the vote. Idempotent. Returns (user has voted, paper's upvotes)."""
    try:
        with engine.begin() as conn:
            pk = _paper_pk(conn, paper)
            have = conn.execute(select(votes.c.user_id).where(votes.c.user_id == user.id,
                                                              votes.c.paper_pk == pk)).first()
            if up and not have:
                conn.execute(votes.insert().values(user_id=user.id, paper_pk=pk, created_at=now()))
                conn.execute(update(papers).where(papers.c.pk == pk).values(upvotes=papers.c.upvotes + 1))
            elif not up and have:
                conn.execute(delete(votes).where(votes.c.user_id == user.id, votes.c.paper_pk == pk))
                conn.execute(update(papers).where(papers.c.pk == pk)
                             .values(upvotes=func.max(papers.c.upvotes - 1, 0)
                                     if engine.dialect.name == "sqlite"
                                     else func.greatest(papers.c.upvotes - 1, 0)))
    except IntegrityError:  # a concurrent duplicate vote lost the race: the first one counts
        pass
    with engine.connect() as conn:
        pk = _paper_pk(conn, paper)
        count = conn.execute(select(papers.c.upvotes).where(papers.c.pk == pk)).scalar() or 0
        voted = conn.execute(select(votes.c.user_id).where(votes.c.user_id == user.id,
                                                           votes.c.paper_pk == pk)).first() is not None
    return voted, int(count)


def has_voted(engine: SAEngine, user: User | None, paper: Paper) -> bool:
    if user is None or paper.pk is None:
        return False
    with engine.connect() as conn:
        return conn.execute(select(votes.c.user_id).where(votes.c.user_id == user.id,
                                                          votes.c.paper_pk == paper.pk)).first() is not None


def voted_pks(engine: SAEngine, user: User | None, pks: list[int]) -> set[int]:
    if user is None or not pks:
        return set()
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(select(votes.c.paper_pk).where(
            votes.c.user_id == user.id, votes.c.paper_pk.in_(pks[:900])))}


# -- submissions ---------------------------------------------------------------------------------
def parse_paper_ref(text: str) -> str:
    """An arXiv id from an id or an arxiv.org / huggingface.co URL; else the trimmed text."""
    text = (text or "").strip()[:300]
    aid, _ = split_arxiv_id(text)
    return aid or text


def submit_paper(store, user: User, ref: str) -> tuple[Paper, bool]:
    """Put a stored paper on the daily feed. Returns (paper, newly submitted). No network is used:
    a paper that is not in the store is refused."""
    key = parse_paper_ref(ref)
    if not key:
        raise AccountError("Give an arXiv id (2401.01234) or an arxiv.org URL.")
    paper = store.get(key)
    if paper is None:
        raise AccountError(f"Paper {key!r} is not in the store; ingest it first.")
    if paper.submitted_on_daily_at is not None:
        return paper, False
    t = now()
    with store.engine.begin() as conn:
        res = conn.execute(update(papers).where(papers.c.pk == paper.pk,
                                                papers.c.submitted_on_daily_at.is_(None))
                           .values(submitted_by=user.username, submitted_on_daily_at=t))
    fresh = store.get(paper.id) or paper
    return fresh, bool(res.rowcount)
