"""billing-reconciler on real PostgreSQL and Kafka: a failed period becomes one credit."""

import uuid
from datetime import UTC, datetime

from billing_reconciler.main import create_app
from billing_reconciler.settings import Settings
from crm_events.schemas.contracts import ContractActivated
from crm_testing import examples
from crm_testing.apps import running_app, settings_for
from crm_testing.kafka import EventCollector, make_event, publish_envelope, wait_until


async def test_failed_period_earns_one_credit_even_when_closed_events_repeat(
    database_url: str,
    kafka_bootstrap: str,
) -> None:
    contract_id = uuid.uuid4()
    subject = str(contract_id)
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    async with (
        running_app(create_app(settings)) as (_, client),
        EventCollector(kafka_bootstrap, ["billing.v1"]) as collector,
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

        async def terms_known() -> bool:
            return (await client.get(f"/contracts/{contract_id}/terms")).status_code == 200

        await wait_until(terms_known, message="terms projected")
        items = [
            {
                "record_id": f"{subject}-{code}",
                "contract_id": subject,
                "resource_unit": code,
                "period_label": "2026-03",
                "quantity": qty,
            }
            for code, qty in examples.CONSUMPTION.items()
        ]
        posted = await client.post("/consumption", json={"items": items})
        assert posted.json() == {"accepted": 2, "duplicates": 0, "corrected": 0}

        charges = (await client.get(f"/contracts/{contract_id}/charges/2026-03")).json()
        assert charges["monthly_charges"] == "91960.00"
        assert charges["at_risk_amount"] == "11035.20"
        assert [(ln["kind"], ln["amount"]) for ln in charges["lines"] if ln["kind"] != "base"] == [
            ("arc", "1960.00")
        ]

        closed = make_event(
            "sla.period_closed", subject=subject, data=examples.period_closed(contract_id)
        )
        await publish_envelope(kafka_bootstrap, closed)
        await publish_envelope(kafka_bootstrap, closed)  # redelivered
        # A second, distinct close of the same period (e.g. an operator retry upstream).
        await publish_envelope(
            kafka_bootstrap,
            make_event(
                "sla.period_closed", subject=subject, data=examples.period_closed(contract_id)
            ),
        )

        [credit_event] = await collector.wait_for(
            lambda e: e.type == "billing.credit_calculated" and e.subject == subject
        )
        assert credit_event.data["credit_amount"] == "4414.08"
        assert credit_event.causationid == closed.id
        credits = (await client.get(f"/contracts/{contract_id}/credits")).json()["items"]
        assert [c["credit_amount"] for c in credits] == ["4414.08"]
        assert credits[0]["explanation"]["inputs"]["at_risk_amount"] == "11035.20"
        assert f"{subject}-SRV-WIN" in credits[0]["explanation"]["source_ids"]

    async with running_app(create_app(settings)) as (_, client):
        # Nothing more arrived later: still exactly one credit event.
        credits = (await client.get(f"/contracts/{contract_id}/credits")).json()["items"]
        assert len(credits) == 1
    assert (
        len(
            [
                e
                for e in collector.events
                if e.type == "billing.credit_calculated" and e.subject == subject
            ]
        )
        == 1
    )


async def test_consumption_for_an_unknown_contract_names_the_item(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    async with running_app(create_app(settings)) as (_, client):
        resp = await client.post(
            "/consumption",
            json={
                "items": [
                    {
                        "record_id": "r1",
                        "contract_id": str(uuid.uuid4()),
                        "resource_unit": "X",
                        "period_label": "2026-03",
                        "quantity": "1",
                    }
                ]
            },
        )
        assert resp.status_code == 422
        assert resp.json()["error"]["details"][0]["loc"] == "body.items[0].contract_id"
        floats = await client.post(
            "/consumption",
            json={
                "items": [
                    {
                        "record_id": "r1",
                        "contract_id": str(uuid.uuid4()),
                        "resource_unit": "X",
                        "period_label": "2026-03",
                        "quantity": 1.5,
                    }
                ]
            },
        )
        assert floats.status_code == 422
        assert "not floats" in floats.json()["error"]["message"]
