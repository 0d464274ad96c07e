"""A rejected batch names every invalid item and field."""

import orjson
import pytest

from crm_platform.errors import Unprocessable
from sla_monitor.telemetry.validation import parse_batch


def details(items: list[object], **extra: object) -> list[str]:
    with pytest.raises(Unprocessable) as caught:
        parse_batch(orjson.dumps({"items": items, **extra}), max_items=10)
    return [d["loc"] for d in caught.value.details]


def test_every_invalid_item_is_listed_by_index_and_field() -> None:
    locs = details(
        [
            {
                "service_key": "a",
                "started_at": "2026-03-01T00:00:00Z",
                "ended_at": "2026-03-01T01:00:00Z",
            },
            {
                "kind": "incident",
                "service_key": "a",
                "ticket_id": "T",
                "priority": "P1",
                "opened_at": "2026-03-01T02:00:00Z",
                "resolved_at": "2026-03-01T01:00:00Z",
            },
            {
                "kind": "incident",
                "service_key": "a",
                "ticket_id": "T",
                "priority": "P1",
                "opened_at": "2026-03-01T02:00:00",
                "responded_at": "2026-03-01T03:00:00",
            },
            {
                "kind": "sample",
                "service_key": "a",
                "observed_at": "2026-03-01T00:00:00Z",
                "status": "sideways",
            },
            {
                "kind": "measurement",
                "service_key": "a",
                "measured_at": "2026-03-01T00:00:00Z",
                "unit": "ms",
            },
        ]
    )
    assert locs == [
        "body.items[1].resolved_at",
        "body.items[2].opened_at",
        "body.items[2].responded_at",
        "body.items[3].status",
        "body.items[4].value",
    ]


def test_batch_level_problems_name_the_body_field() -> None:
    assert details([], tenant_id="acme") == ["body.items"]
    assert details([{"kind": "outage"}], colour="blue")[0] == "body.colour"
    assert details([{}] * 11) == ["body.items"]


def test_a_valid_batch_parses_every_kind() -> None:
    tenant, items = parse_batch(
        orjson.dumps(
            {
                "tenant_id": "acme",
                "items": [
                    {
                        "service_key": "a",
                        "started_at": "2026-03-01T00:00:00Z",
                        "ended_at": "2026-03-01T02:00:00+01:00",
                    },
                    {
                        "kind": "measurement",
                        "service_key": "a",
                        "measured_at": "2026-03-01T00:00:00Z",
                        "value": "1.50",
                        "unit": "ms",
                    },
                ],
            }
        ),
        max_items=10,
    )
    assert tenant == "acme"
    assert [i.kind for i in items] == ["outage", "measurement"]
