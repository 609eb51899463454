"""FastAPI application factory: ``create_app(settings)``; each uvicorn worker builds its own."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from papersift.accounts import secret_key
from papersift.config import Settings
from papersift.engine import open_engine
from papersift.index.owner import describe
from papersift.web import admin, api, auth, feeds_xml, hf_api, pages
from papersift.web.render import highlight, register_filters

HERE = Path(__file__).parent
log = logging.getLogger(__name__)


def is_api(request: Request) -> bool:
    p = request.url.path
    return p.startswith("/api/") or p.endswith(".md")


def create_app(settings: Settings) -> FastAPI:
    # Web workers are readers: they never write an index (the worker, or an ingest, owns them)
    # and see the owner's commits through Engine.refresh (deps.engine) without a restart.
    eng = open_engine(settings, "reader")
    log.info("web worker (pid %d) serving %s: %d papers indexed, %s", os.getpid(), settings.data_dir,
             len(eng.lexical), "owner: " + describe(eng.lock.owner()))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        eng.close()

    app = FastAPI(title="papersift", version="0.1.0", lifespan=lifespan,
                  description="Research-paper discovery: Hugging Face–compatible paper API and "
                              "papersift's own /api/v1. See docs/api.md.")
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    register_filters(env)
    env.globals["highlight"] = highlight
    templates = Jinja2Templates(env=env)
    app.state.settings = settings
    app.state.engine = eng
    app.state.templates = templates
    app.state.secret = secret_key(settings.data_dir, settings.secret_key)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        headers = getattr(exc, "headers", None)
        if is_api(request):
            return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=headers)
        return pages.error_page(request, exc.status_code, str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        msgs = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ())[1:])}: {e.get('msg')}"
                         for e in exc.errors())
        if is_api(request):
            return JSONResponse({"error": f"invalid request: {msgs}"}, status_code=422)
        return pages.error_page(request, 400, f"Invalid request: {msgs}")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if (response.headers.get("content-type", "").startswith("text/html")
                and not request.url.path.startswith(("/docs", "/redoc"))):
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
        return response

    app.include_router(hf_api.router)
    app.include_router(api.router)
    app.include_router(feeds_xml.router)
    app.include_router(auth.router)
    app.include_router(admin.router)
    app.include_router(pages.router)
    return app


def app_from_env() -> FastAPI:
    """Entry point for uvicorn workers: settings from the environment (PAPERSIFT_DATA)."""
    from papersift import log as logsetup

    logsetup.setup(default="INFO")
    return create_app(Settings())
