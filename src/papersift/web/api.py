"""papersift's own JSON API under /api/v1: search with filters, modes and sort, papers, similar
papers, upvotes, submissions, daily feed, stats. Response models: web/schemas.py. Errors are
{"error": message} (400 unreadable parameter, 401 no token, 404 unknown paper or path, 422 a
parameter out of range or not one of its values)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from papersift import accounts
from papersift.accounts.community import arxiv_fetcher
from papersift.models import Paper, paper_to_dict, split_arxiv_id
from papersift.rank import daily as feeds
from papersift.rank.similar import similar
from papersift.search.service import make_filters, search
from papersift.store import SQLStore
from papersift.store.stats import snapshot as stats_snapshot
from papersift.web import deps
from papersift.web.deps import parse_day as _day
from papersift.web.schemas import (
    BearerToken,
    DailyOut,
    DailySort,
    MeOut,
    Mode,
    PaperOut,
    SearchOut,
    SimilarOut,
    Sort,
    StatsOut,
    SubmitIn,
    SubmitOut,
    VoteOut,
    errors,
)

router = APIRouter(prefix="/api/v1", tags=["papersift"])


def paper_json(p: Paper) -> dict[str, Any]:
    d = paper_to_dict(p)
    dd = feeds.daily_date(p)
    d.update(daily_date=dd.isoformat() if dd else None, daily_basis=p.daily_basis)
    return d


def get_strict(store: SQLStore, paper_id: str) -> Paper | None:
    """The paper whose id, arXiv id (optionally ``arXiv:``-prefixed or versioned) or former id is
    exactly ``paper_id``: ``0704.0001/repos`` is no paper (the store's lookup would find 0704.0001
    inside it)."""
    p = store.get(paper_id)
    if p is None:
        return None
    pid = paper_id.strip()
    if pid == p.id or pid == p.arxiv_id or split_arxiv_id(pid)[0] is None:
        return p  # exact id, exact arXiv id, or an exact former id (alias)
    if p.arxiv_id and re.fullmatch(rf"(?:arxiv:)?{re.escape(p.arxiv_id)}(?:v\d+)?", pid, re.IGNORECASE):
        return p
    return None


def _paper(request: Request, paper_id: str) -> Paper:
    p = get_strict(deps.engine(request).store, paper_id)
    if p is None:
        raise HTTPException(404, f"paper {paper_id!r} not found")
    return p


@router.get("/search", summary="Search with filters, modes and sort", response_model=SearchOut,
            responses=errors(400, 422))
def api_search(request: Request, q: str = "", limit: int = Query(10, ge=1, le=100),
               offset: int = Query(0, ge=0, le=10_000),
               since: str | None = Query(None, description="ISO date: published on or after"),
               until: str | None = Query(None, description="ISO date: published on or before"),
               category: str | None = Query(None, description="cs.CL, or an archive such as cs"),
               author: str | None = Query(None, description="An author: 'Dan Alistarh', 'D. Alistarh' and "
                                                           "'Alistarh, Dan' match the same person"),
               mode: Annotated[Mode | None, Query(description="default: hybrid when vectors exist, "
                                                              "else lexical")] = None,
               sort: Annotated[Sort, Query(description="relevance, or date (newest first)")] = Sort.relevance):
    filters = make_filters(_day(since, "since"), _day(until, "until"), category, author)
    try:
        res = search(deps.engine(request), q, limit=limit, offset=offset, filters=filters,
                     mode=mode.value if mode else None, sort=sort.value)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"query": res.query, "mode": res.mode, "sort": res.sort, "total": res.total,
            "total_exact": res.total_exact, "limit": limit, "offset": offset, "message": res.message,
            "results": [{"rank": offset + i + 1, "score": round(h.score, 4), "paper": paper_json(h.paper)}
                        for i, h in enumerate(res.hits) if h.paper]}


@router.get("/daily", summary="Daily feed", response_model=DailyOut, responses=errors(400, 422))
def api_daily(request: Request, date: str | None = Query(None, description="YYYY-MM-DD"),
              week: str | None = Query(None, description="YYYY-Www"),
              month: str | None = Query(None, description="YYYY-MM"),
              sort: DailySort = DailySort.trending, submitter: str | None = None,
              limit: int = Query(50, ge=1, le=100), offset: int = Query(0, ge=0, le=1_000_000)):
    e = deps.engine(request)
    try:
        period = feeds.parse_period(date, week, month)
        if period is None and not submitter:
            latest = feeds.latest_day(e.db)
            period = feeds.period_of("day", latest) if latest else None
        page = feeds.daily(e.store, period, sort=sort.value, submitter=submitter, limit=limit, offset=offset)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"period": {"kind": period.kind, "key": period.key, "start": period.start.isoformat(),
                       "end": period.end.isoformat()} if period else None,
            "sort": sort.value, "total": page.total, "limit": limit, "offset": offset,
            "papers": [paper_json(p) for p in page.papers]}


@router.get("/stats", summary="Corpus statistics", response_model=StatsOut)
def api_stats(request: Request):
    e = deps.engine(request)
    return {**stats_snapshot(e.db), "indexed": len(e.lexical)}


@router.get("/me", summary="Who the API token belongs to", response_model=MeOut, responses=errors(401))
def api_me(request: Request, _token: BearerToken = None):
    user = deps.require_api_user(request)
    return {"username": user.username, "is_admin": user.is_admin}


SUBMIT_BODY = {"required": True, "content": {"application/json": {
    "schema": SubmitIn.model_json_schema(), "example": {"paper": "2401.01234"}}}}


@router.post("/submit", summary="Submit a stored paper to the daily feed", response_model=SubmitOut,
             responses=errors(400, 401, 403, 404, 503), openapi_extra={"requestBody": SUBMIT_BODY})
async def api_submit(request: Request, _token: BearerToken = None):
    # the caller is authenticated before the body is read (its size is bounded by web/app.py BodyLimit)
    user = await run_in_threadpool(deps.require_api_user, request)
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested deeper than Python recurses
        body = None
    ref = (body.get("paper") or body.get("id") or body.get("url")) if isinstance(body, dict) else None
    if not isinstance(ref, str) or not ref.strip():
        raise HTTPException(400, "send {\"paper\": \"<arXiv id or URL>\"}")

    def submit() -> dict[str, Any]:
        try:
            store = deps.engine(request).store  # a paper not held yet is fetched from the arXiv API
            p, new = accounts.submit_paper(store, user, ref, fetch=arxiv_fetcher(store, deps.engine(request).settings))
        except accounts.AccountError as exc:
            raise HTTPException(404 if "not in the store" in str(exc) else 400, str(exc)) from None
        return {"submitted": new, "paper": paper_json(p)}

    return await run_in_threadpool(submit)


@router.get("/papers/{paper_id:path}/similar", summary="Similar papers", response_model=SimilarOut,
            responses=errors(404, 422))
def api_similar(request: Request, paper_id: str, k: int = Query(5, ge=1, le=50)):
    p = _paper(request, paper_id)
    pairs = similar(deps.engine(request), p.id, k=k)
    return {"id": p.id, "similar": [{**paper_json(x), "score": round(s, 4)} for x, s in pairs if x.id != p.id][:k]}


def _vote(request: Request, paper_id: str, up: bool):
    user = deps.require_api_user(request)
    p = _paper(request, paper_id)
    voted, count = accounts.set_vote(deps.db(request), user, p, up=up)
    return {"id": p.id, "upvotes": count + p.source_upvotes, "upvoted": voted}


@router.post("/papers/{paper_id:path}/upvote", summary="Upvote a paper (idempotent)", response_model=VoteOut,
             responses=errors(401, 403, 404, 422, 503))
def api_upvote(request: Request, paper_id: str, _token: BearerToken = None):
    return _vote(request, paper_id, True)


@router.delete("/papers/{paper_id:path}/upvote", summary="Withdraw an upvote", response_model=VoteOut,
               responses=errors(401, 403, 404, 422, 503))
def api_unvote(request: Request, paper_id: str, _token: BearerToken = None):
    return _vote(request, paper_id, False)


@router.get("/papers/{paper_id:path}", summary="One paper", response_model=PaperOut,
            responses=errors(404, 422))
def api_paper(request: Request, paper_id: str):
    return paper_json(_paper(request, paper_id))


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def api_not_found(rest: str):
    raise HTTPException(404, f"no such endpoint: /api/v1/{rest}")
