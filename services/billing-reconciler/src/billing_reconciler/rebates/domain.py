"""Pure rebate arithmetic: tiers on cumulative spend in the contract year.

Spend is the sum of the monthly charges M (base + ARC − RRC, before credits, earn-back and
rebates) of the contract year's periods up to and including the period. A tier's percentage
applies to the spend inside the tier (marginal) unless the tier is retroactive: once the
spend reaches a retroactive tier, its percentage applies to all the spend from zero up to
the tier's upper edge, replacing the lower tiers; tiers above it stay marginal.

A period's rebate is what the year's rebate due grew by in that period:
    rebate(P) = round(due(spend through P)) − round(due(spend through P − 1))
so the rebates of a year's periods always add up to the rebate due on the year's spend, and
a spend corrected in an earlier period moves the rebates of that period and the later ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from crm_events.schemas.contracts import RebateTier
from crm_events.types import round_money

HUNDRED = Decimal(100)


def _fmt(value: Decimal) -> str:
    return format(value, "f")


@dataclass(frozen=True)
class RebateDue:
    amount: Decimal  # unrounded
    formula: str


def rebate_due(spend: Decimal, tiers: Sequence[RebateTier]) -> RebateDue:
    """The rebate due on a cumulative spend (unrounded), with the formula."""
    ordered = sorted(tiers, key=lambda t: t.from_amount)
    retro = None
    for tier in ordered:
        if tier.retroactive and spend >= tier.from_amount and spend > 0:
            retro = tier
    parts: list[str] = []
    total = Decimal(0)
    start_index = 0
    if retro is not None:
        top = spend if retro.to_amount is None else min(spend, retro.to_amount)
        share = top * retro.rebate_pct / HUNDRED
        total += share
        parts.append(
            f"{_fmt(top)} × {_fmt(retro.rebate_pct)}% (retroactive tier from "
            f"{_fmt(retro.from_amount)}) = {_fmt(share)}"
        )
        start_index = ordered.index(retro) + 1
    for tier in ordered[start_index:]:
        upper = spend if tier.to_amount is None else min(spend, tier.to_amount)
        inside = upper - tier.from_amount
        if inside <= 0 or tier.rebate_pct == 0:
            continue
        share = inside * tier.rebate_pct / HUNDRED
        total += share
        edge = "" if tier.to_amount is None else f"–{_fmt(tier.to_amount)}"
        parts.append(
            f"({_fmt(upper)} − {_fmt(tier.from_amount)}) × {_fmt(tier.rebate_pct)}% "
            f"(tier {_fmt(tier.from_amount)}{edge}) = {_fmt(share)}"
        )
    formula = " + ".join(parts) if parts else "no tier reached"
    return RebateDue(amount=total, formula=formula)


@dataclass(frozen=True)
class PeriodRebate:
    amount: Decimal  # positive: what the customer gets back this period
    spend_before: Decimal
    spend_through: Decimal
    due_before: Decimal
    due_through: Decimal
    formula: str


def period_rebate(
    *,
    spend_before: Decimal,
    period_spend: Decimal,
    tiers: Sequence[RebateTier],
    currency: str,
) -> PeriodRebate:
    """The rebate a period adds: due on the spend through it − due on the spend before it."""
    through = spend_before + period_spend
    due_before = round_money(rebate_due(spend_before, tiers).amount, currency)
    due_now = rebate_due(through, tiers)
    due_through = round_money(due_now.amount, currency)
    amount = due_through - due_before
    formula = (
        f"spend this contract year {_fmt(spend_before)} + this period {_fmt(period_spend)} = "
        f"{_fmt(through)}; rebate due = {due_now.formula} → {_fmt(due_through)}; "
        f"already granted {_fmt(due_before)}; rebate = {_fmt(due_through)} − "
        f"{_fmt(due_before)} = {_fmt(amount)}"
    )
    return PeriodRebate(
        amount=amount,
        spend_before=spend_before,
        spend_through=through,
        due_before=due_before,
        due_through=due_through,
        formula=formula,
    )


def contract_year(year_start: date, period_start: date) -> tuple[int, date, date]:
    """(number, first day, first day of the next) of the contract year holding a period."""
    number = 1
    start = year_start
    while True:
        nxt = _add_years(start, 1)
        if period_start < nxt or period_start < start:
            return number, start, nxt
        number += 1
        start = nxt


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)
