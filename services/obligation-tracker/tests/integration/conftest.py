"""obligation-tracker in-process on real PostgreSQL and Kafka, with a clock the test moves.

The periodic jobs are off: a test runs them when it wants with `tracker.run(job)`, so the
clock and the job are both in its hands.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

import crm_testing.examples as examples
from crm_events.schemas.contracts import ContractActivated, ContractAmended, ContractTerms
from crm_platform.clock import FixedClock
from crm_platform.scheduler import Job, run_once
from crm_testing.apps import running_app, settings_for
from crm_testing.kafka import make_event, publish_envelope, wait_until
from obligation_tracker.main import create_app
from obligation_tracker.settings import Settings

MONTHLY_REPORT = {
    "code": "SVC-REPORT",
    "title": "Monthly service report",
    "clause": "Schedule 5 §3",
    "owner_role": "service_delivery_manager",
    "rrule": "FREQ=MONTHLY;BYMONTHDAY=1",
    "due_offset_business_days": 4,  # the 5th business day of the month
    "evidence_required": True,
    "severity": "high",
}


def contract_terms(
    contract_id: uuid.UUID, *, version: int = 1, effective_from: str = "2026-01-01", **changes: Any
) -> ContractTerms:
    doc = examples.contract_terms(contract_id=contract_id, version=version).model_dump(mode="json")
    doc.update(
        {
            "effective_from": effective_from,
            "holidays": ["2026-12-25", "2027-01-01"],
            "obligation_definitions": [MONTHLY_REPORT],
        }
    )
    doc.update(changes)
    return ContractTerms.model_validate(doc)


@dataclass
class Tracker:
    app: FastAPI
    client: httpx.AsyncClient
    clock: FixedClock
    bootstrap: str

    async def publish(self, event_type: str, data: BaseModel, *, tenant: str = "acme-bank") -> str:
        contract_id = getattr(data, "contract_id", None) or data.terms.contract_id  # type: ignore[attr-defined]
        subject = str(contract_id)
        envelope = make_event(event_type, subject=subject, data=data, tenant=tenant)
        await publish_envelope(self.bootstrap, envelope)
        return envelope.id

    async def activate(self, terms: ContractTerms) -> None:
        await self.publish(
            "contract.activated",
            ContractActivated(terms=terms, activated_at=self.clock.now()),
            tenant=terms.tenant_id,
        )
        await self.wait_terms(terms.contract_id, terms.version)

    async def amend(self, terms: ContractTerms) -> None:
        await self.publish(
            "contract.amended",
            ContractAmended(
                terms=terms, previous_version=terms.version - 1, amended_at=self.clock.now()
            ),
            tenant=terms.tenant_id,
        )
        await self.wait_terms(terms.contract_id, terms.version)

    async def wait_terms(self, contract_id: uuid.UUID, version: int) -> None:
        async def known() -> bool:
            resp = await self.client.get(f"/contracts/{contract_id}/terms")
            return resp.status_code == 200 and resp.json()["version"] == version

        await wait_until(known, message=f"terms v{version} of {contract_id}")

    async def obligations(self, contract_id: uuid.UUID, **params: Any) -> list[dict[str, Any]]:
        resp = await self.client.get(f"/contracts/{contract_id}/obligations", params=params)
        assert resp.status_code == 200, resp.text
        result: list[dict[str, Any]] = resp.json()["items"]
        return result

    async def run(self, name: str, job: Job) -> None:
        assert await run_once(self.app, name, job)


@pytest.fixture(autouse=True)
def _hermetic(outside: Any) -> Any:
    """Every test here under `outside` (tests/conftest.py): the webhook URLs tests register
    (https://erp.example.com/...) resolve through the stub, not real DNS, and nothing
    connects outside loopback."""
    return outside


@pytest.fixture
def clock() -> FixedClock:
    # Monday 7 December 2026, 22:00 in New York — already the 8th in UTC.
    return FixedClock(datetime(2026, 12, 8, 3, 0, tzinfo=UTC))


@pytest.fixture
def tracker_settings(database_url: str, kafka_bootstrap: str) -> Settings:
    settings: Settings = settings_for(
        Settings,
        database_url=database_url,
        bootstrap=kafka_bootstrap,
        jobs_enabled=False,
        horizon_months=3,
        webhook_backoff_initial_seconds=0.05,
        webhook_backoff_max_seconds=0.2,
        webhook_poll_interval_seconds=0.1,
        webhook_timeout_seconds=5,
    )
    return settings


@pytest.fixture
async def tracker(
    tracker_settings: Settings, kafka_bootstrap: str, clock: FixedClock
) -> AsyncIterator[Tracker]:
    async with running_app(create_app(tracker_settings, clock=clock)) as (app, client):
        yield Tracker(app=app, client=client, clock=clock, bootstrap=kafka_bootstrap)


@pytest.fixture
def make_terms() -> Any:
    """contract_terms(contract_id, version=1, effective_from=..., **changes)"""
    return contract_terms
