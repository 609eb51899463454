"""The settings page: e-mail address, digest preferences, the private feed URL (routes only)."""

from __future__ import annotations

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from papersift import accounts
from papersift.accounts import AccountError, User
from papersift.notify import prefs as digest_prefs
from papersift.notify.schedule import zone_names
from papersift.store import digest as digest_sql
from papersift.web.deps import base_url, check_csrf, current_user, db
from papersift.web.render import render

router = APIRouter(include_in_schema=False)


def _need_login(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "Log in to see this page.")
    return user


def _page(request: Request, user: User, *, error: str | None = None, saved: bool = False,
          feed_url: str | None = None, prefs: digest_prefs.DigestPrefs | None = None,
          email: str | None = None, status: int = 200):
    d = db(request)
    return render(request, "settings.html", {
        "prefs": prefs or digest_prefs.get_prefs(d, user.id), "email": user.email if email is None else email,
        "zones": zone_names(), "error": error, "saved": saved, "feed_url": feed_url,
        "sends": digest_sql.sends_of(d, user.id, 10), "max_papers": digest_prefs.MAX_PAPERS,
        "smtp_configured": bool(request.app.state.settings.smtp_host)},
        status=status, headers={"Cache-Control": "no-store"} if feed_url else None)


@router.get("/settings")
def settings_page(request: Request, saved: int = 0):
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login?next=/settings", status_code=303)
    return _page(request, user, saved=bool(saved))


@router.post("/settings")
def save_settings(request: Request, csrf_token: str = Form(""), email: str = Form(""),
                  enabled: str = Form(""), frequency: str = Form("daily"), hour: str = Form("7"),
                  timezone: str = Form("UTC"), max_papers: str = Form("10"), include_trending: str = Form("")):
    check_csrf(request, csrf_token)
    user = _need_login(request)
    d = db(request)
    wanted = digest_prefs.DigestPrefs(enabled=bool(enabled), frequency=frequency.strip(),
                                      timezone=timezone.strip() or "UTC", include_trending=bool(include_trending))
    try:
        try:
            wanted.hour = int(hour)
            wanted.max_papers = int(max_papers)
        except ValueError:
            raise AccountError("The hour and the number of papers are whole numbers.") from None
        digest_prefs.validate(wanted)
        address = accounts.normalize_email(email)
        if wanted.enabled and not address:
            raise AccountError("The digest needs an e-mail address.")
        if address != user.email:
            accounts.set_email(d, user.username, address)
        digest_prefs.save_prefs(d, user.id, wanted)
    except AccountError as e:  # nothing saved: the form comes back with what was typed
        return _page(request, user, error=str(e), prefs=wanted, email=email, status=400)
    return RedirectResponse("/settings?saved=1", status_code=303)


@router.post("/settings/feed")
def create_feed(request: Request, csrf_token: str = Form("")):
    check_csrf(request, csrf_token)
    user = _need_login(request)
    token = digest_prefs.create_feed_token(db(request), user.id)
    return _page(request, user, feed_url=f"{base_url(request)}/feeds/private/{token}.atom")


@router.post("/settings/feed/revoke")
def revoke_feed(request: Request, csrf_token: str = Form("")):
    check_csrf(request, csrf_token)
    user = _need_login(request)
    digest_prefs.revoke_feed_token(db(request), user.id)
    return RedirectResponse("/settings?saved=1", status_code=303)
