"""A running sla-monitor with a fixed clock and one contract activated over Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from crm_events.schemas.contracts import ContractActivated, ContractTerms, SlaDefinition
from crm_platform.clock import FixedClock
from crm_testing import examples
from crm_testing.apps import running_app, settings_for
from crm_testing.kafka import EventCollector, make_event, publish_envelope, wait_until
from sla_monitor.main import create_app
from sla_monitor.settings import Settings


def terms_with_every_kind(contract_id: uuid.UUID, **changes: Any) -> ContractTerms:
    """The worked example's contract plus an incident and a measurement SLA on the same
    service key."""
    terms = examples.contract_terms(contract_id=contract_id)
    avail = terms.sla_definitions[0]
    extra = [
        SlaDefinition.model_validate(
            {
                "code": "P1-RES",
                "metric_kind": "incident_resolution",
                "service_key": avail.service_key,
                "expected_level": "95",
                "minimum_level": "90",
                "priority": "P1",
                "target_minutes": 240,
                "allocation_pct": "20",
            }
        ),
        SlaDefinition.model_validate(
            {
                "code": "LAT-P95",
                "metric_kind": "measurement",
                "service_key": avail.service_key,
                "direction": "lower_is_better",
                "expected_level": "300",
                "minimum_level": "500",
                "statistic": "percentile",
                "percentile": "95",
                "unit": "ms",
                "allocation_pct": "10",
            }
        ),
    ]
    doc = {**terms.model_dump(), "sla_definitions": [avail, *extra], **changes}
    return ContractTerms.model_validate(doc)


def sla_with(sla: SlaDefinition, **changes: Any) -> SlaDefinition:
    return SlaDefinition.model_validate({**sla.model_dump(), **changes})


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    clock: FixedClock
    kafka: EventCollector
    contract_id: uuid.UUID
    terms: ContractTerms

    @property
    def service_key(self) -> str:
        return self.terms.sla_definitions[0].service_key

    def url(self, sla: str, period: str = examples.PERIOD, suffix: str = "") -> str:
        return f"/contracts/{self.contract_id}/slas/{sla}/periods/{period}{suffix}"

    async def post(self, *items: dict[str, Any], **headers: str) -> httpx.Response:
        batch = {
            "tenant_id": "acme-bank",
            "items": [{"service_key": self.service_key, **i} for i in items],
        }
        return await self.client.post("/telemetry", json=batch, headers=headers)

    async def wait_for(
        self, event_type: str, count: int = 1, *, contract_id: uuid.UUID | None = None
    ) -> list[Any]:
        """Events of this test's contract (other tests share the topic namespace)."""
        subject = str(contract_id or self.contract_id)
        return await self.kafka.wait_for(
            lambda e: e.type == event_type and e.subject == subject, count=count
        )

    def events(self, event_type: str, *, contract_id: uuid.UUID | None = None) -> list[Any]:
        subject = str(contract_id or self.contract_id)
        return [e for e in self.kafka.events if e.type == event_type and e.subject == subject]

    async def activate(self, kafka_bootstrap: str, **changes: Any) -> uuid.UUID:
        """Another contract like the harness's (with `changes`), activated over Kafka and
        known to the service once this returns."""
        contract_id = uuid.uuid4()
        terms = terms_with_every_kind(contract_id, **changes)
        await publish_envelope(
            kafka_bootstrap,
            make_event(
                "contract.activated",
                subject=str(contract_id),
                data=ContractActivated(terms=terms, activated_at=self.clock.now()),
                tenant=terms.tenant_id,
            ),
        )

        async def known() -> bool:
            r = await self.client.get(f"/contracts/{contract_id}/terms")
            return r.status_code == 200

        await wait_until(known, message="another contract projected")
        return contract_id


@pytest.fixture
async def harness(database_url: str, kafka_bootstrap: str) -> AsyncIterator[Harness]:
    contract_id = uuid.uuid4()
    terms = terms_with_every_kind(contract_id)
    # The contract reaches the service on 2 March 2026, while March is open.
    clock = FixedClock(datetime(2026, 3, 2, 12, tzinfo=UTC))
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    async with (
        running_app(create_app(settings, clock=clock)) as (app, client),
        EventCollector(kafka_bootstrap, ["sla.v1"]) as kafka,
    ):
        await publish_envelope(
            kafka_bootstrap,
            make_event(
                "contract.activated",
                subject=str(contract_id),
                data=ContractActivated(terms=terms, activated_at=clock.now()),
            ),
        )

        async def known() -> bool:
            return (await client.get(f"/contracts/{contract_id}/terms")).status_code == 200

        await wait_until(known, message="terms projected from contracts.v1")
        yield Harness(app, client, clock, kafka, contract_id, terms)
