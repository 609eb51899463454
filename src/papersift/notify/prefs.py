"""Digest preferences and the private feed token: rules and validation (SQL in store/digest.py)."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from papersift.accounts.users import AccountError, sha256
from papersift.notify.schedule import FREQUENCIES, zone
from papersift.store import digest as sql
from papersift.store.db import Database

MAX_PAPERS = 50
FEED_TOKEN_PREFIX = "pf_"


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class DigestPrefs:
    enabled: bool = False
    frequency: str = "daily"
    hour: int = 7
    timezone: str = "UTC"
    max_papers: int = 10
    include_trending: bool = True
    unsubscribed_at: datetime | None = None
    has_feed: bool = False

    def columns(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: d[k] for k in sql.PREF_COLUMNS}


def get_prefs(db: Database, user_id: int) -> DigestPrefs:
    row = sql.prefs_of(db, user_id)
    if row is None:
        return DigestPrefs()
    return DigestPrefs(enabled=bool(row.enabled), frequency=row.frequency, hour=int(row.hour),
                       timezone=row.timezone, max_papers=int(row.max_papers),
                       include_trending=bool(row.include_trending), unsubscribed_at=row.unsubscribed_at,
                       has_feed=row.feed_token_hash is not None)


def validate(prefs: DigestPrefs) -> DigestPrefs:
    """The same preferences, checked; AccountError (safe to show) naming the field that is wrong."""
    if prefs.frequency not in FREQUENCIES:
        raise AccountError("Frequency is daily or weekly.")
    if not isinstance(prefs.hour, int) or not 0 <= prefs.hour <= 23:
        raise AccountError("The hour is a whole number from 0 to 23.")
    try:
        zone(prefs.timezone)
    except ValueError as e:
        msg = str(e)
        raise AccountError(msg[:1].upper() + msg[1:] + ".") from None
    if not isinstance(prefs.max_papers, int) or not 1 <= prefs.max_papers <= MAX_PAPERS:
        raise AccountError(f"Papers per digest: 1 to {MAX_PAPERS}.")
    return prefs


def save_prefs(db: Database, user_id: int, prefs: DigestPrefs) -> DigestPrefs:
    """Store validated preferences. Turning the digest on clears an earlier one-click unsubscribe
    (the person asked for it again, from their settings)."""
    validate(prefs)
    sql.save_prefs(db, user_id, prefs.columns(), now(), resubscribe=prefs.enabled)
    return get_prefs(db, user_id)


def update_prefs(db: Database, user_id: int, **changes: Any) -> DigestPrefs:
    """Change some preferences, keep the others."""
    current = get_prefs(db, user_id)
    for k, v in changes.items():
        if v is not None:
            setattr(current, k, v)
    return save_prefs(db, user_id, current)


def unsubscribe(db: Database, user_id: int) -> bool:
    return sql.unsubscribe(db, user_id, now())


# -- private feed ----------------------------------------------------------------------------------
def create_feed_token(db: Database, user_id: int) -> str:
    """A new secret for the user's private feed URL (the old one stops working); only its hash is
    stored, so the URL is shown once."""
    token = FEED_TOKEN_PREFIX + secrets.token_urlsafe(32)
    sql.set_feed_token(db, user_id, sha256(token), now())
    return token


def revoke_feed_token(db: Database, user_id: int) -> None:
    sql.set_feed_token(db, user_id, None, now())


def feed_owner(db: Database, token: str) -> tuple[int, str, DigestPrefs] | None:
    """(user id, username, preferences) of a private feed token, or None."""
    if not token or not token.startswith(FEED_TOKEN_PREFIX) or len(token) > 100:
        return None
    row = sql.user_by_feed_token(db, sha256(token))
    if row is None:
        return None
    return row.id, row.username, get_prefs(db, row.id)
