"""Events obligation-tracker consumes, for its tests: March 2026's AVAIL-CORE breach, risk,
restatement, an invoice's discrepancy and volume outside its band, for any contract."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import crm_testing.examples as examples
from crm_events.schemas.billing import DiscrepancyFound, VolumeBandExceeded
from crm_events.schemas.sla import (
    Outcome,
    Period,
    PreviousFigures,
    SlaAtRisk,
    SlaBreached,
    SlaPeriodRestated,
)

MARCH = Period(
    label=examples.PERIOD,
    start=datetime(2026, 3, 1, 5, tzinfo=UTC),
    end=datetime(2026, 4, 1, 4, tzinfo=UTC),
)


def breached(contract_id: uuid.UUID) -> SlaBreached:
    return SlaBreached(
        contract_id=contract_id,
        contract_version=1,
        sla_code="AVAIL-CORE",
        period=MARCH,
        best_possible_attainment=Decimal("99.4609"),
        minimum_level=Decimal("99.5"),
        explanation="240 minutes of downtime outside maintenance",
        detected_at=datetime(2026, 3, 14, 8, 1, tzinfo=UTC),
    )


def at_risk(contract_id: uuid.UUID) -> SlaAtRisk:
    return SlaAtRisk(
        contract_id=contract_id,
        contract_version=1,
        sla_code="AVAIL-CORE",
        period=MARCH,
        attainment_so_far=Decimal("99.7"),
        projected_attainment=Decimal("99.6"),
        expected_level=Decimal("99.9"),
        minimum_level=Decimal("99.5"),
        remaining_budget_minutes=Decimal(12),
        explanation="budget nearly spent",
        detected_at=datetime(2026, 3, 13, 8, tzinfo=UTC),
    )


def restated(
    contract_id: uuid.UUID, *, outcome: str = "failed", attainment: Decimal | None = None
) -> SlaPeriodRestated:
    closed = examples.period_closed(contract_id, outcome=outcome)
    return SlaPeriodRestated(
        **closed.model_dump(exclude={"attainment"}),
        attainment=closed.attainment if attainment is None else attainment,
        restatement=1,
        previous=PreviousFigures(attainment=Decimal("99.95"), outcome=Outcome.MET),
        reason="late telemetry",
    )


def discrepancy(
    contract_id: uuid.UUID,
    invoice_id: uuid.UUID,
    amount: str,
    *,
    invoice_number: str = "INV-2026-03-001",
    revision: int = 1,
) -> DiscrepancyFound:
    return DiscrepancyFound(
        discrepancy_id=uuid.uuid5(invoice_id, f"{amount}/{revision}"),
        invoice_id=invoice_id,
        invoice_number=invoice_number,
        contract_id=contract_id,
        period_label="2026-03",
        currency="USD",
        discrepancy_class="consumption_error",
        direction="over_billed",
        amount=Decimal(amount),
        item_code="SRV-WIN",
        explanation="…",
        found_at=datetime(2026, 4, 6, 12, tzinfo=UTC),
        revision=revision,
    )


def volume_band_exceeded(
    contract_id: uuid.UUID, *, resource_unit: str = "SRV-WIN", period: str = "2026-03"
) -> VolumeBandExceeded:
    return VolumeBandExceeded(
        contract_id=contract_id,
        period_label=period,
        resource_unit=resource_unit,
        actual=Decimal(300),
        baseline=Decimal(200),
        floor_pct=Decimal(80),
        ceiling_pct=Decimal(120),
        direction="above",
        detected_at=datetime(2026, 4, 2, 9, tzinfo=UTC),
    )


@dataclass
class Rule:
    """An alert rule as `rules.choose_rule` and `rules.decide` read it."""

    event_type: str
    tenant_id: str | None = None
    contract_id: uuid.UUID | None = None
    min_severity: str = "low"
    alert_severity: str | None = None
    min_amount: Decimal | None = None
    enabled: bool = True
    id: uuid.UUID = field(default_factory=uuid.uuid4)
