"""A headless Chromium page that can reach loopback only, for tests of what a person sees.

    async with offline_page() as browser:
        await browser.page.goto(f"{service_url}/docs")
        await browser.page.wait_for_selector(".opblock")
        await browser.screenshot("contract-registry-docs")
        assert browser.external_requests == []

The browser is Debian's `chromium` (installed by scripts/bootstrap.sh; `CRM_CHROMIUM` names
another binary), driven by the pinned PyPI `playwright` through `executable_path`:
`playwright install` downloads browsers, which this project never does.

Nothing leaves the machine, and every attempt is recorded:
- a route handler aborts each request whose host is not 127.0.0.1 / localhost / ::1 and
  records its URL in `external_requests`, so a test asserts that no request was even tried;
- `--host-resolver-rules` resolves every other name to nothing, and the background
  services (component updates, sync, QUIC probes) are switched off, so Chromium itself
  makes no request of its own that the route handler would not see.

Screenshots go to `artifacts_dir()`: `$CRM_TEST_ARTIFACTS`, else `<repo>/test-artifacts/`
(ignored by git; CI keeps the folder).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import (
    Browser,
    HttpCredentials,
    Page,
    Playwright,
    Route,
    WebSocketRoute,
    async_playwright,
)

CHROMIUM_ENV = "CRM_CHROMIUM"
ARTIFACTS_ENV = "CRM_TEST_ARTIFACTS"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

CHROMIUM_FLAGS = (
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost",
)


def chromium_path() -> str:
    """The Chromium binary: `$CRM_CHROMIUM`, else Debian's `chromium` on PATH."""
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        raise RuntimeError(
            f"no Chromium at {path}: run scripts/bootstrap.sh (it installs Debian's "
            f"`chromium` as root) or set {CHROMIUM_ENV} to a Chromium binary"
        )
    return path


def artifacts_dir() -> Path:
    """Where tests leave screenshots: `$CRM_TEST_ARTIFACTS`, else `<repo>/test-artifacts/`."""
    configured = os.environ.get(ARTIFACTS_ENV)
    if configured:
        folder = Path(configured)
    else:
        repo = Path(__file__).resolve().parents[4]  # libs/testing/src/crm_testing/browser.py
        folder = (repo if (repo / "uv.lock").is_file() else Path.cwd()) / "test-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def is_loopback(url: str) -> bool:
    """True for a URL that stays on this machine (or needs no network: data:, blob:...)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return True
    return (parts.hostname or "") in LOOPBACK_HOSTS


@dataclass
class OfflinePage:
    """A page, and every request it made, allowed or not."""

    page: Page
    requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    async def screenshot(self, name: str, *, full_page: bool = True) -> Path:
        """Save a PNG of the page as `<artifacts>/<name>.png` and return its path."""
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "page"
        path = artifacts_dir() / f"{safe}.png"
        await self.page.screenshot(path=str(path), full_page=full_page)
        return path


async def _launch(playwright: Playwright) -> Browser:
    # Playwright gives each launch a fresh temporary profile (--user-data-dir) and removes it.
    return await playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=list(CHROMIUM_FLAGS)
    )


@asynccontextmanager
async def offline_page(
    *,
    width: int = 1280,
    height: int = 900,
    timeout_ms: float = 30_000,
    http_credentials: HttpCredentials | None = None,
) -> AsyncIterator[OfflinePage]:
    """A fresh Chromium (own profile) with one page whose network is loopback only.
    `http_credentials`: what the browser answers an HTTP Basic challenge with, as a person
    would type it into the prompt (headers for every request: `page.set_extra_http_headers`)."""
    async with async_playwright() as playwright:
        browser = await _launch(playwright)
        try:
            context = await browser.new_context(
                viewport={"width": width, "height": height},
                service_workers="block",
                http_credentials=http_credentials,
            )
            context.set_default_timeout(timeout_ms)
            page = await context.new_page()
            offline = OfflinePage(page=page)

            async def guard(route: Route) -> None:
                url = route.request.url
                if is_loopback(url):
                    await route.continue_()
                else:
                    offline.external_requests.append(url)
                    await route.abort("blockedbyclient")

            async def guard_socket(socket: WebSocketRoute) -> None:
                if is_loopback(socket.url):
                    socket.connect_to_server()
                else:
                    offline.external_requests.append(socket.url)
                    await socket.close()

            await context.route("**/*", guard)
            await context.route_web_socket(re.compile(".*"), guard_socket)
            page.on("request", lambda request: offline.requests.append(request.url))
            page.on(
                "console",
                lambda message: (
                    offline.console_errors.append(message.text) if message.type == "error" else None
                ),
            )
            yield offline
        finally:
            await browser.close()
