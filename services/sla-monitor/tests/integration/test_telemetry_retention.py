"""Raw telemetry by month and its retention, on a real PostgreSQL: months get partitions as
telemetry needs them (also when many batches need the same new month at once); the
retention job drops whole months before its horizon and the small tables' old rows, keeps
what is after it, and from then on items before the horizon are refused (HTTP JSON and
NDJSON: a 422 naming the item; telemetry.v1: the DLQ) and closed periods starting before it
are sealed against restatement."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sla_harness import Harness

from crm_events.schemas.telemetry import TelemetryRecorded
from crm_platform.scheduler import run_once
from crm_testing.kafka import EventCollector, make_event, publish_envelope, wait_until
from sla_monitor.main import PARTITION_JOB
from sla_monitor.telemetry.partitions import add_months, ensure_months, month_name, month_start
from sla_monitor.telemetry.retention import (
    hold_horizon,
    horizon_for,
    move_horizon,
    telemetry_partitions,
)
from sla_monitor.telemetry.service import IngestResult, store_raw


async def sql(harness: Harness, statement: str, **params: Any) -> list[Any]:
    async with harness.app.state.session_factory() as session:
        return list((await session.execute(sa.text(statement), params)).all())


async def partition_names(harness: Harness, table: str) -> set[str]:
    rows = await sql(
        harness,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:t AS regclass)",
        t=table,
    )
    return {r[0] for r in rows}


def sample(at: datetime, status: str = "up") -> dict[str, Any]:
    return {"kind": "sample", "observed_at": at.isoformat(), "status": status}


async def test_each_month_gets_its_partition_when_telemetry_needs_it(harness: Harness) -> None:
    march = datetime(2026, 3, 10, tzinfo=UTC)
    far = datetime(2031, 1, 5, tzinfo=UTC)
    measurement = {
        "kind": "measurement",
        "measured_at": far.isoformat(),
        "value": "12",
        "unit": "ms",
    }
    r = await harness.post(sample(march, "down"), sample(march + timedelta(minutes=5)), measurement)
    assert r.status_code == 202, r.text
    where = await sql(harness, "SELECT tableoid::regclass::text, count(*) FROM samples GROUP BY 1")
    assert where == [("samples_y2026m03", 2)]
    assert "measurements_y2031m01" in await partition_names(harness, "measurements")
    # Ten batches at once into a month nobody made yet: one partition, every row stored.
    month = datetime(2029, 5, 1, tzinfo=UTC)
    answers = await asyncio.gather(
        *(harness.post(sample(month + timedelta(hours=i))) for i in range(10))
    )
    assert [a.status_code for a in answers] == [202] * 10, [a.text for a in answers]
    assert await sql(harness, "SELECT count(*) FROM samples_y2029m05") == [(10,)]

    # Twenty makers of one month at once, each in its own transaction: one makes it.
    async def make(month: datetime) -> list[str]:
        async with harness.app.state.session_factory() as session, session.begin():
            return await ensure_months(session, "measurements", [month])

    for month in (datetime(2030, m, 1, tzinfo=UTC) for m in (2, 3, 4)):
        made = await asyncio.gather(*(make(month) for _ in range(20)))
        assert sorted(n for names in made for n in names) == [month_name("measurements", month)]
    # The job (run at start-up) made this month and the next three ahead.
    now = (await sql(harness, "SELECT now()"))[0][0]
    ahead = {month_name("samples", add_months(month_start(now), n)) for n in range(4)}
    assert ahead <= await partition_names(harness, "samples")


async def test_retention_drops_old_months_refuses_old_items_and_keeps_the_rest(
    harness: Harness, kafka_bootstrap: str
) -> None:
    now = (await sql(harness, "SELECT now()"))[0][0]
    horizon = horizon_for(now, 400)
    assert horizon is not None
    old, kept = horizon - timedelta(days=40), horizon + timedelta(days=10)
    old_incident = {
        "kind": "incident",
        "ticket_id": "INC-OLD",
        "priority": "P1",
        "opened_at": (old - timedelta(days=1)).isoformat(),
        "resolved_at": old.isoformat(),
    }
    open_incident = {
        "kind": "incident",
        "ticket_id": "INC-OPEN",
        "priority": "P3",
        "opened_at": old.isoformat(),
    }
    r = await harness.post(
        sample(old, "down"),
        sample(old + timedelta(minutes=3)),
        sample(kept),
        {"started_at": old.isoformat(), "ended_at": (old + timedelta(minutes=9)).isoformat()},
        old_incident,
        open_incident,
    )
    assert r.status_code == 202, r.text
    old_month = month_name("samples", month_start(old))
    assert old_month in await partition_names(harness, "samples")

    harness.app.state.settings = harness.app.state.settings.model_copy(
        update={"telemetry_retention_days": 400}
    )
    assert await run_once(harness.app, PARTITION_JOB, telemetry_partitions)

    assert await sql(harness, "SELECT before FROM telemetry_horizon") == [(horizon,)]
    assert old_month not in await partition_names(harness, "samples")
    assert await sql(harness, "SELECT observed_at FROM samples") == [(kept,)]
    assert await sql(harness, "SELECT count(*) FROM outages") == [(0,)]
    assert await sql(harness, "SELECT count(*) FROM downtime_spans") == [(0,)]
    assert await sql(harness, "SELECT ticket_id FROM incidents") == [("INC-OPEN",)]

    # Items wholly before the horizon are refused, each named; later ones are welcome.
    late = horizon - timedelta(days=1)
    refused = await harness.post(sample(kept + timedelta(minutes=1)), sample(late))
    assert refused.status_code == 422, refused.text
    [detail] = refused.json()["error"]["details"]
    assert (detail["loc"], detail["type"]) == (
        "body.items[1].observed_at",
        "before_retention_horizon",
    )
    assert horizon.isoformat() in detail["message"]
    lines = "\n".join(
        json.dumps({"service_key": harness.service_key, **sample(at)})
        for at in (kept + timedelta(minutes=2), late)
    )
    streamed = await harness.client.post(
        "/telemetry/ndjson",
        content=lines,
        headers={"Content-Type": "application/x-ndjson", "X-Tenant-Id": "acme-bank"},
    )
    assert streamed.status_code == 422, streamed.text
    assert [d["loc"] for d in streamed.json()["error"]["details"]] == ["line[2].observed_at"]
    # An incident opened before the horizon and still open is not before it.
    assert (await harness.post({**open_incident, "revision": 1})).status_code == 202
    assert await sql(harness, "SELECT count(*) FROM samples") == [(1,)]

    # On telemetry.v1 the message goes to the DLQ with the reason; the next one is stored.
    def recorded(*items: dict[str, Any]) -> Any:
        data = TelemetryRecorded.model_validate(
            {"items": [{"service_key": harness.service_key, **i} for i in items]}
        )
        return make_event("telemetry.recorded", subject=harness.service_key, data=data)

    async with EventCollector(kafka_bootstrap, ["telemetry.v1.dlq"]) as dlq:
        bad = recorded(sample(late))
        await publish_envelope(kafka_bootstrap, bad)
        await publish_envelope(kafka_bootstrap, recorded(sample(kept + timedelta(minutes=3))))
        await dlq.wait_for(lambda e: e.id == bad.id, timeout=60)
    [headers] = [h for _, value, h in dlq.raw if bad.id.encode() in (value or b"")]
    assert headers["dlq.reason"] == b"handler_rejected"
    assert b"data.items[0].observed_at" in headers["dlq.error.message"]

    async def stored() -> bool:
        return await sql(harness, "SELECT count(*) FROM samples") == [(2,)]

    await wait_until(stored, timeout=10, message="the next message stored")
    assert await stored()


@pytest.mark.parametrize("writing", [True, False], ids=["ingestion", "restatement"])
async def test_a_month_is_not_dropped_under_a_reader_of_the_older_horizon(
    harness: Harness, writing: bool
) -> None:
    """An ingestion that checked its items against the horizon in force stores them before
    the job drops a month a newer horizon gives up (they then go with it), instead of
    finding the month gone (no partition for the row: a 500); a restatement that found its
    period unsealed reads the period's raw rows before they go, instead of none."""
    now = (await sql(harness, "SELECT now()"))[0][0]
    horizon = horizon_for(now, 400)
    assert horizon is not None
    old = horizon - timedelta(days=40)
    assert (await harness.post(sample(old))).status_code == 202
    old_month = month_name("samples", month_start(old))
    harness.app.state.settings = harness.app.state.settings.model_copy(
        update={"telemetry_retention_days": 400}
    )
    items = TelemetryRecorded.model_validate(
        {"items": [{"service_key": harness.service_key, **sample(old + timedelta(minutes=1))}]}
    ).items

    async def drop_waiting() -> bool:
        rows = await sql(
            harness,
            "SELECT count(*) FROM pg_locks WHERE NOT granted "
            "AND relation = CAST('samples' AS regclass)",
        )
        return rows == [(1,)]

    async with harness.app.state.session_factory() as session, session.begin():
        assert await hold_horizon(session, writing=writing) is None  # nothing given up yet
        job = asyncio.create_task(run_once(harness.app, PARTITION_JOB, telemetry_partitions))

        async def settled() -> bool:
            return job.done() or await drop_waiting()

        await wait_until(settled, timeout=2, interval=0.01, message="the job waiting or done")
        assert not job.done() and await drop_waiting()  # the drop waits for this transaction
        if writing:
            result = IngestResult()
            await store_raw(session=session, tenant_id="acme-bank", items=items, result=result)
            assert result.accepted["sample"] == 1
        else:
            assert await session.scalar(sa.text("SELECT count(*) FROM samples")) == 1
    assert await job
    assert await sql(harness, "SELECT before FROM telemetry_horizon") == [(horizon,)]
    assert old_month not in await partition_names(harness, "samples")
    assert await sql(harness, "SELECT count(*) FROM samples") == [(0,)]


async def test_a_closed_period_before_the_horizon_is_sealed(harness: Harness) -> None:
    await harness.post({"started_at": "2026-03-14T03:00:00Z", "ended_at": "2026-03-14T08:00:00Z"})
    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))
    closed = await harness.client.post(harness.url("AVAIL-CORE", suffix="/close"))
    assert closed.status_code == 200, closed.text
    before = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
    async with harness.app.state.session_factory() as session, session.begin():
        await move_horizon(session, datetime(2026, 4, 1, tzinfo=UTC), harness.clock.now())
    # The approval would restate March (see test_periods): sealed, it stands as published.
    window = await harness.client.post(
        f"/contracts/{harness.contract_id}/maintenance-windows",
        json={
            "start": "2026-03-14T03:00:00Z",
            "end": "2026-03-14T06:00:00Z",
            "reason": "Emergency storage patch CHG0042",
            "approved_by": "J. Smith (Acme change board)",
            "sla_codes": ["AVAIL-CORE"],
        },
    )
    assert window.status_code == 201, window.text
    assert window.json()["restated_periods"] == []
    after = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
    assert (after["attainment"], after["restatements"]) == (before["attainment"], 0)
    assert harness.events("sla.period_restated") == []
    # The horizon never moves back.
    async with harness.app.state.session_factory() as session, session.begin():
        kept = await move_horizon(session, datetime(2026, 1, 1, tzinfo=UTC), harness.clock.now())
    assert kept == datetime(2026, 4, 1, tzinfo=UTC)
