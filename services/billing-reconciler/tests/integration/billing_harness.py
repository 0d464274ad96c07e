"""billing-reconciler in-process on real PostgreSQL and Kafka, driven the way its users do:
contract terms and SLA outcomes arrive on Kafka, the ERP posts over HTTP, and what the
service publishes is read back from billing.v1."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from billing_reconciler.main import create_app
from billing_reconciler.settings import Settings
from crm_events.envelope import Envelope
from crm_events.schemas.contracts import (
    ContractActivated,
    ContractAmended,
    ContractTerms,
    MetricKind,
)
from crm_events.schemas.sla import (
    AvailabilityFigures,
    Outcome,
    Period,
    PreviousFigures,
    SlaPeriodClosed,
    SlaPeriodRestated,
)
from crm_platform import periods
from crm_testing import examples
from crm_testing.apps import running_app, settings_for
from crm_testing.kafka import EventCollector, make_event, publish_envelope, wait_until


def sla_closed(
    contract_id: uuid.UUID,
    period: str,
    outcome: str,
    *,
    sla_code: str = "AVAIL-CORE",
    attainment: str | None = None,
) -> SlaPeriodClosed:
    start, end = periods.bounds(period, "America/New_York")
    level = attainment or {"met": "99.95", "below_expected": "99.7", "failed": "99.4609"}.get(
        outcome, "0"
    )
    return SlaPeriodClosed(
        contract_id=contract_id,
        contract_version=1,
        sla_code=sla_code,
        metric_kind=MetricKind.AVAILABILITY,
        period=Period(label=period, start=start, end=end),
        timezone="America/New_York",
        attainment=None if outcome == "no_data" else Decimal(level),
        expected_level=Decimal("99.9"),
        minimum_level=Decimal("99.5"),
        outcome=Outcome(outcome),
        figures=AvailabilityFigures(
            period_minutes=Decimal(44580), excluded_minutes=Decimal(60), downtime_minutes=Decimal(0)
        ),
        explanation=f"{sla_code} {period}: {outcome}",
        closed_at=datetime.now(UTC),
    )


def sla_restated(
    contract_id: uuid.UUID,
    period: str,
    outcome: str,
    *,
    restatement: int,
    previous: str,
    attainment: str | None = None,
) -> SlaPeriodRestated:
    base = sla_closed(contract_id, period, outcome, attainment=attainment)
    return SlaPeriodRestated(
        **base.model_dump(),
        restatement=restatement,
        previous=PreviousFigures(attainment=None, outcome=Outcome(previous)),
        reason="late telemetry",
    )


@dataclass
class Billing:
    """One running billing-reconciler and the billing.v1 events it publishes."""

    client: httpx.AsyncClient
    events: EventCollector
    bootstrap: str
    contract_id: uuid.UUID
    app: FastAPI  # to call it as ASGI directly (httpx's ASGITransport buffers a response)

    @property
    def subject(self) -> str:
        return str(self.contract_id)

    async def activate(self, terms: ContractTerms) -> None:
        await publish_envelope(
            self.bootstrap,
            make_event(
                "contract.activated",
                subject=str(terms.contract_id),
                data=ContractActivated(terms=terms, activated_at=datetime.now(UTC)),
            ),
        )

        async def known() -> bool:
            r = await self.client.get(f"/contracts/{terms.contract_id}/terms")
            return r.status_code == 200

        await wait_until(known, timeout=60, message="terms projected")

    async def amend(self, terms: ContractTerms) -> Envelope:
        event = make_event(
            "contract.amended",
            subject=str(terms.contract_id),
            data=ContractAmended(
                terms=terms, previous_version=terms.version - 1, amended_at=datetime.now(UTC)
            ),
        )
        await publish_envelope(self.bootstrap, event)
        return event

    async def publish(self, event_type: str, data: Any) -> Envelope:
        event = make_event(event_type, subject=self.subject, data=data)
        await publish_envelope(self.bootstrap, event)
        return event

    async def close(self, period: str, outcome: str, **kw: Any) -> Envelope:
        return await self.publish(
            "sla.period_closed", sla_closed(self.contract_id, period, outcome, **kw)
        )

    async def consume(self, items: list[dict[str, Any]], **headers: str) -> httpx.Response:
        return await self.client.post("/consumption", json={"items": items}, headers=headers)

    async def consume_csv(self, text: str) -> httpx.Response:
        return await self.client.post(
            "/consumption/csv", content=text, headers={"content-type": "text/csv"}
        )

    def of(
        self, event_type: str, where: Callable[[Envelope], bool] = lambda e: True
    ) -> list[Envelope]:
        return [
            e
            for e in self.events.events
            if e.type == event_type and e.subject == self.subject and where(e)
        ]

    async def wait(
        self,
        event_type: str,
        where: Callable[[Envelope], bool] = lambda e: True,
        *,
        count: int = 1,
        timeout: float = 60,
    ) -> list[Envelope]:
        return await self.events.wait_for(
            lambda e: e.type == event_type and e.subject == self.subject and where(e),
            count=count,
            timeout=timeout,
        )

    async def settle(self, seconds: float = 1.5) -> None:
        """Give the relay time to publish anything still committed (before asserting that
        nothing more was published)."""
        await asyncio.sleep(seconds)


def terms_with(contract_id: uuid.UUID, **changes: Any) -> ContractTerms:
    """The worked example's contract with some terms changed (model fields, by name)."""
    terms = examples.contract_terms(contract_id=contract_id)
    return ContractTerms.model_validate({**terms.model_dump(mode="json"), **changes})


@pytest.fixture
async def billing(database_url: str, kafka_bootstrap: str) -> AsyncIterator[Billing]:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    async with (
        running_app(create_app(settings)) as (app, client),
        EventCollector(kafka_bootstrap, ["billing.v1"]) as collector,
    ):
        yield Billing(client, collector, kafka_bootstrap, uuid.uuid4(), app)
