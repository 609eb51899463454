"""Accounts, sessions, API tokens and failed-login records (SQL only; the rules live in accounts/)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from papersift.store import dialect
from papersift.store.db import Database, unavailable
from papersift.store.schema import api_tokens, counters, login_attempts, sessions, users

log = logging.getLogger(__name__)


# -- users ---------------------------------------------------------------------------------------
class EmailInUse(ValueError):
    """Another account has this e-mail address (users.email is unique when set)."""


def insert_user(db: Database, username: str, password_hash: str, is_admin: bool, at: datetime,
                email: str | None = None) -> int | None:
    """Create a user; None when the name is taken, EmailInUse when the address is (both decided by
    the database, race-free)."""
    stmt = dialect.insert_ignore(db.dialect, users, ["username"]).values(
        username=username, password_hash=password_hash, is_admin=is_admin, created_at=at,
        email=email).returning(users.c.id)
    try:
        with db.write() as conn:
            uid = conn.execute(stmt).scalar()
    except IntegrityError:
        raise EmailInUse(email) from None
    return None if uid is None else int(uid)


def user_by_name(db: Database, username: str) -> Row[Any] | None:
    with db.read() as conn:
        return conn.execute(select(users).where(users.c.username == username)).first()


def all_users(db: Database) -> list[Row[Any]]:
    with db.read() as conn:
        return list(conn.execute(select(users).order_by(users.c.id)))


def update_user(db: Database, username: str, **values: Any) -> bool:
    with db.write() as conn:
        return bool(conn.execute(update(users).where(users.c.username == username).values(**values)).rowcount)


def set_password_hash(db: Database, user_id: int, password_hash: str) -> None:
    with db.write() as conn:
        conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))


# -- login attempts ------------------------------------------------------------------------------
LOGIN_LOCK = "logins"  # counters row whose row lock serialises login reservations on PostgreSQL


def _lock_logins(conn: Connection, dialect_name: str) -> None:
    """Take the login lock inside the caller's write transaction. SQLite: ``BEGIN IMMEDIATE`` holds
    it already; PostgreSQL: this row lock, held until commit (READ COMMITTED then sees every
    reservation committed before it)."""
    bump = update(counters).where(counters.c.name == LOGIN_LOCK).values(value=counters.c.value + 1)
    if conn.execute(bump).rowcount == 0:
        conn.execute(dialect.insert_ignore(dialect_name, counters, ["name"]).values(name=LOGIN_LOCK, value=0))
        conn.execute(bump)


def reserve_attempt(db: Database, username: str, ip: str, at: datetime, since: datetime,
                    max_account_ip: int, max_ip: int, max_account: int, forget_before: datetime) -> int | None:
    """Record a login attempt *before* its password is checked, if the limits allow; returns the
    attempt's id, or None when a limit is reached. Count and insert are one write transaction under
    the login lock, so N concurrent attempts reserve at most the limit (an attempt counts as failed
    until ``clear_failures`` or ``cancel_attempt`` removes it). Limits, over rows since ``since``:
    this username from this address, this address for any username, this username from anywhere."""
    la = login_attempts
    with db.write() as conn:
        _lock_logins(conn, db.dialect)
        conn.execute(delete(la).where(la.c.at < forget_before))

        def count(*where: Any) -> int:
            return int(conn.execute(select(func.count()).select_from(la).where(la.c.at >= since, *where)
                                    ).scalar() or 0)

        if (count(la.c.username == username, la.c.ip == ip) >= max_account_ip
                or count(la.c.ip == ip) >= max_ip or count(la.c.username == username) >= max_account):
            return None
        return int(conn.execute(la.insert().values(username=username, ip=ip, at=at).returning(la.c.id)
                                ).scalar_one())


def cancel_attempt(db: Database, attempt_id: int) -> None:
    """Give a reservation back (its password was never checked)."""
    with db.write() as conn:
        conn.execute(delete(login_attempts).where(login_attempts.c.id == attempt_id))


def count_attempts(db: Database, username: str, ip: str | None, since: datetime) -> int:
    """Failed (or in-flight) attempts for ``username`` (from ``ip``, if given) since ``since``."""
    where = [login_attempts.c.username == username, login_attempts.c.at >= since]
    if ip is not None:
        where.append(login_attempts.c.ip == ip)
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(login_attempts).where(*where)).scalar() or 0)


def clear_failures(db: Database, username: str, ip: str) -> None:
    with db.write() as conn:
        conn.execute(delete(login_attempts).where(login_attempts.c.username == username,
                                                  login_attempts.c.ip == ip))


# -- sessions ------------------------------------------------------------------------------------
def insert_session(db: Database, token_hash: str, user_id: int, csrf_token: str, at: datetime,
                   expires_at: datetime) -> None:
    with db.write() as conn:
        conn.execute(sessions.insert().values(token_hash=token_hash, user_id=user_id, csrf_token=csrf_token,
                                              created_at=at, expires_at=expires_at))
        conn.execute(delete(sessions).where(sessions.c.expires_at < at))


def session_by_hash(db: Database, token_hash: str) -> Row[Any] | None:
    with db.read() as conn:
        return conn.execute(select(sessions.c.csrf_token, sessions.c.expires_at, users).join(
            users, users.c.id == sessions.c.user_id).where(sessions.c.token_hash == token_hash)).first()


def delete_session(db: Database, token_hash: str) -> None:
    with db.write() as conn:
        conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))


# -- API tokens ----------------------------------------------------------------------------------
def insert_api_token(db: Database, token_hash: str, user_id: int, name: str, prefix: str, at: datetime) -> None:
    with db.write() as conn:
        conn.execute(api_tokens.insert().values(token_hash=token_hash, user_id=user_id, name=name, prefix=prefix,
                                                created_at=at))


def api_tokens_of(db: Database, user_id: int) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.prefix,
                                   api_tokens.c.created_at, api_tokens.c.last_used_at)
                            .where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id))
        return [dict(r._mapping) for r in rows]


def delete_api_token(db: Database, user_id: int, token_id: int) -> bool:
    with db.write() as conn:
        res = conn.execute(delete(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id))
    return bool(res.rowcount)


def user_by_api_token(db: Database, token_hash: str, at: datetime) -> Row[Any] | None:
    """The token's user (and mark the token used), or None. Marking it is bookkeeping: a read-only,
    busy or full database skips it (logged) rather than refusing an authenticated request."""
    with db.read() as conn:
        row = conn.execute(select(api_tokens.c.id.label("token_id"), users).join(
            users, users.c.id == api_tokens.c.user_id).where(api_tokens.c.token_hash == token_hash)).first()
    if row is not None and not db.read_only:
        try:
            with db.write(wait=0.2) as conn:  # bookkeeping never makes the request wait for the lock
                conn.execute(update(api_tokens).where(api_tokens.c.id == row.token_id).values(last_used_at=at))
        except Exception as e:
            if unavailable(e) is None:
                raise
            log.warning("API token %s: last-used time not recorded: %s", row.token_id, e)
    return row
