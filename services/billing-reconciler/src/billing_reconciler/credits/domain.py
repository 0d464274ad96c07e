"""Pure service-credit arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crm_events.types import round_money

HUNDRED = Decimal(100)


def at_risk_amount(monthly_charges: Decimal, at_risk_pct: Decimal, currency: str) -> Decimal:
    """ARA = at_risk_pct × M."""
    return round_money(monthly_charges * at_risk_pct / HUNDRED, currency)


@dataclass(frozen=True)
class CreditAmount:
    amount: Decimal
    uncapped: Decimal
    capped: bool
    formula: str


def service_credit(
    *,
    at_risk: Decimal,
    allocation_pct: Decimal,
    currency: str,
    already_credited: Decimal = Decimal(0),
    category_pct: Decimal | None = None,
) -> CreditAmount:
    """Credit = ARA × allocation % (× category % when the contract uses categories),
    capped so that the period's credits never exceed ARA."""
    factor = allocation_pct / HUNDRED
    formula = f"at-risk {at_risk} × allocation {allocation_pct}%"
    if category_pct is not None:
        factor *= category_pct / HUNDRED
        formula = f"at-risk {at_risk} × category {category_pct}% × allocation {allocation_pct}%"
    uncapped = round_money(at_risk * factor, currency)
    room = max(at_risk - already_credited, Decimal(0))
    amount = min(uncapped, room)
    formula += f" = {uncapped}"
    if amount < uncapped:
        formula += (
            f", capped at the at-risk amount: {at_risk} − {already_credited} already "
            f"credited this period = {amount}"
        )
    return CreditAmount(amount=amount, uncapped=uncapped, capped=amount < uncapped, formula=formula)
