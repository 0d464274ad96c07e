"""Contract health and portfolio benchmarks from real events on Kafka: the health of DESIGN's
worked example moves with a failed SLA period, its credit and a reconciled invoice; a
restatement replaces figures instead of adding to them."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx

from contract_registry.main import create_app
from contract_registry.settings import Settings
from crm_events.schemas.billing import ChargeLine, ChargesComputed
from crm_events.schemas.obligations import ObligationCreated, ObligationTransitioned
from crm_events.schemas.sla import Outcome, Period, PreviousFigures, SlaPeriodRestated
from crm_platform.clock import FixedClock
from crm_testing import examples
from crm_testing.apps import running_app, settings_for
from crm_testing.contract_health import march_invoice
from crm_testing.kafka import make_event, publish_envelope, wait_until

NOW = datetime(2026, 4, 20, 14, tzinfo=UTC)


def _app(database_url: str, kafka_bootstrap: str) -> Any:
    settings = settings_for(Settings, database_url=database_url, bootstrap=kafka_bootstrap)
    return create_app(settings, clock=FixedClock(NOW))


async def _publish(kafka: str, event_type: str, cid: uuid.UUID, data: Any) -> Any:
    envelope = make_event(event_type, subject=str(cid), data=data)
    await publish_envelope(kafka, envelope)
    return envelope


def _charges(cid: uuid.UUID, period: str, lines: list[tuple[str, str, str]]) -> ChargesComputed:
    charge_lines = [
        ChargeLine(
            kind=kind,
            item_code=item,
            quantity=Decimal(1),
            rate=Decimal(amount),
            amount=Decimal(amount),
            formula="",
        )
        for kind, item, amount in lines
    ]
    m = sum((line.amount for line in charge_lines), Decimal(0))
    return ChargesComputed(
        contract_id=cid,
        contract_version=1,
        period_label=period,
        currency="USD",
        lines=charge_lines,
        monthly_charges=m,
        credits_total=Decimal(0),
        rebates_total=Decimal(0),
        expected_total=m,
        computed_at=NOW,
    )


def _closed(cid: uuid.UUID, period: str, outcome: str, attainment: str) -> Any:
    event = examples.period_closed(cid, outcome=outcome)
    return event.model_copy(
        update={
            "period": Period(label=period, start=event.period.start, end=event.period.end),
            "attainment": Decimal(attainment),
        }
    )


async def _march(client: httpx.AsyncClient, cid: uuid.UUID, check: Any) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        rows = (await client.get(f"/contracts/{cid}/health")).json()["items"]
        march = [r for r in rows if r["period_label"] == "2026-03"]
        return march[0] if march and check(march[0]) else None

    found = await wait_until(ready, timeout=60, message="health updated")
    assert isinstance(found, dict)
    return found


async def test_health_moves_after_a_failed_sla_period_and_a_reconciled_invoice(
    database_url: str, kafka_bootstrap: str
) -> None:
    async with running_app(_app(database_url, kafka_bootstrap)) as (_, client):
        contract = (await client.post("/contracts", json=examples.contract_document())).json()
        cid = uuid.UUID(contract["id"])
        await client.post(f"/contracts/{cid}/activate")

        # March closes failed: 99.4609% (worked example). Health: SLAs only, score 0.
        await _publish(kafka_bootstrap, "sla.period_closed", cid, examples.period_closed(cid))
        march = await _march(client, cid, lambda r: r["slas_failed"] == 1)
        assert march["score"] == "0.00"

        # billing-reconciler's credit: 4,414.08 of an at-risk 11,035.20 → credits score 60.
        credit = examples.credit_calculated(cid)
        credit_event = await _publish(kafka_bootstrap, "billing.credit_calculated", cid, credit)
        march = await _march(client, cid, lambda r: r["credits_total"] == "4414.08")
        assert march["score"] == "18.00"  # (35 × 0 + 15 × 60) / 50

        # The supplier's invoice is reconciled: over-billed ARC (280.00) and the unapplied
        # credit (4,414.08) are leakage of 5.3618% of the expected 87,545.92.
        invoice = march_invoice(cid)
        reconciled = await _publish(kafka_bootstrap, "reconciliation.completed", cid, invoice)
        march = await _march(client, cid, lambda r: r["invoices"] == 1)
        components = {c["name"]: c["score"] for c in march["components"]}
        assert components == {
            "sla_outcomes": "0.00",
            "service_credits": "60.00",
            "obligations_on_time": None,
            "invoice_accuracy": "0.00",
            "leakage": "46.38",
        }
        # (35 × 0 + 15 × 60 + 15 × 0 + 15 × 46.38) / 80
        assert march["score"] == "19.95"
        assert (march["leakage_total"], march["leakage_pct_of_expected"]) == ("4694.08", "5.3618")
        assert march["leakage_by_class"] == {
            "consumption_error": "280.00",
            "unapplied_credit": "4414.08",
        }
        assert (march["invoice_accuracy_pct"], march["credits_pct_of_charges"]) == (
            "0.0000",
            "4.8000",
        )

        # The root-cause report, fulfilled two days before it was due.
        obligation_id = uuid.uuid4()
        await _publish(
            kafka_bootstrap,
            "obligation.created",
            cid,
            ObligationCreated(
                obligation_id=obligation_id,
                contract_id=cid,
                kind="root_cause_report",
                title="Root-cause report: AVAIL-CORE 2026-03",
                owner_role="service_delivery_manager",
                severity="high",
                due_date=date(2026, 4, 17),
                period_label="2026-03",
                created_at=NOW,
            ),
        )
        await _publish(
            kafka_bootstrap,
            "obligation.fulfilled",
            cid,
            ObligationTransitioned(
                obligation_id=obligation_id,
                contract_id=cid,
                kind="root_cause_report",
                title="Root-cause report: AVAIL-CORE 2026-03",
                from_status="open",
                status="fulfilled",
                due_date=date(2026, 4, 17),
                owner_role="service_delivery_manager",
                at=datetime(2026, 4, 15, 20, tzinfo=UTC),
            ),
        )
        march = await _march(client, cid, lambda r: r["obligations_on_time"] == 1)
        assert (march["obligations_opened"], march["obligations_on_time_pct"]) == (1, "100.0000")
        assert march["score"] == "35.96"  # (0 + 900 + 20 × 100 + 0 + 695.7) / 100

        # Late telemetry restates March to below_expected and billing revises the credit to 0;
        # redelivered events (same ids) change nothing.
        restated = SlaPeriodRestated(
            **examples.period_closed(cid, outcome="below_expected").model_dump(),
            restatement=1,
            previous=PreviousFigures(attainment=Decimal("99.4609"), outcome=Outcome.FAILED),
            reason="late telemetry: outage ended earlier",
        )
        await _publish(kafka_bootstrap, "sla.period_restated", cid, restated)
        revised = credit.model_copy(
            update={
                "credit_id": uuid.uuid4(),
                "credit_amount": Decimal("0.00"),
                "outcome": "below_expected",
                "revision": 2,
                "previous_amount": Decimal("4414.08"),
                "delta_amount": Decimal("-4414.08"),
            }
        )
        await _publish(kafka_bootstrap, "billing.credit_calculated", cid, revised)
        await publish_envelope(kafka_bootstrap, credit_event)
        await publish_envelope(kafka_bootstrap, reconciled)
        march = await _march(
            client, cid, lambda r: r["slas_below_expected"] == 1 and r["credits_total"] == "0.00"
        )
        assert (march["slas_failed"], march["invoices"]) == (0, 1)
        # (35 × 50 + 15 × 100 + 20 × 100 + 15 × 0 + 15 × 46.38) / 100
        assert march["score"] == "59.46"

        brief = (await client.get(f"/contracts/{cid}/handover")).json()
        assert brief["recent_health"] == [
            {
                "period_label": "2026-03",
                "score": "59.46",
                "slas_failed": 0,
                "slas_below_expected": 1,
                "credits_total": "0.00",
                "leakage_total": "4694.08",
            }
        ]


async def test_benchmarks_give_p50_and_p90_per_metric_kind_and_resource_unit(
    database_url: str, kafka_bootstrap: str
) -> None:
    async with running_app(_app(database_url, kafka_bootstrap)) as (_, client):
        created = []
        for _ in range(2):
            contract = (await client.post("/contracts", json=examples.contract_document())).json()
            created.append(uuid.UUID(contract["id"]))
        a, b = created
        events = [
            ("sla.period_closed", a, _closed(a, "2026-02", "met", "99.95")),
            ("sla.period_closed", a, _closed(a, "2026-03", "failed", "99.4609")),
            ("sla.period_closed", b, _closed(b, "2026-03", "met", "99.99")),
            ("billing.credit_calculated", a, examples.credit_calculated(a)),
            (
                "billing.charges_computed",
                a,
                _charges(
                    a,
                    "2026-02",
                    [
                        ("base", "SRV-WIN", "30000.00"),
                        ("base", "TCK-L1", "60000.00"),
                        ("rrc", "TCK-L1", "-5400.00"),
                    ],
                ),
            ),
            (
                "billing.charges_computed",
                a,
                _charges(
                    a,
                    "2026-03",
                    [
                        ("base", "SRV-WIN", "30000.00"),
                        ("arc", "SRV-WIN", "1960.00"),
                        ("base", "TCK-L1", "60000.00"),
                    ],
                ),
            ),
            (
                "billing.charges_computed",
                b,
                _charges(
                    b, "2026-03", [("base", "SRV-WIN", "30000.00"), ("base", "TCK-L1", "60000.00")]
                ),
            ),
        ]
        for event_type, cid, data in events:
            await _publish(kafka_bootstrap, event_type, cid, data)

        async def complete() -> dict[str, Any] | None:
            body = (await client.get("/benchmarks")).json()
            kinds = body["sla_metric_kinds"]
            ready = (
                kinds
                and kinds[0]["sla_periods"] == 3
                and kinds[0]["credit_rate_pct"]["count"] == 3
                and sum(u["periods"] for u in body["resource_units"]) == 6
            )
            return body if ready else None

        body = await wait_until(complete, timeout=60, message="benchmarks fed")
        assert isinstance(body, dict)

    assert body["contracts"] == 2
    [availability] = body["sla_metric_kinds"]
    assert availability["metric_kind"] == "availability"
    assert availability["outcomes"] == {"met": 2, "below_expected": 0, "failed": 1, "no_data": 0}
    # 99.4609, 99.95, 99.99: the median, and 99.95 + 0.8 × 0.04 at rank 1.8.
    assert availability["attainment"] == {"count": 3, "p50": "99.9500", "p90": "99.9820"}
    # Credit rates 0, 0 and 4,414.08 / 91,960.00 = 4.8%.
    assert availability["credit_rate_pct"] == {"count": 3, "p50": "0.0000", "p90": "3.8400"}
    units = {u["resource_unit"]: u for u in body["resource_units"]}
    # SRV-WIN ARC: 0, 0 and 1,960 / 30,000 = 6.5333%.
    assert units["SRV-WIN"]["arc_pct"] == {"count": 3, "p50": "0.0000", "p90": "5.2267"}
    assert units["SRV-WIN"]["net_variance_pct"]["p90"] == "5.2267"
    # TCK-L1 RRC: 5,400 / 60,000 = 9% in one of three periods.
    assert units["TCK-L1"]["rrc_pct"] == {"count": 3, "p50": "0.0000", "p90": "7.2000"}
    assert units["TCK-L1"]["net_variance_pct"] == {"count": 3, "p50": "0.0000", "p90": "0.0000"}
    assert body["credit_rate_pct"] == {"count": 3, "p50": "0.0000", "p90": "3.8400"}


async def test_benchmarks_filter_by_kind_unit_period_and_tenant(
    database_url: str, kafka_bootstrap: str
) -> None:
    async with running_app(_app(database_url, kafka_bootstrap)) as (_, client):
        cid = uuid.UUID(
            (await client.post("/contracts", json=examples.contract_document())).json()["id"]
        )
        await _publish(
            kafka_bootstrap, "sla.period_closed", cid, _closed(cid, "2026-03", "met", "99.95")
        )
        await _publish(
            kafka_bootstrap,
            "billing.charges_computed",
            cid,
            _charges(
                cid, "2026-03", [("base", "SRV-WIN", "30000.00"), ("base", "TCK-L1", "60000.00")]
            ),
        )

        async def fed() -> bool:
            body = (await client.get("/benchmarks")).json()
            return bool(body["sla_metric_kinds"]) and len(body["resource_units"]) == 2

        await wait_until(fed, timeout=60, message="benchmarks fed")
        narrowed = (
            await client.get(
                "/benchmarks",
                params={"metric_kind": "incident_response", "resource_unit": "SRV-WIN"},
            )
        ).json()
        assert narrowed["sla_metric_kinds"] == []
        assert [u["resource_unit"] for u in narrowed["resource_units"]] == ["SRV-WIN"]
        later = (await client.get("/benchmarks", params={"period_from": "2026-04"})).json()
        assert (later["contracts"], later["sla_metric_kinds"]) == (0, [])
        other = (await client.get("/benchmarks", headers={"X-Tenant-Id": "other-bank"})).json()
        assert other["contracts"] == 0
        bad = await client.get("/benchmarks", params={"metric_kind": "uptime"})
        assert bad.status_code == 422
        assert bad.json()["error"]["details"][0]["loc"] == "query.metric_kind"
        bad_period = await client.get(f"/contracts/{cid}/health", params={"period_from": "March"})
        assert bad_period.json()["error"]["details"][0]["loc"] == "query.period_from"
