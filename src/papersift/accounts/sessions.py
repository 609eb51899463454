"""Browser sessions (with their CSRF tokens), API tokens, and the signing key.

* Sessions: a random 256-bit token in a cookie; only its SHA-256 is stored. Each session carries
  its own CSRF token (random, compared in constant time).
* API tokens: ``ps_`` + 256 random bits, shown once, stored as SHA-256.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from papersift.accounts.users import User, now, sha256, user_from_row
from papersift.store import users as sql
from papersift.store.db import Database

SESSION_TTL = timedelta(days=30)
TOKEN_PREFIX = "ps_"


@dataclass
class Session:
    user: User
    csrf_token: str
    token_hash: str


def secret_key(data_dir: Path, configured: str | None = None) -> str:
    """Settings.secret_key, else <data_dir>/secret.key (created once, mode 0600 whatever the umask,
    written and synced before it appears under its name, race-free; an existing key file readable
    by others is narrowed to 0600)."""
    if configured:
        return configured
    path = Path(data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".secret.key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if another process won the race; then read theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    elif path.stat().st_mode & 0o077:
        with contextlib.suppress(OSError):  # not ours to change: still usable
            path.chmod(0o600)
    return path.read_text().strip()


def create_session(db: Database, user: User) -> str:
    """Start a session; returns the cookie value (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    t = now()
    sql.insert_session(db, sha256(token), user.id, secrets.token_urlsafe(32), t, t + SESSION_TTL)
    return token


def get_session(db: Database, token: str | None) -> Session | None:
    if not token or len(token) > 200:
        return None
    h = sha256(token)
    row = sql.session_by_hash(db, h)
    if row is None or row.expires_at < now():
        return None
    return Session(user=user_from_row(row), csrf_token=row.csrf_token, token_hash=h)


def end_session(db: Database, token: str | None) -> None:
    if token:
        sql.delete_session(db, sha256(token))


def create_api_token(db: Database, user: User, name: str = "script") -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    sql.insert_api_token(db, sha256(token), user.id, (name or "script").strip()[:100] or "script", token[:10],
                         now())
    return token


def list_api_tokens(db: Database, user: User) -> list[dict[str, Any]]:
    return sql.api_tokens_of(db, user.id)


def revoke_api_token(db: Database, user: User, token_id: int) -> bool:
    return sql.delete_api_token(db, user.id, token_id)


def user_for_api_token(db: Database, token: str | None) -> User | None:
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = sql.user_by_api_token(db, sha256(token), now())
    return user_from_row(row) if row else None
