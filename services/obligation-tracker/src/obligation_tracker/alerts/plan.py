"""What a run of events does to the alerts (pure): which ones they raise, which ones they
complete, in the order the events arrived.

The first event about a breach that a rule lets through raises its alert; every later event
about it (in the same run or after) adds its facts: `merge_details`, one more occurrence,
its type remembered. The caller loads the alerts the run's keys already have and the rules
that may apply, and writes what `AlertPlan` says.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from crm_events.schemas.alerts import AlertRaised
from obligation_tracker.alerts import rules


@dataclass(frozen=True)
class Incoming:
    """One event as the decisions see it: what it is, whose, and when it was handled."""

    event_id: str
    event_type: str
    tenant_id: str
    payload: Any
    now: datetime


@dataclass
class AlertState:
    """An alert as the run leaves it: a stored one it completes, or one it raises."""

    id: uuid.UUID
    details: dict[str, Any]
    occurrences: int
    event_types: list[str]
    updated_at: datetime | None
    new_row: dict[str, Any] | None = None  # the insert's values, for an alert the run raises
    changed: bool = False


@dataclass
class AlertPlan:
    raised: list[AlertState] = field(default_factory=list)
    # (index of the incoming event, its tenant, the `alert.raised` it publishes), in order
    published: list[tuple[int, str, AlertRaised]] = field(default_factory=list)
    completed: list[AlertState] = field(default_factory=list)


def plan_alerts(
    incoming: Sequence[Incoming],
    *,
    stored: dict[str, AlertState],
    rules_in_force: Sequence[rules.RuleLike],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> AlertPlan:
    """The alerts of `incoming`, in order, given the alerts `stored` under their keys and the
    rules that may apply to them."""
    known = {key: replace(state, changed=False) for key, state in stored.items()}
    plan = AlertPlan()
    for index, event in enumerate(incoming):
        found = rules.candidate(event.event_type, event.payload)
        if found is None:
            continue
        current = known.get(found.dedup_key)
        if current is not None:
            _complete(current, found, event)
            continue
        state = _raise(found, event, rules_in_force, new_id)
        if state is None:
            continue
        known[found.dedup_key] = state
        plan.raised.append(state)
        assert state.new_row is not None
        plan.published.append((index, event.tenant_id, _raised_event(state.new_row)))
    plan.completed = [known[key] for key in stored if known[key].changed]
    for state in plan.raised:
        assert state.new_row is not None
        state.new_row.update(
            details=state.details,
            occurrences=state.occurrences,
            event_types=state.event_types,
            updated_at=state.updated_at,
        )
    return plan


def _complete(state: AlertState, found: rules.AlertCandidate, event: Incoming) -> None:
    state.details = rules.merge_details(state.details, found.details)
    state.occurrences += 1
    if event.event_type not in state.event_types:
        state.event_types = [*state.event_types, event.event_type]
    state.updated_at = event.now
    state.changed = True


def _raise(
    found: rules.AlertCandidate,
    event: Incoming,
    rules_in_force: Sequence[rules.RuleLike],
    new_id: Callable[[], uuid.UUID],
) -> AlertState | None:
    rule = rules.choose_rule(
        rules_in_force,
        event_type=event.event_type,
        tenant_id=event.tenant_id,
        contract_id=found.contract_id,
    )
    severity = rules.decide(rule, found)
    if severity is None:
        return None
    alert_id = new_id()
    row = {
        "id": alert_id,
        "tenant_id": event.tenant_id,
        "contract_id": found.contract_id,
        "severity": severity,
        "title": found.title,
        "dedup_key": found.dedup_key,
        "source_event_id": event.event_id,
        "source_event_type": event.event_type,
        "details": found.details,
        "raised_at": event.now,
        "rule_id": getattr(rule, "id", None),
        "occurrences": 1,
        "event_types": [event.event_type],
        "updated_at": None,
    }
    return AlertState(
        id=alert_id,
        details=found.details,
        occurrences=1,
        event_types=[event.event_type],
        updated_at=None,
        new_row=row,
    )


def _raised_event(row: dict[str, Any]) -> AlertRaised:
    return AlertRaised(
        alert_id=row["id"],
        contract_id=row["contract_id"],
        severity=row["severity"],
        title=row["title"],
        dedup_key=row["dedup_key"],
        source_event_id=row["source_event_id"],
        source_event_type=row["source_event_type"],
        details=row["details"],
        raised_at=row["raised_at"],
    )
