"""The API docs pages, served whole by the service: they render behind a firewall.

/docs                 Swagger UI (the *Authorize* button takes an API key: the ApiKey
                      bearer scheme crm_platform.openapi declares)
/redoc                ReDoc
/docs/assets/{name}   their JavaScript, CSS and favicon, from the pinned PyPI package
                      `fastapi-offline` (Swagger UI 5, ReDoc 2), never a CDN
/openapi.json         the OpenAPI document both read

No page loads anything from another host: no CDN script, no Google Fonts (FastAPI's ReDoc
page loads them by default), no Swagger validator badge, and ReDoc's "API docs by Redocly"
logo, which its bundle fetches from Redocly's CDN, is replaced by an empty inline image.
None of these routes needs an API key or shows up in the OpenAPI document. They are
FastAPI routes (not Starlette's plain ones, which FastAPI's own docs are), so /metrics
labels them by their path, not as `route="unmatched"`.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, JSONResponse, Response

from crm_platform.errors import NotFound

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OPENAPI_URL = "/openapi.json"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs/assets"

ASSETS_PACKAGE = "fastapi_offline"
# Part of every asset URL: a new package version is a new URL, so the assets can be cached
# for a year and never go stale.
ASSETS_VERSION = version("fastapi-offline")
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
PAGE_CACHE_CONTROL = "no-cache"

# What the bundles would fetch from elsewhere, and what they get instead.
_BLANK_IMAGE = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"
ASSET_REWRITES = {
    "redoc.standalone.js": [(b"https://cdn.redoc.ly/redoc/logo-mini.svg", _BLANK_IMAGE)],
}
SWAGGER_UI_PARAMETERS = {
    # The badge would send the document's URL to validator.swagger.io.
    "validatorUrl": None,
}

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None  # text only: a PNG is compressed already
    media_type: str
    etag: str


@cache
def asset(name: str) -> Asset:
    """One of the bundled files, rewritten as ASSET_REWRITES says; NotFound for any other."""
    media_type = ASSET_TYPES.get(name)
    if media_type is None:
        raise NotFound(
            f"no docs asset named {name!r}; the assets are {', '.join(sorted(ASSET_TYPES))}",
            details=[{"loc": "path.name", "message": "unknown asset"}],
        )
    body = (files(ASSETS_PACKAGE) / "static" / name).read_bytes()
    for old, new in ASSET_REWRITES.get(name, []):
        if old not in body:
            raise RuntimeError(f"{ASSETS_PACKAGE} {ASSETS_VERSION}: {name} no longer has {old!r}")
        body = body.replace(old, new)
    digest = hashlib.sha256(body).hexdigest()[:32]
    gzipped = gzip.compress(body, mtime=0) if media_type.startswith("text/") else None
    return Asset(body, gzipped, media_type, f'"{digest}"')


def asset_url(request: Request, name: str) -> str:
    return f"{_root(request)}{ASSETS_URL}/{name}?v={ASSETS_VERSION}"


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _page(response: HTMLResponse) -> HTMLResponse:
    response.headers["cache-control"] = PAGE_CACHE_CONTROL
    return response


@router.get(OPENAPI_URL)
async def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get(DOCS_URL)
async def swagger_ui(request: Request) -> HTMLResponse:
    parameters = {**SWAGGER_UI_PARAMETERS, **(request.app.swagger_ui_parameters or {})}
    return _page(
        get_swagger_ui_html(
            openapi_url=_root(request) + OPENAPI_URL,
            title=f"{request.app.title} - Swagger UI",
            swagger_js_url=asset_url(request, "swagger-ui-bundle.js"),
            swagger_css_url=asset_url(request, "swagger-ui.css"),
            swagger_favicon_url=asset_url(request, "favicon.png"),
            oauth2_redirect_url=_root(request) + OAUTH2_REDIRECT_URL,
            swagger_ui_parameters=parameters,
        )
    )


@router.get(OAUTH2_REDIRECT_URL)
async def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return _page(get_swagger_ui_oauth2_redirect_html())


@router.get(REDOC_URL)
async def redoc(request: Request) -> HTMLResponse:
    return _page(
        get_redoc_html(
            openapi_url=_root(request) + OPENAPI_URL,
            title=f"{request.app.title} - ReDoc",
            redoc_js_url=asset_url(request, "redoc.standalone.js"),
            redoc_favicon_url=asset_url(request, "favicon.png"),
            with_google_fonts=False,
        )
    )


@router.get(ASSETS_URL + "/{name}")
async def docs_asset(name: str, request: Request) -> Response:
    found = asset(name)
    headers = {
        "cache-control": ASSET_CACHE_CONTROL,
        "etag": found.etag,
        "vary": "Accept-Encoding",
        "x-content-type-options": "nosniff",
    }
    if found.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if found.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["content-encoding"] = "gzip"
        return Response(found.gzipped, media_type=found.media_type, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)
