"""Which recurring obligation instances a contract's terms call for (pure).

A recurring obligation is defined by an RFC 5545 RRULE expanded on the contract's local
calendar from its start date, and a due offset in business days (see
`calendar.due_after_occurrence`). The governance cadence is one more recurring obligation,
the review, with the contract's health snapshot attached when its day comes.

Each version of the terms governs the occurrences from its `effective_from` until the next
version's, so an amendment that takes effect in June leaves May's instances as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import islice

from crm_events.schemas.contracts import ContractTerms, Governance, ObligationDefinition
from crm_platform.contract_calendar import (
    InvalidRecurrence,
    due_after_occurrence,
    parse_rrule,
)
from crm_platform.contract_calendar import occurrences as occurrences_from
from crm_platform.contract_calendar import previous_occurrence as shared_previous_occurrence

CONTRACTUAL = "contractual"
GOVERNANCE_REVIEW = "governance_review"
GOVERNANCE_CODE = "GOVERNANCE-REVIEW"

MAX_OCCURRENCES = 400  # per definition and planning window: a year of daily obligations


# The one contract calendar (crm_platform.contract_calendar) refuses unreadable rules.
RecurrenceError = InvalidRecurrence


@dataclass(frozen=True)
class PlannedInstance:
    kind: str
    code: str
    title: str
    clause: str
    owner_role: str
    severity: str
    evidence_required: bool
    occurrence: date
    due_date: date
    contract_version: int
    rule: str
    offset_business_days: int

    def dedup_key(self, contract_id: object) -> str:
        return f"{self.kind}:{contract_id}:{self.code}:{self.occurrence.isoformat()}"

    def terms_signature(self) -> tuple[object, ...]:
        """What an amendment may change; equal signatures mean the instance can stay."""
        return (
            self.title,
            self.clause,
            self.owner_role,
            self.severity,
            self.evidence_required,
            self.due_date,
        )


@dataclass(frozen=True)
class PlanProblem:
    code: str
    message: str


def occurrences(rule: str, *, dtstart: date, first: date, last: date) -> list[date]:
    """Occurrence dates of `rule` anchored at `dtstart`, within [first, last]."""
    if last < first:
        parse_rrule(rule, dtstart)  # still refuse a rule that does not read
        return []
    found = list(
        islice(occurrences_from(rule, dtstart, on_or_after=first, until=last), MAX_OCCURRENCES + 1)
    )
    if len(found) > MAX_OCCURRENCES:
        raise RecurrenceError(f"RRULE {rule!r} gives more than {MAX_OCCURRENCES} occurrences")
    return found


def _version_windows(versions: Sequence[ContractTerms]) -> list[tuple[ContractTerms, date, date]]:
    """Each version with the first and last occurrence date it governs."""
    ordered = sorted(versions, key=lambda t: t.version)
    windows = []
    for i, terms in enumerate(ordered):
        start = max(terms.effective_from, terms.start_date)
        if i == 0:
            start = terms.start_date  # the first version governs from the contract's start
        end = date.max
        if i + 1 < len(ordered):
            end = ordered[i + 1].effective_from - timedelta(days=1)
        if terms.end_date is not None:
            end = min(end, terms.end_date)
        if start <= end:
            windows.append((terms, start, end))
    return windows


def _review(governance: Governance) -> ObligationDefinition:
    """The governance review, as one more recurring obligation."""
    return ObligationDefinition(
        code=GOVERNANCE_CODE,
        title="Governance review with the customer",
        clause="Governance",
        owner_role=governance.owner_role,
        rrule=governance.review_rrule,
        due_offset_business_days=governance.due_offset_business_days,
        evidence_required=False,
        severity="medium",
    )


def _recurring_obligations(terms: ContractTerms) -> list[tuple[str, ObligationDefinition]]:
    """The version's obligation definitions and its governance review, each with its kind."""
    found = [(CONTRACTUAL, d) for d in terms.obligation_definitions]
    if terms.governance is not None:
        found.append((GOVERNANCE_REVIEW, _review(terms.governance)))
    return found


def _occurrence_days(
    definition: ObligationDefinition, terms: ContractTerms, *, first: date, last: date
) -> list[date]:
    """Its occurrences within [first, last]; without an RRULE, the contract's start date."""
    if definition.rrule:
        return occurrences(definition.rrule, dtstart=terms.start_date, first=first, last=last)
    return [terms.start_date] if first <= terms.start_date <= last else []


def _planned(
    kind: str,
    definition: ObligationDefinition,
    terms: ContractTerms,
    occurrence: date,
    *,
    offset: int,
    holidays: set[date],
) -> PlannedInstance:
    return PlannedInstance(
        kind=kind,
        code=definition.code,
        title=definition.title,
        clause=definition.clause,
        owner_role=definition.owner_role,
        severity=definition.severity,
        evidence_required=definition.evidence_required,
        occurrence=occurrence,
        due_date=due_after_occurrence(occurrence, offset, holidays),
        contract_version=terms.version,
        rule=definition.rrule or "once, on the contract's start date",
        offset_business_days=offset,
    )


def plan_instances(
    versions: Sequence[ContractTerms],
    *,
    today: date,
    horizon_end: date,
    occurrence_from: date | None = None,
) -> tuple[list[PlannedInstance], list[PlanProblem]]:
    """The instances the terms call for up to `horizon_end`.

    Without `occurrence_from` (activation, horizon extension): every instance still due
    today or later. With it (an amendment): the instances whose occurrence is on or after
    it. A definition without an RRULE is one obligation, occurring on the contract's start.
    """
    planned: list[PlannedInstance] = []
    problems: list[PlanProblem] = []
    for terms, window_start, window_end in _version_windows(versions):
        holidays = set(terms.holidays)
        for kind, definition in _recurring_obligations(terms):
            offset = max(definition.due_offset_business_days, 0)
            # Look back far enough that an occurrence still due today is seen.
            lookback = today - timedelta(days=offset * 2 + 31)
            first = max(window_start, occurrence_from or lookback)
            last = min(window_end, horizon_end)
            try:
                days = _occurrence_days(definition, terms, first=first, last=last)
            except RecurrenceError as exc:
                problems.append(PlanProblem(definition.code, str(exc)))
                continue
            for day in days:
                instance = _planned(kind, definition, terms, day, offset=offset, holidays=holidays)
                if occurrence_from is not None or instance.due_date >= today:
                    planned.append(instance)
    planned.sort(key=lambda p: (p.occurrence, p.code))
    return planned, problems


def previous_occurrence(rule: str, *, dtstart: date, before: date) -> date | None:
    """The occurrence of `rule` just before `before` (the last review, for a snapshot)."""
    return shared_previous_occurrence(rule, dtstart, before=before)
