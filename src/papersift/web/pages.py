"""Server-rendered HTML pages: daily feed, search, paper, author, submitter, submit, vote, about."""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from papersift import accounts, cite
from papersift.accounts.community import arxiv_fetcher
from papersift.engine import Engine
from papersift.index.lexical import Filters
from papersift.models import Paper, split_arxiv_id
from papersift.rank import daily as feeds
from papersift.rank.similar import similar
from papersift.search.service import MODES, make_filters, search
from papersift.search.service import SORTS as SEARCH_SORTS
from papersift.store.stats import snapshot as stats_snapshot
from papersift.web import deps
from papersift.web.render import paper_markdown, render, total_upvotes

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25


def eng(request: Request) -> Engine:
    return deps.engine(request)


def error_page(request: Request, status: int, message: str, headers: dict[str, str] | None = None):
    titles = {400: "Bad request", 401: "Please log in", 403: "Forbidden", 404: "Not found",
              405: "Method not allowed", 413: "Request too large", 429: "Too many requests",
              503: "Try again later"}
    return render(request, "error.html", {"status": status, "title": titles.get(status, "Error"),
                                          "message": message}, status=status, headers=headers)


def _similar(e: Engine, paper: Paper, k: int = 5) -> list[Paper]:
    try:
        return [p for p, _score in similar(e, paper.id, k=k) if p.id != paper.id][:k]
    except Exception:  # a failing recommender must not break the paper page; it is logged
        log.exception("similar papers for %s failed", paper.id)
        return []


def _voted(request: Request, items: list[Paper]) -> set[int]:
    return accounts.voted_pks(deps.db(request), deps.current_user(request),
                              [p.pk for p in items if p.pk is not None])


# -- daily feed ----------------------------------------------------------------------------------
# previous/next go to the nearest period WITH papers, but never further than this: a longer gap is
# offered as "earlier papers: <date>" with its date spelled out, never as the neighbouring day
MAX_JUMP = timedelta(days=366)
TRENDING_DAYS = 7
PERIOD_PATH = {"day": "date", "week": "week", "month": "month"}


def period_url(period: feeds.Period) -> str:
    """The Hugging Face–style page of a period: /papers/date/2025-02-27, /papers/week/2025-W09,
    /papers/month/2025-02."""
    return f"/papers/{PERIOD_PATH[period.kind]}/{period.key}"


def _nav(e: Engine, period: feeds.Period) -> dict[str, Any]:
    before, after = feeds.day_before(e.db, period.start), feeds.day_after(e.db, period.end)
    near_before = before is not None and period.start - before <= MAX_JUMP
    near_after = after is not None and after - period.end <= MAX_JUMP
    return {"prev": period.containing(before) if before and near_before else None,
            "next": period.containing(after) if after and near_after else None,
            "earlier": period.containing(before) if before and not near_before else None,
            "later": period.containing(after) if after and not near_after else None,
            "views": {k: feeds.period_of(k, period.start) for k in ("day", "week", "month")}}


def _daily_view(request: Request, period: feeds.Period | None, sort: str, page: int):
    e = eng(request)
    if sort not in feeds.SORTS:
        sort = "trending"
    if period is None:
        latest = feeds.latest_day(e.db)
        if latest is None:
            return render(request, "daily.html", {"period": None, "items": [], "total": 0, "sort": sort,
                                                  "page": page, "pages": 0, "nav": {}, "nearest": None,
                                                  "voted": set(), "period_url": period_url})
        period = feeds.period_of("day", latest)
    res = feeds.daily(e.store, period, sort=sort, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    nearest = None
    if res.total == 0:
        near = feeds.nearest_day(e.db, period.start)
        nearest = period.containing(near) if near else None
    return render(request, "daily.html", {
        "period": period, "items": res.papers, "total": res.total, "sort": sort, "page": page,
        "pages": (res.total + PAGE_SIZE - 1) // PAGE_SIZE, "nav": _nav(e, period), "nearest": nearest,
        "voted": _voted(request, res.papers), "period_url": period_url})


@router.get("/")
@router.get("/daily")
@router.get("/papers")
def daily_page(request: Request, date: str | None = None, week: str | None = None,
               month: str | None = None, sort: str = "trending", page: int = Query(1, ge=1, le=10_000),
               view: str | None = None):
    """The latest day with papers, or the day/week/month named by ?date= / ?week= / ?month=
    (Hugging Face's old /papers?date=2025-02-27 links work too)."""
    try:
        period = feeds.parse_period(date, week, month)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if period is None:
        latest = feeds.latest_day(eng(request).db)
        period = feeds.period_of("day", latest) if latest else None
    if period is not None and view in ("day", "week", "month") and view != period.kind:
        period = feeds.period_of(view, period.start)
    return _daily_view(request, period, sort, page)


def _period_or_404(kind: str, value: str) -> feeds.Period:
    try:
        period = feeds.parse_period(**{{"day": "date_s"}.get(kind, kind): value})
    except ValueError:
        period = None
    if period is None:
        example = {"day": "2025-02-27", "week": "2025-W09", "month": "2025-02"}[kind]
        raise HTTPException(404, f"{value!r} is not a {'date' if kind == 'day' else kind}: "
                                 f"/papers/{PERIOD_PATH[kind]}/ takes one like {example}.")
    return period


@router.get("/papers/date/{day}")
def papers_by_date(request: Request, day: str, sort: str = "trending", page: int = Query(1, ge=1, le=10_000)):
    return _daily_view(request, _period_or_404("day", day), sort, page)


@router.get("/papers/week/{week}")
def papers_by_week(request: Request, week: str, sort: str = "trending", page: int = Query(1, ge=1, le=10_000)):
    return _daily_view(request, _period_or_404("week", week), sort, page)


@router.get("/papers/month/{month}")
def papers_by_month(request: Request, month: str, sort: str = "trending", page: int = Query(1, ge=1, le=10_000)):
    return _daily_view(request, _period_or_404("month", month), sort, page)


@router.get("/papers/trending")
def trending_page(request: Request, page: int = Query(1, ge=1, le=10_000)):
    """Trending: the papers of the last TRENDING_DAYS days with papers, by trending score."""
    e = eng(request)
    latest = feeds.latest_day(e.db)
    window = feeds.Period("range", latest - timedelta(days=TRENDING_DAYS - 1), latest) if latest else None
    res = feeds.daily(e.store, window, sort="trending", limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE) \
        if window else None
    items = res.papers if res else []
    total = res.total if res else 0
    return render(request, "trending.html", {
        "window": window, "days": TRENDING_DAYS, "items": items, "total": total, "page": page,
        "pages": (total + PAGE_SIZE - 1) // PAGE_SIZE, "voted": _voted(request, items)})


# -- search --------------------------------------------------------------------------------------
@router.get("/search")
def search_page(request: Request, q: str = "", category: str = "", author: str = "", since: str = "",
                until: str = "", mode: str = "", sort: str = "relevance", page: int = Query(1, ge=1, le=1000)):
    filters = make_filters(deps.parse_day(since, "since"), deps.parse_day(until, "until"), category.strip(),
                           author.strip())
    if sort not in SEARCH_SORTS:
        sort = "relevance"
    params = {"q": q, "category": category, "author": author, "since": since, "until": until,
              "mode": mode, "sort": "" if sort == "relevance" else sort}
    res, error = None, None
    if q.strip() or filters.active():
        try:
            res = search(eng(request), q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, filters=filters,
                         mode=mode or None, sort=sort)
        except ValueError as exc:
            error = f"Search mode {mode!r} is not available here: {exc}"
    items = [h.paper for h in res.hits if h.paper] if res else []
    return render(request, "search.html", {
        "q": q, "filters": params, "mode": res.mode if res else mode, "modes": MODES, "res": res, "error": error,
        "items": items, "sort": sort, "sorts": SEARCH_SORTS,
        "page": page, "pages": ((res.total + PAGE_SIZE - 1) // PAGE_SIZE) if res else 0,
        "voted": _voted(request, items)})


@router.get("/search.bib")
def search_bib(request: Request, q: str = "", category: str = "", author: str = "", since: str = "",
               until: str = "", mode: str = "", sort: str = "relevance", limit: int = Query(100, ge=1, le=500)):
    """The matches of a search as BibTeX (best first, or newest first with sort=date)."""
    filters = make_filters(deps.parse_day(since, "since"), deps.parse_day(until, "until"), category.strip(),
                           author.strip())
    if not (q.strip() or filters.active()):
        raise HTTPException(400, "Give a query (q=) or a filter to export.")
    if sort not in SEARCH_SORTS:
        raise HTTPException(400, f"sort must be one of {', '.join(SEARCH_SORTS)}, not {sort!r}")
    try:
        res = search(eng(request), q, limit=limit, filters=filters, mode=mode or None, sort=sort)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    body = cite.bibtex([h.paper for h in res.hits if h.paper], deps.base_url(request))
    return _bib_response(body, "papersift-search.bib")


def _bib_response(body: str, filename: str) -> Response:
    return Response(body, media_type="application/x-bibtex; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


# -- paper, author, submitter --------------------------------------------------------------------
_EXACT_ARXIV = re.compile(r"(?:\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?")


def strict_get(e: Engine, key: str) -> Paper | None:
    """The paper whose id, arXiv id (optionally with a version) or former id is exactly ``key``.
    The store's lookup is lenient (it finds an arXiv id anywhere in the text); a page path is not:
    /papers/x/y/0704.0002 is no paper's address."""
    p = e.store.get(key)
    if p is None or key == p.id:
        return p
    found, _ = split_arxiv_id(key)
    if found is None:  # no arXiv id in it: it matched an id or a former id (alias) exactly
        return p
    return p if _EXACT_ARXIV.fullmatch(key) and found == p.arxiv_id else None


def _wants_markdown(request: Request) -> bool:
    """``Accept: text/markdown`` preferred over text/html (a browser's Accept never names it)."""
    accept = request.headers.get("accept", "").lower()
    if "text/markdown" not in accept:
        return False
    q: dict[str, float] = {}
    for part in accept.split(","):
        kind, *params = [x.strip() for x in part.split(";")]
        weight = 1.0
        for prm in params:
            if prm.startswith("q="):
                try:
                    weight = float(prm[2:])
                except ValueError:
                    weight = 0.0
        q[kind] = max(weight, q.get(kind, 0.0))
    return q.get("text/markdown", 0.0) > 0 and q["text/markdown"] >= q.get("text/html", 0.0)


@router.get("/papers/{paper_id:path}")
def paper_page(request: Request, paper_id: str):
    e = eng(request)
    as_md, as_bib = paper_id.endswith(".md"), paper_id.endswith(".bib")
    key = paper_id[:-3] if as_md else paper_id[:-4] if as_bib else paper_id
    p = strict_get(e, key) if key else None
    if p is None and (as_md or as_bib):
        p, key = strict_get(e, paper_id), paper_id  # an id that itself ends in .md / .bib
        as_md = as_bib = False
    as_md = as_md or (not as_bib and _wants_markdown(request))
    if p is None:
        if as_md or as_bib:
            return PlainTextResponse(f"No paper with id {key!r}.\n", status_code=404)
        raise HTTPException(404, f"No paper with id {key!r} is in this papersift.")
    if as_md:
        return PlainTextResponse(paper_markdown(p, deps.base_url(request)), media_type="text/markdown",
                                 headers={"Vary": "Accept"})
    if as_bib:
        return _bib_response(cite.bibtex_entry(p, deps.base_url(request)), f"{cite.cite_key(p)}.bib")
    user = deps.current_user(request)
    resp = render(request, "paper.html", {"p": p, "voted": accounts.has_voted(deps.db(request), user, p),
                                          "similar": _similar(e, p), "daily": feeds.daily_date(p),
                                          "citation": cite.citation_meta(p)})
    resp.headers["Vary"] = "Accept"
    return resp


@router.get("/authors/{name:path}")
def author_page(request: Request, name: str, page: int = Query(1, ge=1, le=1000)):
    name = name.strip()[:300]
    res = search(eng(request), "", limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                 filters=Filters(author=name)) if name else None
    items = [h.paper for h in res.hits if h.paper] if res else []
    items.sort(key=lambda p: (-(p.published or date.min).toordinal(), p.id))
    return render(request, "author.html", {
        "name": name, "items": items, "total": res.total if res else 0, "page": page,
        "pages": ((res.total + PAGE_SIZE - 1) // PAGE_SIZE) if res else 0, "voted": _voted(request, items)})


@router.get("/users/{username}")
def submitter_page(request: Request, username: str, page: int = Query(1, ge=1, le=1000)):
    """Papers submitted to the daily feed by an account here, or by a submitter the source named
    (a Hugging Face user); 404 when neither exists."""
    user = accounts.get_user(deps.db(request), username)
    name = user.username if user else username.strip()[:100]
    res = feeds.by_submitter(eng(request).store, name, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    if user is None and res.total == 0:
        raise HTTPException(404, f"No user named {username!r}, and no paper was submitted by {username!r}.")
    return render(request, "submitter.html", {
        "who": name, "local": user is not None, "items": res.papers, "total": res.total, "page": page,
        "pages": (res.total + PAGE_SIZE - 1) // PAGE_SIZE, "voted": _voted(request, res.papers)})


# -- community actions ---------------------------------------------------------------------------
def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.post("/vote")
def vote(request: Request, paper_id: str = Form(...), action: str = Form("up"), csrf_token: str = Form(""),
         next: str = Form("/")):
    deps.check_csrf(request, csrf_token)
    user = deps.current_user(request)
    if user is None:
        if _wants_json(request):
            return JSONResponse({"error": "log in to upvote"}, status_code=401)
        raise HTTPException(401, "Log in to upvote papers.")
    p = eng(request).store.get(paper_id)
    if p is None:
        raise HTTPException(404, f"No paper with id {paper_id!r}.")
    voted, count = accounts.set_vote(deps.db(request), user, p, up=action != "down")
    if _wants_json(request):
        p.upvotes = count
        return {"id": p.id, "upvotes": count, "total": total_upvotes(p), "upvoted": voted}
    return RedirectResponse(deps.safe_next(next), status_code=303)


@router.get("/submit")
def submit_form(request: Request, paper: str = ""):
    if deps.current_user(request) is None:
        return RedirectResponse("/login?next=/submit", status_code=303)
    return render(request, "submit.html", {"ref": paper, "error": None, "done": None})


@router.post("/submit")
def submit(request: Request, paper: str = Form(""), csrf_token: str = Form("")):
    deps.check_csrf(request, csrf_token)
    user = deps.current_user(request)
    if user is None:
        raise HTTPException(401, "Log in to submit papers.")
    try:
        store = eng(request).store  # a paper not held yet is fetched from the arXiv API
        p, new = accounts.submit_paper(store, user, paper, fetch=arxiv_fetcher(store, eng(request).settings))
    except accounts.AccountError as exc:
        return render(request, "submit.html", {"ref": paper, "error": str(exc), "done": None}, status=400)
    return render(request, "submit.html", {"ref": "", "error": None, "done": p, "new": new})


@router.get("/about")
def about(request: Request):
    e = eng(request)
    stats = stats_snapshot(e.db)
    stats["indexed"] = len(e.lexical)
    return render(request, "about.html", {"stats": stats, "latest": feeds.latest_day(e.db)})
