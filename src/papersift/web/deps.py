"""What every route needs, in one place: the engine (a reader that sees the index owner's commits),
the database, the session and user, CSRF checks, API authentication, safe redirects.

Routes import this module; render.py imports it too (no route module imports another)."""

from __future__ import annotations

import logging
import secrets
from datetime import date
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeSerializer

from papersift import accounts, models
from papersift.accounts import Session, User
from papersift.engine import Engine
from papersift.index.owner import describe
from papersift.store.db import Database

log = logging.getLogger(__name__)
SESSION_COOKIE = "papersift_session"
CSRF_COOKIE = "papersift_csrf"  # anonymous forms (login, sign-up): signed double-submit token


def engine(request: Request) -> Engine:
    """The process's engine, refreshed (at most every second) with what the index owner committed."""
    eng: Engine = request.app.state.engine
    return eng.refresh()


def db(request: Request) -> Database:
    eng: Engine = request.app.state.engine
    return eng.db


def current(request: Request) -> Session | None:
    if not hasattr(request.state, "session"):
        request.state.session = accounts.get_session(db(request), request.cookies.get(SESSION_COOKIE))
    return request.state.session


def current_user(request: Request) -> User | None:
    s = current(request)
    return s.user if s else None


def _signer(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(request.app.state.secret, salt="papersift-anon-csrf")


def csrf_token(request: Request) -> str:
    """The CSRF token for forms on this page: the session's, or an anonymous signed one."""
    s = current(request)
    if s:
        return s.csrf_token
    if getattr(request.state, "anon_csrf", None):
        return request.state.anon_csrf
    try:
        raw = _signer(request).loads(request.cookies.get(CSRF_COOKIE) or "")
    except BadSignature:
        raw = None
    if not isinstance(raw, str) or len(raw) < 20:
        raw = secrets.token_urlsafe(32)
        request.state.new_anon_csrf = True
    request.state.anon_csrf = raw
    return raw


def attach_csrf_cookie(request: Request, response: Any) -> None:
    if getattr(request.state, "new_anon_csrf", False):
        response.set_cookie(CSRF_COOKIE, _signer(request).dumps(request.state.anon_csrf), httponly=True,
                            samesite="lax", secure=request.url.scheme == "https", path="/")


def check_csrf(request: Request, token: str | None) -> None:
    """Refuse (403) a POST whose form token does not match the session's (or anonymous) token."""
    s = current(request)
    if s:
        ok = accounts.same(token, s.csrf_token)
    else:
        try:
            raw = _signer(request).loads(request.cookies.get(CSRF_COOKIE) or "")
        except BadSignature:
            raw = None
        ok = isinstance(raw, str) and accounts.same(token, raw)
    if not ok:
        raise HTTPException(403, "The form's security token is missing or stale. Reload the page and "
                                 "try again.")


def api_user(request: Request) -> User | None:
    """The caller of an API write: a Bearer API token, or a session cookie plus X-CSRF-Token."""
    authz = request.headers.get("authorization", "")
    if authz.lower().startswith("bearer "):
        return accounts.user_for_api_token(db(request), authz[7:].strip())
    s = current(request)
    if s and accounts.same(request.headers.get("x-csrf-token"), s.csrf_token):
        return s.user
    return None


def require_api_user(request: Request) -> User:
    user = api_user(request)
    if user is None:
        raise HTTPException(401, "authentication required: send 'Authorization: Bearer <API token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


def safe_next(target: str | None) -> str:
    t = (target or "/").strip()
    if not t.startswith("/") or t.startswith("//") or "\\" in t or any(ord(c) < 32 for c in t):
        return "/"
    return t


@lru_cache(maxsize=8)
def _trusted_networks(entries: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    nets = []
    for entry in entries:
        try:
            nets.append(ip_network(entry, strict=False))
        except ValueError:
            log.warning("PAPERSIFT_TRUSTED_PROXIES: %r is not an IP address or network; ignored", entry)
    return tuple(nets)


def _ip(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


def client_ip(request: Request) -> str:
    """The client's address: the direct peer, unless the peer is a configured trusted proxy
    (Settings.trusted_proxies, PAPERSIFT_TRUSTED_PROXIES; none by default). Then X-Forwarded-For
    is read from the right, past the trusted proxies, to the first address they did not add
    themselves: the entries left of it are the client's to invent, so they are never believed."""
    peer = request.client.host if request.client else "unknown"
    settings = getattr(request.app.state, "settings", None)
    nets = _trusted_networks(tuple(getattr(settings, "trusted_proxies", None) or ()))
    if not nets:
        return peer

    def trusted(addr: IPv4Address | IPv6Address | None) -> bool:
        return addr is not None and any(addr.version == n.version and addr in n for n in nets)

    if not trusted(_ip(peer)):
        return peer
    hops = [h.strip() for v in request.headers.getlist("x-forwarded-for") for h in v.split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        addr = _ip(hop)
        if addr is None:  # not an address a proxy of ours wrote: stop at the last one we believe
            break
        client = str(addr)
        if not trusted(addr):
            break
    return client


def index_owner(eng: Engine) -> str:
    """Who owns the indexes, in words (a read-only data dir's lock file cannot be probed)."""
    try:
        return describe(eng.lock.owner())
    except OSError as e:
        return f"unknown ({e.strerror})"


def base_url(request: Request) -> str:
    """Where absolute links (Atom, Markdown) point: Settings.base_url (PAPERSIFT_BASE_URL), else the
    request's own URL, which follows its Host header: set the base URL behind a proxy."""
    configured = request.app.state.settings.base_url
    return (configured or str(request.base_url)).rstrip("/")


def require_admin(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "Log in to see this page.")
    if not user.is_admin:
        raise HTTPException(403, "Only administrators can see this page.")
    return user


def parse_day(value: str | None, name: str) -> date | None:
    """An ISO date query parameter, or a 400 that says what was wrong."""
    try:
        return models.parse_day(value, name)
    except ValueError as e:
        raise HTTPException(400, str(e)) from None
