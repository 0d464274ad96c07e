"""Integers and booleans written as text (query strings, path segments, CSV cells): only the
written forms, refused with a 422 naming the parameter, ranges still in OpenAPI."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Path, Query

from crm_events.types import Date
from crm_platform.errors import install_error_handlers
from crm_platform.params import TEXT_BOOL, TEXT_INT, parse_bool, parse_int


@pytest.mark.parametrize("text, expected", [("25", 25), ("0", 0), ("-3", -3), ("007", 7)])
def test_integers_are_digits_with_an_optional_minus(text: str, expected: int) -> None:
    assert parse_int(text) == expected


@pytest.mark.parametrize("text", ["5.0", " 5", "5 ", "+5", "1_000", "1e3", "", "-", "٣", "0x10"])
def test_anything_else_is_not_an_integer(text: str) -> None:
    with pytest.raises(ValueError, match="digits only"):
        parse_int(text)


@pytest.mark.parametrize("text, expected", [("true", True), ("false", False), ("TRUE", True)])
def test_booleans_are_true_or_false(text: str, expected: bool) -> None:
    assert parse_bool(text) is expected


@pytest.mark.parametrize("text", ["1", "0", "yes", "no", "on", "off", "t", "y", ""])
def test_one_yes_and_on_are_not_booleans(text: str) -> None:
    with pytest.raises(ValueError, match="true or false"):
        parse_bool(text)


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/items/{number}")
    async def read(
        number: Annotated[int, Path(ge=1), TEXT_INT],
        as_of: Annotated[Date | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500), TEXT_INT] = 100,
        flag: Annotated[bool, Query(), TEXT_BOOL] = False,
    ) -> dict[str, Any]:
        return {"number": number, "as_of": str(as_of), "limit": limit, "flag": flag}

    return app


@pytest.mark.parametrize(
    "url, loc, fragment",
    [
        ("/items/1?as_of=0", "query.as_of", "YYYY-MM-DD"),
        ("/items/1?limit=5.0", "query.limit", "digits only"),
        ("/items/1?limit=501", "query.limit", "less than or equal to 500"),
        ("/items/1.0", "path.number", "digits only"),
        ("/items/1?flag=yes", "query.flag", "true or false"),
    ],
)
async def test_a_lax_parameter_is_a_422_naming_it(url: str, loc: str, fragment: str) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app()), base_url="http://t"
    ) as c:
        resp = await c.get(url)
    assert resp.status_code == 422
    [detail] = resp.json()["error"]["details"]
    assert detail["loc"] == loc and fragment in detail["message"]


async def test_written_forms_are_read_and_ranges_documented() -> None:
    app = _app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        resp = await c.get("/items/7?as_of=2026-03-01&limit=25&flag=true")
    assert resp.json() == {"number": 7, "as_of": "2026-03-01", "limit": 25, "flag": True}
    params = {
        p["name"]: p["schema"]
        for p in app.openapi()["paths"]["/items/{number}"]["get"]["parameters"]
    }
    assert params["limit"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 500,
        "default": 100,
        "title": "Limit",
    }
    assert params["number"]["minimum"] == 1
