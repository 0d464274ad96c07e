"""Which operation each HTTP answer came from (by the services' OpenAPI paths), and the
first success of each: the operations a run reached, the concrete URLs it used, and the
bodies that become the documents' response examples."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from crm_testing.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
PAGE_PARAMS = {"cursor", "limit"}
TEXT_EXAMPLE_LINES = 40  # /metrics runs to hundreds of lines; the head shows the form


def examples_file(service: str) -> Path:
    package = service.replace("-", "_")
    return ROOT / "services" / service / "src" / package / "openapi_examples.json"


@dataclass
class Operation:
    service: str
    method: str
    template: str
    operation_id: str
    pattern: re.Pattern[str]


@dataclass
class Recorder:
    """An httpx response hook. `examples[service][operationId]` keeps the first success of
    each (status, content type); `urls[service][operationId]` the first URL that answered
    it (without cursor and limit)."""

    operations: list[Operation]
    bases: dict[str, str]
    examples: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    urls: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    async def for_stack(cls, stack: Stack, http: httpx.AsyncClient) -> Recorder:
        operations = []
        for service in stack.services:
            spec = (await http.get(f"{stack.url(service)}/openapi.json")).json()
            for template, methods in spec["paths"].items():
                regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
                for method, op in methods.items():
                    operations.append(
                        Operation(
                            service, method.upper(), template, op["operationId"], re.compile(regex)
                        )
                    )
        # Fixed segments first: /obligations/due is not /obligations/{obligation_id}.
        operations.sort(key=lambda o: (o.template.count("{"), -len(o.template)))
        bases = {stack.url(s): s for s in stack.services}
        return cls(operations, bases)

    def operation(self, request: httpx.Request) -> Operation | None:
        base = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        service = self.bases.get(base)
        for op in self.operations:
            if (op.service, op.method) == (service, request.method) and op.pattern.fullmatch(
                request.url.path
            ):
                return op
        return None

    async def __call__(self, response: httpx.Response) -> None:
        op = self.operation(response.request)
        if op is None or not 200 <= response.status_code < 300:
            return
        await response.aread()
        query = parse_qsl(response.request.url.query.decode())
        kept = urlencode([(k, v) for k, v in query if k not in PAGE_PARAMS])
        url = str(response.request.url.copy_with(query=None)) + (f"?{kept}" if kept else "")
        self.urls.setdefault(op.service, {}).setdefault(op.operation_id, url)
        recorded = self.examples.setdefault(op.service, {}).setdefault(op.operation_id, [])
        media = response.headers.get("content-type", "").split(";")[0].strip()
        if not media or response.status_code == 204:
            return  # no body to show
        if media == "text/csv":
            return  # the CSV exports document the worked example's rows themselves
        key = (response.status_code, media)
        earlier = [r for r in recorded if (r["status"], r["content_type"]) == key]
        example = _body(response)
        # A page is best shown in the middle of its list: two items and a next cursor.
        if earlier and not (_middle_page(example) and not _middle_page(earlier[0]["example"])):
            return
        for r in earlier:
            recorded.remove(r)
        recorded.append({"status": key[0], "content_type": media, "example": example})

    def reached(self, service: str) -> set[str]:
        return set(self.urls.get(service, {}))

    def write(self) -> None:
        for service, examples in self.examples.items():
            path = examples_file(service)
            path.write_text(json.dumps(dict(sorted(examples.items())), indent=1) + "\n")


# Secrets shown once are recorded in their form only, never a real value.
_SHOWN_ONCE = {
    "api_key": lambda v: re.sub(r"_[^_]+$", "_" + "S" * 43, v),
    "secret": lambda v: "whsec_" + "A" * 43 + "=",
    "token": lambda v: re.sub(r"_[^_]+$", "_" + "S" * 43, v),
    "feed_url": lambda v: re.sub(r"(token=crmfeed_[0-9a-f]+)_.*$", r"\1_" + "S" * 43, v),
}


def _redact(body: Any) -> Any:
    if isinstance(body, dict):
        return {
            k: _SHOWN_ONCE[k](v) if k in _SHOWN_ONCE and isinstance(v, str) else _redact(v)
            for k, v in body.items()
        }
    if isinstance(body, list):
        return [_redact(v) for v in body]
    return body


def _body(response: httpx.Response) -> Any:
    if response.headers.get("content-type", "").startswith("application/json"):
        body = _redact(response.json())
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            body["items"] = body["items"][:2]  # a page shows its form with two items
        return body
    return "\n".join(response.text.splitlines()[:TEXT_EXAMPLE_LINES]) + "\n"


def _middle_page(body: Any) -> bool:
    return isinstance(body, dict) and bool(body.get("next_cursor")) and len(body["items"]) == 2
