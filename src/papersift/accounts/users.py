"""Users: credentials rules, argon2id password hashes, and the login rate limit.

* Passwords: argon2id (argon2-cffi) with ``ARGON2_MEMORY_KIB`` per hash, rehashed on login when the
  parameters change (older hashes still verify: their parameters are in the hash).
* Hash slots: at most ``HASH_SLOTS`` argon2 computations at once per process, run on that many
  dedicated threads (so the memory they take is at most ``HASH_SLOTS`` x ``ARGON2_MEMORY_KIB``);
  a request that finds them all busy for ``HASH_WAIT`` seconds gets ``Busy`` (a 429).
* Login rate limit, per ``FAILURE_WINDOW``: ``MAX_FAILURES`` failed logins per username from one
  address, ``MAX_ADDRESS_FAILURES`` per address across usernames, ``MAX_ACCOUNT_FAILURES`` per
  username across addresses. An attempt is reserved (written) before its password is checked,
  in one transaction with the counts (store/users.py ``reserve_attempt``), so concurrent guesses
  cannot overshoot; a successful login clears that username's failures from that address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from papersift.store import users as sql
from papersift.store.db import Database

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,39}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_FAILURES = 5  # per username from one address
MAX_ADDRESS_FAILURES = 30  # per address, any usernames
MAX_ACCOUNT_FAILURES = 50  # per username, any addresses (distributed guessing)
FAILURE_WINDOW = timedelta(minutes=5)

# argon2id, OWASP's "m=46 MiB, t=1, p=1" (~50-100 ms a hash on one core). The matrix is above
# glibc's largest mmap threshold (32 MiB), so each hash maps its memory and unmaps it when done:
# a worker's RSS grows by at most HASH_SLOTS x 46 MiB = 184 MiB during a burst and falls back
# after (a smaller matrix is kept in per-thread malloc arenas, and grows past that bound).
# The arithmetic for a deployment: docs/web.md, "Accounts and security".
ARGON2_TIME_COST = 1
ARGON2_MEMORY_KIB = 47104
ARGON2_PARALLELISM = 1
HASH_SLOTS = 4
HASH_WAIT = 0.25  # seconds a request may wait for a free hash slot before it is answered "busy"

_hasher = PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB,
                         parallelism=ARGON2_PARALLELISM)
_hash_slots = threading.BoundedSemaphore(HASH_SLOTS)
_hash_threads = ThreadPoolExecutor(max_workers=HASH_SLOTS, thread_name_prefix="argon2")
T = TypeVar("T")


class AccountError(ValueError):
    """A request that cannot be honoured; the message is safe to show to the person."""


class RateLimited(AccountError):
    """Too many failed logins; ``retry_after``: seconds to tell the client (Retry-After)."""

    retry_after = int(FAILURE_WINDOW.total_seconds())


class Busy(RateLimited):
    """Every hash slot of this process is taken: try again in a moment."""

    retry_after = 1


def hashing(fn: Callable[..., T], *args: Any) -> T:
    """Run one password computation (argon2 hash or verify) in a hash slot, on the hash threads.
    Raises Busy when no slot frees up within ``HASH_WAIT`` seconds: never an unbounded queue."""
    if not _hash_slots.acquire(timeout=HASH_WAIT):
        raise Busy("The server is busy checking passwords; try again in a moment.")
    try:
        return _hash_threads.submit(fn, *args).result()
    finally:
        _hash_slots.release()


@dataclass
class User:
    id: int
    username: str
    is_admin: bool
    created_at: datetime
    email: str | None = None


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


def user_from_row(row: Any) -> User:
    return User(id=row.id, username=row.username, is_admin=bool(row.is_admin), created_at=row.created_at,
                email=getattr(row, "email", None))


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


_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_EMAIL = 254


def normalize_email(address: str | None) -> str | None:
    """A valid address, lower-cased (for uniqueness), or None for an empty value; AccountError
    otherwise. Accepted: ``local@domain`` with an ASCII dot-atom local part (at most 64 characters)
    and a domain of at least two DNS labels (an internationalised domain is stored as IDNA)."""
    text = (address or "").strip()
    if not text:
        return None
    bad = AccountError(f"{text[:80]!r} is not an e-mail address (expected name@example.org).")
    if len(text) > MAX_EMAIL or text.count("@") != 1 or any(c.isspace() or ord(c) < 32 for c in text):
        raise bad
    local, domain = text.rsplit("@", 1)
    if len(local) > 64 or not _EMAIL_LOCAL.match(local):
        raise bad
    try:
        domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise bad from None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DNS_LABEL.match(x) for x in labels) or labels[-1].isdigit():
        raise bad
    result = f"{local.lower()}@{domain}"
    if len(result) > MAX_EMAIL:
        raise bad
    return result


def create_user(db: Database, username: str, password: str, is_admin: bool = False,
                email: str | None = None) -> User:
    name = validate_credentials(username, password)
    address = normalize_email(email)
    at = now()
    try:
        uid = sql.insert_user(db, name, hashing(_hasher.hash, password), is_admin, at, email=address)
    except sql.EmailInUse:
        raise AccountError("That e-mail address belongs to another account.") from None
    if uid is None:
        raise AccountError(f"The username {name!r} is taken.")
    return User(id=uid, username=name, is_admin=is_admin, created_at=at, email=address)


def set_email(db: Database, username: str, email: str | None) -> str | None:
    """Change (or, with an empty value, remove) a user's address; returns the stored address.
    AccountError for an invalid address, an address another account has, or an unknown user."""
    from papersift.store import digest as digest_sql

    address = normalize_email(email)
    row = sql.user_by_name(db, normalize_username(username))
    if row is None:
        raise AccountError(f"No user {normalize_username(username)!r}.")
    try:
        digest_sql.set_email(db, row.id, address)
    except sql.EmailInUse:
        raise AccountError("That e-mail address belongs to another account.") from None
    return address


def get_user(db: Database, username: str) -> User | None:
    row = sql.user_by_name(db, normalize_username(username))
    return user_from_row(row) if row else None


def set_admin(db: Database, username: str, is_admin: bool) -> None:
    sql.update_user(db, normalize_username(username), is_admin=is_admin)


def set_password(db: Database, username: str, password: str) -> None:
    validate_credentials(username, password)
    sql.update_user(db, normalize_username(username), password_hash=hashing(_hasher.hash, password))


def list_users(db: Database) -> list[User]:
    return [user_from_row(r) for r in sql.all_users(db)]


def recent_failures(db: Database, username: str, ip: str | None = None) -> int:
    """Failed logins of ``username`` (from ``ip``, if given) in the current window."""
    return sql.count_attempts(db, normalize_username(username)[:40], None if ip is None else ip[:64],
                              now() - FAILURE_WINDOW)


def _check(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """(password matches, its new hash when the stored one uses old parameters); one hash slot."""
    if password_hash is None:
        _hasher.hash("timing-equaliser")  # spend about the same time for unknown users
        return False, None
    try:
        ok = _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    return ok, _hasher.hash(password) if ok and _hasher.check_needs_rehash(password_hash) else None


def authenticate(db: Database, username: str, password: str, ip: str = "") -> User:
    """The user whose password this is; raises RateLimited (Busy when no hash slot is free) or
    AccountError (one message for both unknown user and wrong password).

    The attempt is reserved before the password is checked (atomically with the limits), so at most
    the limits' worth of passwords are ever evaluated, however many guesses arrive at once."""
    name = normalize_username(username)[:40]
    addr = ip[:64]
    t = now()
    attempt = sql.reserve_attempt(db, name, addr, t, t - FAILURE_WINDOW, MAX_FAILURES, MAX_ADDRESS_FAILURES,
                                  MAX_ACCOUNT_FAILURES, t - FAILURE_WINDOW * 4)
    if attempt is None:
        raise RateLimited("Too many failed logins; wait a few minutes and try again.")
    row = sql.user_by_name(db, name)
    stored = row.password_hash if row is not None and len(password or "") <= MAX_PASSWORD else None
    try:
        ok, new_hash = hashing(_check, stored, password or "")
    except Busy:
        sql.cancel_attempt(db, attempt)  # not evaluated: it does not count
        raise
    if not ok or row is None:
        raise AccountError("Wrong username or password.")  # the reservation stays: a failure
    sql.clear_failures(db, name, addr)
    if new_hash is not None:
        sql.set_password_hash(db, row.id, new_hash)
    return user_from_row(row)
