"""Downtime spans kept incrementally: late samples, ties, concurrent batches — the stored
figures always equal a recomputation from everything received."""

import asyncio
from typing import Any

from sla_harness import Harness


def sample(minute: str, status: str) -> dict[str, Any]:
    return {"kind": "sample", "observed_at": f"2026-03-10T10:{minute}:00Z", "status": status}


async def downtime(harness: Harness) -> tuple[str, list[tuple[str, str]]]:
    body = (await harness.client.get(harness.url("AVAIL-CORE"))).json()
    return body["figures"]["downtime_minutes"], [
        (d["start"][11:16], d["end"][11:16]) for d in body["counted_downtime"]
    ]


async def test_late_samples_split_and_extend_runs(harness: Harness) -> None:
    await harness.post(sample("00", "down"), sample("05", "down"))
    # An open run counts up to its latest down sample.
    assert await downtime(harness) == ("5", [("10:00", "10:05")])
    await harness.post(sample("20", "up"))
    assert await downtime(harness) == ("20", [("10:00", "10:20")])
    # A late `up` at 10:02 splits the run: 10:00-10:02 and 10:05-10:20.
    await harness.post(sample("02", "up"))
    assert await downtime(harness) == ("17", [("10:00", "10:02"), ("10:05", "10:20")])
    # A `down` reported for the same instant as the `up` at 10:02 wins the tie.
    await harness.post(sample("02", "down"))
    assert await downtime(harness) == ("20", [("10:00", "10:20")])
    # An outage overlapping the run counts once.
    await harness.post({"started_at": "2026-03-10T10:15:00Z", "ended_at": "2026-03-10T10:30:00Z"})
    assert await downtime(harness) == ("30", [("10:00", "10:30")])


async def test_concurrent_batches_for_one_service_key_count_every_minute_once(
    harness: Harness,
) -> None:
    # Ten batches at once, each a 10-minute down run and an outage overlapping the next
    # batch's run: the union is 10:00-11:45 whatever order they commit in.
    def at(minute: int) -> str:
        return f"2026-03-10T{10 + minute // 60}:{minute % 60:02d}:00Z"

    batches = [
        [
            {"kind": "sample", "observed_at": at(10 * i), "status": "down"},
            {"kind": "sample", "observed_at": at(10 * i + 10), "status": "up"},
            {"started_at": at(10 * i + 5), "ended_at": at(10 * i + 15)},
        ]
        for i in range(10)
    ]
    answers = await asyncio.gather(*(harness.post(*b) for b in batches))
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
    assert await downtime(harness) == ("105", [("10:00", "11:45")])
