"""Sign-up, login, logout, account page with API tokens; session, CSRF and API-auth helpers."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from itsdangerous import BadSignature, URLSafeSerializer

from papersift import accounts
from papersift.accounts import AccountError, RateLimited, Session, User
from papersift.web.render import render

SESSION_COOKIE = "papersift_session"
CSRF_COOKIE = "papersift_csrf"  # anonymous forms (login, sign-up): signed double-submit token
router = APIRouter(include_in_schema=False)


def db(request: Request):
    return request.app.state.engine.store.engine


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


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_response(request: Request, user: User, target: str) -> RedirectResponse:
    token = accounts.create_session(db(request), user)
    resp = RedirectResponse(safe_next(target), status_code=303)
    resp.set_cookie(SESSION_COOKIE, token, max_age=int(accounts.SESSION_TTL.total_seconds()), httponly=True,
                    samesite="lax", secure=request.url.scheme == "https", path="/")
    resp.delete_cookie(CSRF_COOKIE, path="/")
    return resp


# -- routes --------------------------------------------------------------------------------------
@router.get("/login")
def login_form(request: Request, next: str = "/"):
    return render(request, "login.html", {"next": safe_next(next), "error": None, "username": ""})


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""),
          csrf_token: str = Form(""), next: str = Form("/")):
    check_csrf(request, csrf_token)
    try:
        user = accounts.authenticate(db(request), username, password, client_ip(request))
    except RateLimited as e:
        return render(request, "login.html", {"next": safe_next(next), "error": str(e), "username": username},
                      status=429, headers={"Retry-After": "300"})
    except AccountError as e:
        return render(request, "login.html", {"next": safe_next(next), "error": str(e), "username": username},
                      status=401)
    return _login_response(request, user, next)


@router.get("/signup")
def signup_form(request: Request, next: str = "/"):
    return render(request, "signup.html", {"next": safe_next(next), "error": None, "username": ""})


@router.post("/signup")
def signup(request: Request, username: str = Form(""), password: str = Form(""), password2: str = Form(""),
           csrf_token: str = Form(""), next: str = Form("/")):
    check_csrf(request, csrf_token)
    try:
        if password != password2:
            raise AccountError("The two passwords differ.")
        user = accounts.create_user(db(request), username, password)
    except AccountError as e:
        return render(request, "signup.html", {"next": safe_next(next), "error": str(e),
                                               "username": username}, status=400)
    return _login_response(request, user, next)


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")):
    check_csrf(request, csrf_token)
    accounts.end_session(db(request), request.cookies.get(SESSION_COOKIE))
    resp = RedirectResponse("/", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


def _need_login(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "Log in to see this page.")
    return user


@router.get("/account")
def account(request: Request):
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login?next=/account", status_code=303)
    return render(request, "account.html", {"tokens": accounts.list_api_tokens(db(request), user),
                                            "new_token": None})


@router.post("/account/tokens")
def new_token(request: Request, name: str = Form("script"), csrf_token: str = Form("")):
    check_csrf(request, csrf_token)
    user = _need_login(request)
    token = accounts.create_api_token(db(request), user, name)
    return render(request, "account.html", {"tokens": accounts.list_api_tokens(db(request), user),
                                            "new_token": token}, headers={"Cache-Control": "no-store"})


@router.post("/account/tokens/revoke")
def revoke_token(request: Request, token_id: int = Form(...), csrf_token: str = Form("")):
    check_csrf(request, csrf_token)
    user = _need_login(request)
    accounts.revoke_api_token(db(request), user, token_id)
    return RedirectResponse("/account", status_code=303)
