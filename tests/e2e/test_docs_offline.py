"""Each service's /docs and /redoc render in headless Chromium with no network but loopback.

The browser (crm_testing.browser) refuses and records every request to another host, so
these tests fail on any CDN script, web font or badge a page would fetch, not only on one
the page could not do without. A screenshot of every page lands in the test artifacts.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from crm_testing.auth import ADMIN_HEADERS, ADMIN_KEY
from crm_testing.browser import OfflinePage, offline_page
from crm_testing.stack import SERVICES, Stack

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


async def _spec(stack: Stack, service: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        spec: dict[str, Any] = (await http.get(f"{stack.url(service)}/openapi.json")).json()
    return spec


def _operations(spec: dict[str, Any]) -> dict[str, str]:
    """The document's operations, as {"GET /contracts": "listContracts"}."""
    return {
        f"{method.upper()} {path}": operation["operationId"]
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def _keyed_read(spec: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A GET that needs a key, and a value for each of its required parameters (all in the
    path; the fewer the better): a list with its defaults, else one item of a new id."""
    candidates = []
    for path, item in spec["paths"].items():
        operation = item.get("get", {})
        required = [p for p in operation.get("parameters", []) if p.get("required")]
        if operation.get("security") and all(p["in"] == "path" for p in required):
            candidates.append(
                (len(required), path, {p["name"]: str(uuid.uuid4()) for p in required})
            )
    _, path, values = min(candidates)
    return path, values


async def _authorize(browser: OfflinePage, service: str) -> None:
    """Authorize opens the API-key dialog of the ApiKey bearer scheme; it takes a key."""
    page = browser.page
    await page.locator(".auth-wrapper button.authorize").click()
    dialog = page.locator(".dialog-ux .modal-ux")
    await dialog.wait_for()
    assert "ApiKey" in await dialog.inner_text()
    await dialog.locator("input").first.fill(ADMIN_KEY)
    await dialog.locator("button.modal-btn.auth").first.click()
    await dialog.locator("button", has_text="Logout").wait_for()
    await browser.screenshot(f"docs-{service}-swagger-authorize", full_page=False)
    await dialog.locator("button.close-modal").click()


async def _try_it_out(browser: OfflinePage, path: str, values: dict[str, str]) -> str:
    """Run a GET from its block (Try it out, the parameters, Execute): the status shown."""
    block = browser.page.locator(
        f".opblock-get:has(.opblock-summary-path[data-path='{path}'])"
    ).first
    await block.locator(".opblock-summary-control").click()
    await block.locator("button.try-out__btn").click()
    for name, value in values.items():
        await block.locator(f"tr[data-param-name='{name}'] input").fill(value)
    await block.locator("button.execute").click()
    status = block.locator(".live-responses-table tbody .response-col_status").first
    await status.wait_for()
    return (await status.inner_text()).strip()


async def _status(url: str, headers: dict[str, str]) -> str:
    async with httpx.AsyncClient(timeout=30) as http:
        return str((await http.get(url, headers=headers)).status_code)


@pytest.mark.parametrize("service", SERVICES)
async def test_swagger_ui_shows_every_operation_and_authorize_with_no_network(
    stack: Stack, service: str
) -> None:
    spec = await _spec(stack, service)
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
        assert sorted(set(shown)) == sorted(_operations(spec))
        await browser.screenshot(f"docs-{service}-swagger")

        # The key Authorize took goes with Try it out's request: it gets the answer a keyed
        # request gets, not the 401 of an anonymous one.
        await _authorize(browser, service)
        assert browser.console_errors == []  # (a 404 below would log one)
        path, values = _keyed_read(spec)
        url = stack.url(service) + path.format(**values)
        anonymous, keyed = await _status(url, {}), await _status(url, ADMIN_HEADERS)
        assert anonymous == "401" and keyed != "401"
        assert await _try_it_out(browser, path, values) == keyed

    assert browser.external_requests == []
    assert f"{stack.url(service)}/docs/assets/swagger-ui-bundle.js" in [
        url.split("?")[0] for url in browser.requests
    ]


@pytest.mark.parametrize("service", SERVICES)
async def test_redoc_shows_every_operation_with_no_network(stack: Stack, service: str) -> None:
    operations = _operations(await _spec(stack, service))
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
