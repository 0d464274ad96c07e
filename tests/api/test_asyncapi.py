"""The AsyncAPI documents, read by the official AsyncAPI parser (npm `@asyncapi/parser`,
pinned in tests/api/asyncapi/package.json and installed into the cache on first use): the
committed system document and each service's `/asyncapi.json` parse without an error, and
each service's consumed channels are the topics it really consumes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from billing_reconciler import handlers as billing_handlers
from billing_reconciler.main import create_app as billing_app
from contract_registry import handlers as registry_handlers
from contract_registry.main import create_app as registry_app
from crm_events import asyncapi
from crm_events.topics import Topic
from obligation_tracker import handlers as obligations_handlers
from obligation_tracker.main import create_app as obligations_app
from sla_monitor import handlers as sla_handlers
from sla_monitor.main import create_app as sla_app

HERE = Path(__file__).parent / "asyncapi"
COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"
APPS: dict[str, tuple[Callable[[], FastAPI], list[str]]] = {
    "contract-registry": (registry_app, registry_handlers.TOPICS),
    "obligation-tracker": (obligations_app, obligations_handlers.TOPICS),
    "sla-monitor": (sla_app, sla_handlers.TOPICS),
    "billing-reconciler": (billing_app, billing_handlers.TOPICS),
}


@pytest.fixture(scope="module")
def parser_dir() -> Path:
    """A directory with the pinned parser installed (npm, once per cache)."""
    for tool in ("node", "npm"):
        assert shutil.which(tool), f"{tool} is needed to run the AsyncAPI parser"
    spec = json.loads((HERE / "package.json").read_text())
    version = spec["dependencies"]["@asyncapi/parser"]
    cache = Path(os.environ.get("CRM_CACHE_DIR", Path.home() / ".cache" / "crm"))
    target = cache / "npm" / f"asyncapi-parser-{version}"
    if not (target / "node_modules" / "@asyncapi" / "parser").exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(HERE / "package.json", target / "package.json")
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=target,
            check=True,
            timeout=600,
        )
    shutil.copy(HERE / "validate.mjs", target / "validate.mjs")
    return target


def _validate(parser_dir: Path, *paths: Path) -> list[dict[str, object]]:
    run = subprocess.run(
        ["node", "validate.mjs", *map(str, paths)],
        cwd=parser_dir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert run.returncode == 0, (run.stdout, run.stderr)
    return lines


def test_the_committed_system_document_is_valid(parser_dir: Path) -> None:
    found = _validate(parser_dir, COMMITTED)
    assert [r for r in found if r.get("severity") == 0] == []
    [ok] = [r for r in found if r.get("ok")]
    assert ok["messages"] == len(asyncapi.document()["components"]["messages"])


async def test_each_service_serves_a_valid_document_of_its_own_channels(
    parser_dir: Path, tmp_path: Path
) -> None:
    paths = []
    for service, (make_app, topics) in APPS.items():
        assert {Topic(t) for t in topics} | {Topic.ACCESS} == set(asyncapi.CONSUMED_BY[service])
        transport = httpx.ASGITransport(app=make_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            served = await http.get("/asyncapi.json")  # no API key: it is documentation
        assert served.status_code == 200, served.text
        assert served.json() == asyncapi.document(service)
        path = tmp_path / f"{service}.json"
        path.write_text(served.text)
        paths.append(path)
    found = _validate(parser_dir, *paths)
    assert len([r for r in found if r.get("ok")]) == len(APPS)
