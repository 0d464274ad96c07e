"""The README's "The chain, by hand" block, run as written: extracted from README.md (the
fenced block after the `readme-chain` marker) and executed by bash with `set -euo pipefail`
against the four services as processes, twice (a fresh tenant and reference per run), with
its outputs checked against what its comments promise. Only the base URLs and the admin
key come from the environment, as the block reads them (`${REGISTRY:-http://localhost:8001}`)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from crm_testing.auth import ADMIN_KEY
from crm_testing.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- readme-chain:"
ENV = {
    "REGISTRY": "contract-registry",
    "OBLIGATIONS": "obligation-tracker",
    "SLA": "sla-monitor",
    "BILLING": "billing-reconciler",
}


def readme_chain() -> str:
    """The one bash block that follows the marker in README.md."""
    readme = (ROOT / "README.md").read_text()
    assert readme.count(MARKER) == 1, "one readme-chain marker in README.md"
    after = readme.split(MARKER, 1)[1]
    found = re.match(r"[^\n]*-->\n```bash\n(.*?)\n```\n", after, re.DOTALL)
    assert found, "the marker is followed by a ```bash block"
    return found.group(1)


async def _run(script: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        shutil.which("bash") or "bash",
        "-c",
        "set -euo pipefail\n" + script,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=240)
    except TimeoutError:
        process.kill()
        raise
    return process.returncode or 0, out.decode(), err.decode()


def _objects(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def _check_outputs(stdout: str) -> str:
    """What the block's comments promise; returns the run's tenant."""
    [created] = [line for line in stdout.splitlines() if line.startswith("contract ")]
    cid, tenant = re.fullmatch(r"contract (\S+) of tenant (acme-bank-\d+)", created).groups()  # type: ignore[union-attr]
    assert re.fullmatch(r"[0-9a-f-]{36}", cid)
    shown = _objects(stdout)
    assert {"status": "active", "current_version": 1} in shown
    assert {"accepted": 2, "duplicates": 0, "corrected": 0} in shown  # consumption
    assert {"accepted": 1, "duplicates": 0} in shown  # telemetry
    assert {"attainment": "99.4609", "outcome": "failed"} in shown
    [credit] = [o for o in shown if "credit_amount" in o]
    assert (credit["credit_amount"], credit["currency"]) == ("4414.08", "USD")
    assert "91960.00" in credit["formula"] and "11035.20" in credit["formula"]
    [obligation] = [o for o in shown if "kind" in o]
    assert obligation["kind"] == "root_cause_report"
    assert obligation["title"] == "Root-cause report: AVAIL-CORE failed in 2026-03"
    [alert] = [o for o in shown if "credit" in o and "title" in o]
    assert alert["credit"] == "4414.08" and "99.4609%" in alert["title"]
    [health] = [o for o in shown if "slas_failed" in o]
    assert (health["slas_failed"], health["credits_total"]) == (1, "4414.08")
    assert health["score"] == "18.00"
    [reconciliation] = [o for o in shown if "sums_by_class" in o]
    assert reconciliation == {
        "expected_total": "87545.92",
        "invoiced_total": "92240.00",
        "status": "discrepancies",
        "sums_by_class": {"consumption_error": "280.00", "unapplied_credit": "4414.08"},
    }
    return tenant


async def test_the_readme_chain_runs_as_written_and_again(stack: Stack) -> None:
    script = readme_chain()
    assert "localhost:8001" in script and "jq -r .id" in script
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "CRM_ADMIN_API_KEY": ADMIN_KEY,
        **{var: stack.url(service) for var, service in ENV.items()},
    }
    tenants = []
    for _ in range(2):
        code, out, err = await _run(script, env)
        print(out)  # what a reader sees, in the test's log
        assert code == 0, f"exit {code}\nstdout:\n{out}\nstderr:\n{err}"
        tenants.append(_check_outputs(out))
        await asyncio.sleep(1.1)  # the block's run id is the second it starts in
    assert tenants[0] != tenants[1]
