"""Hugging Face Hub–compatible paper endpoints (same paths, params and field names as the Hub),
so ``huggingface_hub.HfApi(endpoint=...)`` works against papersift: ``list_papers``,
``paper_info``, ``list_daily_papers`` and ``read_paper``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from papersift.models import Paper
from papersift.rank import daily as feeds
from papersift.rank.trending import as_datetime
from papersift.search.service import search
from papersift.web import deps
from papersift.web.api import get_strict
from papersift.web.schemas import DailySort, HfEntry, HfPaper, Sort, errors

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


def _org(name: str | None) -> dict[str, Any] | None:
    return {"_id": name, "name": name, "fullname": name, "avatar": ""} if name else None


def _github(p: Paper) -> str | None:
    code = p.github_repo or p.links.get("code")
    return code if code and "github.com" in code else None


def _extras(p: Paper) -> dict[str, Any]:
    """The fields huggingface_hub's PaperInfo reads at the top level of an object."""
    return {"numComments": p.num_comments, "ai_summary": p.ai_summary,
            "ai_keywords": list(p.ai_keywords) if p.ai_keywords else None,
            "projectPage": p.links.get("project"), "githubRepo": _github(p), "githubStars": p.github_stars,
            "organization": _org(p.organization)}


def hf_paper(p: Paper) -> dict[str, Any]:
    """The Hub's paper object (as returned by GET /api/papers/{id}). ``publishedAt`` is null when no
    date is known (never the day papersift saw the paper); ``upvotes`` is the total."""
    out: dict[str, Any] = {
        "id": p.id,
        "authors": [{"_id": f"{p.id}-a{i}", "name": a, "hidden": False} for i, a in enumerate(p.authors)],
        "publishedAt": iso(p.published),
        "publishedPrecision": p.published_precision,
        "title": p.title,
        "summary": p.abstract,
        "upvotes": p.total_upvotes,
        "discussionId": None,
        "categories": list(p.categories),
        "thumbnail": p.thumbnail,
        **_extras(p),
    }
    if p.submitted_on_daily_at:
        out["submittedOnDailyAt"] = iso(p.submitted_on_daily_at)
        out["submittedOnDailyBy"] = _user(p.submitted_by)
    return out


def hf_entry(p: Paper) -> dict[str, Any]:
    """A daily-papers / search list entry: the paper nested under ``paper`` plus listing fields.
    The entry's ``publishedAt`` is when the paper is on the daily feed: submitted, else its
    publication date; null for a paper with neither (papersift lists it by the day it was added,
    ``dailyBasis: "added"``), so no client reads an ingest time as a date."""
    basis = p.daily_basis
    entry: dict[str, Any] = {
        "paper": hf_paper(p),
        "publishedAt": iso(feeds.daily_datetime(p)) if basis != "added" else None,
        "title": p.title,
        "summary": p.abstract,
        "thumbnail": p.thumbnail,
        "numComments": p.num_comments or 0,
        "isAuthorParticipating": False,
        "upvotes": p.total_upvotes,
        "dailyBasis": basis,
        **{k: v for k, v in _extras(p).items() if k != "numComments"},
    }
    if p.submitted_by:
        entry["submittedBy"] = _user(p.submitted_by)
    if p.submitted_on_daily_at:
        entry["submittedOnDailyAt"] = iso(p.submitted_on_daily_at)
    return entry


@router.get("/api/papers/search", summary="Search papers (Hub: list_papers)", response_model=list[HfEntry],
            responses=errors(400, 422))
def papers_search(request: Request, response: Response, q: str = "", limit: int = Query(50, ge=1, le=120),
                  sort: Annotated[Sort, Query(description="papersift extension: relevance (the Hub's "
                                                          "order) or date, newest first")] = Sort.relevance):
    """The matches of ``q`` (an empty ``q``: the latest daily papers). ``X-Total-Count`` holds how
    many papers match in all; a query nothing matches gives ``[]``."""
    e = deps.engine(request)
    if not q.strip():
        page = feeds.daily(e.store, None, "publishedAt", limit=limit)
        response.headers["X-Total-Count"] = str(page.total)
        return [hf_entry(p) for p in page.papers]
    try:
        res = search(e, q, limit=limit, sort=sort.value)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    response.headers["X-Total-Count"] = str(res.total)
    return [hf_entry(h.paper) for h in res.hits if h.paper]


@router.get("/api/daily_papers", summary="Daily papers (Hub: list_daily_papers)", response_model=list[HfEntry],
            responses=errors(400, 422))
def daily_papers(request: Request, response: Response, date: str | None = Query(None, description="YYYY-MM-DD"),
                 week: str | None = Query(None, description="YYYY-Www"),
                 month: str | None = Query(None, description="YYYY-MM"), submitter: str | None = None,
                 sort: DailySort = DailySort.publishedAt,
                 p: int = Query(0, ge=0, le=100_000), limit: int = Query(50, ge=1, le=100)):
    e = deps.engine(request)
    try:
        period = feeds.parse_period(date, week, month)
        if period is None and not submitter:
            latest = feeds.latest_day(e.db)
            period = feeds.period_of("day", latest) if latest else None
        page = feeds.daily(e.store, period, sort=sort.value, submitter=submitter, limit=limit, offset=p * limit)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    response.headers["X-Total-Count"] = str(page.total)
    return [hf_entry(x) for x in page.papers]


@router.get("/api/papers/{paper_id:path}", summary="One paper (Hub: paper_info)", response_model=HfPaper,
            responses=errors(404, 422))
def paper_info(request: Request, paper_id: str):
    p = get_strict(deps.engine(request).store, paper_id)
    if p is None:
        raise HTTPException(404, f"Paper {paper_id!r} not found")
    return hf_paper(p)
