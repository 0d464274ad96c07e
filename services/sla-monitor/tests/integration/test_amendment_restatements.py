"""A retroactive amendment restates the closed periods it governs, on real PostgreSQL and
Kafka (docs/sla-monitor.md, "Closing and restating").

DESIGN's March: AVAIL-CORE 99.4609% against expected 99.9 / minimum 99.5 → failed, closed
on 4 April. Version 2, effective 2026-01-01 (the contract's start), lowers the levels to
99.4 / 99.0: March is met, restated once with the previous figures and a reason that names
the amendment. Outside the 90-day restatement window the published figures stand.
"""

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sla_harness import Harness, sla_with, terms_with_every_kind

from crm_events.envelope import Envelope
from crm_events.schemas.contracts import ContractAmended
from crm_testing import examples
from crm_testing.kafka import make_event, publish_envelope, wait_until

CLOSED_ON = datetime(2026, 4, 4, 12, tzinfo=UTC)
REASON = (
    "contract amended to version 2 (effective 2026-01-01): "
    "expected_level 99.9 → 99.4, minimum_level 99.5 → 99.0"
)


def _url(cid: uuid.UUID, suffix: str = "") -> str:
    return f"/contracts/{cid}/slas/AVAIL-CORE/periods/{examples.PERIOD}{suffix}"


def amended(
    harness: Harness, cid: uuid.UUID, version: int, effective: date, **levels: str
) -> Envelope:
    """`contract.amended` to `version`, effective on `effective`, with AVAIL-CORE's levels."""
    avail, *others = harness.terms.sla_definitions
    terms = terms_with_every_kind(
        cid,
        version=version,
        effective_from=effective,
        sla_definitions=[sla_with(avail, **levels), *others],
    )
    return make_event(
        "contract.amended",
        subject=str(cid),
        data=ContractAmended(
            terms=terms, previous_version=version - 1, amended_at=harness.clock.now()
        ),
    )


async def deliver(harness: Harness, kafka_bootstrap: str, envelope: Envelope, version: int) -> None:
    """Publish and wait until the service holds `version` (same partition: every earlier
    event of the contract has been handled by then)."""
    await publish_envelope(kafka_bootstrap, envelope)

    async def known() -> bool:
        r = await harness.client.get(f"/contracts/{envelope.subject}/terms")
        return r.json()["version"] == version

    await wait_until(known, message=f"version {version} projected")


async def close_failed_march(harness: Harness, cid: uuid.UUID, on: datetime) -> None:
    harness.clock.set(on)
    closed = await harness.client.post(_url(cid, "/close"))
    assert closed.status_code == 200, closed.text
    assert (closed.json()["attainment"], closed.json()["outcome"]) == ("99.4609", "failed")


async def restatements(harness: Harness, cid: uuid.UUID) -> list[dict[str, Any]]:
    trail: list[dict[str, Any]] = (await harness.client.get(_url(cid, "/restatements"))).json()[
        "items"
    ]
    return trail


async def test_an_amendment_inside_the_window_restates_march_once(
    harness: Harness, kafka_bootstrap: str
) -> None:
    cid = harness.contract_id
    await harness.post(examples.OUTAGE)
    await close_failed_march(harness, cid, CLOSED_ON)

    harness.clock.set(datetime(2026, 4, 10, tzinfo=UTC))
    lowered = amended(
        harness, cid, 2, date(2026, 1, 1), expected_level="99.4", minimum_level="99.0"
    )
    await deliver(harness, kafka_bootstrap, lowered, 2)
    [event] = await harness.wait_for("sla.period_restated")
    data = event.data
    assert (data["sla_code"], data["period"]["label"], data["restatement"]) == (
        "AVAIL-CORE",
        "2026-03",
        1,
    )
    # The same attainment, judged against the new levels: met.
    assert (data["attainment"], data["outcome"], data["contract_version"]) == (
        "99.4609",
        "met",
        2,
    )
    assert (data["expected_level"], data["minimum_level"]) == ("99.4", "99.0")
    assert data["previous"] == {
        "attainment": "99.4609",
        "outcome": "failed",
        "figures": {"period_minutes": "44580", "excluded_minutes": "60", "downtime_minutes": "240"},
        "expected_level": "99.9",
        "minimum_level": "99.5",
        "contract_version": 1,
    }
    assert data["reason"] == REASON
    assert "against expected 99.4 and minimum 99.0 → met" in data["explanation"]

    # Redelivered as it was, and published again under another id: nothing more.
    await publish_envelope(kafka_bootstrap, lowered)
    again = amended(harness, cid, 2, date(2026, 1, 1), expected_level="99.4", minimum_level="99.0")
    await publish_envelope(kafka_bootstrap, again)
    # Version 3 takes effect in April, after March: it governs no closed period, so its
    # stricter levels change nothing published (and, handled after the redeliveries on the
    # contract's partition, it tells when they have been handled).
    stricter = amended(
        harness, cid, 3, date(2026, 4, 1), expected_level="99.95", minimum_level="99.9"
    )
    await deliver(harness, kafka_bootstrap, stricter, 3)

    trail = await restatements(harness, cid)
    assert [(r["restatement"], r["reason"]) for r in trail] == [(1, REASON)]
    assert (trail[0]["previous"]["outcome"], trail[0]["current"]["outcome"]) == ("failed", "met")
    assert (trail[0]["previous"]["contract_version"], trail[0]["current"]["contract_version"]) == (
        1,
        2,
    )
    assert trail[0]["event_id"] == event.id
    march = (await harness.client.get(_url(cid))).json()
    assert (march["status"], march["outcome"], march["restatements"]) == ("closed", "met", 1)
    assert (march["contract_version"], march["expected_level"]) == (2, "99.4")
    assert len(harness.events("sla.period_restated")) == 1


async def test_outside_the_window_counted_from_the_close_the_published_figures_stand(
    harness: Harness, kafka_bootstrap: str
) -> None:
    """Both contracts' March failed; one was closed on 4 April, the other (history loaded
    late) on 1 June. On 10 July the first close is 97 days old, past the 90-day window;
    the second 39 days: only the second is restated."""
    early = harness.contract_id
    # The same SLAs on the same service key: both contracts read the one outage.
    late = await harness.activate(kafka_bootstrap, sla_definitions=harness.terms.sla_definitions)
    await harness.post(examples.OUTAGE)
    await close_failed_march(harness, early, CLOSED_ON)
    await close_failed_march(harness, late, datetime(2026, 6, 1, tzinfo=UTC))

    harness.clock.set(datetime(2026, 7, 10, tzinfo=UTC))
    for cid in (early, late):
        lowered = amended(
            harness, cid, 2, date(2026, 1, 1), expected_level="99.4", minimum_level="99.0"
        )
        await deliver(harness, kafka_bootstrap, lowered, 2)

    [event] = await harness.wait_for("sla.period_restated", contract_id=late)
    assert (event.data["outcome"], event.data["reason"]) == ("met", REASON)
    assert len(await restatements(harness, late)) == 1

    assert await restatements(harness, early) == []
    march = (await harness.client.get(_url(early))).json()
    assert (march["outcome"], march["expected_level"], march["contract_version"]) == (
        "failed",
        "99.9",
        1,
    )
    assert harness.events("sla.period_restated", contract_id=early) == []
