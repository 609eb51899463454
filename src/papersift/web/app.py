"""FastAPI application factory."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from papersift.config import Settings
from papersift.pipeline import open_engine
from papersift.search.service import make_filters, search

HERE = Path(__file__).parent


def create_app(settings: Settings) -> FastAPI:
    eng = open_engine(settings)
    app = FastAPI(title="papersift", version="0.1.0")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.state.engine = eng

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request, q: str = "", category: str = "", author: str = "",
             since: date | None = None, until: date | None = None, page: int = Query(1, ge=1)):
        eng.lexical.index.reload()
        filters = make_filters(since, until, category, author)
        res = search(eng, q, limit=25, offset=(page - 1) * 25, filters=filters) if (
            q or filters.active()) else None
        recent = None if res else eng.store.get_many(range(1, 26)).values()
        return templates.TemplateResponse(request, "index.html", {
            "q": q, "res": res, "recent": recent, "total": eng.store.count(), "page": page})

    @app.get("/papers/{paper_id:path}", response_class=HTMLResponse)
    def paper(request: Request, paper_id: str):
        p = eng.store.get(paper_id)
        if p is None:
            raise HTTPException(404, f"No paper with id {paper_id}")
        return templates.TemplateResponse(request, "paper.html", {"p": p})

    return app


def app_from_env() -> FastAPI:
    """Entry point for uvicorn workers: settings from the environment (PAPERSIFT_DATA)."""
    return create_app(Settings())
