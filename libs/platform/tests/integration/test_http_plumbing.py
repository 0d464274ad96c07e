"""Idempotency keys, request limits and error shapes on a real PostgreSQL."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import create_async_engine

from crm_platform.auth import CurrentPrincipal
from crm_platform.clock import SystemClock
from crm_platform.db import SessionDep, make_session_factory
from crm_platform.errors import install_error_handlers
from crm_platform.idempotency import IdempotencyDep, attach_idempotency_table
from crm_platform.observability import RequestContextMiddleware
from crm_platform.settings import ServiceSettings
from crm_testing.auth import ADMIN_HEADERS, ADMIN_KEY

metadata = sa.MetaData()
attach_idempotency_table(metadata)
effects = sa.Table(
    "effects",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
)


class _Settings(ServiceSettings):
    service_name: str = "plumbing-test"


class Body(BaseModel):
    value: int = Field(ge=0)


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    app = FastAPI()
    app.state.session_factory = make_session_factory(engine)
    app.state.settings = _Settings(database_url=database_url, admin_api_key=ADMIN_KEY)
    app.state.clock = SystemClock()
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=2048)

    @app.post("/things", status_code=201)
    async def create(
        body: Body, session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep
    ) -> JSONResponse:
        async def work() -> dict[str, int]:
            await asyncio.sleep(0.2)  # long enough for a concurrent duplicate to arrive
            new_id = await session.scalar(
                sa.insert(effects).values(value=body.value).returning(effects.c.id)
            )
            return {"id": int(new_id or 0)}

        return await idem.run(work, status_code=201)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers=ADMIN_HEADERS
    ) as http:
        yield http
    await engine.dispose()


async def test_same_key_same_body_returns_the_first_response(client: httpx.AsyncClient) -> None:
    first = await client.post("/things", json={"value": 1}, headers={"Idempotency-Key": "a"})
    again = await client.post("/things", json={"value": 1}, headers={"Idempotency-Key": "a"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/things", json={"value": 1}, headers={"Idempotency-Key": "b"})
    assert other.json() != first.json()


async def test_same_key_different_body_is_refused(client: httpx.AsyncClient) -> None:
    await client.post("/things", json={"value": 1}, headers={"Idempotency-Key": "k"})
    resp = await client.post("/things", json={"value": 2}, headers={"Idempotency-Key": "k"})
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "idempotency_key_reused"


async def test_concurrent_duplicates_have_one_effect(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *[
            client.post("/things", json={"value": 7}, headers={"Idempotency-Key": "same"})
            for _ in range(5)
        ]
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1


async def test_bad_input_names_the_field_and_big_bodies_get_413(
    client: httpx.AsyncClient,
) -> None:
    bad = await client.post("/things", json={"value": -1})
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["details"][0]["loc"] == "body.value"
    assert error["correlation_id"]
    not_json = await client.post(
        "/things", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    big = await client.post(
        "/things", content=b"x" * 4096, headers={"content-type": "application/json"}
    )
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "payload_too_large"
