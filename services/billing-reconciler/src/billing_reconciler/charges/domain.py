"""Pure charge arithmetic: base charges, ARC/RRC with the deadband, monthly charges.

Every amount is Decimal in the contract currency, rounded half-even to the currency's minor
unit at line level; totals are sums of rounded lines. Each line carries its explanation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from crm_events.schemas.contracts import DeadbandMode, ResourceUnit
from crm_events.types import round_money

HUNDRED = Decimal(100)


class LineKind(StrEnum):
    BASE = "base"
    ARC = "arc"
    RRC = "rrc"


@dataclass(frozen=True)
class ChargeLine:
    kind: LineKind
    resource_unit: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    formula: str
    inputs: dict[str, str] = field(default_factory=dict)

    @property
    def signed_amount(self) -> Decimal:
        """RRC reduces the monthly charges."""
        return -self.amount if self.kind is LineKind.RRC else self.amount


def base_charge(unit: ResourceUnit, currency: str) -> ChargeLine:
    amount = round_money(unit.baseline_volume * unit.unit_price, currency)
    return ChargeLine(
        kind=LineKind.BASE,
        resource_unit=unit.code,
        quantity=unit.baseline_volume,
        rate=unit.unit_price,
        amount=amount,
        formula=f"baseline {unit.baseline_volume} × unit price {unit.unit_price} = {amount}",
        inputs={"baseline_volume": str(unit.baseline_volume), "unit_price": str(unit.unit_price)},
    )


def volume_adjustment(unit: ResourceUnit, actual: Decimal, currency: str) -> ChargeLine | None:
    """ARC when actual exceeds baseline beyond the deadband, RRC when it falls short.

    full_variance: the whole variance is charged once outside the deadband;
    excess_only:   only the part beyond the deadband edge is charged.
    """
    baseline = unit.baseline_volume
    band = baseline * unit.deadband_pct / HUNDRED
    upper, lower = baseline + band, baseline - band
    inputs = {
        "actual": str(actual),
        "baseline_volume": str(baseline),
        "deadband_pct": str(unit.deadband_pct),
        "deadband_mode": unit.deadband_mode.value,
    }
    if lower <= actual <= upper:
        return None
    excess_only = unit.deadband_mode is DeadbandMode.EXCESS_ONLY
    if actual > upper:
        kind, rate = LineKind.ARC, unit.arc_rate
        quantity = actual - (upper if excess_only else baseline)
        edge = (
            f"baseline {baseline} × (1 + {unit.deadband_pct}%)"
            if excess_only
            else f"baseline {baseline}"
        )
        variance = f"(actual {actual} − {edge})"
    else:
        kind, rate = LineKind.RRC, unit.rrc_rate
        quantity = (lower if excess_only else baseline) - actual
        edge = (
            f"baseline {baseline} × (1 − {unit.deadband_pct}%)"
            if excess_only
            else f"baseline {baseline}"
        )
        variance = f"({edge} − actual {actual})"
    amount = round_money(quantity * rate, currency)
    inputs["rate"] = str(rate)
    return ChargeLine(
        kind=kind,
        resource_unit=unit.code,
        quantity=quantity,
        rate=rate,
        amount=amount,
        formula=f"{kind.value.upper()} = {variance} × rate {rate} = {quantity} × {rate} = {amount}",
        inputs=inputs,
    )


@dataclass(frozen=True)
class MonthlyCharges:
    lines: list[ChargeLine]
    total: Decimal
    units_without_consumption: list[str]


def monthly_charges(
    units: Iterable[ResourceUnit], actuals: Mapping[str, Decimal], currency: str
) -> MonthlyCharges:
    """M = base charges + ARC − RRC for the period (before credits)."""
    lines: list[ChargeLine] = []
    missing: list[str] = []
    for unit in units:
        lines.append(base_charge(unit, currency))
        actual = actuals.get(unit.code)
        if actual is None:
            missing.append(unit.code)  # no consumption reported: baseline assumed
            continue
        adjustment = volume_adjustment(unit, actual, currency)
        if adjustment is not None:
            lines.append(adjustment)
    total = sum((line.signed_amount for line in lines), Decimal(0))
    return MonthlyCharges(lines=lines, total=total, units_without_consumption=missing)
