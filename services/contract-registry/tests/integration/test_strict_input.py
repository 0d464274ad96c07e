"""Strict input on contract-registry's routes: a number is never a date, a decimal matches
its pattern, an integer or a boolean is one; each refusal is a 422 naming the field."""

from __future__ import annotations

import uuid

from contract_registry.main import create_app
from contract_registry.settings import Settings
from crm_testing import examples
from crm_testing.apps import refusals, running_app, settings_for


async def test_lax_values_in_query_path_and_bodies_are_refused_with_their_loc(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    cid = uuid.uuid4()
    async with running_app(create_app(settings)) as (_, client):
        for path, loc in [
            (f"/contracts/{cid}?as_of=0", "query.as_of"),
            (f"/contracts/{cid}?as_of=1700000000", "query.as_of"),
            (f"/contracts/{cid}?as_of=2026-07-15T00:00:00Z", "query.as_of"),
            (f"/contracts/{cid}/handover?as_of=0", "query.as_of"),
            ("/contracts?limit=5.0", "query.limit"),
            ("/contracts?expiring_within_days=+30", "query.expiring_within_days"),
            (f"/contracts/{cid}/versions/1.0", "path.version"),
        ]:
            found = refusals(await client.get(path))
            assert loc in found, (path, found)
        assert (
            "YYYY-MM-DD" in refusals(await client.get(f"/contracts/{cid}?as_of=0"))["query.as_of"]
        )

        doc = examples.contract_document()
        doc["start_date"] = 0
        doc["holidays"] = ["2026-12-25", 20261226]
        doc["price_book"][0]["unit_price"] = "1e3"
        doc["price_book"][0]["baseline_volume"] = "1_000"
        doc["price_book"][1]["deadband_pct"] = " 5 "
        doc["credit_terms"]["at_risk_pct"] = "NaN"
        sla = doc["sla_definitions"][0]
        sla["earn_back_periods"] = "3"
        sla["maintenance_windows"] = {
            "fixed": [{**examples.MAINTENANCE, "start": "2026-03-14T06:00:00"}],  # no offset
            "weekly": [{"weekday": 6.0, "start": "02:00", "duration_minutes": 120}],
        }
        found = refusals(await client.post("/contracts", json=doc))
        expected = {
            "body.start_date": "YYYY-MM-DD",
            "body.holidays[1]": "YYYY-MM-DD",
            "body.price_book[0].unit_price": "^-?\\d+(\\.\\d+)?$",
            "body.price_book[0].baseline_volume": "baseline_volume: expected a decimal",
            "body.price_book[1].deadband_pct": "deadband_pct: expected a decimal",
            "body.credit_terms.at_risk_pct": "at_risk_pct: expected a decimal",
            "body.sla_definitions[0].earn_back_periods": "valid integer",
            "body.sla_definitions[0].maintenance_windows.fixed[0].start": "UTC offset",
            "body.sla_definitions[0].maintenance_windows.weekly[0].weekday": "valid integer",
        }
        assert set(found) == set(expected), found
        for loc, fragment in expected.items():
            assert fragment in found[loc], (loc, found[loc])

        key = await client.post(
            "/admin/api-keys", json={"name": "erp", "scopes": ["billing:read"], "expires_at": 0}
        )
        assert "UTC offset" in refusals(key)["body.expires_at"]
        amendment = await client.post(
            f"/contracts/{cid}/amendments",
            json={
                "effective_from": "2026-07-01",
                "terms": examples.contract_document(tenant_id=None),
                "activate": "true",
            },
        )
        assert "valid boolean" in refusals(amendment)["body.activate"]
        ending = await client.post(
            f"/contracts/{cid}/terminate", json={"reason": "convenience", "effective_on": 0}
        )
        assert "body.effective_on" in refusals(ending)
