"""contract-registry on real PostgreSQL and Kafka: activation publishes the full terms;
the health read model follows the other services' events."""

import asyncio
import uuid
from decimal import Decimal

from contract_registry.main import create_app
from contract_registry.settings import Settings
from crm_events.schemas.contracts import ContractTerms
from crm_testing import examples
from crm_testing.apps import running_app, settings_for
from crm_testing.kafka import EventCollector, make_event, publish_envelope, wait_until


async def test_activation_publishes_the_full_terms(database_url: str, kafka_bootstrap: str) -> None:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    async with (
        running_app(create_app(settings)) as (_, client),
        EventCollector(kafka_bootstrap, ["contracts.v1"]) as collector,
    ):
        created = await client.post("/contracts", json=examples.contract_document())
        assert created.status_code == 201, created.text
        contract = created.json()
        assert (contract["status"], contract["current_version"]) == ("draft", 1)

        activated = await client.post(f"/contracts/{contract['id']}/activate")
        assert activated.status_code == 200, activated.text
        assert activated.json()["status"] == "active"
        assert (await client.post(f"/contracts/{contract['id']}/activate")).status_code == 409

        [event] = await collector.wait_for(lambda e: e.subject == contract["id"])
    assert event.type == "contract.activated"
    assert event.tenant == "acme-bank"
    terms = ContractTerms.model_validate(event.data["terms"])
    assert terms.version == 1
    assert [u.code for u in terms.price_book] == ["SRV-WIN", "TCK-L1"]
    assert terms.sla_definitions[0].allocation_pct == Decimal(40)
    assert terms.credit_terms.at_risk_pct == Decimal(12)


async def test_activation_lists_every_problem_with_its_path(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    doc = examples.contract_document()
    doc["currency"] = "ZZZ"
    doc["timezone"] = "Mars/Olympus"
    doc["price_book"][0]["band_rates"] = [
        {"from_pct": "80", "to_pct": "110"},
        {"from_pct": "100", "to_pct": "120"},
    ]
    doc["sla_definitions"][0]["minimum_level"] = "99.99"
    doc["sla_definitions"][0]["allocation_pct"] = "250"
    doc["sla_definitions"].append(
        {
            "code": "LAT-API",
            "metric_kind": "measurement",
            "service_key": "",
            "direction": "lower_is_better",
            "expected_level": "300",
            "minimum_level": "500",
            "statistic": "percentile",
            "allocation_pct": "0",
        }
    )
    doc["obligation_definitions"] = [
        {"code": "MSR", "title": "Monthly report", "owner_role": "sdm", "rrule": "MONTHLY"}
    ]
    async with running_app(create_app(settings)) as (_, client):
        contract = (await client.post("/contracts", json=doc)).json()
        resp = await client.post(f"/contracts/{contract['id']}/activate")
        assert resp.status_code == 422
        body = resp.json()["error"]
        assert body["code"] == "activation_rejected"
        problems = {d["loc"]: d["message"] for d in body["details"]}
        assert problems == {
            "currency": "'ZZZ' is not an ISO 4217 currency code",
            "timezone": "'Mars/Olympus' is not an IANA time zone (e.g. America/New_York)",
            "price_book[0].band_rates[1]": "band 100–120% overlaps band 80–110%",
            "sla_definitions[0].minimum_level": "minimum 99.99 is better than expected 99.9 "
            "(higher is better, so the minimum must be at or below the expected level)",
            "sla_definitions[1].service_key": "an SLA needs the telemetry service key it reads",
            "sla_definitions[1].percentile": "statistic=percentile needs the percentile (e.g. 95)",
            "sla_definitions": "allocations total 250%, beyond the pool of 200%",
            "obligation_definitions[0].rrule": "an RRULE needs FREQ= (RFC 5545), e.g. "
            "FREQ=MONTHLY;BYMONTHDAY=1",
        }
        assert body["message"].startswith("the contract cannot be activated: 8 problem(s): ")
        assert (await client.get(f"/contracts/{contract['id']}")).json()["status"] == "draft"
        other_tenant = await client.get(
            f"/contracts/{contract['id']}", headers={"X-Tenant-Id": "someone-else"}
        )
        assert other_tenant.status_code == 404

        # Bad input on the way in names the field too (schema errors, before any rule).
        floats = examples.contract_document()
        floats["price_book"][0]["unit_price"] = 150.0
        refused = await client.post("/contracts", json=floats)
        assert refused.status_code == 422
        assert [d["loc"] for d in refused.json()["error"]["details"]] == [
            "body.price_book[0].unit_price"
        ]


async def test_health_follows_sla_and_billing_events(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    async with running_app(create_app(settings)) as (_, client):
        contract = (await client.post("/contracts", json=examples.contract_document())).json()
        cid = uuid.UUID(contract["id"])
        closed = make_event("sla.period_closed", subject=str(cid), data=examples.period_closed(cid))
        credit = make_event(
            "billing.credit_calculated", subject=str(cid), data=examples.credit_calculated(cid)
        )
        for event in (closed, credit, credit):
            await publish_envelope(kafka_bootstrap, event)

        async def health() -> list[dict[str, object]] | None:
            rows = (await client.get(f"/contracts/{cid}/health")).json()["items"]
            return rows if rows and rows[0]["credits_total"] == "4414.08" else None

        rows = await wait_until(health, message="health updated")
    assert isinstance(rows, list)
    [march] = rows
    assert (march["period_label"], march["slas_failed"], march["slas_met"]) == ("2026-03", 1, 0)
    assert (march["credits_total"], march["monthly_charges"]) == ("4414.08", "91960.00")
    assert march["credits_pct_of_charges"] == "4.8000"  # 4,414.08 / 91,960.00
    # sla_outcomes 0 (weight 35) and service_credits 100 × (1 − 4,414.08 / 11,035.20) = 60
    # (weight 15): (0 + 900) / 50 = 18; the redelivered credit changed nothing.
    assert march["score"] == "18.00"


async def test_concurrent_creations_of_one_reference_give_one_contract_and_a_409(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    doc = examples.contract_document()
    async with running_app(create_app(settings)) as (_, client):
        responses = await asyncio.gather(*(client.post("/contracts", json=doc) for _ in range(4)))
        assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
        conflict = next(r for r in responses if r.status_code == 409)
        assert conflict.json()["error"]["details"] == [
            {"loc": "body.reference", "message": "already used"}
        ]
        listed = (await client.get("/contracts", params={"q": doc["reference"]})).json()
        assert len(listed["items"]) == 1

        # A retried POST with the same Idempotency-Key answers the first result.
        other = examples.contract_document()
        headers = {"Idempotency-Key": f"create-{other['reference']}"}
        first = await client.post("/contracts", json=other, headers=headers)
        retry = await client.post("/contracts", json=other, headers=headers)
        assert (first.status_code, retry.status_code) == (201, 201)
        assert retry.json()["id"] == first.json()["id"]
        assert retry.headers["Idempotent-Replayed"] == "true"
