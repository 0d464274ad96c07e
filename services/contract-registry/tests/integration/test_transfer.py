"""A whole contract as one JSON document: export, import elsewhere, export again — the same
document but for the new id and the export time; the import replays the history on Kafka."""

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from contract_registry.main import create_app
from contract_registry.settings import Settings
from crm_platform.clock import FixedClock
from crm_testing import examples
from crm_testing.apps import running_app, settings_for
from crm_testing.infra import create_database, drop_database
from crm_testing.kafka import EventCollector

NOW = datetime(2026, 5, 10, 14, tzinfo=UTC)


@pytest.fixture
async def other_database(postgres_server_url: str) -> AsyncIterator[str]:
    url = await create_database(postgres_server_url, "t_registry_import")
    yield url
    await drop_database(postgres_server_url, url)


def _app(database_url: str, kafka_bootstrap: str, at: datetime = NOW) -> Any:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    return create_app(settings, clock=FixedClock(at))


def _rich_contract() -> dict[str, Any]:
    doc = copy.deepcopy(examples.contract_document())
    doc["holidays"] = ["2026-05-25", "2026-12-25"]
    doc["sla_definitions"][0]["clause"] = "Schedule 2 §1.1"
    doc["clauses"] = [
        {
            "ref": "Schedule 2 §1.1",
            "title": "Availability",
            "text": "Core banking shall be available 99.9% of each month.",
            "interpretation_notes": [
                {
                    "note": "Maintenance counts as excluded only when announced 5 days ahead.",
                    "agreed_by": ["J. Smith (Acme)", "A. Lee (Globex)"],
                    "agreed_on": "2026-02-10",
                }
            ],
        }
    ]
    doc["obligation_definitions"] = [
        {
            "code": "MSR",
            "title": "Monthly service report",
            "owner_role": "service_delivery_manager",
            "rrule": "FREQ=MONTHLY;BYMONTHDAY=1",
            "due_offset_business_days": 5,
            "evidence_required": True,
        }
    ]
    doc["rebate_tiers"] = [
        {"from_amount": "0", "to_amount": "1000000.00", "rebate_pct": "0"},
        {"from_amount": "1000000.00", "rebate_pct": "1.5", "retroactive": True},
    ]
    return doc


def _terms(doc: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy({k: v for k, v in doc.items() if k != "tenant_id"})


async def test_export_import_export_is_lossless_and_replays_the_history(
    database_url: str, other_database: str, kafka_bootstrap: str
) -> None:
    doc = _rich_contract()
    async with running_app(_app(database_url, kafka_bootstrap)) as (_, client):
        cid = (await client.post("/contracts", json=doc)).json()["id"]
        await client.post(f"/contracts/{cid}/activate")
        v2 = _terms(doc)
        v2["price_book"][0]["unit_price"] = "148.50"
        await client.post(
            f"/contracts/{cid}/amendments",
            json={"effective_from": "2026-04-01", "note": "CR-12", "terms": v2, "activate": True},
        )
        v3 = _terms(v2)
        v3["end_date"] = "2029-12-31"
        await client.post(
            f"/contracts/{cid}/amendments",
            json={"effective_from": "2026-09-01", "note": "Extension (draft)", "terms": v3},
        )
        exported = (await client.get(f"/contracts/{cid}/export")).json()

    assert exported["format"] == "contract-registry.contract/1"
    assert [(v["version"], v["state"]) for v in exported["versions"]] == [
        (1, "activated"),
        (2, "activated"),
        (3, "draft"),
    ]
    assert exported["versions"][0]["terms"]["clauses"][0]["interpretation_notes"][0][
        "agreed_by"
    ] == ["J. Smith (Acme)", "A. Lee (Globex)"]

    later = datetime(2026, 6, 2, 9, tzinfo=UTC)
    async with (
        running_app(_app(other_database, kafka_bootstrap, later)) as (_, client),
        EventCollector(kafka_bootstrap, ["contracts.v1"]) as kafka,
    ):
        imported = await client.post("/contracts/import", json=exported)
        assert imported.status_code == 201, imported.text
        new_id = imported.json()["contract"]["id"]
        assert new_id != cid
        again = (await client.get(f"/contracts/{new_id}/export")).json()
        duplicate = await client.post("/contracts/import", json=exported)
        assert duplicate.status_code == 409
        contract = (await client.get(f"/contracts/{new_id}")).json()
        events = await kafka.wait_for(lambda e: e.subject == new_id, count=2)

    def without_identity(document: dict[str, Any]) -> dict[str, Any]:
        copied = copy.deepcopy(document)
        copied.pop("exported_at")
        copied["contract"].pop("id")
        return copied

    assert without_identity(again) == without_identity(exported)
    assert again["exported_at"] == "2026-06-02T09:00:00Z"
    assert (contract["status"], contract["current_version"], contract["draft_version"]) == (
        "active",
        2,
        3,
    )
    assert contract["terms"]["price_book"][0]["unit_price"] == "148.50"  # v2 in force in June
    assert [(e.type, e.data["terms"]["version"]) for e in events] == [
        ("contract.activated", 1),
        ("contract.amended", 2),
    ]
    assert events[0].data["activated_at"] == exported["versions"][0]["activated_at"]


async def test_a_deal_team_file_becomes_a_draft_and_a_broken_history_is_refused_whole(
    database_url: str, kafka_bootstrap: str
) -> None:
    terms = _terms(examples.contract_document())
    async with running_app(_app(database_url, kafka_bootstrap)) as (_, client):
        minimal = {
            "contract": {"tenant_id": "acme-bank"},
            "versions": [
                {"version": 1, "state": "draft", "effective_from": "2026-01-01", "terms": terms}
            ],
        }
        created = await client.post("/contracts/import", json=minimal)
        assert created.status_code == 201, created.text
        cid = created.json()["contract"]["id"]
        assert created.json()["contract"]["status"] == "draft"
        assert (await client.post(f"/contracts/{cid}/activate")).status_code == 200

        bad_terms = {**terms, "reference": "ACME-OTHER", "currency": "ZZZ"}
        broken = {
            "contract": {"tenant_id": "acme-bank", "status": "expired"},
            "versions": [
                {
                    "version": 1,
                    "state": "activated",
                    "effective_from": "2026-02-01",
                    "terms": {**terms, "reference": "ACME-OTHER"},
                },
                {
                    "version": 3,
                    "state": "activated",
                    "effective_from": "2025-12-01",
                    "terms": bad_terms,
                },
            ],
        }
        refused = await client.post("/contracts/import", json=broken)
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["code"] == "import_rejected"
        assert [(d["loc"], d["message"]) for d in error["details"]] == [
            ("body.versions[1].version", "versions are numbered 1, 2, 3… in order; found 3"),
            (
                "body.versions[0].effective_from",
                "version 1 takes effect on the contract's start_date",
            ),
            ("body.contract.terminated_at", "a contract that is expired needs terminated_at"),
            ("body.versions[1].terms.currency", "'ZZZ' is not an ISO 4217 currency code"),
            (
                "body.versions[1].terms.currency",
                "an amendment cannot change currency (USD → ZZZ); a different contract is a "
                "new contract",
            ),
            (
                "body.versions[1].effective_from",
                "effective_from 2025-12-01 is before the contract start",
            ),
        ]
        unknown_format = await client.post("/contracts/import", json={**minimal, "format": "x"})
        assert unknown_format.status_code == 422
        assert unknown_format.json()["error"]["details"][0]["loc"] == "body.format"
