"""Reading many periods' inputs ahead (one query per kind) gives every computation what its
own queries give: spans, incidents in any letter case of the priority, means and
nearest-rank percentiles per unit, periods with nothing, periods of other lengths."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sla_harness import Harness, sla_with

from crm_events.schemas.contracts import Statistic
from crm_platform.periods import PeriodKind
from sla_monitor.attainment.compute import SlaRef, compute, inputs_read_ahead
from sla_monitor.attainment.domain import PeriodBounds
from sla_monitor.attainment.inputs import ContractVersions
from sla_monitor.attainment.schedule import measured_periods


def _at(instant: datetime) -> str:
    return f"{instant:%Y-%m-%dT%H:%M:%SZ}"


def _telemetry(key: str, rng: random.Random) -> list[dict[str, Any]]:
    start = datetime(2026, 2, 20, tzinfo=UTC)
    items: list[dict[str, Any]] = []
    for _ in range(12):
        at = start + timedelta(hours=rng.randrange(0, 24 * 40))
        end = at + timedelta(minutes=rng.randrange(5, 400))
        items.append({"service_key": key, "started_at": _at(at), "ended_at": _at(end)})
    for n in range(25):
        opened = start + timedelta(hours=rng.randrange(0, 24 * 40))
        items.append(
            {
                "kind": "incident",
                "service_key": key,
                "ticket_id": f"T{n}",
                "priority": rng.choice(["P1", "p1", "P2"]),
                "opened_at": _at(opened),
                "resolved_at": _at(opened + timedelta(minutes=rng.randrange(10, 600))),
            }
        )
    for n in range(60):
        at = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 40))
        items.append(
            {
                "kind": "measurement",
                "service_key": key,
                "measured_at": _at(at),
                "value": str(Decimal(rng.randrange(1, 90000)) / 100),
                "unit": rng.choice(["ms", "ms", "s"]),
                "source_id": f"m{n}",
            }
        )
    return items


def _seen(c: Any) -> tuple[Any, ...]:
    return (c.attainment, c.outcome, c.explanation, c.detail())


async def test_computations_read_ahead_equal_those_read_alone(
    harness: Harness, kafka_bootstrap: str
) -> None:
    avail, p1, lat = harness.terms.sla_definitions
    mean = sla_with(lat, code="LAT-MEAN", statistic=Statistic.MEAN, percentile=None)
    p50 = sla_with(lat, code="LAT-P50", percentile=Decimal("50"), unit="s")
    any_unit = sla_with(lat, code="LAT-ANY", percentile=Decimal("99.9"), unit=None)
    quarterly = sla_with(avail, code="AVAIL-Q", measurement_period="quarter")
    other = await harness.activate(
        kafka_bootstrap, sla_definitions=[avail, p1, lat, mean, p50, any_unit, quarterly]
    )
    rng = random.Random(13)
    for cid in (harness.contract_id, other):
        terms = (await harness.client.get(f"/contracts/{cid}/terms")).json()["terms"]
        key = terms["sla_definitions"][0]["service_key"]
        r = await harness.client.post(
            "/telemetry", json={"tenant_id": "acme-bank", "items": _telemetry(key, rng)}
        )
        assert r.status_code == 202, r.text

    async with harness.app.state.session_factory() as session, session.begin():
        versions = ContractVersions(session)
        await versions.load([harness.contract_id, other])
        pairs: list[tuple[SlaRef, PeriodBounds]] = []
        latest = versions.latest(other)
        assert latest is not None
        for cid, slas in (
            (harness.contract_id, harness.terms.sla_definitions),
            (other, latest.sla_definitions),
        ):
            for sla in slas:
                pairs += measured_periods(
                    versions,
                    contract_id=cid,
                    tenant_id="acme-bank",
                    sla_code=sla.code,
                    timezone=harness.terms.timezone,
                    touching=(datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 4, 15, tzinfo=UTC)),
                )
        assert ("AVAIL-Q", PeriodKind.QUARTER) in {(r.sla.code, p.kind) for r, p in pairs}
        assert len(pairs) > 20
        seen = {}
        for evidence in (True, False):
            alone = [_seen(await compute(session, r, p, evidence=evidence)) for r, p in pairs]
            async with inputs_read_ahead(session, pairs, evidence=evidence):
                ahead = [_seen(await compute(session, r, p, evidence=evidence)) for r, p in pairs]
            assert ahead == alone
            seen[evidence] = alone
        # The figures are not all empty: the read-ahead had something to get right.
        details = [c[3] for c in seen[True]]
        assert any(d.get("counted_downtime") for d in details)
        assert any(d.get("incidents", 0) > 1 and d["missed_incidents"] for d in details)
        assert sum(1 for d in details if d.get("values", 0) > 1 and d["value"]) >= 4
        assert any(not d["has_data"] for d in details)
