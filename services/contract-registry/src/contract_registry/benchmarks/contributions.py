"""What one contract period adds to the portfolio benchmarks (pure, exact Decimal).

A contract period's SLA periods, credits and charges give figures in series and groups:
per SLA metric kind and unit (never pooled), its SLA periods, their outcomes, attainment
and credit rate; per resource unit, ARC, |RRC| and ARC − |RRC| as % of the base; for the
contract period, all credits as % of its monthly charges. The same rules as reference.py,
one contract period at a time, so the benchmarks' counts can be kept per value and only
the changed contract period's figures swapped (summaries.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

HUNDRED = Decimal(100)
ZERO = Decimal(0)
OUTCOMES = ("met", "below_expected", "failed", "no_data")

# Series: the figures a percentile is taken of, and the ones only counted (value 0).
SLA_PERIODS = "sla_periods"
ATTAINMENT = "attainment"
SLA_CREDIT_RATE = "sla_credit_rate"
CREDIT_RATE = "credit_rate"
ARC, RRC, NET = "arc", "rrc", "net"
SLA_SERIES = (SLA_PERIODS, ATTAINMENT, SLA_CREDIT_RATE)
UNIT_SERIES = (ARC, RRC, NET)
# Families of groups a contract counts in: per SLA group, per resource unit, at all.
SLA, UNIT, ANY = "sla", "unit", "any"

Figure = tuple[str, str, Decimal]  # series, group, value
Membership = tuple[str, str]  # family, group


def outcome_series(outcome: str) -> str:
    return f"outcome:{outcome}"


def contracts_series(family: str) -> str:
    return f"contracts:{family}"


def sla_group(metric_kind: str, unit: str | None) -> str:
    """One group per metric kind and unit: 'availability', 'measurement/ms' ('measurement/'
    is the empty unit, 'measurement' none)."""
    return metric_kind if unit is None else f"{metric_kind}/{unit}"


def parse_sla_group(group: str) -> tuple[str, str | None]:
    kind, slash, unit = group.partition("/")
    return kind, unit if slash else None


@dataclass(frozen=True)
class SlaInput:
    sla_code: str
    metric_kind: str
    unit: str | None
    outcome: str
    attainment: Decimal | None


@dataclass(frozen=True)
class CreditInput:
    sla_code: str
    credit_amount: Decimal
    monthly_charges: Decimal


@dataclass(frozen=True)
class ChargesInput:
    monthly_charges: Decimal
    lines: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Contribution:
    figures: Counter[Figure] = field(default_factory=Counter)
    groups: frozenset[Membership] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {
            "figures": [[s, g, str(v), n] for (s, g, v), n in sorted(self.figures.items())],
            "groups": sorted([f, g] for f, g in self.groups),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Contribution:
        if not data:
            return cls()
        figures: Counter[Figure] = Counter()
        for s, g, v, n in data.get("figures", []):
            figures[(s, g, Decimal(v))] += n
        return cls(figures, frozenset((f, g) for f, g in data.get("groups", [])))


def monthly_charges(credits: Sequence[CreditInput], charges: ChargesInput | None) -> Decimal | None:
    """The charges row's monthly charges, else the largest the credits report."""
    if charges is not None:
        return charges.monthly_charges
    return max((c.monthly_charges for c in credits), default=None)


def unit_amounts(lines: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Decimal]]:
    """Base, ARC and RRC amounts per resource unit (item code) of a charges row's lines."""
    per_unit: dict[str, dict[str, Decimal]] = {}
    for line in lines:
        kind = str(line.get("kind", ""))
        if kind in ("base", "arc", "rrc"):
            amounts = per_unit.setdefault(str(line.get("item_code", "")), {})
            amounts[kind] = amounts.get(kind, ZERO) + Decimal(str(line.get("amount", "0")))
    return per_unit


def _sla_figures(
    slas: Sequence[SlaInput], credits: Sequence[CreditInput], m: Decimal | None
) -> Iterable[Figure]:
    credit_of = {c.sla_code: c.credit_amount for c in credits}
    for s in slas:
        group = sla_group(s.metric_kind, s.unit)
        yield SLA_PERIODS, group, ZERO
        yield outcome_series(s.outcome), group, ZERO
        if s.attainment is not None:
            yield ATTAINMENT, group, s.attainment
        if m:
            yield SLA_CREDIT_RATE, group, credit_of.get(s.sla_code, ZERO) / m * HUNDRED


def _unit_figures(charges: ChargesInput | None) -> Iterable[Figure]:
    for unit, amounts in unit_amounts(charges.lines if charges else ()).items():
        base = amounts.get("base", ZERO)
        if not base:
            continue
        arc, rrc = amounts.get("arc", ZERO), abs(amounts.get("rrc", ZERO))
        yield ARC, unit, arc / base * HUNDRED
        yield RRC, unit, rrc / base * HUNDRED
        yield NET, unit, (arc - rrc) / base * HUNDRED


def contribution(
    slas: Sequence[SlaInput], credits: Sequence[CreditInput], charges: ChargesInput | None
) -> Contribution:
    """The figures and groups of one contract period (any of its facts may be missing)."""
    m = monthly_charges(credits, charges)
    figures: Counter[Figure] = Counter(_sla_figures(slas, credits, m))
    figures.update(_unit_figures(charges))
    if m:
        total = sum((c.credit_amount for c in credits), ZERO)
        figures[(CREDIT_RATE, "", total / m * HUNDRED)] += 1
    groups = {(SLA, sla_group(s.metric_kind, s.unit)) for s in slas}
    groups |= {(UNIT, unit) for series, unit, _ in figures if series == ARC}
    if slas or credits or charges is not None:
        groups.add((ANY, ""))
    return Contribution(figures, frozenset(groups))


def figure_changes(old: Contribution, new: Contribution) -> Counter[Figure]:
    """How many of each figure to add (negative: to take out) to go from old to new."""
    changes: Counter[Figure] = Counter(new.figures)
    changes.subtract(old.figures)
    return Counter({k: n for k, n in changes.items() if n})


def group_changes(old: Contribution, new: Contribution) -> dict[Membership, int]:
    """+1 for a group the contract period joins, −1 for one it leaves."""
    return {g: 1 for g in new.groups - old.groups} | {g: -1 for g in old.groups - new.groups}
