"""The service credits of one billing period, decided by a pure function.

`settle` reads everything it needs from `PeriodCase` (the terms in force, the period's
charges, every known SLA outcome, the contract year's credits and charges before the
period) and returns one `CreditLine` per SLA that is owed a credit or held one before. No
I/O, no clock: the same case always gives the same lines, whatever order the closes,
restatements and consumption that built it arrived in.

The rules (docs/billing-reconciler.md repeats them with a worked example):

1. Which outcome a billing month settles. A monthly SLA: the month's own. An SLA measured
   over a quarter or a year: the period whose credit month (`credit_terms.credited_in`: its
   last month, or the month after it) is this month.
2. Whether it is due: `failed`, or `below_expected` that makes a repeated default
   (`credit_due`, over the SLA's own periods).
3. The uncapped credit: ARA × allocation % (× performance category %), rounded half-even.
4. The ceiling: the period cap (the at-risk amount by default; or a fixed amount; or a % of
   M), lowered to what the contract-year cap leaves after the credits of the year's earlier
   months, when the contract has one.
5. When the uncapped credits exceed the ceiling, the ceiling is shared:
   - `pro_rata` (default): each SLA gets uncapped × ceiling / Σ uncapped, in minor units of
     the currency; the cents the rounding leaves go one each to the largest remainders (ties
     by SLA code), so the lines add up to the ceiling exactly;
   - `priority`: in the order of `cap_priority` (then SLA code), each takes what it is owed
     until the ceiling is reached.
   Each line says how much the cap took.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from billing_reconciler.charges.domain import MonthlyCharges
from billing_reconciler.credits.domain import CreditDue, credit_due, service_credit
from crm_events.schemas.billing import Explanation
from crm_events.schemas.contracts import (
    CapBasis,
    CapSplit,
    ContractTerms,
    CreditCap,
    CreditedIn,
    MeasurementPeriod,
    SlaDefinition,
)
from crm_events.types import minor_units, round_money
from crm_platform import periods

HUNDRED = Decimal(100)
WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class OutcomeFact:
    """The latest known outcome of one SLA period (a close, or its latest restatement)."""

    outcome: str
    attainment: Decimal | None
    expected_level: Decimal
    minimum_level: Decimal
    restatement: int
    source_event_id: str


def supersedes(stored_restatement: int | None, incoming_restatement: int) -> bool:
    """Whether an incoming close (0) or restatement (n) replaces the stored outcome: a close
    never overwrites a restatement; a restatement applies when at least as recent. Keeping
    the outcome with the highest restatement makes the stored outcome the same whatever
    order the events arrive in."""
    return stored_restatement is None or incoming_restatement >= stored_restatement


# sla_code → SLA period label (2026-03, 2026-Q1, 2026) → outcome
Outcomes = Mapping[str, Mapping[str, OutcomeFact]]


@dataclass(frozen=True)
class YearToDate:
    """The contract year around the billing period, for the contract-year cap."""

    first_month: str
    credits_before: Decimal  # credits of the year's months before the period
    charges_through: Decimal  # M of the year's months up to and including the period


@dataclass(frozen=True)
class PeriodCase:
    terms: ContractTerms
    period_label: str
    charges: MonthlyCharges
    at_risk_amount: Decimal
    outcomes: Outcomes
    year: YearToDate | None = None
    held_before: frozenset[str] = frozenset()  # SLA codes with a credit row this period
    record_ids: Sequence[str] = ()


@dataclass(frozen=True)
class CreditLine:
    sla_code: str
    measurement_period: str | None
    outcome: str  # the SLA period's outcome, or `withdrawn` (no outcome or SLA any more)
    reason: str  # failed, repeated_default or none
    allocation_pct: Decimal
    uncapped_amount: Decimal
    amount: Decimal
    explanation: Explanation
    fact: OutcomeFact | None = None

    @property
    def cap_reduction(self) -> Decimal:
        return self.uncapped_amount - self.amount


@dataclass(frozen=True)
class Ceiling:
    amount: Decimal | None  # None: the uncapped credits stand
    story: str
    inputs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PeriodSettlement:
    period_label: str
    ceiling: Ceiling
    lines: tuple[CreditLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    def line(self, sla_code: str) -> CreditLine | None:
        return next((ln for ln in self.lines if ln.sla_code == sla_code), None)


# 1. Which SLA period a billing month settles ---------------------------------------------


def credit_month(sla_period: str, credited_in: CreditedIn) -> str:
    """The billing month that carries the credit of an SLA period (a month carries its
    own; `credited_in` places the credit of a quarter or a year)."""
    if periods.kind_of(sla_period) is MeasurementPeriod.MONTH:
        return sla_period
    last = periods.last_month(sla_period)
    return last if credited_in is CreditedIn.LAST_MONTH_OF_PERIOD else periods.shift(last, 1)


def settled_period(month: str, kind: MeasurementPeriod, credited_in: CreditedIn) -> str | None:
    """The SLA period of `kind` whose credit falls in `month` (None: none does)."""
    if kind is MeasurementPeriod.MONTH:
        return month
    ends = month if credited_in is CreditedIn.LAST_MONTH_OF_PERIOD else periods.shift(month, -1)
    candidate = periods.containing(ends, kind)
    return candidate if periods.last_month(candidate) == ends else None


# 2–3. Due and uncapped ----------------------------------------------------------------


def _category_pct(terms: ContractTerms, sla: SlaDefinition) -> Decimal | None:
    if not sla.performance_category:
        return None
    return next(
        (
            c.allocation_pct
            for c in terms.credit_terms.performance_categories
            if c.name == sla.performance_category
        ),
        None,
    )


@dataclass(frozen=True)
class _Owed:
    sla: SlaDefinition
    label: str
    fact: OutcomeFact
    due: CreditDue
    uncapped: Decimal
    formula: str


def _owed(case: PeriodCase) -> list[_Owed]:
    terms = case.terms
    out = []
    for sla in sorted(terms.sla_definitions, key=lambda s: s.code):
        label = settled_period(
            case.period_label, sla.measurement_period, terms.credit_terms.credited_in
        )
        history = case.outcomes.get(sla.code, {})
        fact = history.get(label) if label is not None else None
        if label is None or fact is None:
            continue
        due = credit_due(
            period_label=label,
            outcome=fact.outcome,
            repeated_default_count=sla.repeated_default_count,
            outcomes={p: o.outcome for p, o in history.items()},
        )
        if not due.due and sla.code not in case.held_before:
            continue
        uncapped, formula = round_money(Decimal(0), terms.currency), "no credit"
        if due.due:
            credit = service_credit(
                at_risk=case.at_risk_amount,
                allocation_pct=sla.allocation_pct,
                currency=terms.currency,
                category_pct=_category_pct(terms, sla),
            )
            uncapped, formula = credit.amount, credit.formula
        out.append(_Owed(sla, label, fact, due, uncapped, formula))
    return out


# 4. The ceiling -----------------------------------------------------------------------


def _cap_value(cap: CreditCap, *, at_risk: Decimal, charges: Decimal, currency: str) -> Decimal:
    if cap.basis is CapBasis.AT_RISK_AMOUNT:
        return at_risk
    if cap.basis is CapBasis.AMOUNT:
        return round_money(cap.amount or Decimal(0), currency)
    return round_money(charges * (cap.pct or Decimal(0)) / HUNDRED, currency)


def ceiling(case: PeriodCase) -> Ceiling:
    """The most this period's credits may total, and how it was found."""
    terms, currency = case.terms, case.terms.currency
    cap = terms.credit_terms.period_cap
    value = _cap_value(
        cap, at_risk=case.at_risk_amount, charges=case.charges.total, currency=currency
    )
    story = {
        CapBasis.AT_RISK_AMOUNT: f"the period cap is the at-risk amount {value}",
        CapBasis.AMOUNT: f"the period cap is a fixed {value}",
        CapBasis.PCT_OF_CHARGES: f"the period cap is {cap.pct}% × M {case.charges.total} = {value}",
    }[cap.basis]
    inputs = {"period_cap": str(value), "period_cap_basis": cap.basis.value}
    year_cap = terms.credit_terms.contract_year_cap
    if year_cap is None or case.year is None:
        return Ceiling(value, story, inputs)
    year_value = _cap_value(
        year_cap, at_risk=case.at_risk_amount, charges=case.year.charges_through, currency=currency
    )
    room = max(year_value - case.year.credits_before, Decimal(0))
    basis = (
        f"{year_cap.pct}% × M of {case.year.first_month}..{case.period_label} "
        f"{case.year.charges_through} = {year_value}"
        if year_cap.basis is CapBasis.PCT_OF_CHARGES
        else f"{year_value}"
    )
    inputs.update(
        {
            "contract_year_cap": str(year_value),
            "contract_year_first_month": case.year.first_month,
            "contract_year_credits_before": str(case.year.credits_before),
            "contract_year_room": str(room),
        }
    )
    if room < value:
        story += (
            f"; the contract-year cap {basis} less {case.year.credits_before} credited in "
            f"the year's earlier months leaves {room}, which is the ceiling"
        )
        return Ceiling(room, story, inputs)
    story += f"; the contract-year cap {basis} leaves {room}, more than that"
    return Ceiling(value, story, inputs)


# 5. Sharing the ceiling ------------------------------------------------------------------


def split_pro_rata(
    uncapped: Mapping[str, Decimal], cap: Decimal, currency: str
) -> dict[str, Decimal]:
    """Share `cap` in proportion to the uncapped amounts, in whole minor units that add up
    to `cap` exactly (largest remainder; ties by key). Unchanged when they fit."""
    total = sum(uncapped.values(), Decimal(0))
    if total <= cap:
        return dict(uncapped)
    unit = Decimal(1).scaleb(-minor_units(currency))
    exact = {k: v * cap / total for k, v in uncapped.items()}
    shares = {k: (e / unit).to_integral_value(ROUND_FLOOR) * unit for k, e in exact.items()}
    left = int(((cap - sum(shares.values(), Decimal(0))) / unit).to_integral_value())
    for k in sorted(exact, key=lambda k: (-(exact[k] - shares[k]), k))[:left]:
        shares[k] += unit
    return shares


def split_by_priority(
    uncapped: Mapping[str, Decimal], cap: Decimal, order: Sequence[str]
) -> dict[str, Decimal]:
    """Pay the uncapped amounts in `order` until `cap` is reached."""
    room = cap
    out = {}
    for k in order:
        out[k] = min(uncapped[k], room)
        room -= out[k]
    return out


# The decision ---------------------------------------------------------------------------


def settle(case: PeriodCase) -> PeriodSettlement:
    """The credit of every SLA owed one in the period (or that held one before)."""
    terms = case.terms
    owed = _owed(case)
    limit = ceiling(case)
    uncapped = {o.sla.code: o.uncapped for o in owed}
    amounts = dict(uncapped)
    capped = limit.amount is not None and sum(uncapped.values(), Decimal(0)) > limit.amount
    if capped and limit.amount is not None:
        if terms.credit_terms.cap_split is CapSplit.PRIORITY:
            order = sorted(owed, key=lambda o: (o.sla.cap_priority or 10**6, o.sla.code))
            amounts = split_by_priority(uncapped, limit.amount, [o.sla.code for o in order])
        else:
            amounts = split_pro_rata(uncapped, limit.amount, terms.currency)
    lines = [
        _line(case, o, amounts[o.sla.code], limit, capped, sum(uncapped.values(), Decimal(0)))
        for o in owed
    ]
    seen = {o.sla.code for o in owed}
    lines += [_withdrawn(case, code) for code in sorted(case.held_before - seen)]
    return PeriodSettlement(case.period_label, limit, tuple(lines))


def _share_story(
    case: PeriodCase, o: _Owed, amount: Decimal, limit: Ceiling, total: Decimal
) -> str:
    split = case.terms.credit_terms.cap_split
    head = (
        f"the period's uncapped credits {total} exceed the ceiling {limit.amount} ({limit.story})"
    )
    if split is CapSplit.PRIORITY:
        how = (
            f"paid in the order of cap_priority (this SLA: {o.sla.cap_priority or 'none'}), "
            f"{amount} of {o.uncapped}"
        )
    else:
        how = f"shared pro rata: {o.uncapped} × {limit.amount} / {total} = {amount}"
    return f"{head}; {how}; the cap took {o.uncapped - amount}"


def _line(
    case: PeriodCase, o: _Owed, amount: Decimal, limit: Ceiling, capped: bool, total: Decimal
) -> CreditLine:
    terms = case.terms
    formula = f"credit = {o.formula}"
    if capped and o.due.due:
        formula += f"; {_share_story(case, o, amount, limit, total)}"
    elif o.due.due:
        formula += f"; within the ceiling ({limit.story})"
    inputs = {
        **_period_inputs(case),
        **limit.inputs,
        "allocation_pct": str(o.sla.allocation_pct),
        "uncapped_credit": str(o.uncapped),
        "uncapped_credits_in_period": str(total),
        "cap_reduction": str(o.uncapped - amount),
        "measurement_period": o.label,
        "attainment": "" if o.fact.attainment is None else str(o.fact.attainment),
        "outcome": o.fact.outcome,
        "expected_level": str(o.fact.expected_level),
        "minimum_level": str(o.fact.minimum_level),
        "restatement": str(o.fact.restatement),
    }
    category = _category_pct(terms, o.sla)
    if category is not None:
        inputs["category_allocation_pct"] = str(category)
    pct = terms.credit_terms.at_risk_pct
    explanation = Explanation(
        clause=f"Service credits: {_sla_clause(o.sla)}, at-risk {pct}% of monthly charges",
        contract_version=terms.version,
        formula=f"{o.due.explanation}; M = base + ARC − RRC = {case.charges.total}; "
        f"ARA = {pct}% × M = {case.at_risk_amount}; {formula}",
        inputs=inputs,
        source_ids=[o.fact.source_event_id, *case.record_ids],
    )
    return CreditLine(
        sla_code=o.sla.code,
        measurement_period=o.label,
        outcome=o.fact.outcome,
        reason=o.due.reason,
        allocation_pct=o.sla.allocation_pct,
        uncapped_amount=o.uncapped,
        amount=amount,
        explanation=explanation,
        fact=o.fact,
    )


def _withdrawn(case: PeriodCase, code: str) -> CreditLine:
    """A credit held before whose SLA or outcome is no longer in the period: zero."""
    zero = round_money(Decimal(0), case.terms.currency)
    return CreditLine(
        sla_code=code,
        measurement_period=None,
        outcome=WITHDRAWN,
        reason="none",
        allocation_pct=Decimal(0),
        uncapped_amount=zero,
        amount=zero,
        explanation=Explanation(
            clause=f"Service credits: SLA {code}",
            contract_version=case.terms.version,
            formula=f"SLA {code} has no outcome to credit in {case.period_label} under "
            f"contract version {case.terms.version}: no credit",
            inputs=_period_inputs(case),
            source_ids=list(case.record_ids),
        ),
    )


def _period_inputs(case: PeriodCase) -> dict[str, str]:
    return {
        "monthly_charges": str(case.charges.total),
        "at_risk_pct": str(case.terms.credit_terms.at_risk_pct),
        "at_risk_amount": str(case.at_risk_amount),
        **{
            f"charge.{line.kind}.{line.resource_unit}": str(line.amount)
            for line in case.charges.lines
        },
    }


def _sla_clause(sla: SlaDefinition) -> str:
    head = f"SLA {sla.code} ({sla.name or sla.metric_kind.value})"
    return f"{sla.clause} — {head}" if sla.clause else head
