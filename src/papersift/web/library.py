"""A user's interests on the web: the library (save, tags, BibTeX export and import), follows,
thumbs up / down; the save and feedback buttons on every paper card (templates/_paper_actions.html);
and their JSON API under /api/v1 (Bearer API token, or session cookie + X-CSRF-Token).

Every form carries the CSRF token; every write needs a logged-in user (HTML: a redirect to the
login page that comes back; JSON: 401)."""

from __future__ import annotations

import logging
import tempfile
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from papersift.accounts import AccountError, User, interests
from papersift.config import Settings
from papersift.models import Paper
from papersift.store import interests as sql
from papersift.web import deps
from papersift.web.render import render
from papersift.web.schemas import (
    BearerToken,
    FeedbackOut,
    FollowCreated,
    FollowsOut,
    ImportOut,
    LibraryOut,
    SavedCreated,
    TagsOut,
    errors,
)

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["interests"])
IMPORT_PATHS = ("/library/import", "/api/v1/library/import")

# -- the card partial's view of the current request ----------------------------------------------------
_SCOPE: ContextVar[Scope | None] = ContextVar("papersift_request_scope", default=None)


class _RequestScope:
    """Pure ASGI middleware: remembers the request's scope, so the card partial (rendered inside
    macros that get no template context) can ask whether the reader saved or rated a paper."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _SCOPE.set(scope if scope["type"] == "http" else None)
        try:
            await self.app(scope, receive, send)
        finally:
            _SCOPE.reset(token)


def interest_state(p: Paper) -> dict[str, Any]:
    """{"user": logged in?, "saved": bool, "feedback": -1 | 0 | 1, "here": this page's path and query}
    of the current reader for ``p``."""
    scope = _SCOPE.get()
    if scope is None or p.pk is None:
        return {"user": False, "saved": False, "feedback": 0, "here": "/"}
    request = Request(scope)
    query = request.url.query
    here = deps.safe_next(request.url.path + (f"?{query}" if query else ""))  # where the buttons come back to
    user = deps.current_user(request)
    if user is None:
        return {"user": False, "saved": False, "feedback": 0, "here": here}
    db = deps.db(request)
    return {"user": True, "saved": bool(sql.saved_pks(db, user.id, [p.pk])),
            "feedback": sql.feedback_on(db, user.id, [p.pk]).get(p.pk, 0), "here": here}


def follow_state(kind: str, value: str) -> dict[str, Any]:
    """For a "Follow" button: {"user": logged in?, "following": bool, "kind", "value", "here"}."""
    scope = _SCOPE.get()
    out: dict[str, Any] = {"user": False, "following": False, "kind": kind, "value": (value or "").strip(),
                           "here": "/"}
    if scope is None or not out["value"]:
        return out
    request = Request(scope)
    query = request.url.query
    out["here"] = deps.safe_next(request.url.path + (f"?{query}" if query else ""))
    user = deps.current_user(request)
    if user is None:
        return out
    out["user"] = True
    try:
        k, v = interests.clean_follow(kind, out["value"])
    except AccountError:
        out["value"] = ""  # not something one can follow (e.g. a malformed category): no button
        return out
    out["kind"], out["value"] = k, v
    out["following"] = any(f.kind == k and f.value == v for f in sql.list_follows(deps.db(request), user.id))
    return out


def import_limits(settings: Settings) -> dict[str, int]:
    """The request body limit of the import uploads (``PAPERSIFT_MAX_IMPORT_BYTES``, 20 MiB): a
    reference manager's export is larger than the 1 MiB other requests may send."""
    return dict.fromkeys(IMPORT_PATHS, max(settings.max_import_bytes, settings.max_body_bytes))


def install(app: FastAPI, env: Environment) -> None:
    """Register the routes, the card partial's globals and its middleware (one line in app.py)."""
    env.globals["interest_state"] = interest_state
    env.globals["follow_state"] = follow_state
    app.add_middleware(_RequestScope)
    app.include_router(api)
    app.include_router(router)


# -- helpers -------------------------------------------------------------------------------------------
def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def login_redirect(target: str) -> RedirectResponse:
    from urllib.parse import quote

    return RedirectResponse(f"/login?next={quote(deps.safe_next(target), safe='/')}", status_code=303)


def _form_user(request: Request, csrf_token: str) -> User | None:
    deps.check_csrf(request, csrf_token)
    return deps.current_user(request)


def _paper(request: Request, paper_id: str) -> Paper:
    p = deps.engine(request).store.get(paper_id)
    if p is None or p.pk is None:
        raise HTTPException(404, f"No paper with id {paper_id!r}.")
    return p


def _back(next_: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(deps.safe_next(next_) + anchor, status_code=303)


# -- card actions: save / unsave, thumbs up / down ------------------------------------------------------
@router.post("/library/save")
def save_form(request: Request, paper_id: str = Form(...), action: str = Form("save"), tags: str = Form(""),
              csrf_token: str = Form(""), next: str = Form("/")):
    user = _form_user(request, csrf_token)
    if user is None:
        if _wants_json(request):
            return JSONResponse({"error": "log in to save papers"}, status_code=401)
        return login_redirect(next)
    p = _paper(request, paper_id)
    store = deps.engine(request).store
    try:
        if action == "unsave":
            interests.unsave(store, user, p.id)
        else:
            interests.save(store, user, p.id, tags)
    except AccountError as exc:
        raise HTTPException(400, str(exc)) from None
    if _wants_json(request):
        return {"id": p.id, "saved": action != "unsave"}
    return _back(next)


@router.post("/feedback")
def feedback_form(request: Request, paper_id: str = Form(...), value: str = Form(...), csrf_token: str = Form(""),
                  next: str = Form("/")):
    user = _form_user(request, csrf_token)
    if user is None:
        if _wants_json(request):
            return JSONResponse({"error": "log in to rate papers"}, status_code=401)
        return login_redirect(next)
    v = {"up": 1, "down": -1, "clear": 0}.get(value)
    if v is None:
        raise HTTPException(400, "value must be up, down or clear")
    p = _paper(request, paper_id)
    interests.set_feedback(deps.engine(request).store, user, p.id, v)
    if _wants_json(request):
        return {"id": p.id, "feedback": v}
    return _back(next)


# -- library page ------------------------------------------------------------------------------------
@router.get("/library")
def library_page(request: Request, tag: str = "", page: int = Query(1, ge=1, le=10_000)):
    user = deps.current_user(request)
    if user is None:
        return login_redirect("/library")
    store = deps.engine(request).store
    rows = interests.library_papers(store, user)
    all_tags = sorted({t for _p, r in rows for t in r.tags})
    shown = [(p, r) for p, r in rows if not tag or tag in r.tags]
    size = 50
    pages = max((len(shown) + size - 1) // size, 1)
    return render(request, "library.html", {
        "rows": shown[(page - 1) * size:page * size], "total": len(shown), "all": len(rows), "tags": all_tags,
        "tag": tag, "page": page, "pages": pages, "report": None})


@router.post("/library/tags")
def tags_form(request: Request, paper_id: str = Form(...), add: str = Form(""), remove: str = Form(""),
              csrf_token: str = Form(""), next: str = Form("/library")):
    user = _form_user(request, csrf_token)
    if user is None:
        return login_redirect(next)
    try:
        interests.change_tags(deps.engine(request).store, user, paper_id, add, remove)
    except AccountError as exc:
        raise HTTPException(400, str(exc)) from None
    return _back(next)


def _bibtex_response(request: Request, user: User, tag: str | None) -> Response:
    rows = interests.library_papers(deps.engine(request).store, user, tag=tag or None)
    text = interests.bibtex([(p, r.tags) for p, r in rows])
    name = f"papersift-library{'-' + ''.join(c for c in tag if c.isalnum()) if tag else ''}.bib"
    return PlainTextResponse(text, media_type="application/x-bibtex; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/library.bib")
def library_bib(request: Request, tag: str = ""):
    user = deps.current_user(request)
    if user is None:
        return login_redirect("/library")
    return _bibtex_response(request, user, tag)


async def _save_upload(request: Request, upload: UploadFile) -> Path:
    limit = request.app.state.settings.max_import_bytes
    suffix = "".join(c for c in Path(upload.filename or "library").suffix[:10] if c.isalnum() or c == ".")
    with tempfile.NamedTemporaryFile(prefix="papersift-import-", suffix=suffix, delete=False) as fh:
        size = 0
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > limit:
                fh.close()
                Path(fh.name).unlink(missing_ok=True)
                raise HTTPException(413, f"the file is larger than {limit} bytes (PAPERSIFT_MAX_IMPORT_BYTES)")
            fh.write(chunk)
    return Path(fh.name)


@router.post("/library/import")
async def import_form(request: Request, file: UploadFile, csrf_token: str = Form(""), tags: str = Form("")):
    from starlette.concurrency import run_in_threadpool

    user = _form_user(request, csrf_token)
    if user is None:
        return login_redirect("/library")
    path = await _save_upload(request, file)
    try:
        report = await run_in_threadpool(interests.import_library, deps.engine(request).store, user, path,
                                         "auto", tags)
    except AccountError as exc:
        raise HTTPException(400, str(exc)) from None
    finally:
        path.unlink(missing_ok=True)
    rows = interests.library_papers(deps.engine(request).store, user)
    return render(request, "library.html", {
        "rows": rows[:50], "total": len(rows), "all": len(rows), "tags": sorted({t for _p, r in rows for t in r.tags}),
        "tag": "", "page": 1, "pages": max((len(rows) + 49) // 50, 1), "report": report,
        "filename": file.filename or "the file"}, status=200 if report.entries or not report.errors else 400)


# -- follows page --------------------------------------------------------------------------------------
@router.get("/follows")
def follows_page(request: Request, error: str = ""):
    user = deps.current_user(request)
    if user is None:
        return login_redirect("/follows")
    return render(request, "follows.html", {"follows": interests.follows_of(deps.db(request), user),
                                            "error": None, "kind": "category", "value": ""})


@router.post("/follows")
def follows_form(request: Request, kind: str = Form(""), value: str = Form(""), action: str = Form("add"),
                 csrf_token: str = Form(""), next: str = Form("/follows")):
    user = _form_user(request, csrf_token)
    if user is None:
        return login_redirect(next)
    db = deps.db(request)
    try:
        if action == "remove":
            interests.unfollow(db, user, kind, value)
        else:
            interests.follow(db, user, kind, value)
    except AccountError as exc:
        return render(request, "follows.html", {"follows": interests.follows_of(db, user), "error": str(exc),
                                                "kind": kind, "value": value}, status=400)
    return _back(next)


# -- JSON API ----------------------------------------------------------------------------------------
class FollowIn(BaseModel):
    kind: str = Field(description="author | category | query")
    value: str = Field(max_length=300)


class SaveIn(BaseModel):
    paper_id: str = Field(max_length=300)
    tags: list[str] = Field(default_factory=list, max_length=50)


class TagsIn(BaseModel):
    add: list[str] = Field(default_factory=list, max_length=50)
    remove: list[str] = Field(default_factory=list, max_length=50)


class FeedbackIn(BaseModel):
    paper_id: str = Field(max_length=300)
    value: int = Field(description="1 thumbs up, -1 thumbs down, 0 clear", ge=-1, le=1)


def _bad(exc: AccountError) -> HTTPException:
    return HTTPException(400, str(exc))


def _follow_json(f: interests.Follow) -> dict[str, Any]:
    return {"id": f.id, "kind": f.kind, "value": f.value, "created_at": f.created_at.isoformat()}


@api.get("/follows", summary="What you follow", response_model=FollowsOut, responses=errors(401))
def api_follows(request: Request, _token: BearerToken = None):
    user = deps.require_api_user(request)
    return {"follows": [_follow_json(f) for f in interests.follows_of(deps.db(request), user)]}


@api.post("/follows", summary="Follow an author, a category (cs.CL, or cs) or a search", status_code=201,
          response_model=FollowCreated,
          responses={200: {"model": FollowCreated, "description": "Followed already (`new` is false)"},
                     **errors(400, 401, 403, 422, 503)})
def api_follow(request: Request, body: FollowIn, response: Response, _token: BearerToken = None):
    user = deps.require_api_user(request)
    try:
        f, new = interests.follow(deps.db(request), user, body.kind, body.value)
    except AccountError as exc:
        raise _bad(exc) from None
    if not new:
        response.status_code = 200
    return {**_follow_json(f), "new": new}


@api.delete("/follows/{follow_id}", summary="Stop following", status_code=204,
            responses=errors(401, 403, 404, 422, 503))
def api_unfollow(request: Request, follow_id: int, _token: BearerToken = None):
    user = deps.require_api_user(request)
    if not sql.remove_follow_id(deps.db(request), user.id, follow_id):
        raise HTTPException(404, f"no follow {follow_id} of yours")
    return Response(status_code=204)


def _saved_json(p: Paper, r: interests.SavedPaper) -> dict[str, Any]:
    from papersift.web.api import paper_json

    return {"paper": paper_json(p), "tags": r.tags, "saved_at": r.saved_at.isoformat()}


#: GET /api/v1/library's 200 answers JSON (LibraryOut) or, with format=bibtex, a BibTeX file
BIBTEX_200: dict[int | str, dict[str, Any]] = {200: {
    "description": "The library as JSON, or with format=bibtex as a BibTeX file (every paper of the library "
                   "or the tag; limit and offset do not apply)",
    "content": {"application/x-bibtex": {"schema": {"type": "string"}}}}}


@api.get("/library", summary="Your library (format=bibtex for a BibTeX export)", response_model=LibraryOut,
         responses={**BIBTEX_200, **errors(400, 401, 422)})
def api_library(request: Request, tag: str | None = None,
                format: str = Query("json", description="json, or bibtex (application/x-bibtex)"),
                limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
                _token: BearerToken = None):
    user = deps.require_api_user(request)
    if format == "bibtex":
        return _bibtex_response(request, user, tag)
    if format != "json":
        raise HTTPException(400, "format must be json or bibtex")
    rows = interests.library_papers(deps.engine(request).store, user, tag=tag)
    return {"total": len(rows), "limit": limit, "offset": offset,
            "items": [_saved_json(p, r) for p, r in rows[offset:offset + limit]]}


@api.post("/library", summary="Save a paper (tags are added to those it has)", status_code=201,
          response_model=SavedCreated,
          responses={200: {"model": SavedCreated, "description": "Saved already (`new` is false; the tags are added)"},
                     **errors(400, 401, 403, 404, 422, 503)})
def api_save(request: Request, body: SaveIn, response: Response, _token: BearerToken = None):
    user = deps.require_api_user(request)
    try:
        p, new = interests.save(deps.engine(request).store, user, body.paper_id, body.tags)
    except AccountError as exc:
        raise HTTPException(404 if "no paper" in str(exc) else 400, str(exc)) from None
    if not new:
        response.status_code = 200
    assert p.pk is not None
    row = next(r for r in sql.library_items(deps.db(request), user.id) if r.paper_pk == p.pk)
    return {**_saved_json(p, row), "new": new}


@api.patch("/library/{paper_id:path}", summary="Add or remove tags of a saved paper", response_model=TagsOut,
           responses=errors(401, 403, 404, 422, 503))
def api_tags(request: Request, paper_id: str, body: TagsIn, _token: BearerToken = None):
    user = deps.require_api_user(request)
    try:
        tags = interests.change_tags(deps.engine(request).store, user, paper_id, body.add, body.remove)
    except AccountError as exc:
        raise HTTPException(404, str(exc)) from None
    return {"paper_id": paper_id, "tags": tags}


@api.delete("/library/{paper_id:path}", summary="Remove a paper from your library", status_code=204,
            responses=errors(401, 403, 404, 422, 503))
def api_unsave(request: Request, paper_id: str, _token: BearerToken = None):
    user = deps.require_api_user(request)
    try:
        gone = interests.unsave(deps.engine(request).store, user, paper_id)
    except AccountError as exc:
        raise HTTPException(404, str(exc)) from None
    if not gone:
        raise HTTPException(404, f"{paper_id!r} is not in your library")
    return Response(status_code=204)


@api.post("/library/import", summary="Import a BibTeX / Zotero (BibTeX, CSV, RDF) file into your library",
          response_model=ImportOut, responses=errors(400, 401, 403, 413, 422, 503))
async def api_import(request: Request, file: UploadFile, tags: str = Form(""), _token: BearerToken = None):
    from starlette.concurrency import run_in_threadpool

    user = deps.require_api_user(request)
    path = await _save_upload(request, file)
    try:
        report = await run_in_threadpool(interests.import_library, deps.engine(request).store, user, path,
                                         "auto", tags)
    except AccountError as exc:
        raise _bad(exc) from None
    finally:
        path.unlink(missing_ok=True)
    return report.as_dict()


@api.post("/feedback", summary="Thumbs up (1), down (-1) or clear (0) on a paper", response_model=FeedbackOut,
          responses=errors(401, 403, 404, 422, 503))
def api_feedback(request: Request, body: FeedbackIn, _token: BearerToken = None):
    user = deps.require_api_user(request)
    try:
        p = interests.set_feedback(deps.engine(request).store, user, body.paper_id, body.value)
    except AccountError as exc:
        raise HTTPException(404, str(exc)) from None
    return {"paper_id": p.id, "value": body.value}


__all__ = ["api", "install", "interest_state", "router"]
