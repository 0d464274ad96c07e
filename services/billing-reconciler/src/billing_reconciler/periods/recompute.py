"""Recomputing the periods of many contracts at once: load, decide, apply.

`refresh_many` takes the periods to recompute (one `Recompute` per input that changed:
an SLA period closed or restated, consumption received, an amended contract, an invoice,
an operator's request) and:

1. loads what every contract of the batch needs with one query per kind: the terms, the
   periods computed before (their latest revision), the SLA outcomes, the credits, the
   earn-backs published, the consumption totals and record ids, the invoices;
2. for each contract, recomputes its periods in month order (the requested periods and,
   with `cascade`, the later ones computed before) with the pure functions: charges,
   `settle`, the earn-back moves, the statement;
3. applies what changed: credit revisions and `billing.credit_calculated`, earn-back
   bookings, a statement revision and `billing.charges_computed`, volume bands, invoice
   reconciliations; the rows are written by one flush.

Requests for the same period are merged, so a contract's month closed by five SLAs is
recomputed once. Recomputing the periods in month order from the inputs as they stand
gives what recomputing them after each input would have given last: a period reads only
the outcomes and consumption (stored before) and the credits of earlier months.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.charges.domain import outside_volume_band
from billing_reconciler.common import in_term, lock_contracts, periods_between, shift_period
from billing_reconciler.consumption.service import actuals_between, record_ids_of
from billing_reconciler.credits.domain import at_risk_amount
from billing_reconciler.credits.service import (
    Causes,
    Credit,
    Staged,
    apply_settlement,
    load_credits_of,
    load_granted,
    load_outcomes,
    update_earn_back,
    write_credits,
)
from billing_reconciler.credits.settlement import Outcomes, PeriodCase, YearToDate, settle
from billing_reconciler.models import (
    ConsumptionTotal,
    EarnBackGranted,
    Invoice,
    PeriodCharges,
    VolumeBandAlert,
)
from billing_reconciler.periods.statement import (
    ContractBook,
    Statement,
    build_statement,
    load_books,
    year_start,
)
from billing_reconciler.reconciliation.service import period_invoices, reconcile_period_invoices
from crm_events.registry import Dumped
from crm_events.schemas.billing import ChargesComputed, VolumeBandExceeded
from crm_platform import periods
from crm_platform.db import any_of
from crm_platform.emitter import Emit

# How far a change reaches: repeated defaults look back 12 periods, earn-back and rebates
# within a year in practice.
REACH = 12
WINDOW_BACK = 24
WINDOW_AHEAD = 36
# Months of consumption read before a period: its contract year (the year cap, rebates).
YEAR_BACK = 12

PeriodKey = tuple[uuid.UUID, str]


@dataclass(frozen=True)
class Recompute:
    """Recompute a contract's period (created when `create`, else only if computed before)
    and, with `cascade`, the later periods computed before; what it publishes is caused by
    `emit`'s event, a credit by the event that brought its SLA's outcome (`causes`)."""

    contract_id: uuid.UUID
    period_label: str
    trigger: str
    cause: str
    emit: Emit
    create: bool = True
    cascade: bool = True
    causes: Causes = field(default_factory=dict)

    @property
    def key(self) -> PeriodKey:
        return (self.contract_id, self.period_label)

    def then(self, later: Recompute) -> Recompute:
        """This request and a later one for the same period: one recompute, as the later."""
        return Recompute(
            contract_id=self.contract_id,
            period_label=self.period_label,
            trigger=later.trigger,
            cause=later.cause,
            emit=later.emit,
            create=self.create or later.create,
            cascade=self.cascade or later.cascade,
            causes={**self.causes, **later.causes},
        )


def merge(requests: Sequence[Recompute]) -> list[Recompute]:
    """One request per period, in the order the periods were first requested."""
    out: dict[PeriodKey, Recompute] = {}
    for r in requests:
        out[r.key] = out[r.key].then(r) if r.key in out else r
    return list(out.values())


def targets_of(requests: Sequence[Recompute], computed: Collection[str]) -> dict[str, Recompute]:
    """A contract's periods to recompute, in month order, each with the request it is
    recomputed for: its own, else the latest one whose cascade reaches it (`computed`: the
    periods computed before)."""
    out: dict[str, Recompute] = {}
    for r in sorted(requests, key=lambda r: r.period_label):
        if r.create or r.period_label in computed:
            out[r.period_label] = r
        if r.cascade:
            last = shift_period(r.period_label, REACH)
            for p in computed:
                if r.period_label < p <= last:
                    out[p] = r
    return dict(sorted(out.items()))


@dataclass
class _Contract:
    """What one contract's recomputation reads, loaded with every other contract's."""

    book: ContractBook
    targets: dict[str, Recompute]
    latest: dict[str, tuple[int, str]]  # period → latest stored (revision, fingerprint)
    outcomes: Outcomes = field(default_factory=dict)
    credits: list[Credit] = field(default_factory=list)


@dataclass
class _Batch:
    contracts: dict[uuid.UUID, _Contract]
    granted: dict[uuid.UUID, EarnBackGranted]
    record_ids: dict[PeriodKey, dict[str, list[str]]]
    invoices: dict[PeriodKey, list[Invoice]]


async def refresh_many(
    *, session: AsyncSession, requests: Sequence[Recompute], now: datetime
) -> dict[PeriodKey, tuple[Statement, int]]:
    """Recompute the requested periods (and their cascades); returns each recomputed
    period's statement and stored revision. Contracts not known here are left out."""
    batch = await _load(session, merge(requests))
    staged = Staged()
    done: dict[PeriodKey, tuple[Statement, int]] = {}
    # Everything the pass reads was loaded above: the rows it changes are written together
    # below, not a contract at a time by each statement's autoflush (an emit's insert).
    with session.no_autoflush:
        for cid in sorted(batch.contracts):
            contract = batch.contracts[cid]
            for label, request in contract.targets.items():
                done[(cid, label)] = await _refresh_one(
                    session, batch, contract, label, request, staged, now
                )
    # The credits first: revisions, transitions and grants refer to them.
    await write_credits(session, (cr for c in batch.contracts.values() for cr in c.credits))
    await session.flush()
    await staged.write(session)
    return done


async def _load(session: AsyncSession, requests: Sequence[Recompute]) -> _Batch:
    by_contract: dict[uuid.UUID, list[Recompute]] = defaultdict(list)
    for r in requests:
        by_contract[r.contract_id].append(r)
    if not by_contract:
        return _Batch({}, {}, {}, {})
    await lock_contracts(session, by_contract)
    books = await load_books(session, by_contract)
    if not books:
        return _Batch({}, {}, {}, {})
    first = min(r.period_label for r in requests if r.contract_id in books)
    last = shift_period(max(r.period_label for r in requests), REACH)
    latest = await _latest_revisions(session, list(books), first, last)
    contracts = {
        cid: _Contract(book, targets_of(by_contract[cid], latest[cid]), latest[cid])
        for cid, book in books.items()
    }
    contracts = {cid: c for cid, c in contracts.items() if c.targets}
    # Each contract reads around its earliest requested month, as a lone request would.
    earliest = {cid: min(by_contract[cid], key=lambda r: r.period_label) for cid in contracts}
    outcomes = await load_outcomes(session, {c: r.period_label for c, r in earliest.items()})
    credits = await load_credits_of(
        session, {c: _credit_window(r.period_label) for c, r in earliest.items()}
    )
    for cid, contract in contracts.items():
        contract.outcomes, contract.credits = outcomes[cid], credits[cid]
    await _preload_actuals(session, contracts)
    keys = [(cid, label) for cid, c in contracts.items() for label in c.targets]
    return _Batch(
        contracts=contracts,
        granted=await load_granted(session, [cr for c in contracts.values() for cr in c.credits]),
        record_ids=await record_ids_of(session=session, periods=keys),
        invoices=await period_invoices(session, keys),
    )


def _credit_window(label: str) -> tuple[str, str]:
    return shift_period(label, -WINDOW_BACK), shift_period(label, WINDOW_AHEAD)


async def _latest_revisions(
    session: AsyncSession, contract_ids: list[uuid.UUID], first: str, last: str
) -> dict[uuid.UUID, dict[str, tuple[int, str]]]:
    """The periods computed before (first..last) and their latest revision's fingerprint."""
    pc = PeriodCharges
    rows = await session.execute(
        sa.select(pc.contract_id, pc.period_label, pc.revision, pc.fingerprint)
        .where(
            any_of(pc.contract_id, contract_ids),
            pc.period_label >= first,
            pc.period_label <= last,
        )
        .ext(distinct_on(pc.contract_id, pc.period_label))
        .order_by(pc.contract_id, pc.period_label, pc.revision.desc())
    )
    out: dict[uuid.UUID, dict[str, tuple[int, str]]] = {cid: {} for cid in contract_ids}
    for row in rows:
        out[row.contract_id][row.period_label] = (row.revision, row.fingerprint)
    return out


async def _preload_actuals(session: AsyncSession, contracts: Mapping[uuid.UUID, _Contract]) -> None:
    """The consumption totals of every target and the contract year before it."""
    if not contracts:
        return
    first = shift_period(min(min(c.targets) for c in contracts.values()), -YEAR_BACK)
    last = max(max(c.targets) for c in contracts.values())
    found = await actuals_between(
        session=session,
        contract_ids=list(contracts),
        where=ConsumptionTotal.period_label.between(first, last),
    )
    for cid, contract in contracts.items():
        labels = periods_between(shift_period(min(contract.targets), -YEAR_BACK), last)
        contract.book.preload(labels, found.get(cid, {}))


async def _refresh_one(
    session: AsyncSession,
    batch: _Batch,
    contract: _Contract,
    period_label: str,
    request: Recompute,
    stage: Staged,
    now: datetime,
) -> tuple[Statement, int]:
    book = contract.book
    terms = book.terms_for(period_label)
    await book.actuals(session, [period_label])
    charges = book.monthly(period_label)
    ids = batch.record_ids.get((book.contract_id, period_label), {})
    case = PeriodCase(
        terms=terms,
        period_label=period_label,
        charges=charges,
        at_risk_amount=at_risk_amount(
            charges.total, terms.credit_terms.at_risk_pct, terms.currency
        ),
        outcomes=contract.outcomes,
        year=await _year_to_date(session, book, period_label, contract.credits),
        held_before=frozenset(
            c.sla_code for c in contract.credits if c.period_label == period_label
        ),
        record_ids=sorted({i for unit_ids in ids.values() for i in unit_ids}),
    )
    await apply_settlement(
        case=case,
        settlement=settle(case),
        credits=contract.credits,
        emit=request.emit,
        now=now,
        cause=request.cause,
        stage=stage,
        causes=request.causes,
    )
    await update_earn_back(
        credits=contract.credits,
        outcomes=contract.outcomes,
        credited_in_of=lambda label: book.terms_for(label).credit_terms.credited_in,
        terms_version=terms.version,
        granted=batch.granted,
        stage=stage,
        emit=request.emit,
        now=now,
    )
    statement = await build_statement(
        session=session, book=book, period_label=period_label, credits=contract.credits, ids=ids
    )
    revision, stored = _store(stage, contract.latest, statement, request.trigger, now)
    statement.revision, statement.computed_at = revision, now
    if stored is not None:
        await request.emit(
            "billing.charges_computed",
            subject=str(statement.terms.contract_id),
            tenant=statement.terms.tenant_id,
            data=charges_computed(stored),
        )
        await _check_volume_bands(session, statement, request.emit, now)
        invoices = batch.invoices.get((book.contract_id, period_label))
        if invoices:
            await reconcile_period_invoices(
                session=session,
                statement=statement,
                charges_revision=revision,
                trigger=request.trigger,
                emit=request.emit,
                now=now,
                invoices=invoices,
            )
    return statement, revision


async def _year_to_date(
    session: AsyncSession, book: ContractBook, period_label: str, credits: list[Credit]
) -> YearToDate | None:
    """The contract year so far, when the contract caps a year's credits."""
    terms = book.terms_for(period_label)
    if terms.credit_terms.contract_year_cap is None:
        return None
    first, _ = periods.contract_year(period_label, year_start(terms))
    months = [m for m in periods.between(first, period_label) if in_term(terms, m)]
    await book.actuals(session, months)
    return YearToDate(
        first_month=first,
        credits_before=sum(
            (c.credit_amount for c in credits if first <= c.period_label < period_label),
            Decimal(0),
        ),
        charges_through=sum((book.monthly(m).total for m in months), Decimal(0)),
    )


def _store(
    stage: Staged,
    latest: dict[str, tuple[int, str]],
    statement: Statement,
    trigger: str,
    now: datetime,
) -> tuple[int, dict[str, Any] | None]:
    """A new revision of the period's statement when it changed (`latest` follows): its
    number, and the stored document (the revision as the charges API dumps it; None when
    nothing changed)."""
    terms = statement.terms
    stored = latest.get(statement.period_label)
    marker = statement.fingerprint()
    if stored is not None and stored[1] == marker:
        return stored[0], None
    revision = stored[0] + 1 if stored is not None else 1
    statement.revision, statement.computed_at = revision, now
    document = statement.document()
    stage.insert(
        PeriodCharges,
        tenant_id=terms.tenant_id,
        contract_id=terms.contract_id,
        period_label=statement.period_label,
        revision=revision,
        contract_version=terms.version,
        currency=terms.currency,
        monthly_charges=statement.monthly_charges,
        expected_total=statement.expected_total,
        fingerprint=marker,
        statement=document,
        trigger=trigger,
        computed_at=now,
    )
    latest[statement.period_label] = (revision, marker)
    return revision, document


def charges_computed(document: Mapping[str, Any]) -> Dumped:
    """`billing.charges_computed` of a stored revision (`document`: its statement as the
    charges API dumps it): the event's fields as they are in it, not the statement validated
    and dumped again (the API's fields are the event's, with the same names and types, plus
    its own extras)."""
    return Dumped(ChargesComputed, {name: document[name] for name in ChargesComputed.model_fields})


async def _check_volume_bands(
    session: AsyncSession, statement: Statement, emit: Emit, now: datetime
) -> None:
    terms = statement.terms
    for unit in terms.price_book:
        actual = statement.actuals.get(unit.code)
        if actual is None or unit.volume_band is None:
            continue
        direction = outside_volume_band(unit, actual)
        if direction is None:
            continue
        new = await session.scalar(
            pg_insert(VolumeBandAlert)
            .values(
                contract_id=terms.contract_id,
                period_label=statement.period_label,
                resource_unit=unit.code,
                direction=direction.value,
                tenant_id=terms.tenant_id,
                actual=actual,
                detected_at=now,
            )
            .on_conflict_do_nothing()
            .returning(VolumeBandAlert.resource_unit)
        )
        if new is None:
            continue
        await emit(
            "billing.volume_band_exceeded",
            subject=str(terms.contract_id),
            tenant=terms.tenant_id,
            data=VolumeBandExceeded(
                contract_id=terms.contract_id,
                period_label=statement.period_label,
                resource_unit=unit.code,
                actual=actual,
                baseline=unit.baseline_volume,
                floor_pct=unit.volume_band.floor_pct,
                ceiling_pct=unit.volume_band.ceiling_pct,
                direction=direction.value,
                detected_at=now,
            ),
        )
