"""Activation rules: every problem of a contract at once, each with its JSON path.

Pure: takes the contract document (and, for an amendment, the version it follows), returns
the problems. An empty list means the version can be activated. Paths are relative to the
contract document (`sla_definitions[0].minimum_level`); amendment rules also name
`effective_from`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from itertools import pairwise
from zoneinfo import available_timezones

from contract_registry.contracts.currencies import ISO_4217
from contract_registry.recurrence import first_occurrence
from crm_events.schemas.contracts import (
    CapBasis,
    CapSplit,
    ContractDocument,
    CreditCap,
    Direction,
    MetricKind,
    SlaDefinition,
    Statistic,
    TargetClock,
)
from crm_platform.contract_calendar import InvalidRecurrence, parse_rrule

HUNDRED = Decimal(100)
PERCENT_METRICS = {
    MetricKind.AVAILABILITY,
    MetricKind.INCIDENT_RESPONSE,
    MetricKind.INCIDENT_RESOLUTION,
}
INCIDENT_METRICS = {MetricKind.INCIDENT_RESPONSE, MetricKind.INCIDENT_RESOLUTION}
SEVERITIES = ("low", "medium", "high", "critical")
# What an amendment may not change: a new contract is a new contract.
IDENTITY_FIELDS = ("reference", "currency", "timezone", "start_date")


@dataclass(frozen=True)
class Problem:
    loc: str
    message: str

    def as_detail(self) -> dict[str, str]:
        return {"loc": self.loc, "message": self.message}


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_known_timezone(name: str) -> bool:
    return name in _zones()


class _Problems(list[Problem]):
    def __call__(self, loc: str, message: str) -> None:
        self.append(Problem(loc, message))


def validate_for_activation(doc: ContractDocument) -> list[Problem]:
    add = problems = _Problems()

    if doc.currency not in ISO_4217:
        add("currency", f"{doc.currency!r} is not an ISO 4217 currency code")
    if not is_known_timezone(doc.timezone):
        add("timezone", f"{doc.timezone!r} is not an IANA time zone (e.g. America/New_York)")
    if doc.end_date is not None and doc.end_date <= doc.start_date:
        add("end_date", "end_date must be after start_date")
    _calendar(doc, add)
    _price_book(doc, add)
    _slas(doc, add)
    _credit_terms(doc, add)
    _obligations(doc, add)
    _governance(doc, add)
    _clauses(doc, add)
    _rebates(doc, add)
    return list(problems)


def validate_amendment(
    *,
    previous: ContractDocument,
    previous_effective_from: date,
    doc: ContractDocument,
    effective_from: date,
) -> list[Problem]:
    """The rules of a new version on top of the activation rules."""
    add = problems = _Problems()
    for name in IDENTITY_FIELDS:
        before, after = getattr(previous, name), getattr(doc, name)
        if before != after:
            add(
                name,
                f"an amendment cannot change {name} ({before} → {after}); "
                "a different contract is a new contract",
            )
    if effective_from < doc.start_date:
        add("effective_from", f"effective_from {effective_from} is before the contract start")
    elif effective_from < previous_effective_from:
        add(
            "effective_from",
            f"effective_from {effective_from} is before {previous_effective_from}, when the "
            "version it amends took effect",
        )
    if doc.end_date is not None and effective_from > doc.end_date:
        add("effective_from", f"effective_from {effective_from} is after the end {doc.end_date}")
    return list(problems)


def _unique(items: Sequence[str], loc: str, add: _Problems, what: str = "code") -> None:
    """Flags every repeat of a value after its first appearance."""
    seen: Counter[str] = Counter()
    for i, value in enumerate(items):
        seen[value] += 1
        if seen[value] > 1:
            add(f"{loc}[{i}].{what}", f"{what} {value!r} is used more than once; it must be unique")


def _calendar(doc: ContractDocument, add: _Problems) -> None:
    first_year = doc.start_date.year
    last_year = doc.end_date.year if doc.end_date else None
    seen: set[date] = set()
    for i, day in enumerate(doc.holidays):
        if day in seen:
            add(f"holidays[{i}]", f"{day} is listed more than once")
        seen.add(day)
        if day.year < first_year or (last_year is not None and day.year > last_year):
            add(f"holidays[{i}]", f"{day} is outside the contract's years (a typo in the year?)")
    if doc.contract_year_start is not None and (
        doc.contract_year_start < doc.start_date
        or (doc.end_date is not None and doc.contract_year_start > doc.end_date)
    ):
        add("contract_year_start", "contract_year_start must fall within the contract term")
    if doc.reconciliation_tolerance < 0:
        add("reconciliation_tolerance", "reconciliation_tolerance cannot be negative")


def _price_book(doc: ContractDocument, add: _Problems) -> None:
    for i, unit in enumerate(doc.price_book):
        base = f"price_book[{i}]"
        for name in ("unit_price", "baseline_volume", "arc_rate", "rrc_rate"):
            if getattr(unit, name) < 0:
                add(f"{base}.{name}", f"{name} cannot be negative")
        if not Decimal(0) <= unit.deadband_pct < HUNDRED:
            add(f"{base}.deadband_pct", "deadband_pct must be between 0 and 100")
        if unit.volume_band and unit.volume_band.floor_pct >= unit.volume_band.ceiling_pct:
            add(f"{base}.volume_band", "floor_pct must be below ceiling_pct")
        bands = sorted(enumerate(unit.band_rates), key=lambda b: b[1].from_pct)
        for j, band in bands:
            if band.from_pct >= band.to_pct:
                add(f"{base}.band_rates[{j}]", "from_pct must be below to_pct")
            for name in ("arc_rate", "rrc_rate"):
                rate = getattr(band, name)
                if rate is not None and rate < 0:
                    add(f"{base}.band_rates[{j}].{name}", f"{name} cannot be negative")
        for (_, a), (j, b) in pairwise(bands):
            if b.from_pct < a.to_pct:
                add(
                    f"{base}.band_rates[{j}]",
                    f"band {b.from_pct}–{b.to_pct}% overlaps band {a.from_pct}–{a.to_pct}%",
                )
    _unique([u.code for u in doc.price_book], "price_book", add)


def _clause_refs(doc: ContractDocument) -> set[str] | None:
    # Only a contract that lists its clauses can be checked for references to them.
    return {c.ref for c in doc.clauses} if doc.clauses else None


def _slas(doc: ContractDocument, add: _Problems) -> None:
    categories = {c.name for c in doc.credit_terms.performance_categories}
    clauses = _clause_refs(doc)
    for i, sla in enumerate(doc.sla_definitions):
        base = f"sla_definitions[{i}]"
        if not sla.service_key.strip():
            add(f"{base}.service_key", "an SLA needs the telemetry service key it reads")
        _levels(sla, base, add)
        if sla.metric_kind in INCIDENT_METRICS and not sla.priority:
            add(f"{base}.priority", "incident SLAs need the priority they measure")
        _target(sla, base, add)
        if sla.allocation_pct < 0:
            add(f"{base}.allocation_pct", "allocation_pct cannot be negative")
        if sla.performance_category and sla.performance_category not in categories:
            add(
                f"{base}.performance_category",
                f"category {sla.performance_category!r} is not defined in credit_terms",
            )
        for j, window in enumerate(sla.maintenance_windows.fixed):
            if window.end <= window.start:
                add(f"{base}.maintenance_windows.fixed[{j}]", "end must be after start")
        _service_hours(doc, sla, base, add)
        _small_sample(sla, base, add)
        _statistic(sla, base, add)
        if clauses is not None and sla.clause and sla.clause not in clauses:
            add(f"{base}.clause", f"clause {sla.clause!r} is not among the contract's clauses")
    _unique([s.code for s in doc.sla_definitions], "sla_definitions", add)
    total = sum((s.allocation_pct for s in doc.sla_definitions), Decimal(0))
    if doc.credit_terms.pool_pct > 0 and total > doc.credit_terms.pool_pct:
        add(
            "sla_definitions",
            f"allocations total {total}%, beyond the pool of {doc.credit_terms.pool_pct}%",
        )


def _levels(sla: SlaDefinition, base: str, add: _Problems) -> None:
    higher = sla.direction is Direction.HIGHER_IS_BETTER
    if higher and sla.minimum_level > sla.expected_level:
        add(
            f"{base}.minimum_level",
            f"minimum {sla.minimum_level} is better than expected {sla.expected_level} "
            "(higher is better, so the minimum must be at or below the expected level)",
        )
    if not higher and sla.minimum_level < sla.expected_level:
        add(
            f"{base}.minimum_level",
            f"minimum {sla.minimum_level} is better than expected {sla.expected_level} "
            "(lower is better, so the minimum must be at or above the expected level)",
        )
    if sla.metric_kind in PERCENT_METRICS:
        for name in ("expected_level", "minimum_level"):
            if not Decimal(0) <= getattr(sla, name) <= HUNDRED:
                add(f"{base}.{name}", f"{name} is a percentage between 0 and 100")


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _service_hours(doc: ContractDocument, sla: SlaDefinition, base: str, add: _Problems) -> None:
    hours = sla.service_hours
    if hours is None:
        return
    loc = f"{base}.service_hours"
    if _minutes(hours.start) >= _minutes(hours.end):
        add(f"{loc}.end", f"service hours end {hours.end} must be after start {hours.start}")
    if not hours.weekdays:
        add(f"{loc}.weekdays", "service hours need at least one weekday")
    elif len(set(hours.weekdays)) != len(hours.weekdays) or not all(
        0 <= d <= 6 for d in hours.weekdays
    ):
        add(f"{loc}.weekdays", "weekdays are distinct numbers from 0 (Monday) to 6 (Sunday)")
    if hours.exclude_holidays and not doc.holidays:
        add(
            f"{loc}.exclude_holidays",
            "exclude_holidays needs the contract's holiday calendar (holidays is empty)",
        )


def _target(sla: SlaDefinition, base: str, add: _Problems) -> None:
    """An incident target in minutes (wall-clock or business), or in business days; business
    time is counted in the SLA's service hours, so a business target needs them."""
    minutes, days = sla.target_minutes, sla.target_business_days
    business = sla.target_clock is TargetClock.BUSINESS_HOURS
    if sla.metric_kind not in INCIDENT_METRICS:
        if days is not None:
            add(f"{base}.target_business_days", "a target in business days is for incident SLAs")
        elif business:
            add(f"{base}.target_clock", "a business-hours target is for incident SLAs")
        return
    if minutes is not None and days is not None:
        add(
            f"{base}.target_business_days",
            "give the target in target_minutes or in target_business_days, not both",
        )
    elif days is None and (not minutes or minutes <= 0):
        add(
            f"{base}.target_minutes",
            "incident SLAs need a positive target: target_minutes, or target_business_days "
            "with target_clock business_hours",
        )
    if days is not None and not business:
        add(
            f"{base}.target_clock",
            "target_business_days counts days of the service calendar: set target_clock to "
            "business_hours",
        )
    if business and sla.service_hours is None:
        add(
            f"{base}.service_hours",
            "a business-hours target is counted in the SLA's service_hours: give them "
            "(weekdays, start, end, exclude_holidays)",
        )


def _small_sample(sla: SlaDefinition, base: str, add: _Problems) -> None:
    rule = sla.small_sample
    if rule is None:
        return
    if sla.metric_kind not in INCIDENT_METRICS:
        add(f"{base}.small_sample", "a small-sample rule applies to incident SLAs only")
    if rule.allowed_misses >= rule.minimum_sample:
        add(
            f"{base}.small_sample.allowed_misses",
            f"allowed_misses ({rule.allowed_misses}) must be below minimum_sample "
            f"({rule.minimum_sample})",
        )


def _statistic(sla: SlaDefinition, base: str, add: _Problems) -> None:
    if sla.statistic is Statistic.PERCENTILE:
        if sla.metric_kind is not MetricKind.MEASUREMENT:
            add(f"{base}.statistic", "a percentile statistic applies to measurement SLAs only")
        if sla.percentile is None:
            add(f"{base}.percentile", "statistic=percentile needs the percentile (e.g. 95)")
        elif not Decimal(0) < sla.percentile < HUNDRED:
            add(f"{base}.percentile", "percentile must be between 0 and 100 (exclusive)")
    elif sla.percentile is not None:
        add(f"{base}.percentile", "percentile is only read when statistic=percentile")


def _credit_terms(doc: ContractDocument, add: _Problems) -> None:
    ct = doc.credit_terms
    if not Decimal(0) <= ct.at_risk_pct <= HUNDRED:
        add("credit_terms.at_risk_pct", "at_risk_pct must be between 0 and 100")
    if ct.pool_pct <= 0:
        add("credit_terms.pool_pct", "pool_pct must be positive")
    for k, category in enumerate(ct.performance_categories):
        if not Decimal(0) <= category.allocation_pct <= HUNDRED:
            add(
                f"credit_terms.performance_categories[{k}].allocation_pct",
                "a category's allocation_pct must be between 0 and 100",
            )
    _unique(
        [c.name for c in ct.performance_categories],
        "credit_terms.performance_categories",
        add,
        what="name",
    )
    _cap(ct.period_cap, "credit_terms.period_cap", add)
    if ct.contract_year_cap is not None:
        _cap(ct.contract_year_cap, "credit_terms.contract_year_cap", add)
        if ct.contract_year_cap.basis is CapBasis.AT_RISK_AMOUNT:
            add(
                "credit_terms.contract_year_cap.basis",
                "a contract year has no at-risk amount: cap it by amount or pct_of_charges",
            )
    _cap_priorities(doc, add)


def _cap(cap: CreditCap, loc: str, add: _Problems) -> None:
    wanted = {CapBasis.AMOUNT: "amount", CapBasis.PCT_OF_CHARGES: "pct"}.get(cap.basis)
    for name in ("amount", "pct"):
        given = getattr(cap, name) is not None
        if name == wanted and not given:
            add(f"{loc}.{name}", f"a cap with basis {cap.basis.value} needs {name}")
        elif name != wanted and given:
            add(f"{loc}.{name}", f"{name} does not apply to a cap with basis {cap.basis.value}")
    if cap.amount is not None and cap.amount < 0:
        add(f"{loc}.amount", "a cap amount cannot be negative")
    if cap.pct is not None and not Decimal(0) <= cap.pct <= HUNDRED:
        add(f"{loc}.pct", "a cap's pct must be between 0 and 100")


def _cap_priorities(doc: ContractDocument, add: _Problems) -> None:
    """cap_split = priority names the order of every SLA, once each; otherwise none."""
    by_priority = doc.credit_terms.cap_split is CapSplit.PRIORITY
    seen: dict[int, str] = {}
    for i, sla in enumerate(doc.sla_definitions):
        loc = f"sla_definitions[{i}].cap_priority"
        if not by_priority:
            if sla.cap_priority is not None:
                add(loc, "cap_priority applies only with credit_terms.cap_split = priority")
            continue
        if sla.cap_priority is None:
            add(loc, "credit_terms.cap_split = priority: every SLA needs a cap_priority")
        elif sla.cap_priority in seen:
            add(loc, f"cap_priority {sla.cap_priority} is already SLA {seen[sla.cap_priority]}'s")
        else:
            seen[sla.cap_priority] = sla.code


def _obligations(doc: ContractDocument, add: _Problems) -> None:
    clauses = _clause_refs(doc)
    for i, ob in enumerate(doc.obligation_definitions):
        base = f"obligation_definitions[{i}]"
        if ob.rrule is not None:
            _rrule(ob.rrule, doc, f"{base}.rrule", add)
        if ob.due_offset_business_days < 0:
            add(
                f"{base}.due_offset_business_days",
                "due_offset_business_days counts business days after the occurrence (0 or more)",
            )
        if ob.severity not in SEVERITIES:
            add(f"{base}.severity", f"severity is one of {', '.join(SEVERITIES)}")
        if not ob.owner_role.strip():
            add(f"{base}.owner_role", "an obligation needs the role that owns it")
        if not ob.title.strip():
            add(f"{base}.title", "an obligation needs a title")
        if clauses is not None and ob.clause and ob.clause not in clauses:
            add(f"{base}.clause", f"clause {ob.clause!r} is not among the contract's clauses")
    _unique([o.code for o in doc.obligation_definitions], "obligation_definitions", add)


def _rrule(rule: str, doc: ContractDocument, loc: str, add: _Problems) -> None:
    try:
        parse_rrule(rule, doc.start_date)
    except InvalidRecurrence as exc:
        add(loc, str(exc))
        return
    if first_occurrence(rule, doc.start_date, doc.end_date) is None:
        add(loc, "the RRULE has no occurrence within the contract term")


def _governance(doc: ContractDocument, add: _Problems) -> None:
    if doc.governance is not None:
        _rrule(doc.governance.review_rrule, doc, "governance.review_rrule", add)
        if not doc.governance.owner_role.strip():
            add("governance.owner_role", "the governance review needs an owner role")
    if not doc.escalation.levels:
        add("escalation.levels", "escalation needs at least one role to escalate to")


def _clauses(doc: ContractDocument, add: _Problems) -> None:
    _unique([c.ref for c in doc.clauses], "clauses", add, what="ref")
    for i, clause in enumerate(doc.clauses):
        for j, note in enumerate(clause.interpretation_notes):
            if not note.note.strip():
                add(
                    f"clauses[{i}].interpretation_notes[{j}].note",
                    "an interpretation note needs its text",
                )


def _rebates(doc: ContractDocument, add: _Problems) -> None:
    tiers = doc.rebate_tiers
    for i, tier in enumerate(tiers):
        if tier.to_amount is not None and tier.to_amount <= tier.from_amount:
            add(f"rebate_tiers[{i}].to_amount", "to_amount must be above from_amount")
        previous_end = tiers[i - 1].to_amount if i else Decimal(0)
        if i and (previous_end is None or tier.from_amount < previous_end):
            add(
                f"rebate_tiers[{i}].from_amount",
                "tiers must not overlap (in order of from_amount; only the last may be open-ended)",
            )
        if not Decimal(0) <= tier.rebate_pct <= HUNDRED:
            add(f"rebate_tiers[{i}].rebate_pct", "rebate_pct must be between 0 and 100")
        if tier.from_amount < 0:
            add(f"rebate_tiers[{i}].from_amount", "from_amount cannot be negative")
