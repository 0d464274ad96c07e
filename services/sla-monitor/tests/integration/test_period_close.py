"""sla-monitor on real PostgreSQL and Kafka: terms arrive by event, telemetry by HTTP, and
the period close publishes the attainment."""

import uuid
from datetime import UTC, datetime

from crm_events.schemas.contracts import ContractActivated
from crm_platform.clock import FixedClock
from crm_testing import examples
from crm_testing.apps import running_app, settings_for
from crm_testing.kafka import EventCollector, make_event, publish_envelope, wait_until
from sla_monitor.main import create_app
from sla_monitor.settings import Settings


async def test_failed_period_is_closed_once_and_published(
    database_url: str, kafka_bootstrap: str
) -> None:
    contract_id = uuid.uuid4()
    terms = examples.contract_terms(contract_id=contract_id)
    service_key = terms.sla_definitions[0].service_key
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    clock = FixedClock(examples.march_close_time())
    async with (
        running_app(create_app(settings, clock=clock)) as (_, client),
        EventCollector(kafka_bootstrap, ["sla.v1"]) as collector,
    ):
        await publish_envelope(
            kafka_bootstrap,
            make_event(
                "contract.activated",
                subject=str(contract_id),
                data=ContractActivated(terms=terms, activated_at=datetime.now(UTC)),
            ),
        )

        async def terms_known() -> bool:
            return (await client.get(f"/contracts/{contract_id}/terms")).status_code == 200

        await wait_until(terms_known, message="terms projected from contracts.v1")

        batch = {
            "tenant_id": "acme-bank",
            "items": [{"service_key": service_key, **examples.OUTAGE}],
        }
        first = await client.post("/telemetry", json=batch, headers={"Idempotency-Key": "k-1"})
        assert (first.status_code, first.json()["accepted"], first.json()["duplicates"]) == (
            202,
            1,
            0,
        )
        again = await client.post("/telemetry", json=batch)
        assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 1)

        url = f"/contracts/{contract_id}/slas/AVAIL-CORE/periods/{examples.PERIOD}"
        live = (await client.get(url)).json()
        assert (live["status"], live["attainment"], live["outcome"]) == (
            "open",
            "99.4609",
            "failed",
        )

        closed = await client.post(url + "/close")
        assert closed.status_code == 200, closed.text
        assert closed.json()["figures"] == {
            "period_minutes": "44580",
            "excluded_minutes": "60",
            "downtime_minutes": "240",
        }
        assert (await client.post(url + "/close")).status_code == 409

        [event] = await collector.wait_for(
            lambda e: e.type == "sla.period_closed" and e.subject == str(contract_id)
        )
        assert event.subject == str(contract_id)
        assert event.tenant == "acme-bank"
        assert event.data["attainment"] == "99.4609"
        assert event.data["outcome"] == "failed"
        assert event.data["closed_at"].startswith("2026-04-04T12:00:00")


async def test_unknown_contract_and_bad_period_are_clear_4xx(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    async with running_app(create_app(settings)) as (_, client):
        missing = await client.get(f"/contracts/{uuid.uuid4()}/slas/X/periods/2026-03")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        bad = await client.get(f"/contracts/{uuid.uuid4()}/slas/X/periods/2026-13")
        assert bad.status_code == 422
        assert bad.json()["error"]["details"][0]["loc"] == "path.period"
