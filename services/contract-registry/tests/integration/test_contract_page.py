"""The contract page and its SVG charts, fed by real events on Kafka into the health read
model: the figures the JSON health route gives are the ones the page and the charts draw;
a browser is asked for the key (HTTP Basic), never takes it from the URL; tenants stay
apart; a contract without figures gets "No data yet" charts."""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import httpx

from contract_registry.main import create_app
from contract_registry.settings import Settings
from crm_platform.clock import FixedClock
from crm_testing import examples
from crm_testing.apps import refusals, running_app, settings_for
from crm_testing.auth import ADMIN_KEY, bearer
from crm_testing.contract_health import tell_health_story

NOW = datetime(2026, 4, 20, 14, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
CHARTS = ("attainment", "credits-leakage", "obligations", "health")


def app(database_url: str, kafka_bootstrap: str) -> Any:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    return create_app(settings, clock=FixedClock(NOW))


async def seed(kafka: str, client: httpx.AsyncClient, cid: uuid.UUID) -> list[dict[str, Any]]:
    """crm_testing.contract_health's story, taken in: February met, March failed, credited
    and reconciled with leakage; an obligation on time, one late, one open (due 2026-05-01,
    after NOW)."""
    rows = await tell_health_story(kafka, client, f"/contracts/{cid}/health", cid)
    feb, march = rows
    assert (feb["obligations_on_time"], feb["slas_met"]) == (1, 1)
    assert (march["obligations_late"], march["obligations_pending"]) == (1, 1)
    assert (march["credits_total"], march["leakage_total"]) == ("4414.08", "4694.08")
    return rows


def svg_of(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml; charset=utf-8"
    assert response.headers["content-security-policy"] == "default-src 'none'"
    root = ET.fromstring(response.text)
    assert root.tag == f"{SVG}svg" and root.find(f"{SVG}title") is not None
    assert root.find(f"{SVG}desc") is not None
    return root


def tips(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}title")]


async def _contract(client: httpx.AsyncClient) -> uuid.UUID:
    created = await client.post("/contracts", json=examples.contract_document())
    assert created.status_code == 201, created.text
    cid = uuid.UUID(created.json()["id"])
    assert (await client.post(f"/contracts/{cid}/activate")).status_code == 200
    return cid


async def test_the_page_and_its_charts_draw_the_figures_of_the_health_route(
    database_url: str, kafka_bootstrap: str
) -> None:
    async with running_app(app(database_url, kafka_bootstrap)) as (_, client):
        cid = await _contract(client)
        february, march = await seed(kafka_bootstrap, client, cid)

        page = await client.get(f"/contracts/{cid}/health.html")
        assert page.status_code == 200, page.text
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        csp = page.headers["content-security-policy"]
        assert csp.startswith("default-src 'none'; style-src 'sha256-")
        assert page.headers["cache-control"] == "private, no-store"
        html = page.text
        for chart in ("health", "attainment-AVAIL-CORE", "credits-leakage", "obligations"):
            assert f'id="{chart}"' in html
        assert f'<p class="score" id="latest-score">{march["score"]}</p>' in html
        assert "Periods shown: 2026-02 to 2026-03" in html
        assert "<script" not in html

        base = f"/contracts/{cid}/charts"
        attainment = svg_of(await client.get(f"{base}/attainment.svg"))
        [panel] = attainment.findall(f"{SVG}g/{SVG}svg")
        assert panel.get("id") == "attainment-AVAIL-CORE"
        marks = panel.findall(f".//{SVG}circle")
        assert [m.get("fill") for m in marks] == ["#2e7d32", "#c62828"]  # met, failed
        assert "2026-03: 99.4609 (failed; expected 99.9, minimum 99.5)" in tips(attainment)

        one = svg_of(await client.get(f"{base}/attainment.svg", params={"sla_code": "AVAIL-CORE"}))
        assert one.get("id") == "attainment-AVAIL-CORE"
        unknown = svg_of(await client.get(f"{base}/attainment.svg", params={"sla_code": "NOPE"}))
        assert "No data yet" in [t.text for t in unknown.iter(f"{SVG}text")]

        money = tips(svg_of(await client.get(f"{base}/credits-leakage.svg")))
        assert "2026-03: credits 4414.08 USD" in money
        assert f"2026-03: leakage {march['leakage_total']} USD in 1 invoice(s)" in money
        obligations = tips(svg_of(await client.get(f"{base}/obligations.svg")))
        assert {"2026-02: 1 on time", "2026-03: 1 late", "2026-03: 1 open"} <= set(obligations)
        health = tips(svg_of(await client.get(f"{base}/health.svg")))
        for period in (february, march):
            assert any(t.endswith(f"to the score {period['score']}") for t in health), health

        # The window: March only.
        narrowed = svg_of(await client.get(f"{base}/attainment.svg", params={"last": 1}))
        assert [m.get("fill") for m in narrowed.findall(f".//{SVG}circle")] == ["#c62828"]
        later = await client.get(f"/contracts/{cid}/health.html", params={"period_from": "2026-03"})
        assert "Periods shown: 2026-03 to 2026-03" in later.text
        assert 'href="charts/health.svg?period_from=2026-03"' in later.text


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def _key(client: httpx.AsyncClient, tenant: str | None, scopes: list[str]) -> str:
    body = {"name": f"page {tenant} {scopes}", "tenant_id": tenant, "scopes": scopes}
    issued = await client.post("/admin/api-keys", json=body)
    assert issued.status_code == 201, issued.text
    return str(issued.json()["api_key"])


async def test_a_browser_is_asked_for_the_key_and_tenants_stay_apart(
    database_url: str, kafka_bootstrap: str
) -> None:
    async with running_app(app(database_url, kafka_bootstrap)) as (_, client):
        cid = await _contract(client)
        paths = [f"/contracts/{cid}/health.html"] + [
            f"/contracts/{cid}/charts/{c}.svg" for c in CHARTS
        ]
        no_auth = {"Authorization": ""}
        for path in paths:
            refused = await client.get(path, headers=no_auth)
            assert refused.status_code == 401, path
            assert 'Basic realm="CRM API key' in refused.headers["www-authenticate"]
            assert refused.json()["error"]["code"] == "unauthorized"
            # The key is never taken from the URL.
            in_url = await client.get(path, params={"api_key": ADMIN_KEY}, headers=no_auth)
            assert in_url.status_code == 401, path
            assert (await client.get(path, headers=_basic("me", ADMIN_KEY))).status_code == 200
            assert (await client.get(path, headers=_basic(ADMIN_KEY, ""))).status_code == 200
            wrong = await client.get(path, headers=_basic("me", "crm_nope_nope"))
            assert wrong.status_code == 401, path

        reader = await _key(client, "acme-bank", ["contracts:read"])
        other = await _key(client, "other-bank", ["contracts:read"])
        sla_only = await _key(client, "acme-bank", ["sla:read"])
        page = f"/contracts/{cid}/health.html"
        assert (await client.get(page, headers=_basic("me", reader))).status_code == 200
        assert (await client.get(page, headers=bearer(reader))).status_code == 200
        assert (await client.get(page, headers=_basic("me", other))).status_code == 404
        elsewhere = await client.get(page, headers={"X-Tenant-Id": "other-bank"})
        assert elsewhere.status_code == 404
        forbidden = await client.get(page, headers=_basic("me", sla_only))
        assert forbidden.status_code == 403 and "contracts:read" in forbidden.text

        assert "query.last" in refusals(await client.get(page, params={"last": 0}))
        bad = await client.get(f"/contracts/{cid}/charts/health.svg", params={"period_to": "May"})
        assert "query.period_to" in refusals(bad)
        missing = await client.get(f"/contracts/{uuid.uuid4()}/charts/health.svg")
        assert missing.status_code == 404

        # No figures yet: every chart says so instead of failing.
        for chart in CHARTS:
            empty = svg_of(await client.get(f"/contracts/{cid}/charts/{chart}.svg"))
            assert "No data yet" in [t.text for t in empty.iter(f"{SVG}text")], chart
        assert (await client.get(page)).text.count("No data yet") == 4
