"""Obligations born from events: a root-cause report for a missed SLA period, a dispute for
an invoice that differs from the contract, a renegotiation when volume leaves its band (pure).

`root_cause`, `dispute` and `renegotiation` say what an event calls for; `plan_follow_ups`
says, for a run of events in order, which obligations open and which open ones gather the
facts of a later event (a dispute gathers its invoice's discrepancies, a renegotiation the
periods its resource unit stays outside its band).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from crm_events.schemas.billing import DiscrepancyFound, VolumeBandExceeded
from crm_events.schemas.contracts import ContractTerms
from crm_events.schemas.sla import Outcome, SlaPeriodClosed
from crm_platform.contract_calendar import add_business_days
from obligation_tracker.alerts.rules import merge_details
from obligation_tracker.obligations.opening import NewObligation
from obligation_tracker.settings import Settings

ROOT_CAUSE = "root_cause_report"
DISPUTE = "dispute_resolution"
RENEGOTIATION = "renegotiation"
GATHERING_KINDS = (DISPUTE, RENEGOTIATION)
MISSED = (Outcome.FAILED, Outcome.BELOW_EXPECTED)  # the outcomes that call for a report


@dataclass(frozen=True)
class FollowUpTerms:
    """What the follow-ups read of a contract's latest terms: whose it is, its zone and
    holidays (due dates are its business days), the days a root-cause report is due in."""

    tenant_id: str
    timezone: str
    holidays: frozenset[date]
    root_cause_due_business_days: int

    @classmethod
    def of(cls, terms: ContractTerms) -> FollowUpTerms:
        return cls(
            tenant_id=terms.tenant_id,
            timezone=terms.timezone,
            holidays=frozenset(terms.holidays),
            root_cause_due_business_days=terms.credit_terms.root_cause_due_business_days,
        )


# The contract's latest terms; raises RetryableEventError while they are not known.
TermsOf = Callable[[uuid.UUID], FollowUpTerms]


@dataclass(frozen=True)
class FollowUp:
    """An obligation an event calls for. With `gather`, an open obligation of its kind and
    contract whose details hold those values takes `facts` instead of a new one opening."""

    new: NewObligation
    gather: dict[str, str] | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def root_cause(
    event: SlaPeriodClosed, *, terms_of: TermsOf, settings: Settings, source_event_id: str
) -> FollowUp | None:
    """A failed or below-expected period opens a root-cause report, due the contract's number
    of business days after the close (its local date, its holidays)."""
    if event.outcome not in MISSED:
        return None
    terms = terms_of(event.contract_id)
    days = terms.root_cause_due_business_days
    closed_local = event.closed_at.astimezone(ZoneInfo(terms.timezone)).date()
    due = add_business_days(closed_local, days, terms.holidays)
    return FollowUp(
        NewObligation(
            tenant_id=terms.tenant_id,
            contract_id=event.contract_id,
            kind=ROOT_CAUSE,
            title=(
                f"Root-cause report: {event.sla_code} {event.outcome.value} in {event.period.label}"
            ),
            clause=f"SLA {event.sla_code}",
            owner_role=settings.root_cause_owner_role,
            severity="high" if event.outcome is Outcome.FAILED else "medium",
            due_date=due,
            timezone=terms.timezone,
            dedup_key=f"{ROOT_CAUSE}:{event.contract_id}:{event.sla_code}:{event.period.label}",
            source_event_id=source_event_id,
            period_label=event.period.label,
            contract_version=event.contract_version,
            evidence_required=True,
            details={
                "sla_code": event.sla_code,
                "period": event.period.label,
                "attainment": None if event.attainment is None else str(event.attainment),
                "outcome": event.outcome.value,
                "due_rule": f"{days} business days after close ({closed_local})",
            },
        ),
    )


def dispute(
    event: DiscrepancyFound, *, terms_of: TermsOf, settings: Settings, source_event_id: str
) -> FollowUp:
    """One dispute-resolution obligation per invoice; its discrepancies gather on it."""
    terms = terms_of(event.contract_id)
    line = (
        f"{event.discrepancy_class} {event.direction} {event.amount} {event.currency}"
        + (f" on {event.item_code}" if event.item_code else "")
        + (f" (line {event.line_number})" if event.line_number is not None else "")
    )
    found_local = event.found_at.astimezone(ZoneInfo(terms.timezone)).date()
    days = settings.dispute_due_business_days
    return FollowUp(
        NewObligation(
            tenant_id=terms.tenant_id,
            contract_id=event.contract_id,
            kind=DISPUTE,
            title=(
                f"Resolve the differences on invoice {event.invoice_number} ({event.period_label})"
            ),
            clause="Invoicing and disputes",
            owner_role=settings.dispute_owner_role,
            severity="high" if event.direction == "over_billed" else "medium",
            due_date=add_business_days(found_local, days, terms.holidays),
            timezone=terms.timezone,
            dedup_key=f"{DISPUTE}:{event.contract_id}:{event.invoice_id}:r{event.revision}",
            source_event_id=source_event_id,
            period_label=event.period_label,
            evidence_required=True,
            details={
                "invoice_id": str(event.invoice_id),
                "invoice_number": event.invoice_number,
                "period": event.period_label,
                "currency": event.currency,
                "discrepancies": [line],
                "due_rule": f"{days} business days after the reconciliation ({found_local})",
            },
        ),
        gather={"invoice_id": str(event.invoice_id)},
        facts={"discrepancies": [line]},
    )


def renegotiation(
    event: VolumeBandExceeded, *, terms_of: TermsOf, settings: Settings, source_event_id: str
) -> FollowUp:
    """Volume outside its band opens one renegotiation per resource unit; later periods
    outside the band join the open one."""
    terms = terms_of(event.contract_id)
    fact = (
        f"{event.period_label}: {event.actual} ({event.direction} "
        f"{event.floor_pct}%–{event.ceiling_pct}% of {event.baseline})"
    )
    detected_local = event.detected_at.astimezone(ZoneInfo(terms.timezone)).date()
    days = settings.renegotiation_due_business_days
    return FollowUp(
        NewObligation(
            tenant_id=terms.tenant_id,
            contract_id=event.contract_id,
            kind=RENEGOTIATION,
            title=f"Renegotiate {event.resource_unit}: volume {event.direction} its band",
            clause="Price book: volume bands",
            owner_role=settings.renegotiation_owner_role,
            severity="medium",
            due_date=add_business_days(detected_local, days, terms.holidays),
            timezone=terms.timezone,
            dedup_key=(
                f"{RENEGOTIATION}:{event.contract_id}:{event.resource_unit}:{event.period_label}"
            ),
            source_event_id=source_event_id,
            period_label=event.period_label,
            details={
                "resource_unit": event.resource_unit,
                "periods": [fact],
                "due_rule": f"{days} business days after detection ({detected_local})",
            },
        ),
        gather={"resource_unit": event.resource_unit},
        facts={"periods": [fact]},
    )


@dataclass
class OpenFollowUp:
    """An open obligation that may gather later facts, as the run leaves it."""

    id: uuid.UUID
    contract_id: uuid.UUID
    kind: str
    details: dict[str, Any]
    updated_at: datetime | None
    changed: bool = False


@dataclass
class Opened:
    """An obligation the run opens: the event that opened it, its id, when."""

    index: int
    id: uuid.UUID
    new: NewObligation
    now: datetime
    state: OpenFollowUp


@dataclass
class FollowUpPlan:
    opened: list[Opened] = field(default_factory=list)
    gathered: list[OpenFollowUp] = field(default_factory=list)


def plan_follow_ups(
    follow_ups: Sequence[tuple[int, FollowUp, datetime]],
    *,
    open_ones: Sequence[OpenFollowUp],
    taken_keys: set[str],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> FollowUpPlan:
    """For each (event index, follow-up, when) in order: an open obligation that gathers it
    takes its facts; else it opens unless an obligation already holds its key.

    `open_ones`: the stored open obligations of the gathering kinds, oldest first;
    `taken_keys`: the stored obligations' deduplication keys among the run's."""
    stored = [replace(o, changed=False) for o in open_ones]
    candidates = list(stored)
    keys = set(taken_keys)
    plan = FollowUpPlan()
    for index, follow_up, now in follow_ups:
        target = _gatherer(candidates, follow_up)
        if target is not None:
            target.details = merge_details(target.details, follow_up.facts)
            target.updated_at = now
            target.changed = True
            continue
        new = follow_up.new
        if new.dedup_key in keys:
            continue
        keys.add(new.dedup_key)
        obligation_id = new_id()
        state = OpenFollowUp(obligation_id, new.contract_id, new.kind, new.details or {}, now)
        candidates.append(state)
        plan.opened.append(Opened(index, obligation_id, new, now, state))
    plan.gathered = [o for o in stored if o.changed]
    return plan


def _gatherer(candidates: Sequence[OpenFollowUp], follow_up: FollowUp) -> OpenFollowUp | None:
    if follow_up.gather is None:
        return None
    new = follow_up.new
    for candidate in candidates:
        if (
            candidate.contract_id == new.contract_id
            and candidate.kind == new.kind
            and all(candidate.details.get(k) == v for k, v in follow_up.gather.items())
        ):
            return candidate
    return None
