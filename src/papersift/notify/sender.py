"""The digest sender: for every subscriber whose period is due, claim (user, period), rank, compose,
deliver, record. Used by ``papersift digest send`` and the worker's ``digest`` job.

Exactly once per (user, period), whoever runs it and however often:

* a period is claimed in the database before anything is sent (store/digest.py ``claim``): of two
  senders running at once, one gets the row and the other skips it;
* the outcome is recorded on the claimed row: ``sent`` (with Message-ID and paper ids), ``empty``
  (nothing new: no e-mail at all), or ``failed`` (every SMTP attempt failed: retried by a later run
  from ``next_attempt_at``, at most ``MAX_RUNS`` runs; a 5xx refusal is never retried);
* a sender killed while it holds a claim leaves it ``claimed``; after ``Settings.digest_lease``
  seconds the claim is stale and the next run retakes it. The one window left is a kill between
  the SMTP server's "250 OK" and the ``sent`` record: that e-mail can go out twice, with the same
  Message-ID (so mail clients show it once).

Candidates are the ranker's picks new since the user's last sent digest (its claim time), minus
papers an earlier digest already carried.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from papersift.engine import Engine
from papersift.notify.mail import MailError, MailSettings, Recipient, compose, deliver
from papersift.notify.prefs import DigestPrefs, get_prefs
from papersift.notify.schedule import Period, due_period
from papersift.rank.foryou import Pick, recommend
from papersift.store import digest as sql

log = logging.getLogger(__name__)
MAX_RUNS = 3  # runs (each with MailSettings.attempts SMTP attempts) per (user, period) before giving up
RETRY_AFTER = timedelta(minutes=10)  # a failed period is retried from then on (x2 after each failed run)
RECENT_DIGESTS = 5  # papers carried by this many previous digests are never sent again
PAUSE_ENV = "PAPERSIFT_DIGEST_TEST_PAUSE"  # tests: "claimed" | "sent": stop after the first such event


@dataclass
class Outcome:
    user: str
    email: str
    period: str
    status: str  # sent | empty | failed | busy (another sender holds it) | would-send | would-be-empty
    papers: list[str] = field(default_factory=list)
    message_id: str | None = None
    attempts: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def picks_for(eng: Engine, user_id: int, prefs: DigestPrefs) -> list[Pick]:
    """The next digest's papers: the ranker's best since the last sent digest, none sent before."""
    recent = sql.last_sent(eng.db, user_id, RECENT_DIGESTS)
    since = recent[0].claimed_at if recent else None
    already = {pid for r in recent for pid in (r.papers or [])}
    picks = recommend(eng, user_id, since=since, limit=prefs.max_papers + len(already),
                      include_trending=prefs.include_trending)
    return [p for p in picks if p.paper.id not in already][:prefs.max_papers]


def _prefs_of_row(row: Any) -> DigestPrefs:
    return DigestPrefs(enabled=bool(row.enabled), frequency=row.frequency, hour=int(row.hour), timezone=row.timezone,
                       max_papers=int(row.max_papers), include_trending=bool(row.include_trending))


def _test_pause(event: str, state: dict[str, bool]) -> None:
    """A deterministic place for tests to SIGKILL a sender: with PAPERSIFT_DIGEST_TEST_PAUSE=event,
    after the first such event touch PAPERSIFT_DIGEST_TEST_PAUSE_FILE and sleep."""
    if os.environ.get(PAUSE_ENV) != event or state.get(event):
        return
    state[event] = True
    marker = os.environ.get(PAUSE_ENV + "_FILE")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    log.warning("digest: test pause after the first %r (pid %d)", event, os.getpid())
    time.sleep(3600)


def send_due(eng: Engine, ms: MailSettings, lease_seconds: float, worker: str, *, username: str | None = None,
             dry_run: bool = False, should_stop: Callable[[], bool] = lambda: False,
             at: datetime | None = None,
             on_start: Callable[[int], None] | None = None,
             on_progress: Callable[[Outcome | None], None] | None = None) -> list[Outcome]:
    """Send every due digest (of ``username`` only, if given); one Outcome per user acted on.
    Periods already done (sent or empty) are skipped silently. ``dry_run``: claim and send nothing.
    ``on_start(n)``: the number of subscribers; ``on_progress``: after each (None: nothing to do)."""
    db = eng.db
    outcomes: list[Outcome] = []
    paused: dict[str, bool] = {}
    rows = sql.subscribers(db, username)
    if on_start is not None:
        on_start(len(rows))
    for row in rows:
        before = len(outcomes)
        try:
            _one_subscriber(eng, ms, lease_seconds, worker, row, dry_run, at, outcomes, paused)
        finally:
            if on_progress is not None:
                on_progress(outcomes[-1] if len(outcomes) > before else None)
        if should_stop():
            log.info("digest: asked to stop; the remaining users wait for the next run")
            break
    return outcomes


def _one_subscriber(eng: Engine, ms: MailSettings, lease_seconds: float, worker: str, row: Any, dry_run: bool,
                    at: datetime | None, outcomes: list[Outcome], paused: dict[str, bool]) -> None:
    """Claim, send and record one subscriber's due digest (appending its Outcome, if any)."""
    db = eng.db
    now = at or utcnow()
    prefs = _prefs_of_row(row)
    recipient = Recipient(row.id, row.username, row.email, prefs.frequency)
    try:
        period = due_period(prefs.frequency, prefs.hour, prefs.timezone, now)
    except ValueError as e:  # a time zone this system no longer knows
        log.error("digest for %s: %s", row.username, e)
        outcomes.append(Outcome(row.username, row.email, "", "failed", error=str(e)))
        return
    existing = sql.send_row(db, row.id, period.key)
    if existing is not None and existing.status in ("sent", "empty"):
        return
    if dry_run:
        picks = picks_for(eng, row.id, prefs)
        outcomes.append(Outcome(row.username, row.email, period.key, "would-send" if picks else "would-be-empty",
                                papers=[p.paper.id for p in picks]))
        return
    send_id = sql.claim(db, row.id, period.key, worker, now, now - timedelta(seconds=lease_seconds),
                        MAX_RUNS * ms.attempts)
    if send_id is None:
        log.debug("digest for %s (%s): held by another sender, done, or not due for a retry",
                  row.username, period.key)
        if existing is None or existing.status == "claimed":
            outcomes.append(Outcome(row.username, row.email, period.key, "busy"))
        return
    _test_pause("claimed", paused)
    outcome = _send_one(eng, ms, worker, send_id, recipient, prefs, period)
    outcomes.append(outcome)
    if outcome.status == "sent":
        _test_pause("sent", paused)


def _send_one(eng: Engine, ms: MailSettings, worker: str, send_id: int, recipient: Recipient, prefs: DigestPrefs,
              period: Period) -> Outcome:
    db = eng.db
    out = Outcome(recipient.username, recipient.email, period.key, "failed")
    row = sql.send_row(db, recipient.user_id, period.key)
    runs_before = (int(row.attempts) // max(ms.attempts, 1)) if row is not None else 0
    try:
        picks = picks_for(eng, recipient.user_id, prefs)
        if not picks:
            sql.mark_empty(db, send_id, worker, utcnow())
            log.info("digest for %s (%s): nothing new; no e-mail", recipient.username, period.key)
            out.status = "empty"
            return out
        msg = compose(recipient, picks, period, ms)
        out.papers = [p.paper.id for p in picks]
        out.message_id = str(msg["Message-ID"])
        out.attempts = deliver(msg, ms)
    except MailError as e:
        out.attempts, out.error = e.attempts, str(e)
        retry = utcnow() + RETRY_AFTER * 2 ** runs_before if e.transient and runs_before + 1 < MAX_RUNS else None
        sql.mark_failed(db, send_id, worker, out.error, e.attempts, retry)
        log.error("digest for %s (%s) not sent after %d attempt(s): %s; %s", recipient.username, period.key,
                  e.attempts, e, f"retried from {retry:%Y-%m-%d %H:%M} UTC" if retry else "not retried")
        return out
    except Exception as e:
        out.error = f"{type(e).__name__}: {e}"
        # counts as one whole run, so a fault that keeps happening is retried at most MAX_RUNS times
        retry = utcnow() + RETRY_AFTER * 2 ** runs_before if runs_before + 1 < MAX_RUNS else None
        sql.mark_failed(db, send_id, worker, out.error, ms.attempts, retry)
        log.exception("digest for %s (%s) failed before sending", recipient.username, period.key)
        return out
    out.status = "sent"
    if not sql.mark_sent(db, send_id, worker, out.message_id, out.papers, out.attempts, utcnow()):
        log.error("digest for %s (%s) was sent, but this sender's claim had gone stale and was retaken: "
                  "raise PAPERSIFT_DIGEST_LEASE", recipient.username, period.key)
    log.info("digest for %s (%s): sent %d papers to %s (%s)", recipient.username, period.key, len(out.papers),
             recipient.email, out.message_id)
    return out


def preview(eng: Engine, ms: MailSettings, user_id: int, username: str, email: str | None,
            at: datetime | None = None) -> tuple[EmailMessage | None, list[Pick], Period]:
    """The e-mail the user's next digest would be (None when it would be empty); claims nothing."""
    prefs = get_prefs(eng.db, user_id)
    period = due_period(prefs.frequency, prefs.hour, prefs.timezone, at or utcnow())
    picks = picks_for(eng, user_id, prefs)
    recipient = Recipient(user_id, username, email or f"{username}@invalid", prefs.frequency)
    return (compose(recipient, picks, period, ms) if picks else None), picks, period
