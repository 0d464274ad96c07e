"""How the runner cuts a chunk into runs for batched handlers, and runs deferred work."""

from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord

from crm_events.consumer import (
    BatchHandler,
    Delivered,
    EventContext,
    Handler,
    _Prepared,
    _run_deferred,
    _runs,
    batched,
)
from crm_events.envelope import Envelope


@batched
async def _many(events: Sequence[Delivered[Any]]) -> None:
    return None


async def _one(ctx: EventContext, payload: Any) -> None:
    return None


def _item(event_type: str, handlers: Sequence[Handler | BatchHandler]) -> _Prepared:
    envelope = Envelope(
        source="t",
        type=event_type,
        subject="s",
        tenant="t",
        data={},
        dataschema="urn:t",
        correlationid="c",
    )
    record = ConsumerRecord("t", 0, 0, 0, 0, None, b"", None, 0, 0, [])
    return _Prepared(record, envelope, None, handlers)


def _shape(runs: list[list[_Prepared]]) -> list[tuple[str, int]]:
    return [(run[0].envelope.type, len(run)) for run in runs]


def test_consecutive_records_of_a_batched_type_form_one_run() -> None:
    items = [
        _item("a", [_many]),
        _item("a", [_many]),
        _item("b", [_many]),
        _item("a", [_many]),
        _item("a", [_many, _many]),  # same type, same kind of handlers
    ]
    assert _shape(_runs(items)) == [("a", 2), ("b", 1), ("a", 2)]


def test_a_type_with_any_plain_handler_is_handled_one_record_at_a_time() -> None:
    items = [_item("a", [_one]), _item("a", [_one]), _item("a", [_many, _one]), _item("a", [_many])]
    assert _shape(_runs(items)) == [("a", 1), ("a", 1), ("a", 1), ("a", 1)]


async def test_deferred_work_runs_once_per_key_in_order_including_work_it_defers() -> None:
    ran: list[str] = []
    deferred: dict[Any, Any] = {}

    def work(name: str, then: str | None = None) -> Any:
        async def fn() -> None:
            ran.append(name)
            if then is not None:
                deferred.setdefault(then, work(then))
                deferred.setdefault(name, work(name + "-again"))  # already run: skipped

        return fn

    deferred["x"] = work("x", then="z")
    deferred["y"] = work("y")
    await _run_deferred(deferred)
    assert ran == ["x", "y", "z"]
    assert deferred == {}
