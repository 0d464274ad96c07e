"""obligation-tracker on real PostgreSQL and Kafka: one breach, one alert, one obligation."""

import uuid
from datetime import UTC, date, datetime

from crm_events.schemas.contracts import ContractActivated
from crm_testing import examples
from crm_testing.apps import running_app, settings_for
from crm_testing.kafka import EventCollector, make_event, publish_envelope, wait_until
from obligation_tracker.main import create_app
from obligation_tracker.settings import Settings


async def test_failed_period_opens_one_root_cause_and_raises_one_alert(
    database_url: str,
    kafka_bootstrap: str,
) -> None:
    contract_id = uuid.uuid4()
    subject = str(contract_id)
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    async with (
        running_app(create_app(settings)) as (_, client),
        EventCollector(kafka_bootstrap, ["obligations.v1", "alerts.v1"]) as collector,
    ):
        await publish_envelope(
            kafka_bootstrap,
            make_event(
                "contract.activated",
                subject=subject,
                data=ContractActivated(
                    terms=examples.contract_terms(contract_id=contract_id),
                    activated_at=datetime.now(UTC),
                ),
            ),
        )
        closed = make_event(
            "sla.period_closed",
            subject=subject,
            # Closed on Friday 2026-04-03 in New York.
            data=examples.period_closed(
                contract_id, closed_at=datetime(2026, 4, 3, 15, tzinfo=UTC)
            ),
        )
        credit = make_event(
            "billing.credit_calculated",
            subject=subject,
            data=examples.credit_calculated(contract_id),
        )
        for event in (closed, closed, credit, credit):
            await publish_envelope(kafka_bootstrap, event)

        async def both_seen() -> bool:
            obligations = (await client.get("/obligations", params={"contract_id": subject})).json()
            alerts = (await client.get("/alerts", params={"contract_id": subject})).json()
            return bool(obligations) and bool(alerts)

        await wait_until(both_seen, message="obligation and alert")
        await collector.wait_for(lambda e: e.subject == subject and e.type == "alert.raised")
        obligations = (await client.get("/obligations", params={"contract_id": subject})).json()
        alerts = (await client.get("/alerts", params={"contract_id": subject})).json()

    assert len(obligations) == 1 and len(alerts) == 1
    assert obligations[0]["kind"] == "root_cause_report"
    # Closed Friday 2026-04-03; ten business days later is Friday 2026-04-17.
    assert obligations[0]["due_date"] == date(2026, 4, 17).isoformat()
    assert alerts[0]["details"]["credit_amount"] == "4414.08"
    types = sorted(e.type for e in collector.events if e.subject == subject)
    assert types == ["alert.raised", "obligation.created"]
