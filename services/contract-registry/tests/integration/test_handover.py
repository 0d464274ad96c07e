"""The handover brief over HTTP for DESIGN's worked example contract."""

from datetime import UTC, datetime

from contract_registry.main import create_app
from contract_registry.settings import Settings
from crm_platform.clock import FixedClock
from crm_testing import examples
from crm_testing.apps import running_app, settings_for


async def test_the_worked_example_handover_brief_as_json_and_markdown(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    clock = FixedClock(datetime(2026, 3, 16, 14, tzinfo=UTC))
    async with running_app(create_app(settings, clock=clock)) as (_, client):
        doc = examples.contract_document()
        cid = (await client.post("/contracts", json=doc)).json()["id"]
        await client.post(f"/contracts/{cid}/activate")

        response = await client.get(f"/contracts/{cid}/handover")
        assert response.status_code == 200, response.text
        brief = response.json()
        assert brief["as_of"] == "2026-03-16"
        assert brief["contract"]["reference"] == doc["reference"]
        assert brief["contract"]["days_to_end"] == 1021  # to 31 December 2028
        assert brief["commercials"]["monthly_base_charges"] == "90000.00"
        assert brief["commercials"]["at_risk_amount_at_baseline"] == "10800.00"
        [sla] = brief["slas"]
        assert (sla["code"], sla["service_key"]) == (
            "AVAIL-CORE",
            doc["sla_definitions"][0]["service_key"],
        )
        assert (sla["expected_level"], sla["minimum_level"], sla["allocation_pct"]) == (
            "99.9",
            "99.5",
            "40",
        )
        assert (sla["credit_pct_of_monthly_charges"], sla["credit_at_baseline"]) == (
            "4.8",
            "4320.00",
        )
        assert sla["maintenance_windows"] == [
            "2026-03-14T06:00:00+00:00 – 2026-03-14T07:00:00+00:00: Agreed storage firmware upgrade"
        ]
        assert [(u["code"], u["no_adjustment_between"]) for u in brief["price_book"]] == [
            ("SRV-WIN", ["190", "210"]),
            ("TCK-L1", ["4500", "5500"]),
        ]
        assert brief["event_obligations"][0]["due"] == (
            "10 business days after the close, in America/New_York"
        )
        assert [(k["date"], k["what"]) for k in brief["key_dates"]] == [
            ("2026-01-01", "Contract starts"),
            ("2028-12-31", "Contract ends (last day)"),
        ]
        assert [v["version"] for v in brief["versions"]] == [1]

        markdown = await client.get(f"/contracts/{cid}/handover", params={"format": "markdown"})
        assert markdown.headers["content-type"].startswith("text/markdown")
        assert markdown.text.startswith(f"# Handover brief — {doc['reference']}\n")
        assert "| 99.9 | 99.5 | 40% | 4.8% of M | 4320.00 USD | none |" in markdown.text

        before = await client.get(f"/contracts/{cid}/handover", params={"as_of": "2025-06-01"})
        assert (before.status_code, before.json()["error"]["code"]) == (404, "not_in_force")
        wrong = await client.get(f"/contracts/{cid}/handover", params={"format": "pdf"})
        assert wrong.status_code == 422
        assert wrong.json()["error"]["details"][0]["loc"] == "query.format"
