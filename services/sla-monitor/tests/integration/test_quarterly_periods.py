"""A quarterly availability SLA on real PostgreSQL and Kafka: measured over the whole
quarter in New York (129,540 minutes in 2026-Q1), closed once as `2026-Q1` by the operator
or by the job, restated by late telemetry, warned about over the quarter, and shown in
history and in the month's scorecard (docs/sla-monitor.md, "Measurement periods")."""

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sla_harness import Harness, sla_with, terms_with_every_kind

from crm_events.schemas.contracts import ContractAmended
from crm_platform.scheduler import run_once
from crm_testing.kafka import make_event, publish_envelope, wait_until
from sla_monitor.attainment.jobs import close_due_periods
from sla_monitor.main import CLOSE_JOB

Q1 = {
    "label": "2026-Q1",
    "start": "2026-01-01T05:00:00Z",
    "end": "2026-04-01T04:00:00Z",
    "kind": "quarter",
}
DESIGN_OUTAGE = {"started_at": "2026-03-14T03:00:00Z", "ended_at": "2026-03-14T08:00:00Z"}
JANUARY_OUTAGE = {"started_at": "2026-01-20T15:00:00Z", "ended_at": "2026-01-20T16:30:00Z"}


async def _quarterly(harness: Harness, kafka_bootstrap: str) -> tuple[uuid.UUID, str]:
    """A contract whose only SLA is DESIGN's AVAIL-CORE measured per quarter."""
    key = f"quarterly-{uuid.uuid4().hex[:6]}"
    avail = sla_with(
        harness.terms.sla_definitions[0], service_key=key, measurement_period="quarter"
    )
    cid = await harness.activate(kafka_bootstrap, sla_definitions=[avail])
    return cid, key


async def _post(harness: Harness, key: str, *items: dict[str, Any]) -> None:
    batch = {"tenant_id": "acme-bank", "items": [{"service_key": key, **i} for i in items]}
    r = await harness.client.post("/telemetry", json=batch)
    assert r.status_code == 202, r.text


async def _post_q1_outages(harness: Harness, key: str) -> None:
    """On 20 March: DESIGN's outage (240 of its 300 minutes outside the agreed hour) and 90
    minutes on 20 January."""
    harness.clock.set(datetime(2026, 3, 20, tzinfo=UTC))
    await _post(harness, key, DESIGN_OUTAGE, JANUARY_OUTAGE)


def _url(cid: uuid.UUID, period: str, suffix: str = "") -> str:
    return f"/contracts/{cid}/slas/AVAIL-CORE/periods/{period}{suffix}"


def _published(event: Any) -> tuple[Any, ...]:
    return (event.data["period"], event.data["attainment"], event.data["outcome"])


async def test_operator_closes_the_quarter_once_with_the_whole_quarters_figures(
    harness: Harness, kafka_bootstrap: str
) -> None:
    cid, key = await _quarterly(harness, kafka_bootstrap)
    await _post_q1_outages(harness, key)

    live = (await harness.client.get(_url(cid, "2026-Q1"))).json()
    assert (live["status"], live["period"]) == ("open", Q1)
    # 129,540 minutes, the agreed hour excluded, 240 + 90 minutes down:
    # (129,540 − 60 − 330) / (129,540 − 60) = 99.7451% → below_expected (March alone fails).
    assert live["figures"] == {
        "period_minutes": "129540",
        "excluded_minutes": "60",
        "downtime_minutes": "330",
    }
    assert (live["attainment"], live["outcome"]) == ("99.7451", "below_expected")

    month = await harness.client.get(_url(cid, "2026-03"))
    assert month.status_code == 422
    error = month.json()["error"]
    assert error["details"][0]["loc"] == "path.period"
    assert "measured per quarter" in error["message"]
    assert "YYYY-Qn (e.g. 2026-Q1)" in error["message"]

    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))
    closed = await harness.client.post(_url(cid, "2026-Q1", "/close"))
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["attainment"]) == ("closed", "99.7451")
    assert (await harness.client.post(_url(cid, "2026-Q1", "/close"))).status_code == 409
    # The job finds it closed and closes no month of a quarterly SLA.
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods)
    [event] = await harness.wait_for("sla.period_closed", contract_id=cid)
    assert _published(event) == (Q1, "99.7451", "below_expected")
    assert event.data["figures"]["period_minutes"] == "129540"
    assert len(harness.events("sla.period_closed", contract_id=cid)) == 1


async def test_the_job_closes_the_quarter_after_its_grace_and_late_telemetry_restates_it(
    harness: Harness, kafka_bootstrap: str
) -> None:
    cid, key = await _quarterly(harness, kafka_bootstrap)
    await _post_q1_outages(harness, key)

    # 1 April 04:00 UTC + 72 h is 4 April 04:00: not yet at 03:00; March's end closes nothing.
    harness.clock.set(datetime(2026, 4, 4, 3, tzinfo=UTC))
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods)
    assert (await harness.client.get(_url(cid, "2026-Q1"))).json()["status"] == "open"
    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods)
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods)
    [event] = await harness.wait_for("sla.period_closed", contract_id=cid)
    assert _published(event) == (Q1, "99.7451", "below_expected")

    # Ten more minutes on 20 March, reported on 10 April: (129,480 − 340) / 129,480.
    harness.clock.set(datetime(2026, 4, 10, tzinfo=UTC))
    await _post(
        harness, key, {"started_at": "2026-03-20T10:00:00Z", "ended_at": "2026-03-20T10:10:00Z"}
    )
    [restated] = await harness.wait_for("sla.period_restated", contract_id=cid)
    assert _published(restated) == (Q1, "99.7374", "below_expected")
    assert restated.data["previous"]["attainment"] == "99.7451"
    assert restated.data["figures"]["downtime_minutes"] == "340"
    trail = (await harness.client.get(_url(cid, "2026-Q1", "/restatements"))).json()["items"]
    assert [(r["restatement"], r["current"]["attainment"]) for r in trail] == [(1, "99.7374")]
    assert len(harness.events("sla.period_closed", contract_id=cid)) == 1

    history = (await harness.client.get(f"/contracts/{cid}/slas/AVAIL-CORE/periods?last=3")).json()
    # 2025-Q4 is before the contract's start; Q2 runs.
    assert [(h["period"]["label"], h["status"]) for h in history] == [
        ("2026-Q1", "closed"),
        ("2026-Q2", "open"),
    ]
    assert history[0]["attainment"] == "99.7374"

    card = (await harness.client.get(f"/contracts/{cid}/scorecard/2026-03")).json()
    [line] = card["slas"]
    assert card["period"]["label"] == "2026-03"
    assert (line["period"], line["status"], line["attainment"]) == (Q1, "closed", "99.7374")
    quarter_card = await harness.client.get(f"/contracts/{cid}/scorecard/2026-Q1")
    assert quarter_card.status_code == 422
    assert "a scorecard is per month" in quarter_card.json()["error"]["message"]


async def test_early_warnings_look_at_the_whole_quarter(
    harness: Harness, kafka_bootstrap: str
) -> None:
    harness.clock.set(datetime(2026, 1, 10, 12, tzinfo=UTC))
    cid, key = await _quarterly(harness, kafka_bootstrap)
    # 300 minutes would already fail January (0.5% of 44,640 is 223.2) but not the quarter
    # (0.5% of 129,480 is 647.4): at risk only, 347.4 minutes of budget left.
    await _post(
        harness, key, {"started_at": "2026-01-05T00:00:00Z", "ended_at": "2026-01-05T05:00:00Z"}
    )
    [risk] = await harness.wait_for("sla.at_risk", contract_id=cid)
    assert risk.data["period"] == Q1
    assert risk.data["remaining_budget_minutes"] == "347.4000"
    assert not harness.events("sla.breached", contract_id=cid)
    # 360 more: 660 > 647.4, the quarter cannot reach 99.5% any more.
    await _post(
        harness, key, {"started_at": "2026-01-06T00:00:00Z", "ended_at": "2026-01-06T06:00:00Z"}
    )
    [breach] = await harness.wait_for("sla.breached", contract_id=cid)
    assert breach.data["period"] == Q1
    assert breach.data["best_possible_attainment"] == "99.4903"  # 128,820 / 129,480


async def test_an_annual_sla_is_read_per_calendar_year(
    harness: Harness, kafka_bootstrap: str
) -> None:
    key = f"annual-{uuid.uuid4().hex[:6]}"
    avail = sla_with(harness.terms.sla_definitions[0], service_key=key, measurement_period="year")
    cid = await harness.activate(kafka_bootstrap, sla_definitions=[avail])
    await _post(harness, key, DESIGN_OUTAGE)
    year = (await harness.client.get(_url(cid, "2026"))).json()
    # 8,760 hours; (525,600 − 60 − 240) / (525,600 − 60) = 99.9543% → met.
    assert (year["period"]["kind"], year["figures"]["period_minutes"]) == ("year", "525600")
    assert (year["attainment"], year["outcome"]) == ("99.9543", "met")
    quarter = (await harness.client.get(_url(cid, "2026-Q1"))).json()
    assert "its periods are labelled YYYY (e.g. 2026), not '2026-Q1'" in quarter["error"]["message"]
    card = (await harness.client.get(f"/contracts/{cid}/scorecard/2026-03")).json()
    assert card["slas"][0]["period"]["label"] == "2026"


async def test_an_amendment_that_makes_an_sla_quarterly_keeps_its_months_before_it(
    harness: Harness, kafka_bootstrap: str
) -> None:
    key = f"amended-{uuid.uuid4().hex[:6]}"
    monthly = sla_with(harness.terms.sla_definitions[0], service_key=key)
    cid = await harness.activate(kafka_bootstrap, sla_definitions=[monthly])
    # Version 2, effective 1 April: the SLA is measured per quarter from the second quarter.
    v1 = terms_with_every_kind(cid, sla_definitions=[monthly])
    v2 = v1.model_copy(
        update={
            "version": 2,
            "effective_from": date(2026, 4, 1),
            "sla_definitions": [sla_with(monthly, measurement_period="quarter")],
        }
    )
    await publish_envelope(
        kafka_bootstrap,
        make_event(
            "contract.amended",
            subject=str(cid),
            data=ContractAmended(terms=v2, previous_version=1, amended_at=harness.clock.now()),
        ),
    )

    async def amended() -> bool:
        return (await harness.client.get(f"/contracts/{cid}/terms")).json()["version"] == 2

    await wait_until(amended, message="version 2 projected")
    await _post(harness, key, DESIGN_OUTAGE)
    codes = {
        label: (await harness.client.get(_url(cid, label))).status_code
        for label in ("2026-03", "2026-Q1", "2026-04", "2026-Q2")
    }
    assert codes == {"2026-03": 200, "2026-Q1": 422, "2026-04": 422, "2026-Q2": 200}

    harness.clock.set(datetime(2026, 7, 5, tzinfo=UTC))
    assert await run_once(harness.app, CLOSE_JOB, close_due_periods)
    closed = await harness.wait_for("sla.period_closed", count=2, contract_id=cid)
    assert sorted(e.data["period"]["label"] for e in closed) == ["2026-03", "2026-Q2"]
    assert {e.data["contract_version"] for e in closed} == {1, 2}
