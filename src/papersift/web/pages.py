"""Server-rendered HTML pages: daily feed, search, paper, author, submitter, submit, vote, about."""

from __future__ import annotations

import logging
from datetime import date

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from papersift import accounts
from papersift.accounts.community import arxiv_fetcher
from papersift.engine import Engine
from papersift.index.lexical import Filters
from papersift.models import Paper
from papersift.rank import daily as feeds
from papersift.rank.similar import similar
from papersift.search.service import MODES, make_filters, search
from papersift.store.stats import snapshot as stats_snapshot
from papersift.web import deps
from papersift.web.render import paper_markdown, render

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
@router.get("/")
@router.get("/daily")
def daily_page(request: Request, date: str | None = None, week: str | None = None,
               month: str | None = None, sort: str = "trending", page: int = Query(1, ge=1, le=10_000),
               view: str | None = None):
    e = eng(request)
    sa = e.db
    if sort not in feeds.SORTS:
        sort = "trending"
    try:
        period = feeds.parse_period(date, week, month)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if period is None:
        latest = feeds.latest_day(sa)
        if latest is None:
            return render(request, "daily.html", {"period": None, "items": [], "total": 0, "sort": sort,
                                                  "page": page, "pages": 0, "nav": {}, "nearest": None,
                                                  "voted": set()})
        period = feeds.period_of("day", latest)
    if view in ("day", "week", "month") and view != period.kind:
        period = feeds.period_of(view, period.start)
    res = feeds.daily(e.store, period, sort=sort, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    before, after = feeds.day_before(sa, period.start), feeds.day_after(sa, period.end)
    nav = {"prev": period.containing(before) if before else None,
           "next": period.containing(after) if after else None,
           "views": {k: feeds.period_of(k, period.start) for k in ("day", "week", "month")}}
    nearest = None
    if not res.papers:
        near = feeds.nearest_day(sa, period.start)
        nearest = period.containing(near) if near else None
    return render(request, "daily.html", {
        "period": period, "items": res.papers, "total": res.total, "sort": sort, "page": page,
        "pages": (res.total + PAGE_SIZE - 1) // PAGE_SIZE, "nav": nav, "nearest": nearest,
        "voted": _voted(request, res.papers)})


# -- search --------------------------------------------------------------------------------------
@router.get("/search")
def search_page(request: Request, q: str = "", category: str = "", author: str = "", since: str = "",
                until: str = "", mode: str = "", page: int = Query(1, ge=1, le=1000)):
    filters = make_filters(deps.parse_day(since, "since"), deps.parse_day(until, "until"), category.strip(),
                           author.strip())
    params = {"q": q, "category": category, "author": author, "since": since, "until": until,
              "mode": mode}
    res, error = None, None
    if q.strip() or filters.active():
        try:
            res = search(eng(request), q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, filters=filters,
                         mode=mode or None)
        except ValueError as exc:
            error = f"Search mode {mode!r} is not available here: {exc}"
    items = [h.paper for h in res.hits if h.paper] if res else []
    return render(request, "search.html", {
        "q": q, "filters": params, "mode": res.mode if res else mode, "modes": MODES, "res": res, "error": error,
        "items": items,
        "page": page, "pages": ((res.total + PAGE_SIZE - 1) // PAGE_SIZE) if res else 0,
        "voted": _voted(request, items)})


# -- paper, author, submitter --------------------------------------------------------------------
@router.get("/papers/{paper_id:path}")
def paper_page(request: Request, paper_id: str):
    e = eng(request)
    as_md = paper_id.endswith(".md")
    key = paper_id[:-3] if as_md else paper_id
    p = e.store.get(key)
    if p is None:
        if as_md:
            return PlainTextResponse(f"No paper with id {key!r}.\n", status_code=404)
        raise HTTPException(404, f"No paper with id {key!r} is in this papersift.")
    if as_md:
        return PlainTextResponse(paper_markdown(p, deps.base_url(request)), media_type="text/markdown")
    user = deps.current_user(request)
    return render(request, "paper.html", {"p": p, "voted": accounts.has_voted(deps.db(request), user, p),
                                          "similar": _similar(e, p), "daily": feeds.daily_date(p)})


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
    user = accounts.get_user(deps.db(request), username)
    if user is None:
        raise HTTPException(404, f"No user named {username!r}.")
    res = feeds.by_submitter(eng(request).store, user.username, limit=PAGE_SIZE,
                             offset=(page - 1) * PAGE_SIZE)
    return render(request, "submitter.html", {
        "who": user, "items": res.papers, "total": res.total, "page": page,
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
        return {"id": p.id, "upvotes": count, "upvoted": voted}
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
