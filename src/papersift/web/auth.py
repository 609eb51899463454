"""Sign-up, login, logout, and the account page with API tokens (routes only; see deps.py)."""

from __future__ import annotations

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from papersift import accounts
from papersift.accounts import AccountError, RateLimited, User
from papersift.web.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    client_ip,
    current_user,
    db,
    safe_next,
)
from papersift.web.render import render

router = APIRouter(include_in_schema=False)


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
    except RateLimited as e:  # too many failures (Retry-After: the window), or Busy: no hash slot free
        return render(request, "login.html", {"next": safe_next(next), "error": str(e), "username": username},
                      status=429, headers={"Retry-After": str(e.retry_after)})
    except AccountError as e:
        return render(request, "login.html", {"next": safe_next(next), "error": str(e), "username": username},
                      status=401)
    return _login_response(request, user, next)


@router.get("/signup")
def signup_form(request: Request, next: str = "/"):
    return render(request, "signup.html", {"next": safe_next(next), "error": None, "username": ""})


@router.post("/signup")
def signup(request: Request, username: str = Form(""), password: str = Form(""), password2: str = Form(""),
           email: str = Form(""), digest: str = Form(""), csrf_token: str = Form(""), next: str = Form("/")):
    check_csrf(request, csrf_token)
    form = {"next": safe_next(next), "username": username, "email": email, "digest": bool(digest)}
    try:
        if password != password2:
            raise AccountError("The two passwords differ.")
        if digest and not email.strip():
            raise AccountError("The digest needs an e-mail address.")
        user = accounts.create_user(db(request), username, password, email=email)
    except RateLimited as e:  # Busy: every hash slot of this worker is taken
        return render(request, "signup.html", {**form, "error": str(e)}, status=429,
                      headers={"Retry-After": str(e.retry_after)})
    except AccountError as e:
        return render(request, "signup.html", {**form, "error": str(e)}, status=400)
    if digest:
        from papersift.notify.prefs import update_prefs

        update_prefs(db(request), user.id, enabled=True)
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
def revoke_token(request: Request, token_id: int = Form(..., ge=0, le=2**62), csrf_token: str = Form("")):
    check_csrf(request, csrf_token)
    user = _need_login(request)
    accounts.revoke_api_token(db(request), user, token_id)
    return RedirectResponse("/account", status_code=303)
