"""Atom feeds for the daily feed and for any search, built with ElementTree (escaped by construction)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from papersift.models import Paper
from papersift.rank import daily as feeds
from papersift.rank.trending import as_datetime
from papersift.search.service import make_filters, search
from papersift.web import deps
from papersift.web.deps import parse_day as _day
from papersift.web.render import paper_path

router = APIRouter(include_in_schema=False)
ATOM = "http://www.w3.org/2005/Atom"
ET.register_namespace("", ATOM)
MAX_ITEMS = 50


def _ts(value) -> str:
    dt = as_datetime(value) or datetime(1970, 1, 1)
    return dt.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _clean(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (ElementTree escapes the rest)."""
    return "".join(c for c in text if c in "\t\n\r" or (ord(c) >= 0x20 and ord(c) not in (0xFFFE, 0xFFFF)))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _clean(text)
    return el


def atom(request: Request, title: str, self_path: str, items: list[Paper]) -> Response:
    base = deps.base_url(request)
    root = ET.Element(f"{{{ATOM}}}feed")
    _sub(root, "title", title)
    _sub(root, "id", base + self_path)
    _sub(root, "link", rel="self", href=base + self_path)
    _sub(root, "link", rel="alternate", type="text/html", href=base + self_path.replace(".atom", "", 1))
    updated = max((feeds.daily_datetime(p) or datetime(1970, 1, 1) for p in items), default=None)
    _sub(root, "updated", _ts(updated))
    _sub(root, "generator", "papersift")
    for p in items:
        entry = _sub(root, "entry")
        _sub(entry, "title", p.title)
        _sub(entry, "id", base + paper_path(p.id))
        _sub(entry, "link", rel="alternate", type="text/html", href=base + paper_path(p.id))
        if p.links.get("pdf", "").startswith(("https://", "http://")):
            _sub(entry, "link", rel="related", type="application/pdf", href=p.links["pdf"])
        _sub(entry, "updated", _ts(feeds.daily_datetime(p)))
        if p.published:
            _sub(entry, "published", _ts(p.published))
        for a in p.authors[:50]:
            _sub(_sub(entry, "author"), "name", a)
        for c in p.categories:
            _sub(entry, "category", term=c)
        _sub(entry, "summary", p.abstract, type="text")
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/daily.atom")
@router.get("/feeds/daily.xml")
def daily_atom(request: Request, date: str | None = None, week: str | None = None, month: str | None = None,
               sort: str = "trending"):
    e = deps.engine(request)
    try:
        period = feeds.parse_period(date, week, month)
        if period is None:
            latest = feeds.latest_day(e.db)
            period = feeds.period_of("day", latest) if latest else None
        page = feeds.daily(e.store, period, sort=sort, limit=MAX_ITEMS)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    label = period.label if period else "no papers yet"
    return atom(request, f"papersift daily papers — {label}", "/daily.atom" + (
        "?" + "&".join(f"{k}={v}" for k, v in period.param.items()) if period else ""), page.papers)


@router.get("/search.atom")
def search_atom(request: Request, q: str = "", category: str = "", author: str = "", since: str = "",
                until: str = "", mode: str = "", limit: int = Query(MAX_ITEMS, ge=1, le=100)):
    filters = make_filters(_day(since, "since"), _day(until, "until"), category.strip(), author.strip())
    try:
        res = search(deps.engine(request), q, limit=limit, filters=filters, mode=mode or None)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    from urllib.parse import urlencode

    params = {k: v for k, v in {"q": q, "category": category, "author": author, "since": since,
                                "until": until}.items() if v}
    return atom(request, f"papersift search: {q or 'filters'}", "/search.atom?" + urlencode(params),
                [h.paper for h in res.hits if h.paper])
