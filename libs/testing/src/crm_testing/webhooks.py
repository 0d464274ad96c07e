"""A real local HTTP receiver for webhook tests and benchmarks (asyncio, no framework).

    async with WebhookReceiver(statuses=[500, 500]) as receiver:   # fail twice, then 200
        ... register receiver.url ...
        [hit] = await receiver.wait_for(lambda h: h.json["type"] == "alert.raised")

Every request is kept with its headers, raw body and the `time.perf_counter()` at which its
body was read, so a benchmark in the same process can measure end-to-end latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# obligation-tracker's settings under test: the Fernet key its webhook secrets are encrypted
# with (base64 of "crm-test-webhook-key-not-secret!"), and the allow-list that lets its
# deliveries reach this module's receivers on 127.0.0.1 (webhooks may not go to loopback
# otherwise).
SECRET_KEYS = "Y3JtLXRlc3Qtd2ViaG9vay1rZXktbm90LXNlY3JldCE="
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"
TRACKER_ENV = {
    "OBLIGATION_TRACKER_WEBHOOK_SECRET_KEYS": SECRET_KEYS,
    "OBLIGATION_TRACKER_WEBHOOK_ALLOWED_NETWORKS": LOOPBACK_NETWORKS,
}


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    received_at: float
    status: int

    @functools.cached_property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Answers `statuses` in order (then `default_status`) and records every request;
    `reply_headers` go with every answer (a `Location` for a redirect, say)."""

    statuses: Sequence[int] = ()
    default_status: int = 200
    host: str = "127.0.0.1"
    reply_headers: dict[str, str] = field(default_factory=dict)
    requests: list[ReceivedRequest] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _answered: int = 0

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks/crm"

    async def __aenter__(self) -> WebhookReceiver:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    def _next_status(self) -> int:
        status = (
            self.statuses[self._answered]
            if self._answered < len(self.statuses)
            else self.default_status
        )
        self._answered += 1
        return status

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: several requests per connection
                request_line = await reader.readline()
                if not request_line:
                    return
                method, path, _ = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                received_at = time.perf_counter()
                status = self._next_status()
                self.requests.append(
                    ReceivedRequest(method, path, headers, body, received_at, status)
                )
                reply = b"ok" if status < 400 else b"receiver says no"
                extra = "".join(f"{k}: {v}\r\n" for k, v in self.reply_headers.items())
                writer.write(
                    f"HTTP/1.1 {status} X\r\ncontent-length: {len(reply)}\r\n{extra}"
                    "content-type: text/plain\r\n\r\n".encode()
                    + reply
                )
                await writer.drain()
                async with self._arrived:
                    self._arrived.notify_all()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()

    async def wait_for(
        self,
        predicate: Callable[[ReceivedRequest], bool] = lambda r: True,
        *,
        count: int = 1,
        timeout: float = 30.0,
    ) -> list[ReceivedRequest]:
        deadline = time.monotonic() + timeout
        async with self._arrived:
            while True:
                found = [r for r in self.requests if predicate(r)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} matching webhook request(s) within {timeout}s; "
                        f"got {len(found)} of {len(self.requests)}"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), remaining)
