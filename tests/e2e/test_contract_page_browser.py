"""A person opens a contract's page in headless Chromium (network: loopback only) and sees
its four charts drawn; a screenshot of the page lands in the test artifacts.

The contract-registry process takes its figures from real events on Kafka
(crm_testing.contract_health). The page is opened twice: with the key as a header (what a
proxy or curl sends), and the way a person does, answering the browser's HTTP Basic prompt
with the key as the password.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import HttpCredentials

from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS, ADMIN_KEY
from crm_testing.browser import OfflinePage, artifacts_dir, offline_page
from crm_testing.contract_health import tell_health_story
from crm_testing.stack import Stack

CHART_IDS = ("health", "attainment-AVAIL-CORE", "credits-leakage", "obligations")


async def _contract_with_figures(stack: Stack, kafka: str) -> tuple[str, list[dict[str, Any]]]:
    base = stack.url("contract-registry")
    async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:
        document = examples.contract_document()
        document["reference"] = f"PAGE-{uuid.uuid4().hex[:8]}"
        created = await http.post(f"{base}/contracts", json=document)
        assert created.status_code == 201, created.text
        cid = created.json()["id"]
        assert (await http.post(f"{base}/contracts/{cid}/activate")).status_code == 200
        health = await tell_health_story(
            kafka, http, f"{base}/contracts/{cid}/health", uuid.UUID(cid)
        )
    return f"{base}/contracts/{cid}/health.html", health


async def _charts_drawn(browser: OfflinePage) -> dict[str, dict[str, float]]:
    """Each inline chart's rendered box, and how many marks (bars, points, lines) it drew."""
    drawn: dict[str, dict[str, float]] = await browser.page.eval_on_selector_all(
        "main svg[role=img]",
        """charts => Object.fromEntries(charts.map(svg => {
            const box = svg.getBoundingClientRect();
            const marks = [...svg.querySelectorAll('rect.bar, circle.mark, polyline')]
                .filter(m => { const b = m.getBBox(); return b.width > 0 || b.height > 0; });
            return [svg.id, {width: box.width, height: box.height, marks: marks.length}];
        }))""",
    )
    return drawn


async def test_the_contract_page_draws_its_charts_in_chromium_with_no_network(
    stack: Stack, kafka_bootstrap: str
) -> None:
    url, health = await _contract_with_figures(stack, kafka_bootstrap)
    async with offline_page(width=1500, height=1000) as browser:
        await browser.page.set_extra_http_headers(ADMIN_HEADERS)
        response = await browser.page.goto(url)
        assert response is not None and response.status == 200
        await browser.page.wait_for_selector("svg#obligations")
        drawn = await _charts_drawn(browser)
        shot = await browser.screenshot("contract-page")
        score = await browser.page.locator("#latest-score").inner_text()
        tooltips = await browser.page.eval_on_selector_all(
            "svg#attainment-AVAIL-CORE circle.mark title", "ts => ts.map(t => t.textContent)"
        )

    assert set(CHART_IDS) <= set(drawn), drawn
    for chart in CHART_IDS:
        assert drawn[chart]["width"] > 300 and drawn[chart]["height"] > 150, (chart, drawn)
        assert drawn[chart]["marks"] > 0, (chart, drawn)
    assert score == health[-1]["score"]
    assert tooltips[-1].startswith("2026-03: 99.4609 (failed")
    assert shot.parent == artifacts_dir() and shot.stat().st_size > 20_000
    assert browser.external_requests == []
    assert browser.console_errors == []  # nothing refused by the page's CSP either
    assert all(r.startswith(stack.url("contract-registry")) for r in browser.requests)


async def test_a_person_answers_the_browsers_prompt_with_the_key(
    stack: Stack, kafka_bootstrap: str
) -> None:
    url, _ = await _contract_with_figures(stack, kafka_bootstrap)
    chart = url.replace("health.html", "charts/attainment.svg")
    credentials: HttpCredentials = {"username": "governance", "password": ADMIN_KEY}
    async with offline_page(http_credentials=credentials) as browser:
        page = await browser.page.goto(url)
        assert page is not None and page.status == 200
        await browser.page.wait_for_selector("svg#attainment-AVAIL-CORE")
        # The chart on its own, as embedded: the browser sends the same answer.
        svg = await browser.page.goto(chart)
        assert svg is not None and svg.status == 200
        assert svg.headers["content-type"].startswith("image/svg+xml")
        await browser.screenshot("contract-page-attainment-chart", full_page=False)
    async with offline_page() as stranger:
        # Without an answer to give, Chromium gives up on the challenge it was sent (a
        # person would see the prompt here) ...
        with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):
            await stranger.page.goto(url)
        # ... which is a 401 asking for Basic.
        refused = await stranger.page.request.get(url)
        assert refused.status == 401
        assert refused.headers["www-authenticate"].startswith('Basic realm="CRM API key')
    assert browser.external_requests == stranger.external_requests == []
