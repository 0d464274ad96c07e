"""What an event consumer needs, served by every service without an API key (like its
OpenAPI document): the AsyncAPI 3.0 document of the service's own channels
(`/asyncapi.json`), the JSON Schema of each payload at the URI its events' `dataschema`
names (`/schemas/events/<type>@<version>.json`), and the CloudEvents envelope's schema."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter, Request

from crm_events import asyncapi
from crm_events.envelope import Envelope
from crm_events.registry import json_schemas
from crm_platform.errors import NotFound

router = APIRouter(include_in_schema=False)

ENVELOPE_SCHEMA = "envelope"


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    envelope = Envelope.model_json_schema(mode="serialization")
    envelope["title"] = "CloudEvents 1.0 envelope (structured mode) of every event"
    return {**json_schemas(), ENVELOPE_SCHEMA: envelope}


@router.get("/schemas/events/{name}.json")
async def event_schema(name: str) -> dict[str, Any]:
    schema = _schemas().get(name)
    if schema is None:
        raise NotFound(
            f"no event schema {name!r}; names are <type>@<version> (e.g. "
            f"contract.activated@1) or {ENVELOPE_SCHEMA}"
        )
    return schema


@cache
def _asyncapi(service: str) -> dict[str, Any]:
    return asyncapi.document(service)


@router.get("/asyncapi.json")
async def asyncapi_document(request: Request) -> dict[str, Any]:
    return _asyncapi(request.app.state.settings.service_name)
