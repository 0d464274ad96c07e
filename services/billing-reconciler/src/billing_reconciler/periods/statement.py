"""The statement of a contract's period: every line the contract says is owed — base, ARC,
RRC, service credits, earn-back, rebate — each with its explanation.

It is computed from the contract version in force for the period, the consumption totals
(one row per resource unit, kept on ingest) and the stored credits. Reading a statement
never writes; `periods.service.refresh` stores it and acts on changes.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.charges.domain import (
    ChargeLine,
    LineKind,
    MonthlyCharges,
    monthly_charges,
)
from billing_reconciler.common import (
    fingerprint,
    in_term,
    period_label_of,
    period_start,
    periods_between,
    shift_period,
)
from billing_reconciler.consumption.service import actuals, record_ids
from billing_reconciler.credits.domain import EarnBackStatus, at_risk_amount
from billing_reconciler.credits.service import Credit
from billing_reconciler.periods.schemas import ChargeLineRead, PeriodChargesRead
from billing_reconciler.rebates.domain import contract_year, period_rebate
from billing_reconciler.reconciliation.domain import ExpectedLine
from crm_events.schemas.billing import Explanation
from crm_events.schemas.contracts import ContractTerms, ResourceUnit
from crm_events.types import json_decimal, json_instant, round_money
from crm_platform.contract_terms import contract_terms_table, parsed_terms
from crm_platform.db import any_of

REBATE_ITEM = "REBATE"


class ContractBook:
    """Every version of one contract's terms, and the consumption totals read so far."""

    def __init__(self, contract_id: uuid.UUID, versions: Sequence[ContractTerms]) -> None:
        self.contract_id = contract_id
        self.versions = sorted(versions, key=lambda v: v.version)
        self.tenant_id = self.versions[-1].tenant_id
        self._actuals: dict[str, dict[str, Decimal]] = {}
        self._monthly: dict[str, MonthlyCharges] = {}

    def terms_on(self, on: date) -> ContractTerms:
        """The latest version effective on a date (else the first one)."""
        effective = [v for v in self.versions if v.effective_from <= on]
        return effective[-1] if effective else self.versions[0]

    def terms_for(self, label: str) -> ContractTerms:
        """The terms in force on the period's first day."""
        return self.terms_on(period_start(label))

    async def actuals(self, session: AsyncSession, labels: Sequence[str]) -> None:
        missing = [p for p in labels if p not in self._actuals]
        if missing:
            found = await actuals(
                session=session, contract_id=self.contract_id, period_labels=missing
            )
            for p in missing:
                self._actuals[p] = found.get(p, {})

    def preload(self, labels: Sequence[str], found: Mapping[str, dict[str, Decimal]]) -> None:
        """Actual volumes read for several contracts at once (a period not in `found` had
        no consumption)."""
        for p in labels:
            self._actuals.setdefault(p, dict(found.get(p, {})))

    def actuals_of(self, label: str) -> dict[str, Decimal]:
        return self._actuals[label]

    def forget(self, label: str) -> None:
        self._actuals.pop(label, None)
        self._monthly.pop(label, None)

    def monthly(self, label: str) -> MonthlyCharges:
        """M of a period; nothing is owed for a month outside the contract's term."""
        if label not in self._monthly:
            terms = self.terms_for(label)
            self._monthly[label] = (
                monthly_charges(terms.price_book, self._actuals[label], terms.currency)
                if in_term(terms, label)
                else MonthlyCharges(lines=[], total=Decimal(0), units_without_consumption=[])
            )
        return self._monthly[label]


async def load_book(session: AsyncSession, contract_id: uuid.UUID) -> ContractBook | None:
    return (await load_books(session, [contract_id])).get(contract_id)


async def load_books(
    session: AsyncSession, contract_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ContractBook]:
    """The books of the contracts known here (an unknown one is missing from the result)."""
    t = contract_terms_table
    keys = (
        await session.execute(
            sa.select(t.c.contract_id, t.c.version, t.c.received_at).where(
                any_of(t.c.contract_id, set(contract_ids))
            )
        )
    ).all()
    parsed = await parsed_terms(session, [tuple(k) for k in keys])
    versions: dict[uuid.UUID, list[ContractTerms]] = defaultdict(list)
    for key, terms in parsed.items():
        versions[key[0]].append(terms)
    return {cid: ContractBook(cid, found) for cid, found in versions.items()}


@dataclass(frozen=True)
class StatementLine:
    kind: LineKind
    item_code: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal  # signed
    explanation: Explanation


@dataclass
class Statement:
    terms: ContractTerms
    period_label: str
    charges: MonthlyCharges
    at_risk_amount: Decimal
    lines: list[StatementLine]
    actuals: dict[str, Decimal]
    consumption_record_ids: list[str]
    revision: int | None = None
    computed_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def monthly_charges(self) -> Decimal:
        return round_money(self.charges.total, self.terms.currency)

    def _sum(self, *kinds: LineKind) -> Decimal:
        total = sum((ln.amount for ln in self.lines if ln.kind in kinds), Decimal(0))
        return round_money(total, self.terms.currency)

    @property
    def credits_total(self) -> Decimal:
        return self._sum(LineKind.CREDIT, LineKind.EARN_BACK)

    @property
    def rebates_total(self) -> Decimal:
        return self._sum(LineKind.REBATE)

    @property
    def expected_total(self) -> Decimal:
        return round_money(sum((ln.amount for ln in self.lines), Decimal(0)), self.terms.currency)

    def fingerprint(self) -> str:
        return fingerprint(
            {
                "version": self.terms.version,
                "actuals": {k: str(v) for k, v in sorted(self.actuals.items())},
                "lines": [
                    [
                        ln.kind.value,
                        ln.item_code,
                        str(ln.quantity),
                        str(ln.rate),
                        str(ln.amount),
                        ln.explanation.formula,
                    ]
                    for ln in self.lines
                ],
            }
        )

    def expected_lines(self) -> list[ExpectedLine]:
        return [
            ExpectedLine(
                kind=ln.kind,
                item_code=ln.item_code,
                quantity=ln.quantity,
                rate=ln.rate,
                amount=ln.amount,
                clause=ln.explanation.clause,
                formula=ln.explanation.formula,
                source_ids=tuple(ln.explanation.source_ids),
            )
            for ln in self.lines
        ]

    def document(self) -> dict[str, Any]:
        """The statement as the charges API dumps it (`to_read().model_dump(mode="json")`),
        written out from the values it was computed from. Every new revision stores it and
        `billing.charges_computed` is cut from it, so a month end writes thousands: through
        pydantic (a model per line validated, then dumped) it was an eighth of billing's
        consumer. `tests/unit/test_statement_document.py` checks it against that dump."""
        terms = self.terms
        return {
            "contract_id": str(terms.contract_id),
            "contract_version": terms.version,
            "period_label": self.period_label,
            "currency": terms.currency,
            "lines": [
                {
                    "kind": ln.kind.value,
                    "item_code": ln.item_code,
                    "quantity": json_decimal(ln.quantity),
                    "rate": json_decimal(ln.rate),
                    "amount": json_decimal(ln.amount),
                    "formula": ln.explanation.formula,
                    "explanation": ln.explanation.model_dump(mode="json"),
                }
                for ln in self.lines
            ],
            "monthly_charges": json_decimal(self.monthly_charges),
            "at_risk_pct": json_decimal(terms.credit_terms.at_risk_pct),
            "at_risk_amount": json_decimal(self.at_risk_amount),
            "credits_total": json_decimal(self.credits_total),
            "rebates_total": json_decimal(self.rebates_total),
            "expected_total": json_decimal(self.expected_total),
            "units_without_consumption": list(self.charges.units_without_consumption),
            "consumption_record_ids": list(self.consumption_record_ids),
            "revision": self.revision,
            "computed_at": None if self.computed_at is None else json_instant(self.computed_at),
        }

    def to_read(self) -> PeriodChargesRead:
        return PeriodChargesRead(
            contract_id=self.terms.contract_id,
            contract_version=self.terms.version,
            period_label=self.period_label,
            currency=self.terms.currency,
            lines=[
                ChargeLineRead(
                    kind=ln.kind.value,
                    item_code=ln.item_code,
                    quantity=ln.quantity,
                    rate=ln.rate,
                    amount=ln.amount,
                    formula=ln.explanation.formula,
                    explanation=ln.explanation,
                )
                for ln in self.lines
            ],
            monthly_charges=self.monthly_charges,
            at_risk_pct=self.terms.credit_terms.at_risk_pct,
            at_risk_amount=self.at_risk_amount,
            credits_total=self.credits_total,
            rebates_total=self.rebates_total,
            expected_total=self.expected_total,
            units_without_consumption=self.charges.units_without_consumption,
            consumption_record_ids=self.consumption_record_ids,
            revision=self.revision,
            computed_at=self.computed_at,
        )


def clause_for(terms: ContractTerms, code: str, fallback: str) -> str:
    """The contract clause that names an item, else a description of the price book entry."""
    for clause in terms.clauses:
        if code in clause.title or code in clause.text:
            return f"{clause.ref} {clause.title}".strip() + f" — {fallback}"
    return fallback


def _charge_clause(terms: ContractTerms, unit: ResourceUnit, line: ChargeLine) -> str:
    name = unit.name or unit.unit
    if line.kind is LineKind.BASE:
        text = (
            f"Price book: {unit.code} ({name}), baseline {unit.baseline_volume} {unit.unit} "
            f"at {unit.unit_price}"
        )
    else:
        label = (
            "additional resource charge (ARC)"
            if line.kind is LineKind.ARC
            else "reduced resource credit (RRC)"
        )
        text = (
            f"Price book: {unit.code} ({name}) {label}, deadband {unit.deadband_pct}% "
            f"({unit.deadband_mode.value})"
        )
        if unit.band_rates:
            text += ", band rates"
        if unit.volume_band is not None:
            text += f", volume band {unit.volume_band.floor_pct}%–{unit.volume_band.ceiling_pct}%"
    return clause_for(terms, unit.code, text)


async def build_statement(
    *,
    session: AsyncSession,
    book: ContractBook,
    period_label: str,
    credits: Sequence[Credit],
    ids: dict[str, list[str]] | None = None,
) -> Statement:
    terms = book.terms_for(period_label)
    await book.actuals(session, [period_label])
    charges = book.monthly(period_label)
    currency = terms.currency
    if ids is None:
        ids = await record_ids(
            session=session, contract_id=book.contract_id, period_label=period_label
        )
    units = {u.code: u for u in terms.price_book}
    lines: list[StatementLine] = []
    for ch in charges.lines:
        unit = units[ch.resource_unit]
        sources = ids.get(ch.resource_unit, []) if ch.kind is not LineKind.BASE else []
        lines.append(
            StatementLine(
                kind=ch.kind,
                item_code=ch.resource_unit,
                quantity=ch.quantity,
                rate=ch.rate,
                amount=ch.signed_amount,
                explanation=Explanation(
                    clause=_charge_clause(terms, unit, ch),
                    contract_version=terms.version,
                    formula=ch.formula,
                    inputs=ch.inputs,
                    source_ids=sources,
                ),
            )
        )
    ara = at_risk_amount(charges.total, terms.credit_terms.at_risk_pct, currency)
    for credit in sorted(credits, key=lambda c: c.sla_code):
        if credit.period_label == period_label and credit.credit_amount != 0:
            lines.append(
                StatementLine(
                    kind=LineKind.CREDIT,
                    item_code=credit.sla_code,
                    quantity=Decimal(1),
                    rate=credit.credit_amount,
                    amount=-credit.credit_amount,
                    explanation=Explanation.model_validate(credit.explanation),
                )
            )
    for credit in sorted(credits, key=lambda c: (c.period_label, c.sla_code)):
        if (
            credit.earn_back_status == EarnBackStatus.EARNED_BACK
            and credit.earn_back_period == period_label
            and credit.credit_amount != 0
            and credit.earn_back_explanation is not None
        ):
            lines.append(
                StatementLine(
                    kind=LineKind.EARN_BACK,
                    item_code=credit.sla_code,
                    quantity=Decimal(1),
                    rate=credit.credit_amount,
                    amount=credit.credit_amount,
                    explanation=Explanation.model_validate(credit.earn_back_explanation),
                )
            )
    rebate = await _rebate_line(session, book, terms, period_label)
    if rebate is not None:
        lines.append(rebate)
    flat_ids = sorted({i for unit_ids in ids.values() for i in unit_ids})
    return Statement(
        terms=terms,
        period_label=period_label,
        charges=charges,
        at_risk_amount=ara,
        lines=lines,
        actuals=book.actuals_of(period_label),
        consumption_record_ids=flat_ids,
    )


def year_start(terms: ContractTerms) -> date:
    start = terms.contract_year_start or terms.start_date
    return start.replace(day=1)


async def _rebate_line(
    session: AsyncSession, book: ContractBook, terms: ContractTerms, period_label: str
) -> StatementLine | None:
    if not terms.rebate_tiers or not in_term(terms, period_label):
        return None
    first_day = period_start(period_label)
    ys = year_start(terms)
    if first_day < ys:
        return None
    number, y0, y1 = contract_year(ys, first_day)
    earlier = [
        p
        for p in periods_between(period_label_of(y0), shift_period(period_label, -1))
        if in_term(terms, p)
    ]
    await book.actuals(session, earlier)
    spend_before = sum((book.monthly(p).total for p in earlier), Decimal(0))
    period_spend = book.monthly(period_label).total
    rebate = period_rebate(
        spend_before=spend_before,
        period_spend=period_spend,
        tiers=terms.rebate_tiers,
        currency=terms.currency,
    )
    if rebate.amount == 0:
        return None
    tiers = "; ".join(
        f"{t.from_amount}–{t.to_amount if t.to_amount is not None else '∞'} at {t.rebate_pct}%"
        + (" retroactive" if t.retroactive else "")
        for t in sorted(terms.rebate_tiers, key=lambda t: t.from_amount)
    )
    return StatementLine(
        kind=LineKind.REBATE,
        item_code=REBATE_ITEM,
        quantity=Decimal(1),
        rate=rebate.amount,
        amount=-rebate.amount,
        explanation=Explanation(
            clause=clause_for(
                terms,
                REBATE_ITEM,
                f"Rebates: contract year {number} ({y0.isoformat()} to "
                f"{(y1 - timedelta(days=1)).isoformat()}), "
                f"tiers {tiers}",
            ),
            contract_version=terms.version,
            formula=rebate.formula,
            inputs={
                "contract_year": str(number),
                "spend_before": str(rebate.spend_before),
                "period_spend": str(period_spend),
                "spend_through": str(rebate.spend_through),
                "rebate_due_before": str(rebate.due_before),
                "rebate_due_through": str(rebate.due_through),
                **{f"monthly_charges.{p}": str(book.monthly(p).total) for p in earlier},
            },
            source_ids=[f"charges:{p}" for p in earlier],
        ),
    )
