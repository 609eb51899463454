"""papersift's own JSON API under /api/v1: search with filters and modes, papers, similar papers,
upvotes, submissions, daily feed, stats. Errors are {"error": message}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from papersift import accounts
from papersift.models import Paper, paper_to_dict
from papersift.rank import daily as feeds
from papersift.rank.similar import similar
from papersift.search.service import MODES, make_filters, search
from papersift.store.stats import snapshot as stats_snapshot
from papersift.web import deps
from papersift.web.deps import parse_day as _day

router = APIRouter(prefix="/api/v1", tags=["papersift"])


def paper_json(p: Paper) -> dict[str, Any]:
    d = paper_to_dict(p)
    dd = feeds.daily_date(p)
    d.update(daily_date=dd.isoformat() if dd else None, submitted_by=p.submitted_by,
             submitted_on_daily_at=p.submitted_on_daily_at.isoformat() if p.submitted_on_daily_at else None)
    return d


def _paper(request: Request, paper_id: str) -> Paper:
    p = deps.engine(request).store.get(paper_id)
    if p is None:
        raise HTTPException(404, f"paper {paper_id!r} not found")
    return p


@router.get("/search", summary="Search with filters and modes")
def api_search(request: Request, q: str = "", limit: int = Query(10, ge=1, le=100),
               offset: int = Query(0, ge=0, le=10_000), since: str | None = None, until: str | None = None,
               category: str | None = None, author: str | None = None,
               mode: str | None = Query(None, description=" | ".join(MODES) + "; default hybrid when "
                                         "vectors exist, else lexical")):
    filters = make_filters(_day(since, "since"), _day(until, "until"), category, author)
    try:
        res = search(deps.engine(request), q, limit=limit, offset=offset, filters=filters, mode=mode)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"query": res.query, "mode": res.mode, "total": res.total, "limit": limit, "offset": offset,
            "message": res.message,
            "results": [{"rank": offset + i + 1, "score": round(h.score, 4), "paper": paper_json(h.paper)}
                        for i, h in enumerate(res.hits) if h.paper]}


@router.get("/daily", summary="Daily feed")
def api_daily(request: Request, date: str | None = None, week: str | None = None, month: str | None = None,
              sort: str = "trending", submitter: str | None = None, limit: int = Query(50, ge=1, le=100),
              offset: int = Query(0, ge=0, le=1_000_000)):
    e = deps.engine(request)
    try:
        period = feeds.parse_period(date, week, month)
        if period is None and not submitter:
            latest = feeds.latest_day(e.db)
            period = feeds.period_of("day", latest) if latest else None
        page = feeds.daily(e.store, period, sort=sort, submitter=submitter, limit=limit, offset=offset)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"period": {"kind": period.kind, "key": period.key, "start": period.start.isoformat(),
                       "end": period.end.isoformat()} if period else None,
            "sort": sort, "total": page.total, "limit": limit, "offset": offset,
            "papers": [paper_json(p) for p in page.papers]}


@router.get("/stats", summary="Corpus statistics")
def api_stats(request: Request):
    e = deps.engine(request)
    return {**stats_snapshot(e.db), "indexed": len(e.lexical)}


@router.get("/me", summary="Who the API token belongs to")
def api_me(request: Request):
    user = deps.require_api_user(request)
    return {"username": user.username, "is_admin": user.is_admin}


SUBMIT_BODY = {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "properties": {"paper": {"type": "string", "description": "arXiv id or URL"}}},
    "example": {"paper": "2401.01234"}}}}


@router.post("/submit", summary="Submit a stored paper to the daily feed",
             openapi_extra={"requestBody": SUBMIT_BODY})
async def api_submit(request: Request):
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
            p, new = accounts.submit_paper(deps.engine(request).store, user, ref)
        except accounts.AccountError as exc:
            raise HTTPException(404 if "not in the store" in str(exc) else 400, str(exc)) from None
        return {"submitted": new, "paper": paper_json(p)}

    return await run_in_threadpool(submit)


@router.get("/papers/{paper_id:path}/similar", summary="Similar papers")
def api_similar(request: Request, paper_id: str, k: int = Query(5, ge=1, le=50)):
    p = _paper(request, paper_id)
    pairs = similar(deps.engine(request), p.id, k=k)
    return {"id": p.id, "similar": [{**paper_json(x), "score": round(s, 4)} for x, s in pairs if x.id != p.id][:k]}


def _vote(request: Request, paper_id: str, up: bool):
    user = deps.require_api_user(request)
    p = _paper(request, paper_id)
    voted, count = accounts.set_vote(deps.db(request), user, p, up=up)
    return {"id": p.id, "upvotes": count, "upvoted": voted}


@router.post("/papers/{paper_id:path}/upvote", summary="Upvote a paper (idempotent)")
def api_upvote(request: Request, paper_id: str):
    return _vote(request, paper_id, True)


@router.delete("/papers/{paper_id:path}/upvote", summary="Withdraw an upvote")
def api_unvote(request: Request, paper_id: str):
    return _vote(request, paper_id, False)


@router.get("/papers/{paper_id:path}", summary="One paper")
def api_paper(request: Request, paper_id: str):
    return paper_json(_paper(request, paper_id))


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def api_not_found(rest: str):
    raise HTTPException(404, f"no such endpoint: /api/v1/{rest}")
