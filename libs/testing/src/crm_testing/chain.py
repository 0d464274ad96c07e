"""Steps of the chain that end-to-end tests share, driven through the services' HTTP APIs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from crm_testing.kafka import wait_until
from crm_testing.stack import Stack


async def activate_contract(
    http: httpx.AsyncClient,
    stack: Stack,
    doc: dict[str, Any],
    *,
    known_at: Sequence[str] = ("sla-monitor", "billing-reconciler"),
) -> str:
    """Create and activate a contract on contract-registry; returns its id once the
    services in `known_at` hold its terms (from contracts.v1)."""
    registry = stack.url("contract-registry")
    created = await http.post(f"{registry}/contracts", json=doc)
    assert created.status_code == 201, created.text
    cid: str = created.json()["id"]
    activated = await http.post(f"{registry}/contracts/{cid}/activate")
    assert activated.status_code == 200, activated.text
    for name in known_at:
        base = stack.url(name)

        async def known(base: str = base) -> bool:
            return (await http.get(f"{base}/contracts/{cid}/terms")).status_code == 200

        await wait_until(known, timeout=60, message=f"terms at {name}")
    return cid
