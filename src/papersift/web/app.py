"""FastAPI application factory: ``create_app(settings)``; each uvicorn worker builds its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import InternalError as SAInternalError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from papersift.accounts import secret_key
from papersift.config import Settings
from papersift.engine import open_engine
from papersift.search.service import warm as warm_search
from papersift.store.db import ReadOnlyStore, WriteBusy, unavailable
from papersift.web import admin, api, apidocs, auth, deps, feeds_xml, foryou, hf_api, library, pages
from papersift.web import digest as digest_routes
from papersift.web import settings as settings_routes
from papersift.web.render import highlight, register_filters

HERE = Path(__file__).parent
log = logging.getLogger(__name__)
WRITE_STALL = 1.0  # seconds
READ_ONLY_MESSAGE = ("This papersift is read-only: upvotes, sign-up, login and submissions are switched off. "
                     "Searching and reading work as usual.")


def is_api(request: Request) -> bool:
    p = request.url.path
    return p.startswith("/api/") or p.endswith(".md")


def create_app(settings: Settings) -> FastAPI:
    # Web workers are readers: they never write an index (the worker, or an ingest, owns them)
    # and see the owner's commits through Engine.refresh (deps.engine) without a restart.
    eng = open_engine(settings, "reader")
    # a web write waits at most settings.write_wait s for the database lock, and fails at once
    # (503) while another write of this worker has been waiting longer than WRITE_STALL s
    eng.db.write_wait, eng.db.write_stall = settings.write_wait, WRITE_STALL
    log.info("web worker (pid %d) serving %s%s: %d papers indexed, %s", os.getpid(), settings.data_dir,
             " read-only" if settings.read_only else "", len(eng.lexical), "owner: " + deps.index_owner(eng))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        await asyncio.to_thread(warm_search, eng)  # load the query model before the first request
        yield
        eng.close()

    # docs_url/redoc_url None: web/apidocs.py serves both pages with packaged assets (no CDN)
    app = FastAPI(title="papersift", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
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
    app.state.secret = _secret(settings)
    env.globals["read_only"] = settings.read_only
    env.globals["remote_thumbnails"] = settings.remote_thumbnails
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

    @app.exception_handler(ReadOnlyStore)
    async def read_only(request: Request, exc: ReadOnlyStore):
        return await http_error(request, StarletteHTTPException(403, READ_ONLY_MESSAGE))

    async def store_unavailable(request: Request, exc: Exception):
        """Busy (lock or pool timeout), disk full, unwritable or failing database: 503 + Retry-After,
        logged; anything else stays a 500."""
        got = unavailable(exc)
        if got is None:
            raise exc
        message, retry = got
        if isinstance(exc, WriteBusy) or retry <= 5:
            log.warning("%s %s: 503, %s", request.method, request.url.path, exc)
        else:
            log.error("%s %s: 503, %s", request.method, request.url.path, exc, exc_info=exc)
        if not hasattr(request.state, "session"):
            request.state.session = None  # the error page must not wait for the database again
        return await http_error(request, StarletteHTTPException(503, message, headers={"Retry-After": str(retry)}))

    for exc_class in (WriteBusy, OperationalError, SAInternalError, SATimeoutError):
        app.add_exception_handler(exc_class, store_unavailable)

    # added before security_headers, so it runs inside it: a 413 carries the same headers
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, respond=http_error,
                       per_path=library.import_limits(settings))

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
                f"default-src 'self'; img-src 'self' data:{' https:' if settings.remote_thumbnails else ''}; "
                "style-src 'self'; script-src 'self'; "
                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
        return response

    app.include_router(apidocs.router)
    app.include_router(foryou.router)  # before api.router: its /api/v1 catch-all answers 404
    library.install(app, env)  # interests: routes (also before api.router), the card partial's globals
    app.include_router(hf_api.router)
    app.include_router(api.router)
    app.include_router(feeds_xml.router)
    app.include_router(auth.router)
    app.include_router(admin.router)
    app.include_router(digest_routes.router)
    app.include_router(settings_routes.router)
    app.include_router(pages.router)
    return app


class BodyTooLarge(StarletteHTTPException):
    """413: FastAPI re-raises HTTPExceptions met while reading a body, so the app's own handler
    answers it (JSON under /api/, the HTML error page elsewhere)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is too large: this server accepts at most {limit} bytes.")


Responder = Callable[[Request, StarletteHTTPException], Awaitable[Any]]


class BodyLimit:
    """The request body limit (Settings.max_body_bytes, ``PAPERSIFT_MAX_BODY_BYTES``, default 1 MiB),
    an ASGI middleware in front of every route. A request that announces a larger body
    (Content-Length) is answered 413 before any route runs: no body is read, no session or token is
    looked up. A body without a length (chunked) is counted as it streams and stops with the same
    413 at the first byte over the limit, before anything parses it."""

    def __init__(self, app: ASGIApp, max_bytes: int, respond: Responder,
                 per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.respond = respond  # renders an HTTPException the way the app's handler does
        self.per_path = per_path or {}  # exact paths with a limit of their own (uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.max_bytes)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = False  # the server (h11 / httptools) refuses a malformed length
                if too_big:
                    await self._reject(scope, receive, send, limit)
                    return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if started:
                raise
            await self._reject(scope, receive, send, limit)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        request = Request(scope, receive)
        request.state.session = None  # the error page must not look the session up
        response = await self.respond(request, BodyTooLarge(limit))
        response.headers["Connection"] = "close"  # the unread body is not drained
        await response(scope, receive, send)


def _secret(settings: Settings) -> str:
    try:
        return secret_key(settings.data_dir, settings.secret_key)
    except OSError:
        if not settings.read_only:
            raise
        log.warning("read-only data dir without secret.key: anonymous form tokens use a per-process key")
        return secrets.token_urlsafe(48)


def app_from_env() -> FastAPI:
    """Entry point for uvicorn workers: settings from the environment (PAPERSIFT_DATA)."""
    from papersift import log as logsetup

    logsetup.setup(default="INFO")
    return create_app(Settings())
