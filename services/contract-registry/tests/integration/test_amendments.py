"""Amendments on real PostgreSQL and Kafka: each activated version is published with its
full terms, earlier versions stay readable, and as_of returns the terms in force."""

import copy
from datetime import UTC, datetime
from typing import Any

import httpx

from contract_registry.main import create_app
from contract_registry.settings import Settings
from crm_events.schemas.contracts import ContractTerms
from crm_platform.clock import FixedClock
from crm_testing import examples
from crm_testing.apps import running_app, settings_for
from crm_testing.kafka import EventCollector

TODAY = datetime(2026, 5, 10, 14, tzinfo=UTC)


def _app(database_url: str, kafka_bootstrap: str) -> Any:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    return create_app(settings, clock=FixedClock(TODAY))


def _terms(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    terms = copy.deepcopy({k: v for k, v in doc.items() if k != "tenant_id"})
    terms.update(changes)
    return terms


async def _active_contract(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    doc = examples.contract_document()
    cid = (await client.post("/contracts", json=doc)).json()["id"]
    assert (await client.post(f"/contracts/{cid}/activate")).status_code == 200
    return cid, doc


async def test_amended_terms_reach_kafka_and_as_of_reads_each_version(
    database_url: str, kafka_bootstrap: str
) -> None:
    async with (
        running_app(_app(database_url, kafka_bootstrap)) as (_, client),
        EventCollector(kafka_bootstrap, ["contracts.v1"]) as kafka,
    ):
        cid, doc = await _active_contract(client)

        # Version 2, drafted first: SRV-WIN baseline up to 240 servers from April.
        v2_terms = _terms(doc)
        v2_terms["price_book"][0]["baseline_volume"] = "240"
        drafted = await client.post(
            f"/contracts/{cid}/amendments",
            json={"effective_from": "2026-04-01", "note": "CR-12", "terms": v2_terms},
        )
        assert drafted.status_code == 201, drafted.text
        assert (drafted.json()["version"], drafted.json()["state"]) == (2, "draft")
        assert (await client.get(f"/contracts/{cid}")).json()["draft_version"] == 2
        edited = await client.put(
            f"/contracts/{cid}/amendments/2",
            json={
                "effective_from": "2026-04-01",
                "note": "CR-12: 40 more servers",
                "terms": v2_terms,
            },
        )
        assert edited.json()["note"] == "CR-12: 40 more servers"
        activated = await client.post(f"/contracts/{cid}/amendments/2/activate")
        assert activated.status_code == 200, activated.text
        assert activated.json()["state"] == "activated"

        # Version 3 in one call: a stricter availability level from July.
        v3_terms = _terms(v2_terms)
        v3_terms["sla_definitions"][0]["expected_level"] = "99.95"
        v3 = await client.post(
            f"/contracts/{cid}/amendments",
            json={
                "effective_from": "2026-07-01",
                "note": "CR-15",
                "terms": v3_terms,
                "activate": True,
            },
        )
        assert v3.status_code == 201, v3.text
        assert (v3.json()["version"], v3.json()["state"]) == (3, "activated")

        events = await kafka.wait_for(lambda e: e.subject == cid, count=3)

    assert [e.type for e in events] == [
        "contract.activated",
        "contract.amended",
        "contract.amended",
    ]
    v2_event, v3_event = events[1], events[2]
    terms2 = ContractTerms.model_validate(v2_event.data["terms"])
    assert (terms2.version, str(terms2.effective_from)) == (2, "2026-04-01")
    assert str(terms2.price_book[0].baseline_volume) == "240"
    assert v2_event.data["previous_version"] == 1
    terms3 = ContractTerms.model_validate(v3_event.data["terms"])
    assert (terms3.version, str(terms3.effective_from)) == (3, "2026-07-01")
    assert str(terms3.sla_definitions[0].expected_level) == "99.95"
    assert str(terms3.price_book[0].baseline_volume) == "240"  # carried over from v2
    assert v3_event.data["previous_version"] == 2
    assert v3_event.tenant == "acme-bank"

    async with running_app(_app(database_url, kafka_bootstrap)) as (_, client):

        async def in_force(day: str) -> tuple[int, str, str]:
            body = (await client.get(f"/contracts/{cid}", params={"as_of": day})).json()
            return (
                body["version"],
                body["terms"]["price_book"][0]["baseline_volume"],
                body["terms"]["sla_definitions"][0]["expected_level"],
            )

        assert await in_force("2026-01-01") == (1, "200", "99.9")
        assert await in_force("2026-03-31") == (1, "200", "99.9")
        assert await in_force("2026-04-01") == (2, "240", "99.9")
        assert await in_force("2026-06-30") == (2, "240", "99.9")
        assert await in_force("2026-07-01") == (3, "240", "99.95")
        assert await in_force("2028-12-31") == (3, "240", "99.95")
        before = await client.get(f"/contracts/{cid}", params={"as_of": "2025-12-31"})
        assert before.status_code == 404
        assert before.json()["error"]["code"] == "not_in_force"

        today = (await client.get(f"/contracts/{cid}")).json()  # 10 May 2026
        assert (today["version"], today["current_version"], today["draft_version"]) == (2, 3, None)

        versions = (await client.get(f"/contracts/{cid}/versions")).json()["items"]
        assert [(v["version"], v["state"], v["effective_from"], v["note"]) for v in versions] == [
            (1, "activated", "2026-01-01", ""),
            (2, "activated", "2026-04-01", "CR-12: 40 more servers"),
            (3, "activated", "2026-07-01", "CR-15"),
        ]
        original = (await client.get(f"/contracts/{cid}/versions/1")).json()
        assert original["terms"]["price_book"][0]["baseline_volume"] == "200"
        assert (await client.get(f"/contracts/{cid}/versions/4")).status_code == 404


async def test_drafts_are_editable_until_activation_and_amendments_follow_the_rules(
    database_url: str, kafka_bootstrap: str
) -> None:
    async with running_app(_app(database_url, kafka_bootstrap)) as (_, client):
        doc = examples.contract_document()
        cid = (await client.post("/contracts", json=doc)).json()["id"]
        terms = _terms(doc, customer="Acme Bank plc")

        # A draft is replaced whole; a draft is not amended.
        edited = await client.put(f"/contracts/{cid}", json=terms)
        assert edited.status_code == 200, edited.text
        assert (edited.json()["customer"], edited.json()["status"]) == ("Acme Bank plc", "draft")
        early = await client.post(
            f"/contracts/{cid}/amendments", json={"effective_from": "2026-04-01", "terms": terms}
        )
        assert (early.status_code, early.json()["error"]["code"]) == (409, "not_active")

        assert (await client.post(f"/contracts/{cid}/activate")).status_code == 200
        refused = await client.put(f"/contracts/{cid}", json=terms)
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "not_a_draft")

        # Every problem of an amendment at once, with its path; nothing is created.
        broken = _terms(terms, currency="EUR")
        broken["sla_definitions"][0]["minimum_level"] = "99.99"
        rejected = await client.post(
            f"/contracts/{cid}/amendments",
            json={"effective_from": "2025-06-01", "terms": broken, "activate": True},
        )
        assert rejected.status_code == 422
        error = rejected.json()["error"]
        assert error["code"] == "activation_rejected"
        assert [d["loc"] for d in error["details"]] == [
            "sla_definitions[0].minimum_level",
            "currency",
            "effective_from",
        ]
        assert len((await client.get(f"/contracts/{cid}/versions")).json()["items"]) == 1

        # One draft amendment at a time; a discarded one stays in the history.
        first = await client.post(
            f"/contracts/{cid}/amendments", json={"effective_from": "2026-04-01", "terms": terms}
        )
        assert first.status_code == 201
        second = await client.post(
            f"/contracts/{cid}/amendments", json={"effective_from": "2026-05-01", "terms": terms}
        )
        assert (second.status_code, second.json()["error"]["code"]) == (409, "amendment_pending")
        discarded = await client.delete(f"/contracts/{cid}/amendments/2")
        assert discarded.json()["state"] == "discarded"
        again = await client.post(f"/contracts/{cid}/amendments/2/activate")
        assert (again.status_code, again.json()["error"]["code"]) == (409, "not_a_draft")
        third = await client.post(
            f"/contracts/{cid}/amendments",
            json={"effective_from": "2026-05-01", "terms": terms, "activate": True},
        )
        assert (third.status_code, third.json()["version"]) == (201, 3)
