"""FastAPI application factory: ``create_app(settings)``; each uvicorn worker builds its own."""

from __future__ import annotations

import contextlib
import threading
import time
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
from papersift.pipeline import Engine, catch_up, open_engine
from papersift.web import api, auth, feeds_xml, hf_api, pages
from papersift.web.render import highlight, register_filters

HERE = Path(__file__).parent
RELOAD_EVERY = 2.0  # seconds between tantivy reader reloads


class Fresh:
    """Reload the lexical index reader at most every RELOAD_EVERY seconds (new papers appear)."""

    def __init__(self, eng: Engine) -> None:
        self.eng = eng
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self) -> Engine:
        t = time.monotonic()
        if t - self.last >= RELOAD_EVERY and self.lock.acquire(blocking=False):
            try:
                self.eng.lexical.index.reload()
                self.last = t
            finally:
                self.lock.release()
        return self.eng


def is_api(request: Request) -> bool:
    p = request.url.path
    return p.startswith("/api/") or p.endswith(".md")


def create_app(settings: Settings) -> FastAPI:
    eng = open_engine(settings, catch_up_index=False)
    # another worker or an ingest may hold the index writer (tantivy raises); then it is theirs to do
    with contextlib.suppress(Exception):
        catch_up(eng)
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
    app.state.fresh = Fresh(eng)
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
    app.include_router(pages.router)
    return app


def app_from_env() -> FastAPI:
    """Entry point for uvicorn workers: settings from the environment (PAPERSIFT_DATA)."""
    return create_app(Settings())
