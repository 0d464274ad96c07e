"""During the period: live figures, at-risk and breached once. After it: the close job,
the operator close, restatements from late telemetry and ad-hoc maintenance windows."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sla_harness import Harness, sla_with

from crm_platform.scheduler import run_once
from crm_testing.kafka import wait_until
from sla_monitor.attainment import jobs
from sla_monitor.attainment.jobs import close_due_periods
from sla_monitor.main import CLOSE_JOB

OUTAGE = {"started_at": "2026-03-14T03:00:00Z", "ended_at": "2026-03-14T08:00:00Z"}


def outage(start: str, end: str) -> dict[str, str]:
    return {"started_at": start, "ended_at": end}


async def test_at_risk_then_breached_are_each_sent_once(harness: Harness) -> None:
    # 2 March 12:00 UTC: 1,860 measured minutes of March have passed.
    await harness.post(outage("2026-03-02T00:00:00Z", "2026-03-02T00:10:00Z"))
    [risk] = await harness.wait_for("sla.at_risk")
    assert risk.data["sla_code"] == "AVAIL-CORE"
    # 10 minutes in 1,860 → 239.35 by the end of 44,520 measured minutes → 99.4624%.
    assert risk.data["projected_attainment"] == "99.4624"
    assert risk.data["remaining_budget_minutes"] == "212.6000"  # 0.5% of 44,520 − 10
    await harness.post(outage("2026-03-02T01:00:00Z", "2026-03-02T01:10:00Z"))
    assert not harness.events("sla.breached")

    # 300 more minutes: even with nothing else, March cannot reach 99.5%.
    await harness.post(outage("2026-03-01T06:00:00Z", "2026-03-01T11:00:00Z"))
    [breach] = await harness.wait_for("sla.breached")
    assert breach.data["best_possible_attainment"] == "99.2812"  # (44,520 − 320) / 44,520
    await harness.post(outage("2026-03-02T02:00:00Z", "2026-03-02T02:10:00Z"))
    live = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
    assert (live["status"], live["figures"]["downtime_minutes"]) == ("open", "330")
    assert len(harness.events("sla.at_risk")) == 1
    assert len(harness.events("sla.breached")) == 1


@pytest.mark.parametrize("shards", [1, 8], ids=["one lock", "8 shards"])
async def test_close_job_closes_each_due_period_once_with_its_figures(
    harness: Harness, shards: int
) -> None:
    await harness.post(OUTAGE)
    harness.clock.set(datetime(2026, 4, 4, 3, tzinfo=UTC))  # March ended; grace not over
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods, shards)
    assert (await harness.client.get(harness.url("AVAIL-CORE"))).json()["status"] == "open"

    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))  # 1 April 04:00 UTC + 72 h passed
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods, shards)
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods, shards)
    closed = await harness.wait_for("sla.period_closed", count=3)
    by_code = {e.data["sla_code"]: e.data for e in closed}
    assert (by_code["AVAIL-CORE"]["attainment"], by_code["AVAIL-CORE"]["outcome"]) == (
        "99.4609",
        "failed",
    )
    assert by_code["AVAIL-CORE"]["figures"] == {
        "period_minutes": "44580",
        "excluded_minutes": "60",
        "downtime_minutes": "240",
    }
    # No P1 incident closed, and the service was reported on: none missed.
    assert (by_code["P1-RES"]["outcome"], by_code["P1-RES"]["incident_figures"]["incidents"]) == (
        "met",
        0,
    )
    assert (by_code["LAT-P95"]["outcome"], by_code["LAT-P95"]["attainment"]) == ("no_data", None)
    # February had ended before this service knew the contract: not closed by the job.
    assert {e.data["period"]["label"] for e in closed} == {"2026-03"}
    assert (
        await harness.client.post(harness.url("AVAIL-CORE", suffix="/close"))
    ).status_code == 409
    assert len(harness.events("sla.period_closed")) == 3

    explanation = (
        await harness.client.get(harness.url("AVAIL-CORE", suffix="/explanation"))
    ).json()
    assert explanation["status"] == "closed"
    assert explanation["detail"]["maintenance_minutes"] == "60"
    assert explanation["detail"]["reported_downtime_minutes"] == "300"
    assert [(d["start"], d["minutes"]) for d in explanation["detail"]["counted_downtime"]] == [
        ("2026-03-14T03:00:00+00:00", "180"),
        ("2026-03-14T07:00:00+00:00", "60"),
    ]


async def test_a_period_the_job_cannot_close_does_not_hold_back_the_others(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await harness.post(OUTAGE)
    real_close = jobs.close_many
    calls: list[list[str]] = []

    async def broken_for_p1(**kw: Any) -> Any:
        codes = [ref.sla.code for ref, _ in kw["due"]]
        calls.append(codes)
        if "P1-RES" in codes:
            raise ValueError("a bug in one SLA's close")
        return await real_close(**kw)

    monkeypatch.setattr(jobs, "close_many", broken_for_p1)
    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods)
    closed = await harness.wait_for("sla.period_closed", count=2)
    assert sorted(e.data["sla_code"] for e in closed) == ["AVAIL-CORE", "LAT-P95"]
    p1 = (await harness.client.get(harness.url("P1-RES"))).json()
    assert p1["status"] == "open"
    # The due periods were tried together first, then one by one once that failed.
    assert sorted(calls[0]) == ["AVAIL-CORE", "LAT-P95", "P1-RES"]
    assert sorted(c for call in calls[1:] for c in call) == ["AVAIL-CORE", "LAT-P95", "P1-RES"]
    assert all(len(call) == 1 for call in calls[1:])

    monkeypatch.setattr(jobs, "close_many", real_close)  # fixed: the next run closes it
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods)
    await harness.wait_for("sla.period_closed", count=3)
    assert sorted(e.data["sla_code"] for e in harness.events("sla.period_closed")) == [
        "AVAIL-CORE",
        "LAT-P95",
        "P1-RES",
    ]


async def test_the_job_closes_at_most_its_bound_per_run_and_the_rest_in_the_next(
    harness: Harness,
) -> None:
    await harness.post(OUTAGE)
    harness.app.state.settings.close_job_max_periods = 2
    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods)
    # The first run committed two periods: their events left before the third was closed.
    first = await harness.wait_for("sla.period_closed", count=2)
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods)
    closed = await harness.wait_for("sla.period_closed", count=3)
    assert sorted(e.data["sla_code"] for e in closed) == ["AVAIL-CORE", "LAT-P95", "P1-RES"]
    assert {e.id for e in first} < {e.id for e in closed}
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods)  # nothing left
    await asyncio.sleep(0.5)
    assert len(harness.events("sla.period_closed")) == 3


async def test_late_telemetry_restates_a_closed_period_once_and_keeps_the_audit_trail(
    harness: Harness,
) -> None:
    await harness.post(OUTAGE)
    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))
    closed = await harness.client.post(harness.url("AVAIL-CORE", suffix="/close"))
    assert closed.json()["attainment"] == "99.4609"

    harness.clock.set(datetime(2026, 4, 10, tzinfo=UTC))
    late = outage("2026-03-20T10:00:00Z", "2026-03-20T10:10:00Z")
    await harness.post(late)
    await harness.post(late)  # the same interval again: nothing to restate
    [restated] = await harness.wait_for("sla.period_restated")
    assert (restated.data["attainment"], restated.data["restatement"]) == ("99.4385", 1)
    assert restated.data["previous"]["attainment"] == "99.4609"
    assert restated.data["previous"]["figures"]["downtime_minutes"] == "240"
    assert restated.data["figures"]["downtime_minutes"] == "250"
    trail = (await harness.client.get(harness.url("AVAIL-CORE", suffix="/restatements"))).json()[
        "items"
    ]
    assert [
        (r["restatement"], r["previous"]["attainment"], r["current"]["attainment"]) for r in trail
    ] == [(1, "99.4609", "99.4385")]
    now = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
    assert (now["status"], now["attainment"], now["restatements"]) == ("closed", "99.4385", 1)

    # Past the restatement window (90 days after the close) the published figures stand.
    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC) + timedelta(days=91))
    await harness.post(outage("2026-03-21T10:00:00Z", "2026-03-21T10:10:00Z"))
    await wait_until(lambda: True)
    assert (await harness.client.get(harness.url("AVAIL-CORE"))).json()["attainment"] == "99.4385"
    assert len(harness.events("sla.period_restated")) == 1


async def test_approved_maintenance_window_restates_the_closed_period(harness: Harness) -> None:
    await harness.post(OUTAGE)
    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))
    await harness.client.post(harness.url("AVAIL-CORE", suffix="/close"))
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
    assert window.json()["restated_periods"] == ["AVAIL-CORE/2026-03"]
    [restated] = await harness.wait_for("sla.period_restated")
    # Excluded 240 (the agreed hour and the approved 3 hours), 60 minutes of downtime left:
    # (44,580 − 240 − 60) / (44,580 − 240) = 99.8647% → below_expected.
    assert (restated.data["attainment"], restated.data["outcome"]) == ("99.8647", "below_expected")
    assert "J. Smith" in restated.data["reason"]
    listed = (
        await harness.client.get(f"/contracts/{harness.contract_id}/maintenance-windows")
    ).json()["items"]
    assert [w["approved_by"] for w in listed] == ["J. Smith (Acme change board)"]
    bad = await harness.client.post(
        f"/contracts/{harness.contract_id}/maintenance-windows",
        json={
            "start": "2026-03-14T06:00:00Z",
            "end": "2026-03-14T03:00:00Z",
            "reason": "x",
            "approved_by": "y",
        },
    )
    assert (bad.status_code, bad.json()["error"]["details"][0]["loc"]) == (422, "body.end")


async def test_incidents_count_in_the_period_they_are_resolved_in(harness: Harness) -> None:
    # Opened 31 March 22:00 New York, resolved 1 April 05:00 New York: 7 hours, April's.
    ticket = {
        "kind": "incident",
        "ticket_id": "INC-77",
        "priority": "P1",
        "opened_at": "2026-04-01T02:00:00Z",
    }
    await harness.post({**ticket, "revision": 1, "resolved_at": "2026-04-01T09:00:00Z"})
    march = (await harness.client.get(harness.url("P1-RES"))).json()
    april = (await harness.client.get(harness.url("P1-RES", "2026-04"))).json()
    assert (march["incident_figures"]["incidents"], march["outcome"]) == (0, "met")
    assert april["incident_figures"]["missed_ticket_ids"] == ["INC-77"]
    assert (april["attainment"], april["outcome"]) == ("0.0000", "failed")

    # Revision 2 corrects the resolution to 23:30 on 31 March: within 4 h, and March's.
    fixed = await harness.post({**ticket, "revision": 2, "resolved_at": "2026-04-01T03:30:00Z"})
    stale = await harness.post({**ticket, "revision": 1, "resolved_at": "2026-04-01T09:00:00Z"})
    assert (fixed.json()["accepted"], stale.json()["duplicates"]) == (1, 1)
    march = (await harness.client.get(harness.url("P1-RES"))).json()
    april = (await harness.client.get(harness.url("P1-RES", "2026-04"))).json()
    assert (march["incident_figures"]["within_target"], march["attainment"]) == (1, "100.0000")
    assert april["incident_figures"]["incidents"] == 0


async def test_a_period_without_telemetry_is_no_data_never_met(harness: Harness) -> None:
    for sla in ("AVAIL-CORE", "P1-RES", "LAT-P95"):
        body = (await harness.client.get(harness.url(sla, "2026-02"))).json()
        assert (body["outcome"], body["attainment"]) == ("no_data", None), sla
    # A clean month reported by an `up` sample alone is observed, and met.
    await harness.post({"kind": "sample", "observed_at": "2026-02-10T00:00:00Z", "status": "up"})
    body = (await harness.client.get(harness.url("AVAIL-CORE", "2026-02"))).json()
    assert (body["outcome"], body["attainment"]) == ("met", "100.0000")
    history = (
        await harness.client.get(f"/contracts/{harness.contract_id}/slas/AVAIL-CORE/periods")
    ).json()
    assert [(h["period"]["label"], h["outcome"]) for h in history] == [
        ("2026-01", "no_data"),
        ("2026-02", "met"),
        ("2026-03", "no_data"),
    ]


async def test_the_close_job_reads_the_inputs_of_every_tenant_at_once_as_each_alone(
    harness: Harness, kafka_bootstrap: str
) -> None:
    """One chunk of the job holds periods of two tenants with the same service key: each is
    closed with its own tenant's telemetry and ad-hoc windows, as its live figures read
    alone (the inputs of the whole chunk are read with one query per kind)."""
    other = await harness.activate(
        kafka_bootstrap,
        tenant_id="globex-insurance",
        sla_definitions=[
            sla_with(sla, service_key="globex-core") for sla in harness.terms.sla_definitions
        ],
    )
    await harness.post(OUTAGE)  # acme-bank's outage only
    item = {"service_key": "globex-core", **outage("2026-03-20T00:00:00Z", "2026-03-20T02:00:00Z")}
    globex = {"tenant_id": "globex-insurance", "items": [item]}
    assert (await harness.client.post("/telemetry", json=globex)).status_code == 202
    window = {
        "start": "2026-03-20T00:00:00Z",
        "end": "2026-03-20T01:00:00Z",
        "reason": "Emergency patch CHG0077",
        "approved_by": "J. Smith",
        "sla_codes": ["AVAIL-CORE"],
    }
    approved = await harness.client.post(f"/contracts/{other}/maintenance-windows", json=window)
    assert approved.status_code == 201, approved.text
    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))

    async def figures(contract_id: Any) -> dict[str, tuple[Any, Any, Any]]:
        out = {}
        for code in ("AVAIL-CORE", "LAT-P95", "P1-RES"):
            got = await harness.client.get(f"/contracts/{contract_id}/slas/{code}/periods/2026-03")
            assert got.status_code == 200, got.text
            body = got.json()
            out[code] = (body["status"], body["attainment"], body["outcome"])
        return out

    live = {c: await figures(c) for c in (harness.contract_id, other)}
    mine, theirs = live[harness.contract_id]["AVAIL-CORE"], live[other]["AVAIL-CORE"]
    assert mine[1] != theirs[1]  # 300 minutes down, against 120 less the 60 of the window
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods)
    for contract_id, before in live.items():
        after = await figures(contract_id)
        assert {code: f[0] for code, f in after.items()} == dict.fromkeys(after, "closed")
        assert {code: f[1:] for code, f in after.items()} == {
            code: f[1:] for code, f in before.items()
        }
