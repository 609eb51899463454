"""/docs (Swagger UI) and /redoc (ReDoc) that work offline.

FastAPI's own pages load their JavaScript, CSS, favicon (and ReDoc's Google fonts) from CDNs, so
on a machine without internet /docs is blank. These pages serve the same assets from the
``fastapi-offline`` package (Swagger UI bundle, its CSS, ReDoc standalone, a favicon), and turn
off everything that would still reach out: Swagger UI's online validator badge, ReDoc's fonts, and
the Redocly logo ReDoc's sidebar loads from its CDN (served as the local favicon instead)."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, Response

router = APIRouter(include_in_schema=False)
ASSETS_PATH = "/docs-assets"
ASSETS = {  # name -> media type; nothing else in the package is served
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
# URLs the bundled scripts would fetch by themselves, and what they fetch instead
REWRITES = {"redoc.standalone.js": {b"https://cdn.redoc.ly/redoc/logo-mini.svg": f"{ASSETS_PATH}/favicon.png".encode()}}


def assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def _root(request: Request) -> str:
    return str(request.scope.get("root_path") or "")


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}", title=f"{request.app.title} — API docs",
        swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT}",
        # validatorUrl null: no badge image fetched from validator.swagger.io
        swagger_ui_parameters={"validatorUrl": None, "deepLinking": True, "persistAuthorization": True})


@router.get(OAUTH2_REDIRECT)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    return get_redoc_html(openapi_url=f"{root}{request.app.openapi_url}", title=f"{request.app.title} — ReDoc",
                          redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
                          redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png", with_google_fonts=False)


@lru_cache(maxsize=4)
def _rewritten(name: str) -> bytes:
    body = (assets_dir() / name).read_bytes()
    for old, new in REWRITES[name].items():
        body = body.replace(old, new)
    return body


@router.get(ASSETS_PATH + "/{name}")
def asset(name: str) -> Response:
    media = ASSETS.get(name)
    if media is None:
        raise HTTPException(404, f"No documentation asset named {name!r}.")
    headers = {"Cache-Control": "public, max-age=86400"}
    if name in REWRITES:
        return Response(_rewritten(name), media_type=media, headers=headers)
    return FileResponse(assets_dir() / name, media_type=media, headers=headers)
