"""What a run of consumed events does (pure): from the events, in order, and what was loaded
for them, to the rows to write and the events to publish.

Each event, as when handled alone: the SLA period's facts (`sla.period_closed`, restated;
`billing.credit_calculated`), then the obligation it calls for (a root-cause report, a
dispute, a renegotiation), then the alert rules. Its `obligation.created` and `alert.raised`
are published in that order, each caused by it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from crm_events.errors import RetryableEventError
from crm_events.schemas.billing import DiscrepancyFound, VolumeBandExceeded
from crm_events.schemas.sla import SlaPeriodClosed
from obligation_tracker.alerts import rules
from obligation_tracker.alerts.plan import AlertPlan, AlertState, Incoming, plan_alerts
from obligation_tracker.governance.snapshot import PeriodFact, latest_facts, period_fact
from obligation_tracker.obligations import followups
from obligation_tracker.obligations.followups import (
    FollowUp,
    FollowUpPlan,
    FollowUpTerms,
    Opened,
    OpenFollowUp,
    plan_follow_ups,
)
from obligation_tracker.obligations.opening import created_event
from obligation_tracker.settings import Settings


@dataclass(frozen=True)
class Loaded:
    """What the run's decisions read: the contracts' latest terms, the alerts under the
    run's keys, the rules that may apply, the open obligations that may gather its facts
    and the deduplication keys its obligations would take that are already taken (the
    store gives those of disputes and renegotiations only: a root-cause report whose key is
    taken is planned, and its insert finds the key taken)."""

    terms: dict[uuid.UUID, FollowUpTerms] = field(default_factory=dict)
    alerts: dict[str, AlertState] = field(default_factory=dict)
    rules: Sequence[rules.RuleLike] = ()
    open_follow_ups: Sequence[OpenFollowUp] = ()
    taken_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Outbound:
    """An event to publish, caused by the run's event number `index`."""

    index: int
    event_type: str
    subject: str
    tenant: str
    data: BaseModel
    opened: Opened | None = None  # for obligation.created: its history names the event


@dataclass
class IntakePlan:
    period_facts: list[PeriodFact]
    follow_ups: FollowUpPlan
    alerts: AlertPlan
    outbound: list[Outbound]


def needs_terms(event: object) -> uuid.UUID | None:
    """The contract whose terms the event's obligation needs, if it calls for one."""
    if isinstance(event, SlaPeriodClosed) and event.outcome in followups.MISSED:
        return event.contract_id
    if isinstance(event, DiscrepancyFound | VolumeBandExceeded):
        return event.contract_id
    return None


def follow_up(
    event: Incoming, terms: dict[uuid.UUID, FollowUpTerms], settings: Settings | None
) -> FollowUp | None:
    """The obligation the event calls for, if any; `settings` (the owners' roles, the
    business days allowed) are needed for the events that may call for one."""
    payload = event.payload
    if not isinstance(payload, SlaPeriodClosed | DiscrepancyFound | VolumeBandExceeded):
        return None
    if settings is None:
        raise ValueError(f"{event.event_type} calls for an obligation: settings are needed")

    def terms_of(contract_id: uuid.UUID) -> FollowUpTerms:
        found = terms.get(contract_id)
        if found is None:
            # The contract's activation has not reached us yet: retry, then DLQ.
            raise RetryableEventError(f"contract {contract_id} is not known yet")
        return found

    source = event.event_id
    if isinstance(payload, SlaPeriodClosed):
        return followups.root_cause(
            payload, terms_of=terms_of, settings=settings, source_event_id=source
        )
    if isinstance(payload, DiscrepancyFound):
        return followups.dispute(
            payload, terms_of=terms_of, settings=settings, source_event_id=source
        )
    return followups.renegotiation(
        payload, terms_of=terms_of, settings=settings, source_event_id=source
    )


FollowUps = list[tuple[int, FollowUp, datetime]]


def wanted_follow_ups(
    incoming: Sequence[Incoming],
    terms: dict[uuid.UUID, FollowUpTerms],
    settings: Settings | None,
) -> FollowUps:
    """(event index, the obligation it calls for, when) for the events that call for one."""
    return [
        (index, found, e.now)
        for index, e in enumerate(incoming)
        if (found := follow_up(e, terms, settings)) is not None
    ]


def decide(
    incoming: Sequence[Incoming],
    wanted: FollowUps,
    loaded: Loaded,
    *,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> IntakePlan:
    facts = [
        fact
        for e in incoming
        if (fact := period_fact(e.payload, tenant_id=e.tenant_id, now=e.now)) is not None
    ]
    opened = plan_follow_ups(
        wanted,
        open_ones=loaded.open_follow_ups,
        taken_keys=set(loaded.taken_keys),
        new_id=new_id,
    )
    alerts = plan_alerts(incoming, stored=loaded.alerts, rules_in_force=loaded.rules, new_id=new_id)
    return IntakePlan(
        period_facts=latest_facts(facts),
        follow_ups=opened,
        alerts=alerts,
        outbound=outbound(opened, alerts),
    )


def outbound(opened: FollowUpPlan, alerts: AlertPlan) -> list[Outbound]:
    """The events to publish, in the order of the events that cause them: each event's
    `obligation.created`, then its `alert.raised`."""
    created = [
        (
            o.index,
            0,
            Outbound(
                o.index,
                "obligation.created",
                str(o.new.contract_id),
                o.new.tenant_id,
                created_event(o.new, o.id, o.now),
                opened=o,
            ),
        )
        for o in opened.opened
    ]
    raised = [
        (index, 1, Outbound(index, "alert.raised", str(data.contract_id), tenant, data))
        for index, tenant, data in alerts.published
    ]
    return [item for _, _, item in sorted(created + raised, key=lambda t: (t[0], t[1]))]


def alert_keys(incoming: Sequence[Incoming]) -> set[str]:
    """The keys of the alerts the run may raise or complete."""
    return {
        found.dedup_key
        for e in incoming
        if (found := rules.candidate(e.event_type, e.payload)) is not None
    }
