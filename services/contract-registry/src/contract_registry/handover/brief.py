"""Building the handover brief from a version's terms (pure).

Credits are shown the way DESIGN.md computes them: a failed SLA costs at_risk_pct ×
allocation_pct (× the performance category's allocation, when it has one) of the period's
monthly charges M; at baseline volumes M = Σ baseline × unit price.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from contract_registry.handover.schemas import (
    Commercials,
    ContractFacts,
    DueDate,
    EventObligation,
    GovernanceBrief,
    HandoverBrief,
    HealthLine,
    KeyDate,
    ObligationBrief,
    ResourceUnitBrief,
    SlaBrief,
    VersionLine,
)
from contract_registry.recurrence import next_due_dates
from crm_events.schemas.contracts import (
    ContractDocument,
    DeadbandMode,
    InterpretationNote,
    MetricKind,
    ResourceUnit,
    SlaDefinition,
    Statistic,
    TargetClock,
)
from crm_events.types import round_money
from crm_platform.contract_calendar import InvalidRecurrence

HUNDRED = Decimal(100)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NEXT_DUE_COUNT = 3
NEXT_REVIEWS_COUNT = 4


def plain(value: Decimal) -> Decimal:
    """A quantity or percentage without trailing zeros (190.00 → 190, 4.80 → 4.8)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def base_charges(doc: ContractDocument) -> Decimal:
    return sum(
        (round_money(u.baseline_volume * u.unit_price, doc.currency) for u in doc.price_book),
        Decimal(0),
    )


def _resource_unit(unit: ResourceUnit, currency: str) -> ResourceUnitBrief:
    b, d = unit.baseline_volume, unit.deadband_pct / HUNDRED
    low, high = plain(b * (1 - d)), plain(b * (1 + d))
    band = (
        (
            plain(b * unit.volume_band.floor_pct / HUNDRED),
            plain(b * unit.volume_band.ceiling_pct / HUNDRED),
        )
        if unit.volume_band
        else None
    )
    if unit.deadband_mode is DeadbandMode.EXCESS_ONLY:
        how = (
            f"Above {high}: ARC = (A − {high}) × {unit.arc_rate}; below {low}: "
            f"RRC = ({low} − A) × {unit.rrc_rate} (only the excess beyond the deadband)."
        )
    else:
        how = (
            f"Above {high}: ARC = (A − {plain(b)}) × {unit.arc_rate}; below {low}: "
            f"RRC = ({plain(b)} − A) × {unit.rrc_rate} (the whole variance from baseline)."
        )
    if band:
        how += f" Outside {band[0]}–{band[1]} {unit.unit}s the volume band is exceeded."
    if unit.band_rates:
        how += (
            " Rates differ per band (see band_rates); below the lowest band, charged as at "
            "its floor."
        )
    return ResourceUnitBrief(
        code=unit.code,
        name=unit.name,
        unit=unit.unit,
        unit_price=unit.unit_price,
        baseline_volume=unit.baseline_volume,
        base_charge=round_money(b * unit.unit_price, currency),
        arc_rate=unit.arc_rate,
        rrc_rate=unit.rrc_rate,
        deadband_pct=unit.deadband_pct,
        deadband_mode=unit.deadband_mode.value,
        no_adjustment_between=(low, high),
        volume_band=band,
        band_rates=[
            {
                "from_pct": str(r.from_pct),
                "to_pct": str(r.to_pct),
                "arc_rate": str(r.arc_rate) if r.arc_rate is not None else None,
                "rrc_rate": str(r.rrc_rate) if r.rrc_rate is not None else None,
            }
            for r in unit.band_rates
        ],
        how_adjustments_work=how,
    )


def _target(sla: SlaDefinition) -> str:
    if sla.target_business_days is not None:
        return f"{sla.target_business_days} business days (service days of the service hours)"
    if sla.target_clock is TargetClock.BUSINESS_HOURS:
        return f"{sla.target_minutes} business minutes (counted in the service hours)"
    return f"{sla.target_minutes} minutes"


def _measured(sla: SlaDefinition) -> str:
    period = sla.measurement_period.value
    better = "higher" if sla.direction.value == "higher_is_better" else "lower"
    if sla.metric_kind is MetricKind.AVAILABILITY:
        what = (
            "availability % = (period minutes − excluded − downtime) ÷ "
            "(period minutes − excluded) × 100; downtime in a maintenance window is excluded"
        )
    elif sla.metric_kind in (MetricKind.INCIDENT_RESPONSE, MetricKind.INCIDENT_RESOLUTION):
        verb = "responded to" if sla.metric_kind is MetricKind.INCIDENT_RESPONSE else "resolved"
        what = (
            f"{sla.priority} incidents {verb} within {_target(sla)} ÷ "
            f"{sla.priority} incidents closed in the period × 100"
        )
        if sla.small_sample:
            what += (
                f"; with fewer than {sla.small_sample.minimum_sample} incidents the period is "
                f"met when at most {sla.small_sample.allowed_misses} miss"
            )
    else:
        statistic = (
            f"p{plain(sla.percentile)}"
            if sla.statistic is Statistic.PERCENTILE and sla.percentile is not None
            else sla.statistic.value
        )
        what = f"{statistic} of the {sla.unit or ''} measurements".replace("  ", " ")
    return (
        f"{what}, per {period}; {better} is better. At or better than {sla.expected_level}: "
        f"met; between it and {sla.minimum_level}: below expected (no credit, root-cause "
        f"report); worse than {sla.minimum_level}: failed (credit due); no data: no_data."
    )


def _windows(sla: SlaDefinition) -> list[str]:
    out = [
        f"every {WEEKDAYS[w.weekday]} {w.start} for {w.duration_minutes} min (local time)"
        for w in sla.maintenance_windows.weekly
    ]
    out += [
        f"{w.start.isoformat()} – {w.end.isoformat()}"
        + (f": {w.description}" if w.description else "")
        for w in sla.maintenance_windows.fixed
    ]
    return out


def _notes(doc: ContractDocument, ref: str) -> list[InterpretationNote]:
    return [n for c in doc.clauses if ref and c.ref == ref for n in c.interpretation_notes]


def _sla(doc: ContractDocument, sla: SlaDefinition, base: Decimal) -> SlaBrief:
    at_risk = doc.credit_terms.at_risk_pct
    category = next(
        (c for c in doc.credit_terms.performance_categories if c.name == sla.performance_category),
        None,
    )
    credit_pct = at_risk * sla.allocation_pct / HUNDRED
    formula = f"{plain(at_risk)}% × {plain(sla.allocation_pct)}%"
    if category is not None:
        credit_pct = credit_pct * category.allocation_pct / HUNDRED
        formula = (
            f"{plain(at_risk)}% × {plain(category.allocation_pct)}% ({category.name}) × "
            f"{plain(sla.allocation_pct)}%"
        )
    credit_pct = plain(credit_pct)
    credit = round_money(base * credit_pct / HUNDRED, doc.currency)
    formula += (
        f" = {credit_pct}% of the period's monthly charges M; at baseline M = {base} "
        f"{doc.currency}: {credit} {doc.currency}"
    )
    return SlaBrief(
        code=sla.code,
        name=sla.name,
        metric_kind=sla.metric_kind.value,
        service_key=sla.service_key,
        direction=sla.direction.value,
        expected_level=sla.expected_level,
        minimum_level=sla.minimum_level,
        unit=sla.unit,
        measurement_period=sla.measurement_period.value,
        measured=_measured(sla),
        service_hours=sla.service_hours,
        maintenance_windows=_windows(sla),
        small_sample=sla.small_sample,
        allocation_pct=sla.allocation_pct,
        performance_category=sla.performance_category,
        category_allocation_pct=category.allocation_pct if category else None,
        credit_pct_of_monthly_charges=credit_pct,
        credit_at_baseline=credit,
        credit_formula=formula,
        earn_back_periods=sla.earn_back_periods,
        repeated_default_count=sla.repeated_default_count,
        clause=sla.clause,
        interpretation_notes=_notes(doc, sla.clause),
    )


def _last_day(facts: ContractFacts) -> date | None:
    if facts.terminates_on is not None:
        return facts.terminates_on - timedelta(days=1)
    return facts.end_date


def _key_dates(
    doc: ContractDocument,
    facts: ContractFacts,
    versions: list[VersionLine],
    obligations: list[ObligationBrief],
    governance: GovernanceBrief | None,
    as_of: date,
) -> list[KeyDate]:
    dates = [KeyDate(date=doc.start_date, what="Contract starts")]
    for v in versions:
        if v.state == "activated" and v.version > 1:
            dates.append(
                KeyDate(
                    date=v.effective_from,
                    what=f"Version {v.version} takes effect" + (f": {v.note}" if v.note else ""),
                )
            )
    if governance and governance.next_reviews:
        dates.append(
            KeyDate(date=governance.next_reviews[0].due_date, what="Next governance review")
        )
    for ob in obligations:
        if ob.next_due:
            dates.append(KeyDate(date=ob.next_due[0].due_date, what=f"Due: {ob.title}"))
    if doc.rebate_tiers:
        year_start = doc.contract_year_start or doc.start_date
        anniversary = year_start
        while anniversary <= as_of:
            anniversary = _add_year(anniversary)
        if facts.end_date is None or anniversary <= facts.end_date:
            dates.append(
                KeyDate(date=anniversary, what="Next contract year starts (rebate tiers restart)")
            )
    if facts.terminates_on is not None:
        dates.append(
            KeyDate(
                date=facts.terminates_on,
                what="Termination takes effect"
                + (f" ({facts.termination_reason})" if facts.termination_reason else ""),
            )
        )
    if doc.end_date is not None:
        dates.append(KeyDate(date=doc.end_date, what="Contract ends (last day)"))
    return sorted(dates, key=lambda k: k.date)


def _add_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _due_dates(
    rule: str | None, doc: ContractDocument, end: date | None, offset: int, as_of: date, count: int
) -> list[DueDate]:
    # A draft's RRULE may not parse yet (activation would say so): no dates rather than an error.
    if not rule:
        return []
    try:
        pairs = next_due_dates(
            rule,
            start=doc.start_date,
            end=end,
            offset_business_days=max(0, offset),
            holidays=doc.holidays,
            today=as_of,
            count=count,
        )
    except InvalidRecurrence:
        return []
    return [DueDate(occurrence=occ, due_date=due) for occ, due in pairs]


def _obligations(doc: ContractDocument, end: date | None, as_of: date) -> list[ObligationBrief]:
    return [
        ObligationBrief(
            code=o.code,
            title=o.title,
            clause=o.clause,
            owner_role=o.owner_role,
            rrule=o.rrule,
            due_offset_business_days=o.due_offset_business_days,
            evidence_required=o.evidence_required,
            severity=o.severity,
            next_due=_due_dates(
                o.rrule, doc, end, o.due_offset_business_days, as_of, NEXT_DUE_COUNT
            ),
        )
        for o in doc.obligation_definitions
    ]


def _governance(doc: ContractDocument, end: date | None, as_of: date) -> GovernanceBrief | None:
    if doc.governance is None:
        return None
    return GovernanceBrief(
        review_rrule=doc.governance.review_rrule,
        owner_role=doc.governance.owner_role,
        due_offset_business_days=doc.governance.due_offset_business_days,
        next_reviews=_due_dates(
            doc.governance.review_rrule,
            doc,
            end,
            doc.governance.due_offset_business_days,
            as_of,
            NEXT_REVIEWS_COUNT,
        ),
    )


def _commercials(
    doc: ContractDocument, base: Decimal, at_risk_amount: Decimal, allocated: Decimal
) -> Commercials:
    ct = doc.credit_terms
    return Commercials(
        monthly_base_charges=base,
        at_risk_pct=ct.at_risk_pct,
        at_risk_amount_at_baseline=at_risk_amount,
        pool_pct=ct.pool_pct,
        allocated_pct=allocated,
        explanation=(
            f"M at baseline = Σ baseline × unit price = {base} {doc.currency}; "
            f"at-risk amount = {plain(ct.at_risk_pct)}% × M = {at_risk_amount} "
            f"{doc.currency}. Actual M each period = base + ARC − RRC."
        ),
    )


def _credit_cap(doc: ContractDocument, at_risk_amount: Decimal, allocated: Decimal) -> str:
    ct = doc.credit_terms
    return (
        f"Credits in a period never exceed the at-risk amount, {plain(ct.at_risk_pct)}% "
        f"of that period's M ({at_risk_amount} {doc.currency} at baseline). Pool "
        f"{plain(ct.pool_pct)}%, allocated {plain(allocated)}%."
    )


def _event_obligations(doc: ContractDocument) -> list[EventObligation]:
    root_cause_days = doc.credit_terms.root_cause_due_business_days
    return [
        EventObligation(
            trigger="an SLA period closes failed or below_expected",
            obligation="root-cause report",
            due=f"{root_cause_days} business days after the close, in {doc.timezone}",
        )
    ]


def build_brief(
    *,
    facts: ContractFacts,
    doc: ContractDocument,
    versions: list[VersionLine],
    health: list[HealthLine],
    as_of: date,
    generated_at: datetime,
) -> HandoverBrief:
    base = base_charges(doc)
    at_risk_amount = round_money(base * doc.credit_terms.at_risk_pct / HUNDRED, doc.currency)
    allocated = sum((s.allocation_pct for s in doc.sla_definitions), Decimal(0))
    end = _last_day(facts)
    obligations = _obligations(doc, end, as_of)
    governance = _governance(doc, end, as_of)
    return HandoverBrief(
        as_of=as_of,
        generated_at=generated_at,
        contract=facts,
        key_dates=_key_dates(doc, facts, versions, obligations, governance, as_of),
        commercials=_commercials(doc, base, at_risk_amount, allocated),
        price_book=[_resource_unit(u, doc.currency) for u in doc.price_book],
        slas=[_sla(doc, s, base) for s in doc.sla_definitions],
        credit_cap=_credit_cap(doc, at_risk_amount, allocated),
        obligations=obligations,
        event_obligations=_event_obligations(doc),
        governance=governance,
        escalation=doc.escalation,
        rebate_tiers=doc.rebate_tiers,
        clauses=doc.clauses,
        holidays=sorted(doc.holidays),
        versions=versions,
        recent_health=health,
    )
