"""Atom (RFC 4287) and RSS 2.0 feeds of the daily feed and of any search, built with ElementTree
(escaped by construction).

What a feed reader needs, and gets:

* entry ids that never change: ``tag:papersift,2026:paper/<pk>``, from the paper's internal
  permanent key, so neither the Host header nor a later merge (an HF paper that becomes
  /papers/2506.05333) makes a reader show it twice;
* absolute links from ``PAPERSIFT_BASE_URL`` (Settings.base_url), else the request's own URL;
* ``/daily.atom`` rolls: the papers of the last ``PAPERSIFT_FEED_DAYS`` (7) days that end on the
  latest day with papers, newest first, all of them up to ``PAPERSIFT_FEED_MAX_ITEMS`` (1000);
  ``?date=`` / ``?week=`` / ``?month=`` pin it to one period;
* RSS 2.0 beside every Atom feed (``.rss``), with the same ids as ``guid``;
* ``ETag`` (a hash of the body) and ``Last-Modified`` (when the newest entry arrived), answered
  with 304 Not Modified on ``If-None-Match`` / ``If-Modified-Since``;
* the search feed newest first, a feed-level author, and every RFC 4287 required element;
* HEAD as well as GET (some readers probe with HEAD first).
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from papersift.models import Paper
from papersift.rank import daily as feeds
from papersift.rank.trending import as_datetime
from papersift.search.service import make_filters, search
from papersift.web import deps
from papersift.web.deps import parse_day as _day
from papersift.web.render import paper_path, precision

router = APIRouter(include_in_schema=False)
ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/elements/1.1/"
ET.register_namespace("", ATOM)
ET.register_namespace("dc", DC)
TAG = "tag:papersift,2026:"
MAX_SEARCH_ITEMS = 100
EPOCH = datetime(1970, 1, 1)
PAGE_KIND = {"day": "date", "week": "week", "month": "month"}  # /papers/date/..., as web/pages.py


def entry_id(p: Paper) -> str:
    """The paper's permanent feed id: its internal key, which a merge or a new id never changes."""
    return f"{TAG}paper/{p.pk}" if p.pk is not None else f"{TAG}paper-id/{quote(p.id, safe='')}"


def _clean(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (ElementTree escapes the rest)."""
    return "".join(c for c in text if c in "\t\n\r" or (ord(c) >= 0x20 and ord(c) not in (0xFFFE, 0xFFFF)))


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _clean(text)
    return el


def _atom(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    return _el(parent, f"{{{ATOM}}}{tag}", text, **attrs)


def _utc(dt: datetime) -> datetime:
    return (as_datetime(dt) or EPOCH).replace(tzinfo=UTC)


def rfc3339(dt: datetime) -> str:
    return _utc(dt).isoformat().replace("+00:00", "Z")


def entry_updated(p: Paper) -> datetime:
    """When the paper took its place on the feed: its daily moment (daily-feed date, else the
    publication date, else when papersift first saw it), never before it arrived in a feed."""
    return feeds.daily_datetime(p) or as_datetime(p.first_seen) or EPOCH


def arrived(p: Paper) -> datetime:
    """When the entry's content last changed for a reader: the later of its daily moment and the
    time papersift stored it (an old paper ingested today is new to the feed today)."""
    moments = [m for m in (feeds.daily_datetime(p), as_datetime(p.first_seen)) if m is not None]
    return max(moments, default=EPOCH)


@dataclass
class Feed:
    title: str
    feed_id: str
    self_path: str  # path + query of the Atom feed (the RSS one swaps the extension)
    html_path: str  # the page the feed mirrors
    items: list[Paper]
    subtitle: str = ""


def _absolute(base: str, path: str) -> str:
    return base + path


def atom_bytes(feed: Feed, base: str) -> bytes:
    root = ET.Element(f"{{{ATOM}}}feed")
    _atom(root, "id", feed.feed_id)
    _atom(root, "title", feed.title)
    if feed.subtitle:
        _atom(root, "subtitle", feed.subtitle)
    updated = max((entry_updated(p) for p in feed.items), default=EPOCH)
    _atom(root, "updated", rfc3339(updated))
    author = _atom(root, "author")  # feed-level: covers entries whose source names no author
    _atom(author, "name", "papersift")
    _atom(author, "uri", base + "/")
    _atom(root, "link", rel="self", type="application/atom+xml", href=_absolute(base, feed.self_path))
    _atom(root, "link", rel="alternate", type="text/html", href=_absolute(base, feed.html_path))
    _atom(root, "link", rel="alternate", type="application/rss+xml",
          href=_absolute(base, feed.self_path.replace(".atom", ".rss", 1)))
    _atom(root, "generator", "papersift", uri="https://pypi.org/project/papersift/")
    for p in feed.items:
        entry = _atom(root, "entry")
        _atom(entry, "id", entry_id(p))
        _atom(entry, "title", p.title, type="text")
        _atom(entry, "updated", rfc3339(entry_updated(p)))
        if p.published and precision(p) == "day":  # a month or a year is no instant: left out
            _atom(entry, "published", rfc3339(as_datetime(p.published) or EPOCH))
        for a in p.authors[:50]:
            _atom(_atom(entry, "author"), "name", a)
        _atom(entry, "link", rel="alternate", type="text/html", href=base + paper_path(p.id))
        if p.links.get("pdf", "").startswith(("https://", "http://")):
            _atom(entry, "link", rel="related", type="application/pdf", href=p.links["pdf"], title="PDF")
        for c in p.categories:
            _atom(entry, "category", term=c)
        if p.abstract:
            _atom(entry, "summary", p.abstract, type="text")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def rss_bytes(feed: Feed, base: str) -> bytes:
    """RSS 2.0 (with atom:link rel=self and dc:creator for authors, as validators expect)."""
    root = ET.Element("rss", {"version": "2.0"})
    ch = _el(root, "channel")
    _el(ch, "title", feed.title)
    _el(ch, "link", _absolute(base, feed.html_path))
    _el(ch, "description", feed.subtitle or feed.title)
    _atom(ch, "link", rel="self", type="application/rss+xml",
          href=_absolute(base, feed.self_path.replace(".atom", ".rss", 1)))
    updated = max((entry_updated(p) for p in feed.items), default=EPOCH)
    _el(ch, "lastBuildDate", format_datetime(_utc(updated)))
    _el(ch, "generator", "papersift")
    for p in feed.items:
        item = _el(ch, "item")
        _el(item, "title", p.title)
        _el(item, "link", base + paper_path(p.id))
        _el(item, "guid", entry_id(p), isPermaLink="false")
        _el(item, "pubDate", format_datetime(_utc(entry_updated(p))))
        for a in p.authors[:50]:
            _el(item, f"{{{DC}}}creator", a)
        for c in p.categories:
            _el(item, "category", c)
        if p.abstract:
            _el(item, "description", p.abstract)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    """RFC 9110: If-None-Match decides when present; else If-Modified-Since."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return _utc(last_modified).replace(microsecond=0) <= since
    return False


def respond(request: Request, feed: Feed, kind: str) -> Response:
    base = deps.base_url(request)
    body = atom_bytes(feed, base) if kind == "atom" else rss_bytes(feed, base)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    last = max((arrived(p) for p in feed.items), default=EPOCH)
    headers = {"ETag": etag, "Last-Modified": format_datetime(_utc(last), usegmt=True),
               "Cache-Control": "public, max-age=60", "Vary": "Accept-Encoding"}
    if _not_modified(request, etag, last):
        return Response(status_code=304, headers=headers)
    media = "application/atom+xml" if kind == "atom" else "application/rss+xml"
    return Response(body, media_type=f"{media}; charset=utf-8", headers=headers)


# -- the daily feed ------------------------------------------------------------------------------
def daily_feed(request: Request, date_s: str | None, week: str | None, month: str | None, sort: str) -> Feed:
    e = deps.engine(request)
    settings = request.app.state.settings
    cap = settings.feed_max_items
    try:
        period = feeds.parse_period(date_s, week, month)
        if sort not in feeds.SORTS:
            raise ValueError(f"sort must be one of {', '.join(feeds.SORTS)}, not {sort!r}")
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if period is not None:
        page = feeds.daily(e.store, period, sort=sort, limit=cap)
        key = f"{period.kind}/{period.key}"
        return Feed(f"papersift daily papers — {period.label}", f"{TAG}feed/daily/{key}",
                    "/daily.atom?" + urlencode({**period.param, **({"sort": sort} if sort != "publishedAt" else {})}),
                    f"/papers/{PAGE_KIND[period.kind]}/{period.key}", page.papers,
                    f"The papers of {period.label}" + (", trending first" if sort == "trending" else ", newest first")
                    + (f" (the first {cap})" if page.total > cap else ""))
    days = settings.feed_days
    latest = feeds.latest_day(e.db)
    items: list[Paper] = []
    subtitle = "No papers yet."
    if latest is not None:
        window = feeds.Period("range", latest - timedelta(days=days - 1), latest)
        page = feeds.daily(e.store, window, sort="publishedAt", limit=cap)
        items = page.papers
        subtitle = (f"The papers of the {days} days to {latest.isoformat()}, newest first"
                    + (f" (the newest {cap} of {page.total})" if page.total > cap else ""))
    return Feed("papersift daily papers", f"{TAG}feed/daily", "/daily.atom", "/papers", items, subtitle)


@router.api_route("/daily.atom", methods=["GET", "HEAD"])
@router.api_route("/feeds/daily.xml", methods=["GET", "HEAD"])
def daily_atom(request: Request, date: str | None = None, week: str | None = None, month: str | None = None,
               sort: str = "publishedAt"):
    return respond(request, daily_feed(request, date, week, month, sort), "atom")


@router.api_route("/daily.rss", methods=["GET", "HEAD"])
def daily_rss(request: Request, date: str | None = None, week: str | None = None, month: str | None = None,
              sort: str = "publishedAt"):
    return respond(request, daily_feed(request, date, week, month, sort), "rss")


# -- search feeds --------------------------------------------------------------------------------
def search_feed(request: Request, q: str, category: str, author: str, since: str, until: str, mode: str,
                limit: int) -> Feed:
    filters = make_filters(_day(since, "since"), _day(until, "until"), category.strip(), author.strip())
    try:
        res = search(deps.engine(request), q, limit=limit, filters=filters, mode=mode or None, sort="date")
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    params = {k: v for k, v in {"q": q, "category": category, "author": author, "since": since,
                                "until": until}.items() if v}
    query = urlencode(sorted(params.items()))
    return Feed(f"papersift search: {q or 'filters'}", f"{TAG}feed/search?{query}",
                "/search.atom" + (f"?{query}" if query else ""),
                "/search?" + urlencode({**params, "sort": "date"}),
                [h.paper for h in res.hits if h.paper],
                f"{res.total} match{'' if res.total == 1 else 'es'}, newest first")


@router.api_route("/search.atom", methods=["GET", "HEAD"])
def search_atom(request: Request, q: str = "", category: str = "", author: str = "", since: str = "",
                until: str = "", mode: str = "", limit: int = Query(50, ge=1, le=MAX_SEARCH_ITEMS)):
    return respond(request, search_feed(request, q, category, author, since, until, mode, limit), "atom")


@router.api_route("/search.rss", methods=["GET", "HEAD"])
def search_rss(request: Request, q: str = "", category: str = "", author: str = "", since: str = "",
               until: str = "", mode: str = "", limit: int = Query(50, ge=1, le=MAX_SEARCH_ITEMS)):
    return respond(request, search_feed(request, q, category, author, since, until, mode, limit), "rss")

