"""The digest's public ends: the one-click unsubscribe URL (RFC 8058) and the private per-user feed.

* ``/digest/unsubscribe/{token}``: GET shows a confirmation page; POST (a mail client's one-click
  ``List-Unsubscribe=One-Click``, or the page's button) unsubscribes with no login and no CSRF
  token: the signed token is the credential. A tampered or foreign token: 400, nothing changes.
* ``/feeds/private/{token}.atom`` (and ``.rss``): the user's For-you picks with their reasons, from
  the same ranker as the digest; the token is random, stored hashed, revocable in /settings.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import format_datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from papersift.notify import prefs as digest_prefs
from papersift.notify.mail import FORYOU_PATH, unsubscribe_user
from papersift.rank.foryou import Pick, recommend
from papersift.store import digest as digest_sql
from papersift.web import deps
from papersift.web.render import paper_path, render

router = APIRouter(include_in_schema=False)
ATOM = "http://www.w3.org/2005/Atom"
PRIVATE_HEADERS = {"Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex, nofollow",
                   "Referrer-Policy": "no-referrer"}


def _token_user(request: Request, token: str):  # -> Row
    uid = unsubscribe_user(request.app.state.secret, token)
    row = digest_sql.user_by_id(deps.db(request), uid) if uid is not None else None
    if row is None:
        raise HTTPException(400, "This unsubscribe link is not valid (it was changed, or it is not from "
                                 "this papersift). Nothing was changed.")
    return row


@router.get("/digest/unsubscribe/{token}")
def unsubscribe_page(request: Request, token: str):
    row = _token_user(request, token)
    return render(request, "unsubscribe.html", {"who": row.username, "done": False, "token": token},
                  headers={"Referrer-Policy": "no-referrer"})


@router.post("/digest/unsubscribe/{token}")
def unsubscribe(request: Request, token: str):
    row = _token_user(request, token)
    digest_prefs.unsubscribe(deps.db(request), row.id)
    return render(request, "unsubscribe.html", {"who": row.username, "done": True, "token": token},
                  headers={"Referrer-Policy": "no-referrer"})


# -- private feed ----------------------------------------------------------------------------------
def _clean(text: str) -> str:
    return "".join(c for c in text if c in "\t\n\r" or (ord(c) >= 0x20 and ord(c) not in (0xFFFE, 0xFFFF)))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _clean(text)
    return el


def _summary(pick: Pick) -> str:
    why = "".join(f"Why: {r}\n" for r in pick.reasons)
    return f"{why}\n{pick.paper.abstract}".strip()


def _picks(request: Request, token: str) -> tuple[str, list[Pick]]:
    owner = digest_prefs.feed_owner(deps.db(request), token)
    if owner is None:
        raise HTTPException(404, "No such feed (the link was revoked or mistyped).")
    uid, username, prefs = owner
    picks = recommend(deps.engine(request), uid, limit=max(prefs.max_papers, 20),
                      include_trending=prefs.include_trending)
    return username, picks


def _iso(dt: datetime) -> str:
    return dt.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


@router.get("/feeds/private/{token}.atom")
def private_atom(request: Request, token: str):
    username, picks = _picks(request, token)
    base = deps.base_url(request)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    root = ET.Element("feed", {"xmlns": ATOM})
    _sub(root, "title", f"papersift: for {username}")
    _sub(root, "id", f"{base}/feeds/private/{username}")  # stable, and never the secret
    _sub(root, "link", rel="alternate", type="text/html", href=base + FORYOU_PATH)
    _sub(root, "updated", _iso(now))
    _sub(root, "generator", "papersift")
    for pick in picks:
        p = pick.paper
        entry = _sub(root, "entry")
        _sub(entry, "title", p.title)
        _sub(entry, "id", base + paper_path(p.id))
        _sub(entry, "link", rel="alternate", type="text/html", href=base + paper_path(p.id))
        _sub(entry, "updated", _iso(p.first_seen or now))
        for a in p.authors[:50]:
            _sub(_sub(entry, "author"), "name", a)
        for c in p.categories:
            _sub(entry, "category", term=c)
        _sub(entry, "summary", _summary(pick), type="text")
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers=PRIVATE_HEADERS)


@router.get("/feeds/private/{token}.rss")
def private_rss(request: Request, token: str):
    username, picks = _picks(request, token)
    base = deps.base_url(request)
    rss = ET.Element("rss", {"version": "2.0"})
    ch = _sub(rss, "channel")
    _sub(ch, "title", f"papersift: for {username}")
    _sub(ch, "link", base + FORYOU_PATH)
    _sub(ch, "description", "Papers picked for you by papersift, with the reasons.")
    for pick in picks:
        p = pick.paper
        item = _sub(ch, "item")
        _sub(item, "title", p.title)
        _sub(item, "link", base + paper_path(p.id))
        _sub(item, "guid", base + paper_path(p.id), isPermaLink="true")
        if p.first_seen:
            _sub(item, "pubDate", format_datetime(p.first_seen.replace(tzinfo=UTC)))
        for c in p.categories:
            _sub(item, "category", c)
        _sub(item, "description", _summary(pick))
    body = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/rss+xml; charset=utf-8", headers=PRIVATE_HEADERS)
