"""Hugging Face Hub–compatible paper endpoints (same paths, params and field names as the Hub),
so ``huggingface_hub.HfApi(endpoint=...)`` works against papersift: ``list_papers``,
``paper_info``, ``list_daily_papers`` and ``read_paper``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from papersift.models import Paper
from papersift.rank import daily as feeds
from papersift.rank.trending import as_datetime
from papersift.search.service import search
from papersift.web import deps

router = APIRouter(tags=["Hugging Face–compatible"])


def iso(value: date | datetime | None) -> str | None:
    """The Hub's timestamp format: 2024-05-31T00:00:00.000Z (UTC)."""
    dt = as_datetime(value)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z" if dt else None


def _user(name: str | None) -> dict[str, Any] | None:
    if not name:
        return None
    return {"_id": name, "user": name, "name": name, "fullname": name, "avatarUrl": "", "type": "user",
            "isPro": False}


def _github(p: Paper) -> str | None:
    code = p.links.get("code")
    return code if code and "github.com" in code else None


def hf_paper(p: Paper) -> dict[str, Any]:
    """The Hub's paper object (as returned by GET /api/papers/{id})."""
    daily = feeds.daily_datetime(p)
    out: dict[str, Any] = {
        "id": p.id,
        "authors": [{"_id": f"{p.id}-a{i}", "name": a, "hidden": False} for i, a in enumerate(p.authors)],
        "publishedAt": iso(p.published or daily),
        "title": p.title,
        "summary": p.abstract,
        "upvotes": p.upvotes,
        "discussionId": None,
        "categories": list(p.categories),
    }
    if p.submitted_on_daily_at:
        out["submittedOnDailyAt"] = iso(p.submitted_on_daily_at)
        out["submittedOnDailyBy"] = _user(p.submitted_by)
    if p.links.get("project"):
        out["projectPage"] = p.links["project"]
    if _github(p):
        out["githubRepo"] = _github(p)
    return out


def hf_entry(p: Paper) -> dict[str, Any]:
    """A daily-papers / search list entry: the paper nested under ``paper`` plus listing fields."""
    entry: dict[str, Any] = {
        "paper": hf_paper(p),
        "publishedAt": iso(feeds.daily_datetime(p)),  # when it appeared on the daily feed
        "title": p.title,
        "summary": p.abstract,
        "thumbnail": None,
        "numComments": 0,
        "isAuthorParticipating": False,
    }
    if p.submitted_by:
        entry["submittedBy"] = _user(p.submitted_by)
    return entry


@router.get("/api/papers/search", summary="Search papers (Hub: list_papers)")
def papers_search(request: Request, q: str = "", limit: int = Query(50, ge=1, le=120)):
    e = deps.engine(request)
    if not q.strip():
        page = feeds.daily(e.store, None, "publishedAt", limit=limit)
        return [hf_entry(p) for p in page.papers]
    res = search(e, q, limit=limit)
    return [hf_entry(h.paper) for h in res.hits if h.paper]


@router.get("/api/daily_papers", summary="Daily papers (Hub: list_daily_papers)")
def daily_papers(request: Request, date: str | None = None, week: str | None = None,
                 month: str | None = None, submitter: str | None = None, sort: str = "publishedAt",
                 p: int = Query(0, ge=0, le=100_000), limit: int = Query(50, ge=1, le=100)):
    e = deps.engine(request)
    try:
        period = feeds.parse_period(date, week, month)
        if period is None and not submitter:
            latest = feeds.latest_day(e.db)
            period = feeds.period_of("day", latest) if latest else None
        page = feeds.daily(e.store, period, sort=sort, submitter=submitter, limit=limit, offset=p * limit)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return [hf_entry(x) for x in page.papers]


@router.get("/api/papers/{paper_id:path}", summary="One paper (Hub: paper_info)")
def paper_info(request: Request, paper_id: str):
    p = deps.engine(request).store.get(paper_id)
    if p is None:
        raise HTTPException(404, f"Paper {paper_id!r} not found")
    return hf_paper(p)
