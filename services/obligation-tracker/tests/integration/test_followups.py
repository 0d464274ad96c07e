"""obligation-tracker on real PostgreSQL and Kafka: one breach, one alert, one obligation."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from crm_events.schemas.billing import CreditCalculated, Explanation
from crm_events.schemas.contracts import ContractActivated
from crm_events.schemas.sla import Outcome, Period, SlaPeriodClosed
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
            data=SlaPeriodClosed(
                contract_id=contract_id,
                contract_version=1,
                sla_code="AVAIL-CORE",
                metric_kind="availability",
                period=Period(
                    label="2026-03",
                    start=datetime(2026, 3, 1, 5, tzinfo=UTC),
                    end=datetime(2026, 4, 1, 4, tzinfo=UTC),
                ),
                timezone="America/New_York",
                attainment=Decimal("99.4609"),
                expected_level=Decimal("99.9"),
                minimum_level=Decimal("99.5"),
                outcome=Outcome.FAILED,
                explanation="x",
                closed_at=datetime(2026, 4, 3, 15, tzinfo=UTC),
            ),
        )  # Friday in New York
        credit = make_event(
            "billing.credit_calculated",
            subject=subject,
            data=CreditCalculated(
                credit_id=uuid.uuid4(),
                contract_id=contract_id,
                sla_code="AVAIL-CORE",
                period_label="2026-03",
                currency="USD",
                monthly_charges=Decimal("91960.00"),
                at_risk_pct=Decimal(12),
                at_risk_amount=Decimal("11035.20"),
                allocation_pct=Decimal(40),
                credit_amount=Decimal("4414.08"),
                outcome="failed",
                explanation=Explanation(clause="c", contract_version=1, formula="f", inputs={}),
                calculated_at=datetime.now(UTC),
            ),
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
