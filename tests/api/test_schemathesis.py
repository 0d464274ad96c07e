"""Property-based API tests: schemathesis generates requests from each service's OpenAPI
spec (with an API key) and checks every response — no 5xx, every status code, header,
content type and body as documented, invalid input refused, authentication not ignored.

Two checks are left out. `positive_data_acceptance` expects every schema-valid request to
succeed, while our services rightly refuse schema-valid requests that break a business rule
(a consumption record for a contract nobody knows, a period already closed) with a
documented 4xx. `negative_data_rejection` expects every schema-invalid request refused;
input is strict (a number is never a date, decimals match their pattern), but a decimal
field also takes a JSON integer on purpose (exact; said in its description, while the
schema shows the canonical string form).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from crm_testing.auth import ADMIN_KEY
from crm_testing.stack import SERVICES, Stack

HERE = Path(__file__).resolve().parent
MAX_EXAMPLES = int(os.environ.get("CRM_SCHEMATHESIS_MAX_EXAMPLES", "15"))
CASES: dict[str, int] = {}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("service", SERVICES)
def test_schemathesis_finds_no_server_error_and_no_spec_violation(
    service: str, stack: Stack, tmp_path: Path
) -> None:
    base = stack.url(service)
    # Guard against a vacuous pass: with a key the service does not accept, every request
    # would be a documented 401.
    probe = (
        "/contracts"
        if service == "contract-registry"
        else "/contracts/00000000-0000-0000-0000-000000000000/terms"
    )
    answer = httpx.get(base + probe, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)
    assert answer.status_code in (200, 404), answer.text
    report = tmp_path / f"{service}.txt"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base}/openapi.json",
        "--url",
        base,
        "--header",
        f"Authorization: Bearer {ADMIN_KEY}",
        "--header",
        "X-Tenant-Id: schemathesis",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance,negative_data_rejection",
        "--max-examples",
        str(MAX_EXAMPLES),
        # One worker: CPython 3.11's ast.parse is not thread-safe, and hypothesis parses
        # lambdas' source while describing strategies (seen: "AST constructor recursion
        # depth mismatch" with two workers).
        "--workers",
        "1",
        "--seed",
        "20261126",
        "--no-color",
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "st_hooks",
        "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    # In tmp_path: schemathesis keeps a crash cache (.schemathesis/) in its working directory.
    result = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=840
    )
    report.write_text(result.stdout + result.stderr)
    summary = re.search(r"(\d+) generated", result.stdout)
    assert summary, result.stdout[-3000:] + result.stderr[-2000:]
    CASES[service] = int(summary.group(1))
    assert result.returncode == 0, result.stdout[-6000:]
    assert "errored" not in result.stdout.split("Test cases:")[-1], result.stdout[-4000:]
