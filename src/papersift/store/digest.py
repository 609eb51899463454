"""SQL for e-mail addresses, digest preferences, digest sends and private feed tokens.

Exactly once per (user, period): a sender first *claims* the period's row, and only a claim that
this call made (one row inserted, or one row changed by a conditional update) lets it send:

* ``INSERT ... ON CONFLICT (user_id, period) DO NOTHING RETURNING id``: the first sender wins;
* else ``UPDATE ... WHERE status = 'claimed' AND claimed_at < stale`` (a sender that died holding
  the claim) ``OR (status = 'failed' AND attempts < max AND next_attempt_at <= now)`` (a failed send
  that may be retried) and go on only if that changed one row (the healthchecks pattern).

The outcome is recorded by a conditional update on the claimer's own claim (``claimed_by``), so a
sender whose claim went stale and was retaken never overwrites the new claimer's row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from papersift.store import dialect
from papersift.store.db import Database
from papersift.store.schema import digest_sends, digest_settings, users
from papersift.store.users import EmailInUse

PREF_COLUMNS = ("enabled", "frequency", "hour", "timezone", "max_papers", "include_trending")




# -- e-mail addresses ------------------------------------------------------------------------------
def set_email(db: Database, user_id: int, email: str | None) -> bool:
    """Set (or clear, with None) a user's address; raises EmailInUse when another account has it
    (decided by the unique index, race-free). True if the user exists."""
    try:
        with db.write() as conn:
            return bool(conn.execute(update(users).where(users.c.id == user_id).values(email=email)).rowcount)
    except IntegrityError:
        raise EmailInUse(email) from None


def user_by_email(db: Database, email: str) -> Row[Any] | None:
    with db.read() as conn:
        return conn.execute(select(users).where(users.c.email == email)).first()


def user_by_id(db: Database, user_id: int) -> Row[Any] | None:
    with db.read() as conn:
        return conn.execute(select(users).where(users.c.id == user_id)).first()


# -- preferences -----------------------------------------------------------------------------------
def prefs_of(db: Database, user_id: int) -> Row[Any] | None:
    with db.read() as conn:
        return conn.execute(select(digest_settings).where(digest_settings.c.user_id == user_id)).first()


def save_prefs(db: Database, user_id: int, values: dict[str, Any], at: datetime,
               resubscribe: bool = False) -> None:
    """Insert or update the preference columns given in ``values``; ``resubscribe`` clears the
    one-click unsubscription (the person turned the digest on again themselves)."""
    cols = {k: v for k, v in values.items() if k in PREF_COLUMNS}
    extra: dict[str, Any] = {"updated_at": at}
    if resubscribe:
        extra["unsubscribed_at"] = None
    with db.write() as conn:
        changed = conn.execute(update(digest_settings).where(digest_settings.c.user_id == user_id)
                               .values(**cols, **extra)).rowcount
        if not changed:
            conn.execute(digest_settings.insert().values(user_id=user_id, **cols, **extra))


def unsubscribe(db: Database, user_id: int, at: datetime) -> bool:
    """Turn the user's digest off (one-click link). True if the user has a preferences row."""
    with db.write() as conn:
        return bool(conn.execute(update(digest_settings).where(digest_settings.c.user_id == user_id).values(
            enabled=False, unsubscribed_at=at, updated_at=at)).rowcount)


def subscribers(db: Database, username: str | None = None) -> list[Row[Any]]:
    """Users with an address and the digest on (not unsubscribed), with their preferences."""
    ds = digest_settings
    q = (select(users.c.id, users.c.username, users.c.email, ds)
         .join(ds, ds.c.user_id == users.c.id)
         .where(users.c.email.is_not(None), ds.c.enabled.is_(True), ds.c.unsubscribed_at.is_(None))
         .order_by(users.c.id))
    if username is not None:
        q = q.where(users.c.username == username)
    with db.read() as conn:
        return list(conn.execute(q))


# -- private feed tokens ---------------------------------------------------------------------------
def set_feed_token(db: Database, user_id: int, token_hash: str | None, at: datetime) -> None:
    """Store a new feed token hash (replacing any old one), or None to revoke it."""
    ds = digest_settings
    with db.write() as conn:
        values = {"feed_token_hash": token_hash, "feed_token_created_at": at if token_hash else None}
        if not conn.execute(update(ds).where(ds.c.user_id == user_id).values(**values)).rowcount:
            conn.execute(ds.insert().values(user_id=user_id, updated_at=at, **values))


def user_by_feed_token(db: Database, token_hash: str) -> Row[Any] | None:
    ds = digest_settings
    with db.read() as conn:
        return conn.execute(select(users.c.id, users.c.username, ds).join(ds, ds.c.user_id == users.c.id)
                            .where(ds.c.feed_token_hash == token_hash)).first()


# -- sends -----------------------------------------------------------------------------------------
def claim(db: Database, user_id: int, period: str, worker: str, at: datetime, stale_before: datetime,
          max_attempts: int) -> int | None:
    """Claim (user, period) for this sender; the row's id, or None if another sender holds it or it
    is done (sent, empty, failed for good, or failed and not yet due for a retry)."""
    s = digest_sends
    ins = dialect.insert_ignore(db.dialect, s, ["user_id", "period"]).values(
        user_id=user_id, period=period, status="claimed", claimed_by=worker, claimed_at=at, attempts=0
    ).returning(s.c.id)
    retake = and_(s.c.user_id == user_id, s.c.period == period, or_(
        and_(s.c.status == "claimed", s.c.claimed_at < stale_before),
        and_(s.c.status == "failed", s.c.attempts < max_attempts, s.c.next_attempt_at.is_not(None),
             s.c.next_attempt_at <= at)))
    with db.write() as conn:
        row_id = conn.execute(ins).scalar()
        if row_id is not None:
            return int(row_id)
        res = conn.execute(update(s).where(retake).values(status="claimed", claimed_by=worker, claimed_at=at,
                                                          error=None).returning(s.c.id))
        got = res.scalar()
    return None if got is None else int(got)


def _finish(db: Database, send_id: int, worker: str, **values: Any) -> bool:
    s = digest_sends
    with db.write() as conn:
        return bool(conn.execute(update(s).where(s.c.id == send_id, s.c.status == "claimed",
                                                 s.c.claimed_by == worker).values(**values)).rowcount)


def renew_claim(db: Database, send_id: int, worker: str, at: datetime) -> bool:
    return _finish(db, send_id, worker, claimed_at=at)


def mark_sent(db: Database, send_id: int, worker: str, message_id: str, papers: list[str], attempts: int,
              at: datetime) -> bool:
    """Record a delivered e-mail; False if this sender no longer held the claim (logged by the caller)."""
    return _finish(db, send_id, worker, status="sent", message_id=message_id, papers=papers,
                   attempts=digest_sends.c.attempts + attempts, sent_at=at, error=None)


def mark_empty(db: Database, send_id: int, worker: str, at: datetime) -> bool:
    return _finish(db, send_id, worker, status="empty", papers=[], sent_at=None, claimed_at=at)


def mark_failed(db: Database, send_id: int, worker: str, error: str, attempts: int,
                next_attempt_at: datetime | None) -> bool:
    """Record a failed send (never as sent); ``next_attempt_at`` None: never retried."""
    return _finish(db, send_id, worker, status="failed", error=error[:2000],
                   attempts=digest_sends.c.attempts + attempts, next_attempt_at=next_attempt_at)


def release(db: Database, send_id: int, worker: str) -> bool:
    """Give a claim back unsent (the sender was asked to stop before it sent): the row goes away."""
    s = digest_sends
    with db.write() as conn:
        return bool(conn.execute(delete(s).where(s.c.id == send_id, s.c.status == "claimed",
                                                 s.c.claimed_by == worker, s.c.attempts == 0)).rowcount)


def send_row(db: Database, user_id: int, period: str) -> Row[Any] | None:
    s = digest_sends
    with db.read() as conn:
        return conn.execute(select(s).where(s.c.user_id == user_id, s.c.period == period)).first()


def last_sent(db: Database, user_id: int, recent: int = 5) -> list[Row[Any]]:
    """The user's most recent sent digests, newest first (for "since" and for papers already sent)."""
    s = digest_sends
    with db.read() as conn:
        return list(conn.execute(select(s).where(s.c.user_id == user_id, s.c.status == "sent")
                                 .order_by(s.c.sent_at.desc()).limit(recent)))


def sends_of(db: Database, user_id: int, limit: int = 20) -> list[Row[Any]]:
    s = digest_sends
    with db.read() as conn:
        return list(conn.execute(select(s).where(s.c.user_id == user_id).order_by(s.c.id.desc()).limit(limit)))
