"""Every request example the services document — request-body examples in the four OpenAPI
specs, the CSV and NDJSON examples, docs/examples/contract.json — passes the strict input
types: strictness refuses lax values, never what we tell clients to send."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter

from billing_reconciler.consumption.router import CSV_EXAMPLE as CONSUMPTION_CSV
from billing_reconciler.consumption.schemas import ConsumptionBatch
from billing_reconciler.csv_format import parse_consumption, parse_invoices
from billing_reconciler.invoices.router import CSV_EXAMPLE as INVOICE_CSV
from billing_reconciler.invoices.schemas import InvoiceIn
from billing_reconciler.main import create_app as billing_app
from contract_registry.contracts.schemas import (
    AmendmentCreate,
    ContractCreate,
    DraftUpdate,
    TerminationRequest,
)
from contract_registry.main import create_app as registry_app
from crm_events.schemas.telemetry import TelemetryItem
from crm_platform.apikeys import ApiKeyCreate
from crm_testing.examples import invoice_document
from obligation_tracker.alerts.schemas import AlertRuleCreate
from obligation_tracker.calendars.schemas import CalendarFeedCreate, CalendarFeedRevoke
from obligation_tracker.main import create_app as obligations_app
from obligation_tracker.obligations.schemas import FulfilRequest, ObligationUpdate, WaiveRequest
from obligation_tracker.webhooks.schemas import SecretRotation, WebhookCreate
from sla_monitor.attainment.schemas import MaintenanceWindowCreate, PeriodsCloseRequest
from sla_monitor.main import create_app as sla_app
from sla_monitor.telemetry.router import router as telemetry_router
from sla_monitor.telemetry.schemas import TelemetryBatch

ROOT = Path(__file__).resolve().parents[2]
APPS: dict[str, Callable[[], FastAPI]] = {
    "contract-registry": registry_app,
    "obligation-tracker": obligations_app,
    "sla-monitor": sla_app,
    "billing-reconciler": billing_app,
}
MODELS: dict[str, type[BaseModel]] = {
    m.__name__: m
    for m in (
        AmendmentCreate,
        ApiKeyCreate,
        AlertRuleCreate,
        CalendarFeedCreate,
        CalendarFeedRevoke,
        ConsumptionBatch,
        ContractCreate,
        DraftUpdate,
        FulfilRequest,
        InvoiceIn,
        MaintenanceWindowCreate,
        ObligationUpdate,
        PeriodsCloseRequest,
        SecretRotation,
        TelemetryBatch,
        TerminationRequest,
        WaiveRequest,
        WebhookCreate,
    )
}


def _body_examples(spec: dict[str, Any]) -> dict[str, list[Any]]:
    """The JSON request-body schemas of every operation that documents examples."""
    out: dict[str, list[Any]] = {}
    for operations in spec["paths"].values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            examples = spec["components"]["schemas"].get(name, {}).get("examples")
            if examples:
                out[name] = examples
    return out


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_documented_request_body_example_is_accepted(service: str) -> None:
    found = _body_examples(APPS[service]().openapi())
    assert found, service
    for name, examples in found.items():
        assert name in MODELS, f"{service}: add {name} to MODELS"
        for example in examples:
            MODELS[name].model_validate(example)


def test_the_csv_ndjson_and_docs_examples_are_accepted() -> None:
    items, _ = parse_consumption(CONSUMPTION_CSV.encode())
    assert [str(i.quantity) for i in items] == ["214", "4700"]
    assert len(parse_invoices(INVOICE_CSV.encode())) == 1
    [ndjson] = [
        r.openapi_extra
        for r in telemetry_router.routes
        if isinstance(r, APIRoute) and r.path.endswith("ndjson")
    ]
    assert ndjson is not None
    example = ndjson["requestBody"]["content"]["application/x-ndjson"]["example"]
    item = TypeAdapter(TelemetryItem)
    for line in example.strip().splitlines():
        item.validate_python(orjson.loads(line))
    contract = json.loads((ROOT / "docs" / "examples" / "contract.json").read_text())
    ContractCreate.model_validate(contract)
    # The README's chain posts it with its contract id; the worked example's March invoice.
    invoice = json.loads((ROOT / "docs" / "examples" / "invoice.json").read_text())
    InvoiceIn.model_validate(invoice)
    made = invoice_document(invoice["contract_id"], invoice_number="GLX-2026-03-0042")
    assert invoice == made
