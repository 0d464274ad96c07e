"""A request that meets PostgreSQL shutting down gets 503 with Retry-After (retry it),
never a 500; a statement that is simply wrong still is a 500."""

from __future__ import annotations

import asyncpg.exceptions as pg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from crm_platform.errors import install_error_handlers


def _app(error: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/work")
    async def work() -> None:
        raise DBAPIError("INSERT ...", None, error)

    return app


async def _post(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post("/work")


@pytest.mark.parametrize(
    "error",
    [
        pg.CannotConnectNowError("the database system is shutting down"),
        pg.AdminShutdownError("terminating connection due to administrator command"),
        pg.TooManyConnectionsError("sorry, too many clients already"),
    ],
)
async def test_postgresql_going_away_answers_503_with_retry_after(error: Exception) -> None:
    response = await _post(_app(error))
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "service_unavailable"


async def test_a_broken_statement_is_still_an_internal_error() -> None:
    response = await _post(_app(pg.UndefinedTableError("relation does not exist")))
    assert response.status_code == 500
