"""/docs and /redoc come whole from the service: its own assets, no other host, no key."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter

from crm_platform.app import ServiceDefinition, create_service_app
from crm_platform.docs import ASSET_TYPES, ASSETS_VERSION
from crm_platform.settings import ServiceSettings


class _Settings(ServiceSettings):
    service_name: str = "docs-demo"
    database_url: str = "postgresql://crm:crm@127.0.0.1:5432/unused"


things = APIRouter(tags=["things"])


@things.get("/things", operation_id="listThings", summary="The things")
async def list_things() -> list[str]:
    return []


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    definition = ServiceDefinition(
        title="docs-demo",
        description="A service with one route.",
        version="1.0.0",
        routers=[things],
        metadata=sa.MetaData(),
        migrations_dir=Path("."),
    )
    # No lifespan: these pages need neither the database nor the broker.
    app = create_service_app(definition, _Settings(admin_api_key="x" * 20))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


def _references(html: str) -> list[str]:
    """Every URL the page loads: script src, stylesheet / icon href, Swagger UI's spec url."""
    found = re.finditer(r"""(?:src|href)="([^"]+)"|url: '([^']+)'""", html)
    return [match.group(1) or match.group(2) for match in found]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_reference_only_the_service_itself_and_need_no_key(
    http: httpx.AsyncClient, page: str
) -> None:
    answer = await http.get(page)  # no Authorization header
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-cache"
    urls = _references(answer.text)
    assert urls, answer.text
    for url in urls:
        assert url.startswith(("/docs/assets/", "/openapi.json")), url
    assert "fonts.googleapis" not in answer.text and "cdn." not in answer.text
    for url in urls:
        assert (await http.get(url)).status_code == 200, url


async def test_swagger_ui_is_told_to_skip_the_online_validator(http: httpx.AsyncClient) -> None:
    assert '"validatorUrl": null' in (await http.get("/docs")).text


@pytest.mark.parametrize("name", sorted(ASSET_TYPES))
async def test_each_asset_has_its_type_a_long_cache_life_and_an_etag(
    http: httpx.AsyncClient, name: str
) -> None:
    url = f"/docs/assets/{name}?v={ASSETS_VERSION}"
    answer = await http.get(url, headers={"accept-encoding": "identity"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == ASSET_TYPES[name]
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert len(answer.content) > 1000
    etag = answer.headers["etag"]

    again = await http.get(url, headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""

    zipped = await http.get(url, headers={"accept-encoding": "gzip"})
    if not name.endswith((".js", ".css")):
        assert "content-encoding" not in zipped.headers  # a PNG is compressed already
        return
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(answer.content)
    assert zipped.content == answer.content  # httpx decodes it


async def test_redoc_bundle_no_longer_fetches_its_logo_from_a_cdn(
    http: httpx.AsyncClient,
) -> None:
    bundle = (await http.get("/docs/assets/redoc.standalone.js")).text
    assert "cdn.redoc.ly" not in bundle
    assert "API docs by Redocly" in bundle  # the same bundle otherwise


async def test_an_unknown_asset_is_a_404_naming_it(http: httpx.AsyncClient) -> None:
    answer = await http.get("/docs/assets/evil.js")
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert "evil.js" in error["message"] and error["details"][0]["loc"] == "path.name"


async def test_docs_routes_stay_out_of_the_openapi_document_which_keeps_authorize(
    http: httpx.AsyncClient,
) -> None:
    spec = (await http.get("/openapi.json")).json()
    assert spec["info"]["title"] == "docs-demo"
    assert "/things" in spec["paths"]
    assert not [p for p in spec["paths"] if p.startswith(("/docs", "/redoc", "/openapi"))]
    # The scheme behind Swagger UI's Authorize button: an API key as a bearer token.
    scheme = spec["components"]["securitySchemes"]["ApiKey"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"


async def test_metrics_label_the_docs_routes_by_their_path_not_as_unmatched(
    http: httpx.AsyncClient,
) -> None:
    def count(text: str, route: str) -> float:
        labels = f'method="GET",route="{re.escape(route)}",status="200"'
        found = re.search(rf"crm_http_requests_total{{{labels}}} (\S+)", text)
        return float(found.group(1)) if found else 0.0

    def unmatched(text: str) -> float:
        return sum(
            float(v)
            for v in re.findall(r'crm_http_requests_total{[^}]*"unmatched"[^}]*} (\S+)', text)
        )

    before = (await http.get("/metrics")).text
    for url in ["/docs", "/redoc", "/openapi.json", "/docs/assets/swagger-ui.css"]:
        assert (await http.get(url)).status_code == 200
    after = (await http.get("/metrics")).text
    for route in ["/docs", "/redoc", "/openapi.json", "/docs/assets/{name}"]:
        assert count(after, route) == count(before, route) + 1, route
    assert unmatched(after) == unmatched(before)
