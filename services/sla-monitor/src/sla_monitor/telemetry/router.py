from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Security
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from crm_platform.auth import Principal, current_principal
from crm_platform.deps import (
    ClockDep,
    EmitDep,
    IdempotencyDep,
    SessionDep,
    SettingsDep,
)
from crm_platform.errors import Unprocessable
from crm_platform.idempotency import (
    STREAMING,
    IdempotencyKeyHeader,
    claim,
    key_scope,
    new_digest,
    remember,
    replay,
    request_target,
)
from sla_monitor.telemetry import service
from sla_monitor.telemetry.retention import before_horizon, hold_horizon, horizon_details
from sla_monitor.telemetry.schemas import TelemetryAccepted
from sla_monitor.telemetry.validation import (
    ITEMS,
    MAX_LISTED_ERRORS,
    item_errors,
    parse_batch,
    reject,
)

# Monitoring systems hold telemetry:write keys; sla-monitor's own domain is sla:*.
TelemetryWriter = Annotated[Principal, Security(current_principal, scopes=["telemetry:write"])]

router = APIRouter(prefix="/telemetry", tags=["telemetry"])

NDJSON_CHUNK = 10_000


def accepted(result: service.IngestResult) -> TelemetryAccepted:
    kinds = sorted(set(result.accepted) | set(result.duplicates))
    return TelemetryAccepted(
        accepted=sum(result.accepted.values()),
        duplicates=sum(result.duplicates.values()),
        by_kind={
            k: {"accepted": result.accepted[k], "duplicates": result.duplicates[k]} for k in kinds
        },
    )


@router.post(
    "",
    status_code=202,
    response_model=TelemetryAccepted,
    summary="Post a batch of telemetry (up to 10,000 items)",
    description="Outages, up/down samples, incidents and measurements, each naming the "
    "`service_key` SLA definitions read (`kind` defaults to `outage`). The batch is "
    "validated whole: one invalid item rejects the batch and the 422 lists every invalid "
    "item by index and field (`body.items[3].ended_at`). Duplicates (the same interval, "
    "sample or measurement, a ticket revision not newer than the stored one) change "
    "nothing. With a retention set, an item wholly before the retention horizon (a sample "
    "or measurement before it, an outage ended or an incident resolved before it) is "
    "refused the same way, type `before_retention_horizon`. Send an `Idempotency-Key` to "
    "make retries safe.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/TelemetryBatch"}}
            },
        }
    },
    responses={422: {"description": "The batch was rejected; `details` lists every problem."}},
)
async def post_telemetry(
    request: Request,
    session: SessionDep,
    principal: TelemetryWriter,
    idempotency: IdempotencyDep,
    clock: ClockDep,
    emit: EmitDep,
    settings: SettingsDep,
) -> JSONResponse:
    body = await request.body()
    max_items = getattr(settings, "telemetry_max_batch_items", 10_000)
    requested, items = parse_batch(body, max_items=max_items)
    tenant_id = principal.resolve_tenant(requested)
    horizon = await hold_horizon(session, writing=True)
    if found := before_horizon(items, horizon):
        assert horizon is not None
        raise reject(horizon_details(found, horizon, lambda i: f"body.items[{i}]"), "batch")

    async def work() -> TelemetryAccepted:
        result = await service.ingest(
            session=session, emit=emit, now=clock.now(), tenant_id=tenant_id, items=items
        )
        return accepted(result)

    return await idempotency.run(work, status_code=202)


def _line_errors(
    lines: list[tuple[int, bytes]], horizon: datetime | None
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Decode and validate a chunk of NDJSON lines (items before the retention horizon
    refused too); (items, errors by line number)."""
    raw: list[Any] = []
    numbers: list[int] = []
    errors: list[dict[str, Any]] = []
    for number, line in lines:
        try:
            raw.append(orjson.loads(line))
            numbers.append(number)
        except orjson.JSONDecodeError as exc:
            errors.append({"loc": f"line[{number}]", "message": f"not JSON: {exc}"})
    try:
        items = ITEMS.validate_python(raw)
    except ValidationError as exc:
        for detail in item_errors(exc, prefix=("line",)):
            # item_errors numbers items from 0 within the chunk; say the line instead
            head, _, rest = detail["loc"].partition("]")
            index = int(head.split("[", 1)[1])
            detail["loc"] = f"line[{numbers[index]}]{rest}"
            errors.append(detail)
        items = []
    if found := before_horizon(items, horizon):
        assert horizon is not None
        errors += horizon_details(found, horizon, lambda i: f"line[{numbers[i]}]")
    return items, errors


@router.post(
    "/ndjson",
    operation_id="postTelemetryNdjson",
    status_code=202,
    response_model=TelemetryAccepted,
    summary="Stream telemetry as NDJSON (one item per line, up to 100,000 lines)",
    description="`Content-Type: application/x-ndjson`, one telemetry item per line (blank "
    "lines are ignored). The stream is read and stored in chunks of 10,000 lines inside one "
    "transaction, so memory stays flat; the stream is still accepted or rejected whole: "
    "the 422 lists every invalid line (`line[7].ended_at`, lines numbered from 1). The "
    "tenant comes from `X-Tenant-Id` or the `tenant_id` query parameter. `Idempotency-Key` "
    "works as on `POST /telemetry`.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {
                    "schema": {"type": "string"},
                    "example": '{"kind": "sample", "service_key": "core-banking", '
                    '"observed_at": "2026-03-10T14:00:00Z", "status": "down"}\n'
                    '{"kind": "sample", "service_key": "core-banking", '
                    '"observed_at": "2026-03-10T14:05:00Z", "status": "up"}\n',
                }
            },
        }
    },
)
async def post_ndjson(
    request: Request,
    session: SessionDep,
    principal: TelemetryWriter,
    clock: ClockDep,
    emit: EmitDep,
    settings: SettingsDep,
    tenant_id: Annotated[
        str | None, Query(max_length=100, description="Tenant, when not in X-Tenant-Id.")
    ] = None,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    tenant = principal.resolve_tenant(tenant_id)
    max_lines = getattr(settings, "telemetry_max_ndjson_lines", 100_000)
    digest = new_digest(request.method, request_target(request))
    scope = key_scope(principal)
    if key is not None:
        earlier = await claim(session, scope, key, STREAMING)
        if earlier is not None:
            # The fingerprint of a stream is known once it is read: read it, then compare.
            async for chunk in request.stream():
                digest.update(chunk)
            return replay(earlier, digest.hexdigest())

    result = service.IngestResult()
    errors: list[dict[str, Any]] = []
    pending: list[tuple[int, bytes]] = []
    number = 0
    rest = b""

    horizon = await hold_horizon(session, writing=True)

    async def flush() -> None:
        items, problems = _line_errors(pending, horizon)
        pending.clear()
        errors.extend(problems)
        if not errors:
            await service.store_raw(session=session, tenant_id=tenant, items=items, result=result)

    async for chunk in request.stream():
        digest.update(chunk)
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            number += 1
            if line.strip():
                pending.append((number, line))
        if number > max_lines:
            raise Unprocessable(
                f"a stream holds at most {max_lines} lines; split it",
                details=[{"loc": "body", "message": f"more than {max_lines} lines"}],
            )
        if len(pending) >= NDJSON_CHUNK:
            await flush()
            if len(errors) >= MAX_LISTED_ERRORS:
                break
    if rest.strip():
        number += 1
        pending.append((number, rest))
    if pending:
        await flush()
    if errors:
        raise reject(errors, "stream")
    if not result.accepted and not result.duplicates:
        raise Unprocessable(
            "the stream holds no item", details=[{"loc": "body", "message": "empty"}]
        )
    await service.update_spans(session=session, tenant_id=tenant, result=result)
    await service.settle(
        session=session, emit=emit, now=clock.now(), tenant_id=tenant, result=result
    )
    body = accepted(result).model_dump(mode="json")
    if key is not None:
        await remember(session, scope, key, digest.hexdigest(), 202, body)
    return JSONResponse(body, status_code=202)
