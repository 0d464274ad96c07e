"""Routes a person opens in a browser (HTML pages, SVG charts), behind the same API key.

A browser cannot add `Authorization: Bearer` to a plain navigation, and an API key never
goes in a URL (it would land in history, logs and referrers). What every browser can do is
HTTP Basic: answered 401 with a `Basic` challenge it asks for a user name and password,
then sends them in the `Authorization` header with each request to that origin, the
page's charts included, until the browser is closed. So a `BrowserRoute` also takes the key
as the Basic password (or as the user name when the password is empty, as `curl -u
"$KEY:"` sends it), and its 401 carries a Basic challenge.
Nothing is stored on the server and no cookie is set: the key stays a header, as anywhere
else. Use TLS (as for every call carrying a key).

The scope, the tenant and the error shape are the route's usual ones: the route depends on
`CurrentPrincipal` as any other.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from crm_platform.auth import Unauthorized

REALM = "CRM API key (any user name; the key as password)"
# Basic alone: Chromium reads one challenge per header line, and a `Bearer, Basic ...`
# line brings up no prompt (seen in tests/e2e/test_contract_page_browser.py). Bearer is
# still accepted, as everywhere.
CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8"'


class BrowserUnauthorized(Unauthorized):
    headers = {"WWW-Authenticate": CHALLENGE}


def key_from_basic(authorization: str) -> str | None:
    """The API key in `Basic base64(user:password)`: the password, else the user name;
    None for anything else (then the request goes on without a key: a 401)."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return (password or user).strip() or None


def _as_bearer(request: Request) -> Request:
    """The request with a Basic-borne key rewritten as `Authorization: Bearer <key>`."""
    key = key_from_basic(request.headers.get("authorization", ""))
    if key is None:
        return request
    request.scope.setdefault("state", {})  # shared: what the route records, logs see
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
    headers.append((b"authorization", f"Bearer {key}".encode()))
    return Request({**request.scope, "headers": headers}, request.receive)


class BrowserRoute(APIRoute):
    """An APIRoute that takes the API key from HTTP Basic too, and asks for it (see above)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(_as_bearer(request))
            except Unauthorized as exc:
                raise BrowserUnauthorized(exc.message, details=exc.details) from exc

        return route
