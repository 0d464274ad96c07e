"""The browser harness itself: loopback pages load, everything else is refused and recorded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crm_testing.browser import artifacts_dir, is_loopback, offline_page

PAGE = b"""<!doctype html><html><head>
<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Montserrat">
</head><body><h1 id="title">served from loopback</h1>
<img id="local" src="/pixel.svg">
<img src="http://203.0.113.7/tracker.gif">
<script>fetch("https://cdn.example.com/lib.js").catch(() => {
  document.body.dataset.fetch = "refused"; });</script>
</body></html>"""
PIXEL = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>'


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body, kind = (PIXEL, "image/svg+xml") if self.path == "/pixel.svg" else (PAGE, "text/html")
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_loopback_and_data_urls_are_local_everything_else_is_not() -> None:
    assert is_loopback("http://127.0.0.1:8001/docs")
    assert is_loopback("http://localhost/x")
    assert is_loopback("data:image/png;base64,AAAA")
    assert not is_loopback("https://fonts.googleapis.com/css")
    assert not is_loopback("http://203.0.113.7/tracker.gif")
    assert not is_loopback("wss://example.com/socket")


async def test_a_page_loads_from_loopback_and_every_external_request_is_refused_and_recorded(
    local_site: str,
) -> None:
    async with offline_page() as browser:
        await browser.page.goto(local_site + "/")
        assert await browser.page.text_content("#title") == "served from loopback"
        await browser.page.wait_for_selector("body[data-fetch=refused]")
        # The local image loaded (a refused one has no natural width).
        assert await browser.page.eval_on_selector("#local", "img => img.naturalWidth") == 4
        shot = await browser.screenshot("crm-testing browser harness")

    assert sorted(browser.external_requests) == [
        "http://203.0.113.7/tracker.gif",
        "https://cdn.example.com/lib.js",
        "https://fonts.googleapis.com/css?family=Montserrat",
    ]
    assert f"{local_site}/pixel.svg" in browser.requests
    assert shot == artifacts_dir() / "crm-testing-browser-harness.png"
    assert shot.read_bytes().startswith(b"\x89PNG")
