"""An integrator's view: Python clients generated from the four services' OpenAPI documents
with openapi-python-client, and nothing else, run DESIGN's worked example across the
services as processes: the contract created and activated, consumption and the outage
posted, March closed (99.4609%, failed), the credit of 4,414.08 read, the supplier's invoice
posted and its reconciliation read (consumption_error +280.00, unapplied_credit +4,414.08).

The generator does not take text/csv or NDJSON request bodies: those few operations are the
only ones it leaves out (the test says which).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from crm_testing import examples
from crm_testing.auth import ADMIN_KEY
from crm_testing.kafka import wait_until
from crm_testing.stack import SERVICES, Stack

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
NOT_GENERATED = {"application/x-ndjson", "text/csv"}  # bodies the generator does not take


def _package(service: str) -> str:
    return service.replace("-", "_") + "_client"


def _snake(operation_id: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", operation_id).lower()


@pytest.fixture(scope="module")
def clients(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One client package per service, generated from the spec the running service serves,
    in a temporary directory put on sys.path."""
    out = tmp_path_factory.mktemp("generated")
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"}
    for service in SERVICES:
        spec = out / f"{service}.json"
        spec.write_text(httpx.get(f"{stack.url(service)}/openapi.json", timeout=30).text)
        command = [str(GENERATOR), "generate", "--path", str(spec), "--meta", "none"]
        command += ["--output-path", str(out / _package(service))]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(out))
    yield out
    sys.path.remove(str(out))
    for name in [m for m in sys.modules if m.split(".")[0] in map(_package, SERVICES)]:
        del sys.modules[name]


def _api(service: str, operation_id: str) -> ModuleType:
    """The generated module of an operation: <package>.api.<tag>.<operation_id in snake>."""
    root = Path(importlib.import_module(_package(service)).__file__ or "").parent
    [found] = root.glob(f"api/*/{_snake(operation_id)}.py")
    return importlib.import_module(f"{_package(service)}.api.{found.parent.name}.{found.stem}")


def _models(service: str) -> Any:
    return importlib.import_module(f"{_package(service)}.models")


def test_every_operation_with_a_json_or_no_body_is_generated(clients: Path) -> None:
    left_out = []
    for service in SERVICES:
        spec = json.loads((clients / f"{service}.json").read_text())
        for path, operations in spec["paths"].items():
            for method, op in operations.items():
                body = set(op.get("requestBody", {}).get("content", {}))
                module = clients / _package(service) / "api"
                if not list(module.glob(f"*/{_snake(op['operationId'])}.py")):
                    assert body & NOT_GENERATED, f"{service} {method} {path} not generated"
                    left_out.append(op["operationId"])
    assert sorted(left_out) == ["postConsumptionCsv", "postInvoiceCsv", "postTelemetryNdjson"]


async def test_the_worked_example_runs_on_generated_clients(stack: Stack, clients: Path) -> None:
    client = {
        service: importlib.import_module(_package(service)).AuthenticatedClient(
            base_url=stack.url(service), token=ADMIN_KEY, timeout=httpx.Timeout(30)
        )
        for service in SERVICES
    }
    cid = await _create_and_activate(client)
    await _post_consumption_and_outage(client, cid)

    closed = await _api("sla-monitor", "closeSlaPeriod").asyncio_detailed(
        client=client["sla-monitor"], contract_id=cid, sla_code="AVAIL-CORE", period="2026-03"
    )
    assert closed.status_code == 200, closed.content
    assert (closed.parsed.attainment, closed.parsed.outcome) == ("99.4609", "failed")

    async def credited() -> Any:
        page = await _api("billing-reconciler", "listCredits").asyncio(
            client=client["billing-reconciler"], contract_id=cid
        )
        return page.items if page.items else None

    [credit] = await wait_until(credited, timeout=60, message="the credit")
    assert (credit.credit_amount, credit.currency) == ("4414.08", "USD")

    invoice = _models("billing-reconciler").InvoiceIn.from_dict(examples.invoice_document(cid))
    receipt = await _api("billing-reconciler", "postInvoice").asyncio_detailed(
        client=client["billing-reconciler"], body=invoice
    )
    assert receipt.status_code == 201, receipt.content
    reconciliation = await _api("billing-reconciler", "getReconciliation").asyncio(
        client=client["billing-reconciler"], invoice_id=receipt.parsed.invoice.id
    )
    sums = reconciliation.sums_by_class.to_dict()
    assert (sums["consumption_error"], sums["unapplied_credit"]) == ("280.00", "4414.08")
    assert (reconciliation.expected_total, reconciliation.invoiced_total) == (
        "87545.92",
        "92240.00",
    )


async def _create_and_activate(client: dict[str, Any]) -> Any:
    document = _models("contract-registry").ContractCreate.from_dict(examples.contract_document())
    created = await _api("contract-registry", "createContract").asyncio_detailed(
        client=client["contract-registry"], body=document
    )
    assert created.status_code == 201, created.content
    cid = created.parsed.id
    activated = await _api("contract-registry", "activateContract").asyncio_detailed(
        client=client["contract-registry"], contract_id=cid
    )
    assert activated.status_code == 200, activated.content
    for service in ("sla-monitor", "billing-reconciler"):

        async def known(service: str = service) -> bool:
            terms = await _api(service, "getContractTerms").asyncio_detailed(
                client=client[service], contract_id=cid
            )
            return terms.status_code == 200

        await wait_until(known, timeout=60, message=f"terms at {service}")
    return cid


async def _post_consumption_and_outage(client: dict[str, Any], cid: Any) -> None:
    batch = _models("billing-reconciler").ConsumptionBatch.from_dict(
        {"items": examples.consumption_items(cid)}
    )
    consumption = await _api("billing-reconciler", "postConsumption").asyncio_detailed(
        client=client["billing-reconciler"], body=batch
    )
    assert consumption.status_code == 202, consumption.content
    registry = await _api("contract-registry", "getContract").asyncio(
        client=client["contract-registry"], contract_id=cid
    )
    service_key = registry.terms.sla_definitions[0].service_key
    outage = {"service_key": service_key, **examples.OUTAGE, "source_id": "INC-1"}
    telemetry = _models("sla-monitor").TelemetryBatch.from_dict(
        {"tenant_id": "acme-bank", "items": [outage]}
    )
    posted = await _api("sla-monitor", "postTelemetry").asyncio_detailed(
        client=client["sla-monitor"], body=telemetry
    )
    assert posted.status_code == 202, posted.content
