"""Closing a month for many contracts at once (`POST /periods/{period}/close`): the same
figures and events as closing each SLA alone, each period once however often it is asked,
SLAs measured otherwise left alone, unknown contracts named, one audit entry per contract."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sla_harness import Harness, sla_with

from crm_testing.audit import AuditLog

OUTAGE = {"started_at": "2026-03-14T03:00:00Z", "ended_at": "2026-03-14T08:00:00Z"}


def _keys(lines: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(line["contract_id"], line["sla_code"]) for line in lines]


async def test_a_portfolio_close_publishes_what_closing_each_sla_would(
    harness: Harness, kafka_bootstrap: str
) -> None:
    log = AuditLog(harness.app, harness.client)
    operator, headers = await log.key("sla:write")
    _, reader = await log.key("audit:read")
    other = await harness.activate(kafka_bootstrap)
    quarterly = await harness.activate(
        kafka_bootstrap,
        sla_definitions=[sla_with(harness.terms.sla_definitions[0], measurement_period="quarter")],
    )
    await harness.post(OUTAGE)
    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))
    # An operator closed one SLA alone before the month end.
    alone = await harness.client.post(harness.url("AVAIL-CORE", suffix="/close"), headers=headers)
    assert alone.status_code == 200, alone.text
    mine, theirs = str(harness.contract_id), str(other)
    # An ad-hoc window on the other contract's AVAIL-CORE only: the bulk close reads the
    # windows of all its periods at once, and must apply them as a lone computation does.
    window = {
        "start": "2026-03-14T03:00:00Z",
        "end": "2026-03-14T06:00:00Z",
        "reason": "Emergency storage patch CHG0042",
        "approved_by": "J. Smith (Acme change board)",
        "sla_codes": ["AVAIL-CORE"],
    }
    approved = await harness.client.post(
        f"/contracts/{other}/maintenance-windows", json=window, headers=headers
    )
    assert approved.status_code == 201, approved.text
    terms = (await harness.client.get(f"/contracts/{other}/terms")).json()
    key = terms["terms"]["sla_definitions"][0]["service_key"]
    batch = {"tenant_id": "acme-bank", "items": [{"service_key": key, **OUTAGE}]}
    assert (await harness.client.post("/telemetry", json=batch)).status_code == 202
    live = {}
    for code in ("AVAIL-CORE", "LAT-P95", "P1-RES"):
        got = (await harness.client.get(f"/contracts/{other}/slas/{code}/periods/2026-03")).json()
        live[code] = (got["attainment"], got["outcome"])
    assert live["AVAIL-CORE"] != (alone.json()["attainment"], alone.json()["outcome"])

    body = {"contract_ids": [mine, theirs, str(quarterly), mine]}
    r = await harness.client.post("/periods/2026-03/close", json=body, headers=headers)
    assert r.status_code == 200, r.text
    result = r.json()
    # In the request's order (each contract once), SLAs by code.
    assert _keys(result["closed"]) == [
        (mine, "LAT-P95"),
        (mine, "P1-RES"),
        (theirs, "AVAIL-CORE"),
        (theirs, "LAT-P95"),
        (theirs, "P1-RES"),
    ]
    assert [(k["contract_id"], k["sla_code"], k["reason"]) for k in result["already_closed"]] == [
        (mine, "AVAIL-CORE", "already closed")
    ]
    assert [(k["contract_id"], k["sla_code"]) for k in result["not_measured"]] == [
        (str(quarterly), "AVAIL-CORE")
    ]
    assert "measured per quarter" in result["not_measured"][0]["reason"]
    # The other contract's outage, 180 of its 300 minutes in the window: below expected.
    assert result["summary"]["below_expected"] == 1
    # Closed in bulk, each period has the figures it had live, computed alone.
    assert {
        line["sla_code"]: (line["attainment"], line["outcome"])
        for line in result["closed"]
        if line["contract_id"] == theirs
    } == live

    # Each line is what the period now shows as published, and what its event says.
    await harness.wait_for("sla.period_closed", count=3)  # AVAIL-CORE alone + 2
    await harness.wait_for("sla.period_closed", count=3, contract_id=other)
    for line in result["closed"]:
        cid = uuid.UUID(line["contract_id"])
        url = f"/contracts/{cid}/slas/{line['sla_code']}/periods/2026-03"
        shown = (await harness.client.get(url)).json()
        assert (shown["status"], shown["attainment"], shown["outcome"]) == (
            "closed",
            line["attainment"],
            line["outcome"],
        )
        [event] = [
            e
            for e in harness.events("sla.period_closed", contract_id=cid)
            if e.data["sla_code"] == line["sla_code"]
        ]
        assert (event.data["attainment"], event.data["outcome"]) == (
            line["attainment"],
            line["outcome"],
        )
    # The quarterly SLA's March is no period: nothing published for that contract.
    assert harness.events("sla.period_closed", contract_id=quarterly) == []

    # Asked again (a retry after a timeout): nothing closes twice.
    again = (await harness.client.post("/periods/2026-03/close", json=body, headers=headers)).json()
    assert again["closed"] == []
    assert len(again["already_closed"]) == 6
    assert len(harness.events("sla.period_closed")) == 3
    assert len(harness.events("sla.period_closed", contract_id=other)) == 3

    # One audit entry per contract whose periods the call closed, with the caller's key.
    entries = await log.entries(reader, contract_id=theirs)
    assert [(e["action"], e["subject_id"], e["actor_key_id"]) for e in entries] == [
        ("maintenance_window.approve", approved.json()["id"], operator),
        ("sla_periods.close", f"{theirs}/2026-03", operator),
    ]
    assert entries[1]["after"]["slas"] == {
        line["sla_code"]: {"attainment": line["attainment"], "outcome": line["outcome"]}
        for line in result["closed"]
        if line["contract_id"] == theirs
    }
    mine_entries = await log.entries(reader, contract_id=mine)
    assert [e["action"] for e in mine_entries] == ["sla_period.close", "sla_periods.close"]
    assert set(mine_entries[1]["after"]["slas"]) == {"LAT-P95", "P1-RES"}


async def test_unknown_contracts_are_named_and_nothing_closes(harness: Harness) -> None:
    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))
    stranger = uuid.uuid4()
    body = {"contract_ids": [str(harness.contract_id), str(stranger)]}
    r = await harness.client.post("/periods/2026-03/close", json=body)
    assert r.status_code == 404
    error = r.json()["error"]
    assert error["details"] == [
        {
            "loc": "body.contract_ids[1]",
            "message": f"contract {stranger} has no SLA known here",
        }
    ]
    shown = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
    assert shown["status"] == "open"
    # A label of no kind, an empty list: 422 saying where.
    bad = await harness.client.post("/periods/2026-13/close", json=body)
    assert bad.status_code == 422
    empty = await harness.client.post("/periods/2026-03/close", json={"contract_ids": []})
    assert empty.status_code == 422
    assert "contract_ids" in empty.text


async def test_sla_codes_narrow_the_close(harness: Harness) -> None:
    harness.clock.set(datetime(2026, 4, 4, 12, tzinfo=UTC))
    body = {"contract_ids": [str(harness.contract_id)], "sla_codes": ["LAT-P95"]}
    r = await harness.client.post("/periods/2026-03/close", json=body)
    assert r.status_code == 200, r.text
    assert _keys(r.json()["closed"]) == [(str(harness.contract_id), "LAT-P95")]
    shown = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
    assert shown["status"] == "open"
    # A code none of the contracts has is named, and nothing closes.
    typo = {"contract_ids": [str(harness.contract_id)], "sla_codes": ["AVAIL-CORE", "LAT-P59"]}
    refused = await harness.client.post("/periods/2026-03/close", json=typo)
    assert refused.status_code == 422
    assert [d["loc"] for d in refused.json()["error"]["details"]] == ["body.sla_codes[1]"]
    shown = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
    assert shown["status"] == "open"
