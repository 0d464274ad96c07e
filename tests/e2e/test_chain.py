"""The chain the system exists for, across four processes, a real broker and PostgreSQL:

contract activated → telemetry shows an outage → period closed (failed) → service credit
of the right amount → alert and root-cause obligation → contract health moves.

DESIGN.md's worked example: 99.4609% → failed; M = 91,960.00, ARA = 11,035.20,
credit = 4,414.08.
"""

import uuid
from typing import Any

import httpx

from crm_testing import examples
from crm_testing.auth import ADMIN_HEADERS
from crm_testing.kafka import EventCollector, wait_until
from crm_testing.stack import Stack

TOPICS = ["contracts.v1", "sla.v1", "billing.v1", "obligations.v1", "alerts.v1"]


async def test_failed_sla_period_flows_to_credit_alert_obligation_and_health(
    stack: Stack,
    kafka_bootstrap: str,
) -> None:
    registry, obligations, sla, billing = (
        stack.url(n)
        for n in ("contract-registry", "obligation-tracker", "sla-monitor", "billing-reconciler")
    )
    doc = examples.contract_document()
    service_key = doc["sla_definitions"][0]["service_key"]

    async with (
        httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http,
        EventCollector(kafka_bootstrap, TOPICS) as kafka,
    ):
        # 1. The deal team creates and activates the contract.
        created = await http.post(f"{registry}/contracts", json=doc)
        assert created.status_code == 201, created.text
        cid = created.json()["id"]
        activated = await http.post(f"{registry}/contracts/{cid}/activate")
        assert activated.status_code == 200, activated.text
        await kafka.wait_for(lambda e: e.type == "contract.activated" and e.subject == cid)

        # 2. sla-monitor and billing-reconciler now hold the terms they need.
        for base in (sla, billing, obligations):

            async def known(base: str = base) -> bool:
                return (await http.get(f"{base}/contracts/{cid}/terms")).status_code == 200

            await wait_until(known, message=f"terms at {base}")

        # 3. The ERP posts March consumption; monitoring posts the outage.
        items = [
            {
                "record_id": f"{cid}-{code}",
                "contract_id": cid,
                "resource_unit": code,
                "period_label": examples.PERIOD,
                "quantity": qty,
            }
            for code, qty in examples.CONSUMPTION.items()
        ]
        consumption = await http.post(
            f"{billing}/consumption",
            json={"items": items},
            headers={"Idempotency-Key": f"consumption-{cid}"},
        )
        assert consumption.status_code == 202, consumption.text
        telemetry = await http.post(
            f"{sla}/telemetry",
            json={
                "tenant_id": "acme-bank",
                "items": [{"service_key": service_key, **examples.OUTAGE, "source_id": "INC-1"}],
            },
        )
        assert telemetry.status_code == 202, telemetry.text

        # 4. An operator closes March.
        correlation = f"close-{uuid.uuid4()}"
        closed = await http.post(
            f"{sla}/contracts/{cid}/slas/AVAIL-CORE/periods/{examples.PERIOD}/close",
            headers={"X-Correlation-Id": correlation},
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["attainment"] == str(examples.EXPECTED["attainment"])
        assert closed.json()["outcome"] == "failed"

        # 5. The credit, to the cent, on Kafka and through the API.
        [credit] = await kafka.wait_for(
            lambda e: e.type == "billing.credit_calculated" and e.subject == cid, timeout=60
        )
        assert credit.data["credit_amount"] == str(examples.EXPECTED["credit"])
        assert credit.data["at_risk_amount"] == str(examples.EXPECTED["at_risk_amount"])
        assert credit.data["monthly_charges"] == str(examples.EXPECTED["monthly_charges"])
        assert credit.data["currency"] == "USD"
        assert credit.correlationid == correlation  # one story, traceable end to end
        credits = (await http.get(f"{billing}/contracts/{cid}/credits")).json()["items"]
        assert [c["credit_amount"] for c in credits] == ["4414.08"]

        # 6. One alert and one root-cause obligation. The alert is raised by the first event
        # that tells of the breach (sla.breached or the failed close) and completed by the
        # later ones: the credit joins it instead of raising a second alert.
        [alert] = await kafka.wait_for(
            lambda e: e.type == "alert.raised" and e.subject == cid, timeout=60
        )
        assert alert.data["dedup_key"] == f"sla_failure:{cid}:AVAIL-CORE:{examples.PERIOD}"
        [obligation] = await kafka.wait_for(
            lambda e: e.type == "obligation.created" and e.subject == cid, timeout=60
        )
        assert obligation.data["kind"] == "root_cause_report"
        api_obligations = (
            await http.get(f"{obligations}/obligations", params={"contract_id": cid})
        ).json()["items"]
        assert len(api_obligations) == 1

        async def alert_with_credit() -> list[dict[str, object]] | None:
            rows = (await http.get(f"{obligations}/alerts", params={"contract_id": cid})).json()[
                "items"
            ]
            return rows if rows and "credit_amount" in rows[0]["details"] else None

        api_alerts: Any = await wait_until(alert_with_credit, timeout=60, message="credit on alert")
        assert len(api_alerts) == 1
        assert api_alerts[0]["details"]["credit_amount"] == "4414.08"

        # 7. The contract's health shows the failed period, its credit and the follow-up.
        async def health_complete() -> list[dict[str, object]] | None:
            rows = (await http.get(f"{registry}/contracts/{cid}/health")).json()["items"]
            march = [r for r in rows if r["period_label"] == examples.PERIOD]
            if (
                march
                and march[0]["credits_total"] == "4414.08"
                and march[0]["obligations_opened"] == 1
            ):
                return march
            return None

        march_rows = await wait_until(health_complete, timeout=60, message="health updated")
        assert march_rows is not None
        [march] = march_rows
        assert march["slas_failed"] == 1

        # Nothing was counted twice anywhere along the way.
        for event_type in (
            "sla.period_closed",
            "billing.credit_calculated",
            "alert.raised",
            "obligation.created",
        ):
            assert (
                len([e for e in kafka.events if e.type == event_type and e.subject == cid]) == 1
            ), event_type


async def test_every_service_serves_docs_health_readiness_and_metrics(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10, headers=ADMIN_HEADERS) as http:
        for name, svc in stack.services.items():
            assert (await http.get(f"{svc.url}/healthz")).json() == {"status": "ok"}
            ready = (await http.get(f"{svc.url}/readyz")).json()
            assert ready["status"] == "ready", (name, ready)
            assert ready["checks"]["database"] == "ok" and ready["checks"]["kafka"] == "ok"
            metrics = await http.get(f"{svc.url}/metrics")
            assert "crm_http_requests_total" in metrics.text
            docs = await http.get(f"{svc.url}/docs")
            assert docs.status_code == 200 and "swagger" in docs.text.lower()
            spec = (await http.get(f"{svc.url}/openapi.json")).json()
            assert spec["info"]["title"] == name
