"""Activation rules: every problem of a contract at once, each with its JSON path.

Pure: takes the contract document, returns the problems. An empty list means the contract
can be activated.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from itertools import pairwise
from zoneinfo import available_timezones

from contract_registry.contracts.currencies import ISO_4217
from crm_events.schemas.contracts import ContractDocument, Direction, MetricKind

HUNDRED = Decimal(100)
PERCENT_METRICS = {
    MetricKind.AVAILABILITY,
    MetricKind.INCIDENT_RESPONSE,
    MetricKind.INCIDENT_RESOLUTION,
}


@dataclass(frozen=True)
class Problem:
    loc: str
    message: str

    def as_detail(self) -> dict[str, str]:
        return {"loc": self.loc, "message": self.message}


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


class _Problems(list[Problem]):
    def __call__(self, loc: str, message: str) -> None:
        self.append(Problem(loc, message))


def validate_for_activation(doc: ContractDocument) -> list[Problem]:
    add = problems = _Problems()

    if doc.currency not in ISO_4217:
        add("currency", f"{doc.currency!r} is not an ISO 4217 currency code")
    if doc.timezone not in _zones():
        add("timezone", f"{doc.timezone!r} is not an IANA time zone (e.g. America/New_York)")
    if doc.end_date is not None and doc.end_date <= doc.start_date:
        add("end_date", "end_date must be after start_date")

    _price_book(doc, add)
    _slas(doc, add)
    _credit_terms(doc, add)
    _rebates(doc, add)
    for i, ob in enumerate(doc.obligation_definitions):
        if ob.rrule is not None and "FREQ=" not in ob.rrule.upper():
            add(f"obligation_definitions[{i}].rrule", "an RRULE needs FREQ= (RFC 5545)")
    for field, codes in (
        ("price_book", [u.code for u in doc.price_book]),
        ("sla_definitions", [s.code for s in doc.sla_definitions]),
        ("obligation_definitions", [o.code for o in doc.obligation_definitions]),
    ):
        for code, count in Counter(codes).items():
            if count > 1:
                add(field, f"code {code!r} appears {count} times; codes must be unique")
    return list(problems)


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
        for (_, a), (j, b) in pairwise(bands):
            if b.from_pct < a.to_pct:
                add(
                    f"{base}.band_rates[{j}]",
                    f"band {b.from_pct}–{b.to_pct}% overlaps band {a.from_pct}–{a.to_pct}%",
                )


def _slas(doc: ContractDocument, add: _Problems) -> None:
    categories = {c.name for c in doc.credit_terms.performance_categories}
    for i, sla in enumerate(doc.sla_definitions):
        base = f"sla_definitions[{i}]"
        if not sla.service_key.strip():
            add(f"{base}.service_key", "an SLA needs the telemetry service key it reads")
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
        if sla.metric_kind in (MetricKind.INCIDENT_RESPONSE, MetricKind.INCIDENT_RESOLUTION):
            if not sla.priority:
                add(f"{base}.priority", "incident SLAs need the priority they measure")
            if not sla.target_minutes:
                add(f"{base}.target_minutes", "incident SLAs need a target in minutes")
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
    total = sum((s.allocation_pct for s in doc.sla_definitions), Decimal(0))
    if total > doc.credit_terms.pool_pct:
        add(
            "sla_definitions",
            f"allocations total {total}%, beyond the pool of {doc.credit_terms.pool_pct}%",
        )


def _credit_terms(doc: ContractDocument, add: _Problems) -> None:
    ct = doc.credit_terms
    if not Decimal(0) <= ct.at_risk_pct <= HUNDRED:
        add("credit_terms.at_risk_pct", "at_risk_pct must be between 0 and 100")
    if ct.pool_pct <= 0:
        add("credit_terms.pool_pct", "pool_pct must be positive")


def _rebates(doc: ContractDocument, add: _Problems) -> None:
    tiers = doc.rebate_tiers
    for i, tier in enumerate(tiers):
        if tier.to_amount is not None and tier.to_amount <= tier.from_amount:
            add(f"rebate_tiers[{i}].to_amount", "to_amount must be above from_amount")
        previous_end = tiers[i - 1].to_amount if i else None
        if previous_end is not None and tier.from_amount < previous_end:
            add(f"rebate_tiers[{i}].from_amount", "tiers must not overlap")
