"""A tour of every operation of the four services, through HTTP only, against the stack.

It runs DESIGN's worked example for five months (January to May 2026, each with a 300-minute
outage, March with the worked example's consumption and invoice) and does, at least once,
everything an integrator can: so every list that can grow holds five items or more (for
the pagination walk), and every operation has answered a success (its example).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from contract_registry.pages.charts import CHARTS
from crm_testing import examples
from crm_testing.kafka import wait_until
from crm_testing.stack import Stack
from crm_testing.webhooks import WebhookReceiver
from obligation_tracker.models import Obligation

TENANT = "acme-bank"
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
# Five monthly reports: twelve months of each are planned, five to each month.
REPORTS = [
    {
        "code": f"REPORT-{n}",
        "title": f"Monthly report {n}",
        "clause": f"Schedule 6, 2.{n}",
        "owner_role": "service_delivery_manager",
        "rrule": f"FREQ=MONTHLY;BYMONTHDAY={n}",
        "due_offset_business_days": 5,
    }
    for n in range(1, 6)
]
CSV = {"content-type": "text/csv"}
NDJSON = {"content-type": "application/x-ndjson"}


def ok(response: httpx.Response, *statuses: int) -> Any:
    assert response.status_code in (statuses or (200,)), (
        response.request.method,
        str(response.request.url),
        response.status_code,
        response.text[:2000],
    )
    return response.json() if "json" in response.headers.get("content-type", "") else None


@dataclass
class Tour:
    http: httpx.AsyncClient
    stack: Stack
    receiver: WebhookReceiver
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    ids: dict[str, Any] = field(default_factory=dict)

    def url(self, service: str, path: str) -> str:
        return self.stack.url(service) + path

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return ok(await self.http.get(self.url(service, path), params=params))

    async def post(self, service: str, path: str, *statuses: int, **kwargs: Any) -> Any:
        return ok(await self.http.post(self.url(service, path), **kwargs), *statuses)

    async def until(self, check: Callable[[], Awaitable[Any]], message: str) -> Any:
        return await wait_until(check, timeout=90, interval=0.3, message=message)

    async def run(self) -> None:
        await self.contracts()
        await self.subscriptions()
        await self.breaches()
        await self.consumption_and_invoices()
        await self.restatements()
        await self.obligations()
        await self.alerts_and_webhooks()
        await self.reads()
        await self.api_keys()
        await self.calendar_feeds()
        await self.audit_logs()
        await self.operations()

    # --- contract-registry --------------------------------------------------------------

    def document(self, name: str, **changes: Any) -> dict[str, Any]:
        doc = examples.contract_document(
            reference=f"TOUR-{self.tag}-{name}", service_key=f"tour-{self.tag}-{name}"
        )
        doc.update(changes)
        return doc

    async def create(self, name: str, *, activate: bool, **changes: Any) -> str:
        doc = self.document(name, **changes)
        created = await self.post("contract-registry", "/contracts", 201, json=doc)
        self.ids[f"doc:{name}"] = doc
        if activate:
            await self.post("contract-registry", f"/contracts/{created['id']}/activate")
        return str(created["id"])

    async def contracts(self) -> None:
        """Five contracts: the worked example (with monthly reports to deliver), one amended
        five times, a draft edited then exported and imported, one terminated."""
        main = await self.create("main", activate=True, obligation_definitions=REPORTS)
        self.ids["main"] = main
        self.ids["amended"] = await self.create("amended", activate=True)
        await self.amendments(self.ids["amended"])
        draft = await self.create("draft", activate=False)
        doc = {**self.ids["doc:draft"], "customer": "Acme Bank plc"}
        doc.pop("tenant_id")  # a draft's tenant is the contract's
        ok(await self.http.put(self.url("contract-registry", f"/contracts/{draft}"), json=doc))
        exported = await self.get("contract-registry", f"/contracts/{draft}/export")
        for version in exported["versions"]:
            version["terms"]["reference"] = f"TOUR-{self.tag}-imported"
        await self.post("contract-registry", "/contracts/import", 201, json=exported)
        ended = await self.create("ended", activate=True)
        terminate = {"reason": "Termination for convenience (clause 19.2)"}
        await self.post("contract-registry", f"/contracts/{ended}/terminate", json=terminate)
        await self.known(main)

    async def amendments(self, cid: str) -> None:
        base = f"/contracts/{cid}/amendments"
        terms = copy.deepcopy(self.ids["doc:amended"])
        terms.pop("tenant_id")
        for n in range(4):  # four drafts discarded: versions 2-5
            draft = {"effective_from": "2026-07-01", "note": f"CR-{n}", "terms": terms}
            created = await self.post("contract-registry", base, 201, json=draft)
            path = f"{base}/{created['version']}"
            ok(await self.http.put(self.url("contract-registry", path), json=draft))
            ok(await self.http.delete(self.url("contract-registry", path)))
        terms["price_book"][0]["baseline_volume"] = "240"
        change = {"effective_from": "2026-07-01", "note": "CR-12: 240 servers", "terms": terms}
        created = await self.post("contract-registry", base, 201, json=change)
        await self.post("contract-registry", f"{base}/{created['version']}/activate")
        await self.get("contract-registry", f"/contracts/{cid}/versions")
        await self.get("contract-registry", f"/contracts/{cid}/versions/{created['version']}")

    async def known(self, cid: str) -> None:
        for service in ("obligation-tracker", "sla-monitor", "billing-reconciler"):

            async def terms(service: str = service) -> bool:
                url = self.url(service, f"/contracts/{cid}/terms")
                return (await self.http.get(url)).status_code == 200

            await self.until(terms, f"terms at {service}")

    # --- before the events: who hears of them ---------------------------------------------

    async def subscriptions(self) -> None:
        hook = {
            "url": self.receiver.url,
            "event_types": ["alert.raised", "obligation.created"],
            "description": "ERP incident queue",
            "tenant_id": TENANT,
        }
        created = await self.post("obligation-tracker", "/webhooks", 201, json=hook)
        self.ids["webhook"] = created["id"]
        for n in range(5):  # other tenants' receivers: listed, never called here
            other = {**hook, "tenant_id": f"tour-{self.tag}-{n}", "description": f"ERP {n}"}
            self.ids["other_webhook"] = (
                await self.post("obligation-tracker", "/webhooks", 201, json=other)
            )["id"]
        for event_type in ("sla.at_risk", "sla.breached", "billing.credit_calculated"):
            for n in range(2):
                rule = {"event_type": event_type, "tenant_id": f"tour-{self.tag}-{n}"}
                created = await self.post("obligation-tracker", "/alert-rules", 201, json=rule)
                self.ids["rule"] = created["id"]

    # --- sla-monitor: five failed months ----------------------------------------------------

    async def breaches(self) -> None:
        cid, key = self.ids["main"], f"tour-{self.tag}-main"
        outages = [
            {"service_key": key, "started_at": f"{m}-14T03:00:00Z", "ended_at": f"{m}-14T08:00:00Z"}
            for m in MONTHS
        ]
        body = {"tenant_id": TENANT, "items": outages}
        await self.post("sla-monitor", "/telemetry", 202, json=body)
        samples = "".join(
            f'{{"kind": "sample", "service_key": "{key}", '
            f'"observed_at": "2026-06-10T14:0{n}:00Z", "status": "up"}}\n'
            for n in range(3)
        )
        await self.post(
            "sla-monitor",
            "/telemetry/ndjson",
            202,
            params={"tenant_id": TENANT},
            content=samples,
            headers=NDJSON,
        )
        for month in MONTHS:
            path = f"/contracts/{cid}/slas/AVAIL-CORE/periods/{month}/close"
            closed = await self.post("sla-monitor", path)
            assert closed["outcome"] == "failed", closed
        # June, closed the month-end way (a portfolio of one): the samples say it was up.
        june = await self.post(
            "sla-monitor", "/periods/2026-06/close", json={"contract_ids": [cid]}
        )
        lines = {line["sla_code"]: line["outcome"] for line in june["closed"]}
        assert lines.get("AVAIL-CORE") == "met", june

        async def credits() -> bool:
            page = await self.get("billing-reconciler", f"/contracts/{cid}/credits")
            return len(page["items"]) == len(MONTHS)

        await self.until(credits, "a credit per failed month")

    # --- billing-reconciler -----------------------------------------------------------------

    async def consumption_and_invoices(self) -> None:
        cid = self.ids["main"]
        parts = {"SRV-WIN": ["100", "100", "14"], "TCK-L1": ["2000", "2000", "700"]}
        items = [
            {
                "record_id": f"{self.tag}-{code}-{n}",
                "contract_id": cid,
                "resource_unit": code,
                "period_label": examples.PERIOD,
                "quantity": quantity,
            }
            for code, quantities in parts.items()
            for n, quantity in enumerate(quantities)
        ]
        await self.post("billing-reconciler", "/consumption", 202, json={"items": items})
        february = (
            "record_id,contract_id,resource_unit,period_label,quantity\n"
            f"{self.tag}-feb,{cid},SRV-WIN,2026-02,200\n"
        )
        await self.post(
            "billing-reconciler", "/consumption/csv", 202, content=february, headers=CSV
        )
        await self.invoices(cid)

    async def invoices(self, cid: str) -> None:
        march = examples.invoice_document(cid, invoice_number=f"GLX-{self.tag}-03")
        receipt = await self.post("billing-reconciler", "/invoices", 201, json=march)
        self.ids["invoice"] = receipt["invoice"]["id"]
        await self.post("billing-reconciler", "/invoices", 200, json=march)  # a duplicate
        for n in range(4):  # four corrections: reconciliation revisions 2-5
            corrected = copy.deepcopy(march) | {"correction": True}
            corrected["lines"][0]["description"] = f"Windows servers, baseline (v{n + 2})"
            await self.post("billing-reconciler", "/invoices", 200, json=corrected)
        for month in ("2026-01", "2026-02", "2026-04", "2026-05"):
            doc = examples.invoice_document(cid, invoice_number=f"GLX-{self.tag}-{month}")
            doc["period_label"] = month
            await self.post("billing-reconciler", "/invoices", 201, json=doc)
        june = examples.invoice_csv(cid, invoice_number=f"GLX-{self.tag}-06")
        june = june.replace(f",{examples.PERIOD},", ",2026-06,")
        await self.post("billing-reconciler", "/invoices/csv", 201, content=june, headers=CSV)
        await self.post("billing-reconciler", "/invoices/csv", 200, content=june, headers=CSV)

    # --- sla-monitor: March restated by five approved maintenance windows -----------------

    async def restatements(self) -> None:
        cid = self.ids["main"]
        for n in range(5):
            window = {
                "start": f"2026-03-14T03:{n}0:00Z",
                "end": f"2026-03-14T03:{n}1:00Z",
                "reason": f"Emergency patch CHG00{n}",
                "approved_by": "J. Smith (Acme change board)",
                "sla_codes": ["AVAIL-CORE"],
            }
            path = f"/contracts/{cid}/maintenance-windows"
            await self.post("sla-monitor", path, 201, json=window)
        trail = f"/contracts/{cid}/slas/AVAIL-CORE/periods/2026-03/restatements"
        page = await self.get("sla-monitor", trail)
        assert len(page["items"]) == 5, page

    # --- obligation-tracker -----------------------------------------------------------------

    async def obligations(self) -> None:
        cid, owner = self.ids["main"], f"tour-{self.tag}@acme.example"
        self.ids["owner"] = owner

        async def open_ones() -> list[dict[str, Any]] | None:
            page = await self.get(
                "obligation-tracker", "/obligations", contract_id=cid, status=["open", "overdue"]
            )
            return page["items"] if len(page["items"]) >= 12 else None

        rows = await self.until(open_ones, "the contract's open obligations")
        await self.fall_due(cid)
        for row in rows[:6]:
            await self.patch("obligation-tracker", f"/obligations/{row['id']}", {"owner": owner})
        first = f"/obligations/{rows[0]['id']}"
        for n in range(4):  # reassigned back and forth: a history of six transitions or more
            who = f"deputy-{self.tag}@acme.example" if n % 2 == 0 else owner
            await self.patch("obligation-tracker", first, {"owner": who})
        await self.get("obligation-tracker", first)
        await self.get("obligation-tracker", f"{first}/history")
        fulfil = {"by": owner, "evidence": {"link": "https://docs.example.com/rca/2026-03.pdf"}}
        await self.post("obligation-tracker", f"/obligations/{rows[10]['id']}/fulfil", json=fulfil)
        waive = {"by": "a.lee@acme.example", "reason": "Agreed at the March review"}
        await self.post("obligation-tracker", f"/obligations/{rows[11]['id']}/waive", json=waive)
        await self.get("obligation-tracker", "/obligations/due", contract_id=cid, within_days=366)
        await self.get("obligation-tracker", "/obligations/overdue", contract_id=cid)
        await self.get("obligation-tracker", f"/contracts/{cid}/obligations")
        await self.get("obligation-tracker", f"/owners/{owner}/obligations")
        ok(await self.http.get(self.url("obligation-tracker", f"/owners/{owner}/calendar.ics")))

    async def fall_due(self, cid: str) -> None:
        """Time passes: next month's reports fall past due. (The services run on the wall
        clock, which a test cannot move; their database's due dates it can.)"""
        engine = create_async_engine(self.stack.services["obligation-tracker"].database_url)
        try:
            async with engine.begin() as conn:
                moved = await conn.execute(
                    sa.update(Obligation)
                    .where(
                        Obligation.contract_id == uuid.UUID(cid),
                        Obligation.kind == "contractual",
                        Obligation.due_date > sa.func.current_date() + 20,
                        Obligation.due_date <= sa.func.current_date() + 50,
                    )
                    .values(due_date=Obligation.due_date - 60)
                )
                assert moved.rowcount >= 5, moved.rowcount
        finally:
            await engine.dispose()

    async def patch(self, service: str, path: str, body: dict[str, Any]) -> Any:
        return ok(await self.http.patch(self.url(service, path), json=body))

    async def alerts_and_webhooks(self) -> None:
        cid, hook = self.ids["main"], f"/webhooks/{self.ids['webhook']}"

        async def alerts() -> list[dict[str, Any]] | None:
            page = await self.get("obligation-tracker", "/alerts", contract_id=cid)
            return page["items"] if len(page["items"]) >= len(MONTHS) else None

        raised = await self.until(alerts, "an alert per failed month")
        await self.get("obligation-tracker", f"/alerts/{raised[0]['id']}")
        rule = f"/alert-rules/{self.ids['rule']}"
        await self.get("obligation-tracker", "/alert-rules")
        await self.get("obligation-tracker", rule)
        await self.patch("obligation-tracker", rule, {"description": "Checked by the tour"})
        spare = {"event_type": "sla.at_risk", "tenant_id": f"tour-{self.tag}-spare"}
        spare_id = (await self.post("obligation-tracker", "/alert-rules", 201, json=spare))["id"]
        await self.delete("obligation-tracker", f"/alert-rules/{spare_id}")
        await self.get("obligation-tracker", "/webhooks")
        await self.get("obligation-tracker", hook)
        await self.patch("obligation-tracker", hook, {"description": "ERP incident queue (prod)"})
        await self.post("obligation-tracker", f"{hook}/rotate-secret")

        async def deliveries() -> list[dict[str, Any]] | None:
            page = await self.get("obligation-tracker", f"{hook}/deliveries")
            done = [d for d in page["items"] if d["status"] == "delivered"]
            return page["items"] if len(done) >= 8 else None

        log = await self.until(deliveries, "deliveries to the receiver")
        await self.post("obligation-tracker", f"{hook}/deliveries/{log[0]['id']}/redeliver")
        await self.delete("obligation-tracker", f"/webhooks/{self.ids['other_webhook']}")

    async def delete(self, service: str, path: str) -> None:
        ok(await self.http.delete(self.url(service, path)), 204)

    # --- reads of every service -------------------------------------------------------------

    async def reads(self) -> None:
        cid, march = self.ids["main"], examples.PERIOD
        await self.get("contract-registry", "/contracts", q=f"TOUR-{self.tag}")
        await self.get("contract-registry", f"/contracts/{cid}")

        async def health() -> bool:
            page = await self.get("contract-registry", f"/contracts/{cid}/health")
            return len(page["items"]) >= len(MONTHS)

        await self.until(health, "a health row per month")
        await self.get("contract-registry", "/benchmarks")
        await self.get("contract-registry", f"/contracts/{cid}/handover")
        markdown = self.url("contract-registry", f"/contracts/{cid}/handover")
        ok(await self.http.get(markdown, params={"format": "markdown"}))
        for page in ("health.html", *(f"charts/{c}.svg" for c in CHARTS)):
            ok(await self.http.get(self.url("contract-registry", f"/contracts/{cid}/{page}")))
        sla = f"/contracts/{cid}/slas/AVAIL-CORE/periods"
        await self.get("sla-monitor", sla, last=12)
        await self.get("sla-monitor", f"{sla}/{march}")
        await self.get("sla-monitor", f"{sla}/{march}/explanation")
        await self.get("sla-monitor", f"/contracts/{cid}/scorecard/{march}")
        await self.get("sla-monitor", f"/contracts/{cid}/maintenance-windows")
        await self.billing_reads(cid, march)

    async def billing_reads(self, cid: str, march: str) -> None:
        await self.get("billing-reconciler", f"/contracts/{cid}/charges/{march}")
        await self.post("billing-reconciler", f"/contracts/{cid}/periods/{march}/compute")
        await self.get("billing-reconciler", f"/contracts/{cid}/periods/{march}/consumption")
        await self.get("billing-reconciler", f"/contracts/{cid}/price-book")
        await self.get("billing-reconciler", "/invoices", contract_id=cid)
        invoice = f"/invoices/{self.ids['invoice']}"
        await self.get("billing-reconciler", invoice)
        await self.get("billing-reconciler", f"{invoice}/reconciliation")
        await self.get("billing-reconciler", f"{invoice}/reconciliations")
        await self.get("billing-reconciler", "/leakage", contract_id=cid)
        for export in ("credits", "charges", "discrepancies", "leakage"):
            await self.get("billing-reconciler", f"/{export}/csv", contract_id=cid)

    async def api_keys(self) -> None:
        scopes = [["billing:read", "billing:write"], ["sla:read"], ["telemetry:write"]]
        for n in range(5):
            key = {"name": f"tour {n}", "tenant_id": TENANT, "scopes": scopes[n % 3]}
            issued = await self.post("contract-registry", "/admin/api-keys", 201, json=key)
        await self.get("contract-registry", "/admin/api-keys")
        revoke = f"/admin/api-keys/{issued['key_id']}/revoke"
        await self.post("contract-registry", revoke, json={"reason": "rotated"})

    async def calendar_feeds(self) -> None:
        """Five feeds of the tour's owner; the first read by its URL alone, one revoked."""
        owner = self.ids["owner"]
        feeds = []
        for n in range(5):
            body = {"name": f"Tour {n}", "owner": owner, "roles": ["service_delivery_manager"]}
            body["tenant_id"] = TENANT
            feeds.append(await self.post("obligation-tracker", "/calendar-feeds", 201, json=body))
        feed = await self.http.get(feeds[0]["feed_url"], headers={"Authorization": ""})
        assert feed.status_code == 200 and b"BEGIN:VEVENT" in feed.content, feed.text
        await self.get("obligation-tracker", "/calendar-feeds", owner=owner)
        await self.get("obligation-tracker", f"/calendar-feeds/{feeds[0]['feed_id']}")
        revoke = f"/calendar-feeds/{feeds[4]['feed_id']}/revoke"
        await self.post("obligation-tracker", revoke, json={"reason": "tour over"})

    async def audit_logs(self) -> None:
        """Each service's audit log, five entries or more for the list walk: the tour's
        operator actions (billing's: a contract's periods computed for the first time)."""
        amended = self.ids["amended"]
        for month in MONTHS:
            await self.post("billing-reconciler", f"/contracts/{amended}/periods/{month}/compute")
        await self.get("billing-reconciler", "/audit", contract_id=amended)
        await self.get("contract-registry", "/audit")
        for service in ("sla-monitor", "obligation-tracker"):
            await self.get(service, "/audit", contract_id=self.ids["main"])

    async def leave(self) -> None:
        """No subscription outlives its receiver (later tests share the services)."""
        await self.delete("obligation-tracker", f"/webhooks/{self.ids['webhook']}")

    async def operations(self) -> None:
        for service in self.stack.services:
            for path in ("/healthz", "/readyz", "/metrics"):
                ok(await self.http.get(self.url(service, path)))
