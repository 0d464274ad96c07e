"""Each service's /docs and /redoc render in headless Chromium with no network but loopback.

The browser (crm_testing.browser) refuses and records every request to another host, so
these tests fail on any CDN script, web font or badge a page would fetch, not only on one
the page could not do without. A screenshot of every page lands in the test artifacts.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from crm_testing.auth import ADMIN_KEY
from crm_testing.browser import offline_page
from crm_testing.stack import SERVICES, Stack

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


async def _operations(stack: Stack, service: str) -> dict[str, str]:
    """The service's operations, as {"GET /contracts": "listContracts"}."""
    async with httpx.AsyncClient(timeout=30) as http:
        spec: dict[str, Any] = (await http.get(f"{stack.url(service)}/openapi.json")).json()
    return {
        f"{method.upper()} {path}": operation["operationId"]
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


@pytest.mark.parametrize("service", SERVICES)
async def test_swagger_ui_shows_every_operation_and_authorize_with_no_network(
    stack: Stack, service: str
) -> None:
    operations = await _operations(stack, service)
    async with offline_page() as browser:
        page = browser.page
        await page.goto(f"{stack.url(service)}/docs")
        await page.wait_for_selector(".opblock")
        assert (await page.locator(".info .title").first.inner_text()).startswith(service)
        # Every tag is expanded (docExpansion "list"): a block per operation and tag.
        shown = await page.eval_on_selector_all(
            ".opblock .opblock-summary",
            """blocks => blocks.map(b =>
                b.querySelector('.opblock-summary-method').textContent + ' ' +
                b.querySelector('.opblock-summary-path').dataset.path)""",
        )
        assert sorted(set(shown)) == sorted(operations)

        # Authorize opens the API-key dialog of the ApiKey bearer scheme and takes a key.
        await page.locator(".auth-wrapper button.authorize").click()
        dialog = page.locator(".dialog-ux .modal-ux")
        await dialog.wait_for()
        assert "ApiKey" in await dialog.inner_text()
        await dialog.locator("input").first.fill(ADMIN_KEY)
        await dialog.locator("button.modal-btn.auth").first.click()
        await dialog.locator("button", has_text="Logout").wait_for()
        await browser.screenshot(f"docs-{service}-swagger-authorize", full_page=False)
        await dialog.locator("button.close-modal").click()
        await browser.screenshot(f"docs-{service}-swagger")

    assert browser.external_requests == []
    assert browser.console_errors == []
    assert f"{stack.url(service)}/docs/assets/swagger-ui-bundle.js" in [
        url.split("?")[0] for url in browser.requests
    ]


@pytest.mark.parametrize("service", SERVICES)
async def test_redoc_shows_every_operation_with_no_network(stack: Stack, service: str) -> None:
    operations = await _operations(stack, service)
    async with offline_page() as browser:
        page = browser.page
        await page.goto(f"{stack.url(service)}/redoc")
        await page.wait_for_selector("[id^='operation/']")
        rendered = await page.eval_on_selector_all(
            "[id^='operation/']", "nodes => nodes.map(n => n.id.slice('operation/'.length))"
        )
        assert sorted(set(rendered)) == sorted(operations.values())
        assert "API docs by Redocly" in await page.locator(".menu-content").inner_text()
        await browser.screenshot(f"docs-{service}-redoc", full_page=False)

    assert browser.external_requests == []
    assert browser.console_errors == []
