"""Digest e-mails: ``compose`` (pure: picks -> EmailMessage), ``deliver`` (SMTP with bounded retries),
and the signed one-click unsubscribe tokens.

compose is a function of its arguments only (no clock, no database, no network): the same user,
picks, period and settings give the same message, ``Message-ID`` included (derived from user and
period), so a digest re-sent after a crash is recognisably the same e-mail.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from papersift.config import Settings
from papersift.models import Paper
from papersift.notify.schedule import Period

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
SECURITY = ("none", "starttls", "ssl")
UNSUBSCRIBE_SALT = "papersift-digest-unsubscribe"
ABSTRACT_CHARS = 320
FORYOU_PATH = "/foryou"  # the For-you page (web/foryou.py)


class PickLike(Protocol):
    """What compose needs of a ranker pick (rank/foryou.py ``Pick``)."""

    paper: Paper
    score: float
    reasons: list[str]


@dataclass(frozen=True)
class Recipient:
    user_id: int
    username: str
    email: str
    frequency: str = "daily"


@dataclass(frozen=True)
class MailSettings:
    """Everything compose and deliver need, read once from Settings (the environment) + the secret."""

    base_url: str
    mail_from: str
    secret: str
    host: str | None = None
    port: int = 25
    user: str | None = None
    password: str | None = None
    security: str = "none"
    timeout: float = 30.0
    attempts: int = 4
    backoff: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings, secret: str, require_smtp: bool = True) -> MailSettings:
        """Validated mail settings; ValueError naming the variable to fix."""
        security = settings.smtp_security
        if security not in SECURITY:
            raise ValueError(f"PAPERSIFT_SMTP_SECURITY must be one of {', '.join(SECURITY)}, not {security!r}")
        if require_smtp and not settings.smtp_host:
            raise ValueError("no SMTP server: set PAPERSIFT_SMTP_HOST (and PAPERSIFT_SMTP_PORT, "
                             "PAPERSIFT_SMTP_SECURITY, PAPERSIFT_MAIL_FROM)")
        if require_smtp and not settings.base_url:
            raise ValueError("set PAPERSIFT_BASE_URL to the address people reach this papersift at: "
                             "the links in an e-mail cannot be relative")
        base = (settings.base_url or "http://127.0.0.1:8000").rstrip("/")
        if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
            raise ValueError(f"PAPERSIFT_BASE_URL must be an http(s) URL, not {base!r}")
        sender = settings.mail_from or f"papersift <papersift@{urlsplit(base).hostname or 'localhost'}>"
        if "@" not in parseaddr(sender)[1] or any(c in sender for c in "\r\n"):
            raise ValueError(f"PAPERSIFT_MAIL_FROM is not an e-mail address: {sender!r}")
        port = settings.smtp_port or {"ssl": 465, "starttls": 587}.get(security, 25)
        if not 0 < port < 65536:
            raise ValueError(f"PAPERSIFT_SMTP_PORT must be 1-65535, not {port}")
        return cls(base_url=base, mail_from=sender, secret=secret, host=settings.smtp_host, port=port,
                   user=settings.smtp_user, password=settings.smtp_password, security=security,
                   timeout=settings.smtp_timeout, attempts=max(1, min(settings.smtp_attempts, 10)),
                   backoff=max(0.0, settings.smtp_backoff))


# -- tokens and ids --------------------------------------------------------------------------------
def _unsub_signer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(secret: str, user_id: int) -> str:
    return str(_unsub_signer(secret).dumps({"u": user_id}))


def unsubscribe_user(secret: str, token: str) -> int | None:
    """The user id a token was signed for, or None for a tampered, foreign or malformed token."""
    if not token or len(token) > 200:
        return None
    try:
        data = _unsub_signer(secret).loads(token)
    except BadSignature:
        return None
    uid = data.get("u") if isinstance(data, dict) else None
    return uid if isinstance(uid, int) and not isinstance(uid, bool) and uid > 0 else None


def unsubscribe_url(ms: MailSettings, user_id: int) -> str:
    return f"{ms.base_url}/digest/unsubscribe/{unsubscribe_token(ms.secret, user_id)}"


def message_id(ms: MailSettings, user_id: int, period: str) -> str:
    """Stable per (user, period): a re-sent digest carries the same id."""
    tag = hmac.new(ms.secret.encode(), f"digest:{user_id}:{period}".encode(), hashlib.sha256).hexdigest()[:16]
    domain = urlsplit(ms.base_url).hostname or parseaddr(ms.mail_from)[1].rpartition("@")[2] or "papersift"
    return f"<digest.{period}.{user_id}.{tag}@{domain}>"


# -- compose ---------------------------------------------------------------------------------------
_ENV_HTML = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENV_TEXT = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=False,
                        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def short_abstract(text: str, limit: int = ABSTRACT_CHARS) -> str:
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + "…"


def _paper_url(base: str, paper_id: str) -> str:
    return base + "/papers/" + quote(paper_id, safe="/", errors="replace")


def _item(ms: MailSettings, rank: int, pick: PickLike) -> dict[str, Any]:
    p = pick.paper
    links = [(k, v) for k, v in p.links.items() if k in ("abs", "pdf", "code", "project")
             and v.startswith(("https://", "http://"))]
    authors = p.authors[:5]
    return {"rank": rank, "title": p.title, "url": _paper_url(ms.base_url, p.id),
            "authors": ", ".join(authors) + (" et al." if len(p.authors) > 5 else ""),
            "abstract": short_abstract(p.abstract), "reasons": list(pick.reasons), "links": links,
            "categories": p.categories[:3], "published": p.published.isoformat() if p.published else ""}


def _subject(user: Recipient, n: int, period: Period) -> str:
    what = "paper" if n == 1 else "papers"
    text = f"papersift: {n} {what} for {user.username} — {period.label}"
    return " ".join(text.split())  # never a line break in a header


def compose(user: Recipient, picks: Sequence[PickLike], period: Period, settings: MailSettings) -> EmailMessage:
    """The digest e-mail for ``user`` and ``period``: plain-text and HTML parts, stable Message-ID,
    one-click unsubscribe (RFC 8058). Pure; raises ValueError for an empty list (never sent)."""
    if not picks:
        raise ValueError("an empty digest is never composed")
    unsub = unsubscribe_url(settings, user.user_id)
    ctx = {"user": user, "period": period, "items": [_item(settings, i + 1, p) for i, p in enumerate(picks)],
           "base_url": settings.base_url, "settings_url": settings.base_url + "/settings",
           "foryou_url": settings.base_url + FORYOU_PATH, "unsubscribe_url": unsub}
    msg = EmailMessage()
    msg["Subject"] = _subject(user, len(picks), period)
    msg["From"] = settings.mail_from
    msg["To"] = formataddr((user.username, user.email))
    msg["Message-ID"] = message_id(settings, user.user_id, period.key)
    msg["List-Id"] = f"papersift digest <digest.{urlsplit(settings.base_url).hostname or 'papersift'}>"
    msg["List-Unsubscribe"] = f"<{unsub}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Papersift-Period"] = period.key
    msg.set_content(_ENV_TEXT.get_template("digest.txt").render(ctx))
    msg.add_alternative(_ENV_HTML.get_template("digest.html").render(ctx), subtype="html")
    # a boundary derived from the content instead of a random one: same input, same bytes
    msg.set_boundary("==papersift-" + hashlib.sha256(b"".join(
        p.get_content().encode() for p in msg.iter_parts())).hexdigest()[:32] + "==")
    return msg


# -- deliver ---------------------------------------------------------------------------------------
class MailError(RuntimeError):
    def __init__(self, message: str, attempts: int, transient: bool) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.transient = transient


def transient(exc: BaseException) -> bool:
    """True for failures worth retrying: no connection, a dropped connection, a timeout, 4xx replies."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= c < 500 for c in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False  # a configuration problem: retrying will not fix it
    return isinstance(exc, smtplib.SMTPServerDisconnected | OSError)


def _send_once(msg: EmailMessage, ms: MailSettings) -> None:
    assert ms.host is not None
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if ms.security == "ssl":
        smtp = smtplib.SMTP_SSL(ms.host, ms.port, timeout=ms.timeout, context=context)
    else:
        smtp = smtplib.SMTP(ms.host, ms.port, timeout=ms.timeout)
    with smtp:
        smtp.ehlo()
        if ms.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if ms.user:
            smtp.login(ms.user, ms.password or "")
        smtp.send_message(msg)


def deliver(msg: EmailMessage, ms: MailSettings, sleep: Callable[[float], None] = time.sleep) -> int:
    """Send over SMTP; returns the number of attempts it took. Transient failures are retried up to
    ``ms.attempts`` times with exponential backoff (+ jitter), each logged; raises MailError when
    every attempt failed or the server refused for good (5xx)."""
    if "Date" not in msg:
        msg["Date"] = formatdate(usegmt=True)
    to = msg["To"]
    for attempt in range(1, ms.attempts + 1):
        try:
            _send_once(msg, ms)
            return attempt
        except Exception as e:
            if not transient(e):
                log.error("digest to %s: SMTP refused for good (%s: %s); not retried", to, type(e).__name__, e)
                raise MailError(f"{type(e).__name__}: {e}", attempt, transient=False) from e
            if attempt == ms.attempts:
                log.warning("digest to %s: attempt %d/%d failed (%s: %s); giving up for now", to, attempt,
                            ms.attempts, type(e).__name__, e)
                raise MailError(f"{type(e).__name__}: {e}", attempt, transient=True) from e
            wait = ms.backoff * 2 ** (attempt - 1) * (1 + random.random() / 4)
            log.warning("digest to %s: attempt %d/%d failed (%s: %s); retrying in %.1f s", to, attempt,
                        ms.attempts, type(e).__name__, e, wait)
            sleep(wait)
    raise AssertionError("unreachable")
