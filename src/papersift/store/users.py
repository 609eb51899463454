"""Accounts, sessions, API tokens and failed-login records (SQL only; the rules live in accounts/)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Row

from papersift.store import dialect
from papersift.store.db import Database
from papersift.store.schema import api_tokens, login_attempts, sessions, users


# -- users ---------------------------------------------------------------------------------------
def insert_user(db: Database, username: str, password_hash: str, is_admin: bool, at: datetime) -> int | None:
    """Create a user; None when the name is taken (decided by the database, race-free)."""
    stmt = dialect.insert_ignore(db.dialect, users, ["username"]).values(
        username=username, password_hash=password_hash, is_admin=is_admin, created_at=at).returning(users.c.id)
    with db.write() as conn:
        uid = conn.execute(stmt).scalar()
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


# -- failed logins -------------------------------------------------------------------------------
def count_failures(db: Database, username: str, ip: str, since: datetime) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(login_attempts).where(
            login_attempts.c.username == username, login_attempts.c.ip == ip,
            login_attempts.c.at >= since)).scalar() or 0)


def record_failure(db: Database, username: str, ip: str, at: datetime, forget_before: datetime) -> None:
    with db.write() as conn:
        conn.execute(login_attempts.insert().values(username=username, ip=ip, at=at))
        conn.execute(delete(login_attempts).where(login_attempts.c.at < forget_before))


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
    """The token's user (and mark the token used), or None."""
    with db.read() as conn:
        row = conn.execute(select(api_tokens.c.id.label("token_id"), users).join(
            users, users.c.id == api_tokens.c.user_id).where(api_tokens.c.token_hash == token_hash)).first()
    if row is not None:
        with db.write() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.id == row.token_id).values(last_used_at=at))
    return row
