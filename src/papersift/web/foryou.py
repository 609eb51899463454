"""The "For you" page and /api/v1/foryou: the user's picks from the one ranker (rank/foryou.py),
each with its reasons and feedback buttons."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from papersift import accounts
from papersift.rank import foryou as ranker
from papersift.store import interests as sql
from papersift.web import deps
from papersift.web.library import login_redirect
from papersift.web.render import render
from papersift.web.schemas import BearerToken, ForYouOut, errors

router = APIRouter()


@router.get("/foryou", include_in_schema=False)
async def foryou_page(request: Request, trending: int = Query(1, ge=0, le=1)):
    user = deps.current_user(request)
    if user is None:
        return login_redirect("/foryou")
    eng = deps.engine(request)
    picks = await run_in_threadpool(ranker.recommend, eng, user.id, limit=30, include_trending=bool(trending))
    mode = await run_in_threadpool(ranker.mode, eng)
    sig = await run_in_threadpool(sql.signals, eng.db, user.id)
    voted = await run_in_threadpool(accounts.voted_pks, eng.db, user, [p.paper.pk for p in picks if p.paper.pk])
    return render(request, "foryou.html", {
        "picks": picks, "mode": mode, "trending": bool(trending), "voted": voted,
        "has_interests": bool(sig.positives or sig.follows), "n_follows": len(sig.follows),
        "n_positives": len(sig.positives)})


@router.get("/api/v1/foryou", tags=["interests"], summary="Your For-you papers, each with its reasons",
            response_model=ForYouOut, responses=errors(400, 401, 422))
async def api_foryou(request: Request, limit: int = Query(20, ge=1, le=100),
                     since: str | None = Query(None, description="ISO date or time: papers first seen since"),
                     include_trending: bool = True, _token: BearerToken = None):
    from papersift.web.api import paper_json

    user = deps.require_api_user(request)
    when = None
    if since:
        try:
            when = datetime.fromisoformat(since.strip())
        except ValueError:
            raise HTTPException(400, f"since must be an ISO date or time (2025-02-27T08:00), not {since!r}") \
                from None
    eng = deps.engine(request)
    picks = await run_in_threadpool(ranker.recommend, eng, user.id, since=when, limit=limit,
                                    include_trending=include_trending)
    mode = await run_in_threadpool(ranker.mode, eng)
    return {"user": user.username, "mode": mode,
            "message": None if mode == "vectors" else "no vectors yet: similarity is by keywords (BM25 profile)",
            "picks": [{"rank": i + 1, "score": p.score, "reasons": p.reasons, "paper": paper_json(p.paper)}
                      for i, p in enumerate(picks)]}
