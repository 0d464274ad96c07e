"""Listing and search: filters, the expiring window, tenants and cursor pagination."""

from datetime import UTC, datetime
from typing import Any

import httpx

from contract_registry.main import create_app
from contract_registry.settings import Settings
from crm_platform.clock import FixedClock
from crm_testing import examples
from crm_testing.apps import running_app, settings_for

NOW = datetime(2026, 5, 10, 14, tzinfo=UTC)


async def _contract(
    client: httpx.AsyncClient,
    reference: str,
    customer: str,
    supplier: str,
    *,
    end_date: str = "2028-12-31",
    activate: bool = True,
    tenant_id: str = "acme-bank",
) -> str:
    doc: dict[str, Any] = {
        **examples.contract_document(reference=reference, tenant_id=tenant_id),
        "customer": customer,
        "supplier": supplier,
        "end_date": end_date,
    }
    created = await client.post("/contracts", json=doc)
    assert created.status_code == 201, created.text
    cid = str(created.json()["id"])
    if activate:
        assert (await client.post(f"/contracts/{cid}/activate")).status_code == 200
    return cid


async def test_filters_search_and_cursor_pages(database_url: str, kafka_bootstrap: str) -> None:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    async with running_app(create_app(settings, clock=FixedClock(NOW))) as (_, client):
        a = await _contract(client, "ACME-ITO", "Acme Bank", "Globex", end_date="2026-06-30")
        b = await _contract(client, "ACME-NET", "Acme Bank", "Initech", activate=False)
        c = await _contract(client, "UMB-DC", "Umbrella Corp", "Globex")
        d = await _contract(client, "UMB-APP", "Umbrella Corp", "Globex")
        await client.post(
            f"/contracts/{d}/terminate",
            json={"reason": "Breach (clause 20)", "effective_on": "2026-06-01"},
        )
        e = await _contract(client, "OTHER-1", "Other Bank", "Globex", tenant_id="other-bank")

        async def ids(**params: Any) -> list[str]:
            page = await client.get("/contracts", params=params)
            assert page.status_code == 200, page.text
            return sorted(item["id"] for item in page.json()["items"])

        assert await ids(customer="acme bank") == sorted([a, b])
        assert await ids(supplier="Globex") == sorted([a, c, d, e])
        assert await ids(status="draft") == [b]
        assert await ids(expiring_within_days=30) == [d]  # terminates 1 June
        assert await ids(expiring_within_days=60) == sorted([a, d])  # a ends 30 June
        assert await ids(q="umb") == sorted([c, d])
        assert await ids(q="ITO") == [a]
        assert await ids(q="%") == []  # a literal, not a wildcard
        assert await ids(customer="Umbrella Corp", q="APP") == [d]

        tenant = await client.get("/contracts", headers={"X-Tenant-Id": "acme-bank"})
        assert e not in [i["id"] for i in tenant.json()["items"]]

        # Pages of two, in creation order (all share one created_at: the id breaks ties).
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/contracts", params=params)).json()
            seen += [i["id"] for i in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == 3
        assert sorted(seen) == sorted([a, b, c, d, e]) and len(seen) == 5

        bad = await client.get("/contracts", params={"cursor": "not-a-cursor"})
        assert bad.status_code == 422
        assert bad.json()["error"]["details"][0]["loc"] == "query.cursor"
        too_many = await client.get("/contracts", params={"limit": 1001})
        assert too_many.status_code == 422
        assert too_many.json()["error"]["details"][0]["loc"] == "query.limit"
        wrong_status = await client.get("/contracts", params={"status": "archived"})
        assert wrong_status.json()["error"]["details"][0]["loc"] == "query.status"
