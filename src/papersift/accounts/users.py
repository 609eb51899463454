"""Users: credentials rules, argon2id password hashes, and the login rate limit.

* Passwords: argon2id (argon2-cffi), rehashed on login when the parameters change.
* Login rate limit: ``MAX_FAILURES`` failed logins per username+IP within ``FAILURE_WINDOW``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from papersift.store import users as sql
from papersift.store.db import Database

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,39}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=5)

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


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


def user_from_row(row: Any) -> User:
    return User(id=row.id, username=row.username, is_admin=bool(row.is_admin), created_at=row.created_at)


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


def create_user(db: Database, username: str, password: str, is_admin: bool = False) -> User:
    name = validate_credentials(username, password)
    at = now()
    uid = sql.insert_user(db, name, _hasher.hash(password), is_admin, at)
    if uid is None:
        raise AccountError(f"The username {name!r} is taken.")
    return User(id=uid, username=name, is_admin=is_admin, created_at=at)


def get_user(db: Database, username: str) -> User | None:
    row = sql.user_by_name(db, normalize_username(username))
    return user_from_row(row) if row else None


def set_admin(db: Database, username: str, is_admin: bool) -> None:
    sql.update_user(db, normalize_username(username), is_admin=is_admin)


def set_password(db: Database, username: str, password: str) -> None:
    validate_credentials(username, password)
    sql.update_user(db, normalize_username(username), password_hash=_hasher.hash(password))


def list_users(db: Database) -> list[User]:
    return [user_from_row(r) for r in sql.all_users(db)]


def recent_failures(db: Database, username: str, ip: str) -> int:
    return sql.count_failures(db, normalize_username(username)[:40], ip[:64], now() - FAILURE_WINDOW)


def authenticate(db: Database, username: str, password: str, ip: str = "") -> User:
    """The user whose password this is; raises RateLimited or AccountError (one message for both
    unknown user and wrong password)."""
    name = normalize_username(username)[:40]
    if recent_failures(db, name, ip) >= MAX_FAILURES:
        raise RateLimited("Too many failed logins; wait a few minutes and try again.")
    row = sql.user_by_name(db, name)
    ok = False
    if row is not None and len(password or "") <= MAX_PASSWORD:
        try:
            ok = _hasher.verify(row.password_hash, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash("timing-equaliser")  # spend about the same time for unknown users
    if not ok or row is None:
        t = now()
        sql.record_failure(db, name, ip[:64], t, t - FAILURE_WINDOW * 4)
        raise AccountError("Wrong username or password.")
    sql.clear_failures(db, name, ip[:64])
    if _hasher.check_needs_rehash(row.password_hash):
        sql.set_password_hash(db, row.id, _hasher.hash(password))
    return user_from_row(row)
