"""Which events become alerts, and under which key (pure).

`candidate(event_type, payload)` says what alert an event would raise: its severity, title,
details and deduplication key. The key names the breach, not the event, so every event
about one failed SLA period (`sla.breached`, `sla.period_closed`, `billing.credit_calculated`
and its revisions) lands on one alert: the first raises it, the others add their facts.

`choose_rule(rules, ...)` picks the rule that decides: the most specific one for the event
type (contract, then tenant, then global). A disabled rule silences; an enabled one lets the
alert through when its severity reaches `min_severity` (and the amount `min_amount`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from crm_events.schemas.billing import CreditCalculated, DiscrepancyFound, VolumeBandExceeded
from crm_events.schemas.obligations import ObligationTransitioned
from crm_events.schemas.sla import Outcome, SlaAtRisk, SlaBreached, SlaPeriodClosed

SEVERITIES = ("low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


@dataclass(frozen=True)
class AlertCandidate:
    contract_id: uuid.UUID
    severity: str
    title: str
    dedup_key: str
    details: dict[str, Any] = field(default_factory=dict)
    amount: Decimal | None = None


def sla_failure_key(contract_id: object, sla_code: str, period: str) -> str:
    return f"sla_failure:{contract_id}:{sla_code}:{period}"


def _sla_breached_alert(payload: SlaBreached) -> AlertCandidate:
    best = payload.best_possible_attainment
    return AlertCandidate(
        contract_id=payload.contract_id,
        severity="high",
        title=(
            f"SLA {payload.sla_code} breached in {payload.period.label}: below its minimum "
            f"of {payload.minimum_level}%" + (f" (at best {best}%)" if best is not None else "")
        ),
        dedup_key=sla_failure_key(payload.contract_id, payload.sla_code, payload.period.label),
        details={
            "sla_code": payload.sla_code,
            "period": payload.period.label,
            "minimum_level": str(payload.minimum_level),
            "best_possible_attainment": None if best is None else str(best),
            "breach_explanation": payload.explanation,
            "detected_at": payload.detected_at.isoformat(),
        },
    )


def _sla_period_closed_alert(payload: SlaPeriodClosed) -> AlertCandidate | None:
    """A period closed (or restated): failed, below expected and no data each raise their
    own alert; a met period raises none."""
    base = {
        "sla_code": payload.sla_code,
        "period": payload.period.label,
        "attainment": None if payload.attainment is None else str(payload.attainment),
        "outcome": payload.outcome.value,
        "expected_level": str(payload.expected_level),
        "minimum_level": str(payload.minimum_level),
    }
    label = payload.period.label
    if payload.outcome is Outcome.FAILED:
        return AlertCandidate(
            contract_id=payload.contract_id,
            severity="high",
            title=(
                f"SLA {payload.sla_code} failed in {label}: {payload.attainment}% against "
                f"a minimum of {payload.minimum_level}%"
            ),
            dedup_key=sla_failure_key(payload.contract_id, payload.sla_code, label),
            details=base,
        )
    if payload.outcome is Outcome.BELOW_EXPECTED:
        return AlertCandidate(
            contract_id=payload.contract_id,
            severity="medium",
            title=(
                f"SLA {payload.sla_code} below expected in {label}: {payload.attainment}% "
                f"against {payload.expected_level}%"
            ),
            dedup_key=f"sla_below_expected:{payload.contract_id}:{payload.sla_code}:{label}",
            details=base,
        )
    if payload.outcome is Outcome.NO_DATA:
        return AlertCandidate(
            contract_id=payload.contract_id,
            severity="low",
            title=f"SLA {payload.sla_code} had no data in {label}",
            dedup_key=f"sla_no_data:{payload.contract_id}:{payload.sla_code}:{label}",
            details=base,
        )
    return None


def _sla_at_risk_alert(payload: SlaAtRisk) -> AlertCandidate:
    return AlertCandidate(
        contract_id=payload.contract_id,
        severity="medium",
        title=(
            f"SLA {payload.sla_code} at risk in {payload.period.label}: projected "
            f"{payload.projected_attainment}% against a minimum of {payload.minimum_level}%"
        ),
        dedup_key=f"sla_at_risk:{payload.contract_id}:{payload.sla_code}:{payload.period.label}",
        details={
            "sla_code": payload.sla_code,
            "period": payload.period.label,
            "projected_attainment": str(payload.projected_attainment),
            "remaining_budget_minutes": (
                None
                if payload.remaining_budget_minutes is None
                else str(payload.remaining_budget_minutes)
            ),
            "risk_explanation": payload.explanation,
        },
    )


def _credit_calculated_alert(payload: CreditCalculated) -> AlertCandidate:
    # The SLA's own period (2026-Q1 for a quarterly SLA), so it joins the breach's alert.
    sla_period = payload.measurement_period or payload.period_label
    return AlertCandidate(
        contract_id=payload.contract_id,
        severity="high",
        title=(
            f"SLA {payload.sla_code} failed in {sla_period}: service credit "
            f"{payload.credit_amount} {payload.currency}"
            + (f" (billed in {payload.period_label})" if sla_period != payload.period_label else "")
        ),
        dedup_key=sla_failure_key(payload.contract_id, payload.sla_code, sla_period),
        details={
            "credit_id": str(payload.credit_id),
            "credit_amount": str(payload.credit_amount),
            "credit_revision": payload.revision,
            "currency": payload.currency,
            "sla_code": payload.sla_code,
            "period": payload.period_label,
            "formula": payload.explanation.formula,
        },
        amount=payload.credit_amount,
    )


def _volume_band_exceeded_alert(payload: VolumeBandExceeded) -> AlertCandidate:
    key = f"volume_band:{payload.contract_id}:{payload.resource_unit}:{payload.period_label}"
    return AlertCandidate(
        contract_id=payload.contract_id,
        severity="medium",
        title=(
            f"{payload.resource_unit} volume {payload.direction} its band in "
            f"{payload.period_label}: {payload.actual} against a baseline of "
            f"{payload.baseline}"
        ),
        dedup_key=key,
        details={
            "resource_unit": payload.resource_unit,
            "period": payload.period_label,
            "actual": str(payload.actual),
            "baseline": str(payload.baseline),
            "band": f"{payload.floor_pct}%–{payload.ceiling_pct}%",
            "direction": payload.direction,
        },
    )


def _discrepancy_found_alert(payload: DiscrepancyFound) -> AlertCandidate:
    # One alert per invoice: its discrepancies gather on it.
    return AlertCandidate(
        contract_id=payload.contract_id,
        severity="medium",
        title=(
            f"Invoice {payload.invoice_number} ({payload.period_label}) differs from the contract"
        ),
        dedup_key=f"invoice_discrepancy:{payload.contract_id}:{payload.invoice_id}",
        details={
            "invoice_id": str(payload.invoice_id),
            "invoice_number": payload.invoice_number,
            "period": payload.period_label,
            "currency": payload.currency,
            "discrepancies": [
                f"{payload.discrepancy_class} {payload.direction} {payload.amount}"
                + (f" on {payload.item_code}" if payload.item_code else "")
            ],
        },
        amount=abs(payload.amount),
    )


def _obligation_overdue_alert(payload: ObligationTransitioned) -> AlertCandidate:
    return AlertCandidate(
        contract_id=payload.contract_id,
        severity="medium",
        title=f"Overdue since {payload.due_date}: {payload.title}",
        dedup_key=f"obligation_overdue:{payload.obligation_id}",
        details=_obligation_details(payload),
    )


def _obligation_escalated_alert(payload: ObligationTransitioned) -> AlertCandidate:
    return AlertCandidate(
        contract_id=payload.contract_id,
        severity="high",
        title=(
            f"Escalated to {payload.escalated_to} (level {payload.escalation_level}): "
            f"{payload.title}, due {payload.due_date}"
        ),
        dedup_key=f"obligation_escalated:{payload.obligation_id}:{payload.escalation_level}",
        details=_obligation_details(payload),
    )


P = TypeVar("P")


@dataclass(frozen=True)
class _AlertOf(Generic[P]):
    """What an event type carries, and the alert that payload raises."""

    payload_type: type[P]
    alert: Callable[[P], AlertCandidate | None]


ALERTS_BY_EVENT_TYPE: dict[str, _AlertOf[Any]] = {
    "sla.breached": _AlertOf(SlaBreached, _sla_breached_alert),
    # A restatement is the period closed again with new figures.
    "sla.period_closed": _AlertOf(SlaPeriodClosed, _sla_period_closed_alert),
    "sla.period_restated": _AlertOf(SlaPeriodClosed, _sla_period_closed_alert),
    "sla.at_risk": _AlertOf(SlaAtRisk, _sla_at_risk_alert),
    "billing.credit_calculated": _AlertOf(CreditCalculated, _credit_calculated_alert),
    "billing.volume_band_exceeded": _AlertOf(VolumeBandExceeded, _volume_band_exceeded_alert),
    "reconciliation.discrepancy_found": _AlertOf(DiscrepancyFound, _discrepancy_found_alert),
    "obligation.overdue": _AlertOf(ObligationTransitioned, _obligation_overdue_alert),
    "obligation.escalated": _AlertOf(ObligationTransitioned, _obligation_escalated_alert),
}


def candidate(event_type: str, payload: Any) -> AlertCandidate | None:
    """The alert this event would raise, or None when it never raises one."""
    alert_of = ALERTS_BY_EVENT_TYPE.get(event_type)
    if alert_of is None or not isinstance(payload, alert_of.payload_type):
        return None
    return alert_of.alert(payload)


def _obligation_details(payload: ObligationTransitioned) -> dict[str, Any]:
    return {
        "obligation_id": str(payload.obligation_id),
        "kind": payload.kind,
        "due_date": payload.due_date.isoformat(),
        "owner_role": payload.owner_role,
        "owner": payload.owner,
        "escalation_level": payload.escalation_level,
        "escalated_to": payload.escalated_to,
    }


class RuleLike(Protocol):
    @property
    def tenant_id(self) -> str | None: ...
    @property
    def contract_id(self) -> uuid.UUID | None: ...
    @property
    def event_type(self) -> str: ...
    @property
    def min_severity(self) -> str: ...
    @property
    def alert_severity(self) -> str | None: ...
    @property
    def min_amount(self) -> Decimal | None: ...
    @property
    def enabled(self) -> bool: ...


R = TypeVar("R", bound=RuleLike)


def _specificity(rule: RuleLike) -> int:
    return (2 if rule.contract_id is not None else 0) + (1 if rule.tenant_id is not None else 0)


def choose_rule(
    rules: Sequence[R], *, event_type: str, tenant_id: str, contract_id: uuid.UUID
) -> R | None:
    """The rule that decides for this event: the most specific one that applies."""
    applicable = [
        r
        for r in rules
        if r.event_type == event_type
        and (r.tenant_id is None or r.tenant_id == tenant_id)
        and (r.contract_id is None or r.contract_id == contract_id)
    ]
    if not applicable:
        return None
    return max(applicable, key=_specificity)


def decide(rule: RuleLike | None, found: AlertCandidate) -> str | None:
    """The alert's severity when the rule lets it through, else None."""
    if rule is None or not rule.enabled:
        return None
    if severity_rank(found.severity) < severity_rank(rule.min_severity):
        return None
    if rule.min_amount is not None and (found.amount is None or found.amount < rule.min_amount):
        return None
    return rule.alert_severity or found.severity


def merge_details(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Facts of a later event about the same breach: new keys added, values refreshed, lists
    gathered (an invoice's discrepancies) without repeats; nothing known is blanked."""
    merged = dict(old)
    for key, value in new.items():
        if value is None and key in merged:
            continue
        if isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = merged[key] + [v for v in value if v not in merged[key]]
        else:
            merged[key] = value
    return merged
