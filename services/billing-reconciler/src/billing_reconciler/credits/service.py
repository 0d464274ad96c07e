"""Service credits from SLA outcomes: the credit of each period, its revisions, and the
earn-back state machine of each credit.

The outcome of every closed (or restated) SLA period is stored; credits are then derived
from the stored outcomes and the period's charges, so whatever order closes, restatements
and consumption corrections arrive in, the credit is what the contract says. A change makes
a new revision of the credit and `billing.credit_calculated` carries the revision, the
previous amount and the delta — never a second full credit.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.charges.domain import MonthlyCharges
from billing_reconciler.consumption.service import ensure_contract
from billing_reconciler.credits.domain import (
    EarnBackStatus,
    credit_due,
    earn_back_state,
    service_credit,
    shift_period,
)
from billing_reconciler.credits.schemas import CreditRead, CreditRevisionRead, EarnBackRead
from billing_reconciler.models import (
    EarnBackGranted,
    EarnBackTransition,
    ServiceCredit,
    ServiceCreditRevision,
    SlaOutcome,
)
from crm_events.schemas.billing import CreditCalculated, CreditEarnedBack, Explanation
from crm_events.schemas.contracts import ContractTerms, SlaDefinition
from crm_events.schemas.sla import SlaPeriodClosed
from crm_events.types import round_money
from crm_platform.auth import Principal
from crm_platform.emitter import Emit

log = structlog.get_logger(__name__)

# sla_code → period label → stored outcome
Outcomes = dict[str, dict[str, SlaOutcome]]


async def store_outcome(
    *,
    session: AsyncSession,
    tenant_id: str,
    event: SlaPeriodClosed,
    restatement: int,
    source_event_id: str,
    now: datetime,
) -> bool:
    """Keep the latest outcome of an SLA period; True when it changed what we knew.

    A close never overwrites a restatement; a restatement applies when it is at least as
    recent as the one stored (redelivery and out-of-order arrival are harmless).
    """
    current = await session.get(
        SlaOutcome, (event.contract_id, event.sla_code, event.period.label), with_for_update=True
    )
    values = {
        "outcome": event.outcome.value,
        "attainment": event.attainment,
        "expected_level": event.expected_level,
        "minimum_level": event.minimum_level,
    }
    if current is None:
        session.add(
            SlaOutcome(
                contract_id=event.contract_id,
                sla_code=event.sla_code,
                period_label=event.period.label,
                tenant_id=tenant_id,
                restatement=restatement,
                source_event_id=source_event_id,
                closed_at=event.closed_at,
                updated_at=now,
                **values,
            )
        )
        await session.flush()
        return True
    if restatement < current.restatement:
        return False
    changed = any(getattr(current, k) != v for k, v in values.items())
    for k, v in values.items():
        setattr(current, k, v)
    current.restatement = restatement
    current.source_event_id = source_event_id
    current.updated_at = now
    await session.flush()
    return changed


async def load_outcomes(
    session: AsyncSession, contract_id: uuid.UUID, first: str, last: str
) -> Outcomes:
    rows = (
        await session.scalars(
            sa.select(SlaOutcome).where(
                SlaOutcome.contract_id == contract_id,
                SlaOutcome.period_label >= first,
                SlaOutcome.period_label <= last,
            )
        )
    ).all()
    out: Outcomes = defaultdict(dict)
    for r in rows:
        out[r.sla_code][r.period_label] = r
    return out


async def load_credits(
    session: AsyncSession, contract_id: uuid.UUID, first: str, last: str
) -> list[ServiceCredit]:
    return list(
        (
            await session.scalars(
                sa.select(ServiceCredit)
                .where(
                    ServiceCredit.contract_id == contract_id,
                    ServiceCredit.period_label >= first,
                    ServiceCredit.period_label <= last,
                )
                .order_by(ServiceCredit.period_label, ServiceCredit.sla_code)
            )
        ).all()
    )


def _category_pct(terms: ContractTerms, sla: SlaDefinition) -> Decimal | None:
    if not sla.performance_category:
        return None
    category = next(
        (
            c
            for c in terms.credit_terms.performance_categories
            if c.name == sla.performance_category
        ),
        None,
    )
    return category.allocation_pct if category else None


def _sla_clause(sla: SlaDefinition) -> str:
    head = f"SLA {sla.code} ({sla.name or sla.metric_kind.value})"
    return f"{sla.clause} — {head}" if sla.clause else head


async def settle_period(
    *,
    session: AsyncSession,
    terms: ContractTerms,
    period_label: str,
    charges: MonthlyCharges,
    at_risk: Decimal,
    record_ids: Sequence[str],
    outcomes: Outcomes,
    credits: list[ServiceCredit],
    emit: Emit,
    now: datetime,
    cause: str,
) -> bool:
    """Bring the credits of one period in line with the stored outcomes and charges.

    Credits are evaluated in the order they were first granted (then by SLA code), so a
    later credit is the one the cap at the at-risk amount cuts, and re-evaluating a period
    never moves money between SLAs that were already credited.
    """
    slas = {s.code: s for s in terms.sla_definitions}
    existing = {c.sla_code: c for c in credits if c.period_label == period_label}
    candidates = {code for code, by_period in outcomes.items() if period_label in by_period}
    codes = sorted(
        (candidates & set(slas)) | set(existing),
        key=lambda code: (
            0 if code in existing else 1,
            existing[code].first_calculated_at or existing[code].calculated_at
            if code in existing
            else now,
            code,
        ),
    )
    already = Decimal(0)
    changed = False
    for code in codes:
        sla = slas.get(code)
        stored = outcomes.get(code, {}).get(period_label)
        history = {p: o.outcome for p, o in outcomes.get(code, {}).items()}
        if sla is None or stored is None:
            due_outcome = None
            amount = round_money(Decimal(0), terms.currency)
            reason = "none"
            story = f"SLA {code} is not part of contract version {terms.version}"
            uncapped_formula = "no credit"
        else:
            due_outcome = credit_due(
                period_label=period_label,
                outcome=stored.outcome,
                repeated_default_count=sla.repeated_default_count,
                outcomes=history,
            )
            reason = due_outcome.reason
            story = due_outcome.explanation
            if due_outcome.due:
                credit = service_credit(
                    at_risk=at_risk,
                    allocation_pct=sla.allocation_pct,
                    currency=terms.currency,
                    already_credited=already,
                    category_pct=_category_pct(terms, sla),
                )
                amount = credit.amount
                uncapped_formula = credit.formula
            else:
                amount = round_money(Decimal(0), terms.currency)
                uncapped_formula = "no credit"
        row = existing.get(code)
        if row is None and (due_outcome is None or not due_outcome.due):
            continue
        already += amount
        if row is not None and row.credit_amount == amount:
            continue
        assert (sla is not None and stored is not None) or row is not None
        explanation = _explanation(
            terms=terms,
            sla=sla,
            code=code,
            stored=stored,
            charges=charges,
            at_risk=at_risk,
            story=story,
            credit_formula=uncapped_formula,
            already=already - amount,
            record_ids=record_ids,
            cause=cause,
        )
        outcome_value = stored.outcome if stored is not None else "withdrawn"
        if row is None:
            assert sla is not None
            row = ServiceCredit(
                id=uuid.uuid4(),
                tenant_id=terms.tenant_id,
                contract_id=terms.contract_id,
                contract_version=terms.version,
                sla_code=code,
                period_label=period_label,
                currency=terms.currency,
                monthly_charges=charges.total,
                at_risk_pct=terms.credit_terms.at_risk_pct,
                at_risk_amount=at_risk,
                allocation_pct=sla.allocation_pct,
                credit_amount=amount,
                explanation=explanation.model_dump(mode="json"),
                source_event_id=cause,
                calculated_at=now,
                revision=1,
                reason=reason,
                first_calculated_at=now,
                earn_back_status=EarnBackStatus.NEW,
                earn_back_progress=0,
                earn_back_periods=sla.earn_back_periods,
                earn_back_period=None,
            )
            session.add(row)
            credits.append(row)
            previous: Decimal | None = None
        else:
            previous = row.credit_amount
            row.revision += 1
            row.contract_version = terms.version
            row.monthly_charges = charges.total
            row.at_risk_pct = terms.credit_terms.at_risk_pct
            row.at_risk_amount = at_risk
            if sla is not None:
                row.allocation_pct = sla.allocation_pct
            row.credit_amount = amount
            row.reason = reason
            row.explanation = explanation.model_dump(mode="json")
            row.source_event_id = cause
            row.calculated_at = now
        await session.flush()
        delta = amount - previous if previous is not None else amount
        session.add(
            ServiceCreditRevision(
                tenant_id=terms.tenant_id,
                credit_id=row.id,
                revision=row.revision,
                credit_amount=amount,
                previous_amount=previous,
                delta_amount=delta,
                monthly_charges=charges.total,
                at_risk_amount=at_risk,
                outcome=outcome_value,
                reason=reason,
                explanation=explanation.model_dump(mode="json"),
                source_event_id=cause,
                calculated_at=now,
            )
        )
        await emit(
            "billing.credit_calculated",
            subject=str(terms.contract_id),
            tenant=terms.tenant_id,
            data=CreditCalculated(
                credit_id=row.id,
                contract_id=row.contract_id,
                sla_code=code,
                period_label=period_label,
                currency=row.currency,
                monthly_charges=row.monthly_charges,
                at_risk_pct=row.at_risk_pct,
                at_risk_amount=row.at_risk_amount,
                allocation_pct=row.allocation_pct,
                credit_amount=amount,
                outcome=outcome_value,
                explanation=explanation,
                calculated_at=now,
                revision=row.revision,
                previous_amount=previous,
                delta_amount=delta if previous is not None else None,
            ),
        )
        log.info(
            "credit.calculated",
            contract_id=str(terms.contract_id),
            sla_code=code,
            period=period_label,
            amount=str(amount),
            revision=row.revision,
        )
        changed = True
    return changed


def _explanation(
    *,
    terms: ContractTerms,
    sla: SlaDefinition | None,
    code: str,
    stored: SlaOutcome | None,
    charges: MonthlyCharges,
    at_risk: Decimal,
    story: str,
    credit_formula: str,
    already: Decimal,
    record_ids: Sequence[str],
    cause: str,
) -> Explanation:
    pct = terms.credit_terms.at_risk_pct
    clause = (
        f"Service credits: {_sla_clause(sla)}, at-risk {pct}% of monthly charges"
        if sla is not None
        else f"Service credits: SLA {code}"
    )
    inputs = {
        "monthly_charges": str(charges.total),
        "at_risk_pct": str(pct),
        "at_risk_amount": str(at_risk),
        "already_credited_in_period": str(already),
        **{f"charge.{line.kind}.{line.resource_unit}": str(line.amount) for line in charges.lines},
    }
    if sla is not None:
        inputs["allocation_pct"] = str(sla.allocation_pct)
        category = _category_pct(terms, sla)
        if category is not None:
            inputs["category_allocation_pct"] = str(category)
    if stored is not None:
        inputs.update(
            {
                "attainment": "" if stored.attainment is None else str(stored.attainment),
                "outcome": stored.outcome,
                "expected_level": str(stored.expected_level),
                "minimum_level": str(stored.minimum_level),
                "restatement": str(stored.restatement),
            }
        )
    sources = [cause]
    if stored is not None and stored.source_event_id not in sources:
        sources.append(stored.source_event_id)
    return Explanation(
        clause=clause,
        contract_version=terms.version,
        formula=f"{story}; M = base + ARC − RRC = {charges.total}; ARA = {pct}% × M = "
        f"{at_risk}; credit = {credit_formula}",
        inputs=inputs,
        source_ids=[*sources, *record_ids],
    )


async def update_earn_back(
    *,
    session: AsyncSession,
    credits: Sequence[ServiceCredit],
    outcomes: Outcomes,
    terms_version: int,
    emit: Emit,
    now: datetime,
) -> None:
    """Move each credit's earn-back state machine (a transition row per change of state);
    `billing.credit_earned_back` goes out once per credit, when it is earned back."""
    for credit in credits:
        history = {p: o.outcome for p, o in outcomes.get(credit.sla_code, {}).items()}
        state = earn_back_state(
            credited_period=credit.period_label,
            earn_back_periods=credit.earn_back_periods,
            credit_amount=credit.credit_amount,
            outcomes=history,
        )
        earned_period = state.decided_in if state.status == EarnBackStatus.EARNED_BACK else None
        same = (
            credit.earn_back_status == state.status
            and credit.earn_back_progress == state.progress
            and credit.earn_back_period == earned_period
        )
        explanation = _earn_back_explanation(credit, state.explanation, outcomes, terms_version)
        if same and credit.earn_back_explanation == explanation.model_dump(mode="json"):
            continue
        if not same:
            session.add(
                EarnBackTransition(
                    tenant_id=credit.tenant_id,
                    credit_id=credit.id,
                    from_status=None
                    if credit.earn_back_status == EarnBackStatus.NEW
                    else credit.earn_back_status,
                    to_status=state.status,
                    progress=state.progress,
                    period_label=state.decided_in,
                    explanation=state.explanation,
                    at=now,
                )
            )
        credit.earn_back_status = state.status
        credit.earn_back_progress = state.progress
        credit.earn_back_period = earned_period
        credit.earn_back_explanation = explanation.model_dump(mode="json")
        await session.flush()
        if earned_period is not None:
            granted = await session.scalar(
                pg_insert(EarnBackGranted)
                .values(
                    credit_id=credit.id,
                    tenant_id=credit.tenant_id,
                    period_label=earned_period,
                    amount=credit.credit_amount,
                    granted_at=now,
                )
                .on_conflict_do_nothing()
                .returning(EarnBackGranted.credit_id)
            )
            if granted is not None:
                await emit(
                    "billing.credit_earned_back",
                    subject=str(credit.contract_id),
                    tenant=credit.tenant_id,
                    data=CreditEarnedBack(
                        credit_id=credit.id,
                        contract_id=credit.contract_id,
                        sla_code=credit.sla_code,
                        credited_period=credit.period_label,
                        earned_back_in_period=earned_period,
                        currency=credit.currency,
                        amount=credit.credit_amount,
                        explanation=explanation,
                        earned_back_at=now,
                    ),
                )


def _earn_back_explanation(
    credit: ServiceCredit, story: str, outcomes: Outcomes, terms_version: int
) -> Explanation:
    window = [shift_period(credit.period_label, i) for i in range(1, credit.earn_back_periods + 1)]
    known = outcomes.get(credit.sla_code, {})
    inputs = {
        "credited_period": credit.period_label,
        "credit_amount": str(credit.credit_amount),
        "earn_back_periods": str(credit.earn_back_periods),
        **{f"outcome.{p}": known[p].outcome for p in window if p in known},
    }
    return Explanation(
        clause=f"Service credits: earn-back of SLA {credit.sla_code}",
        contract_version=terms_version,
        formula=f"{story}; earn-back = credit of {credit.period_label} = {credit.credit_amount}",
        inputs=inputs,
        source_ids=[str(credit.id), *(known[p].source_event_id for p in window if p in known)],
    )


async def list_for_contract(
    *, session: AsyncSession, principal: Principal, contract_id: uuid.UUID
) -> list[CreditRead]:
    await ensure_contract(session, principal, contract_id)
    rows = (
        await session.scalars(
            sa.select(ServiceCredit)
            .where(
                ServiceCredit.contract_id == contract_id,
                principal.tenant_filter(ServiceCredit.tenant_id),
            )
            .order_by(ServiceCredit.period_label, ServiceCredit.sla_code)
        )
    ).all()
    revisions = (
        await session.scalars(
            sa.select(ServiceCreditRevision)
            .where(ServiceCreditRevision.credit_id.in_([r.id for r in rows]))
            .order_by(ServiceCreditRevision.credit_id, ServiceCreditRevision.revision)
        )
    ).all()
    transitions = (
        await session.scalars(
            sa.select(EarnBackTransition)
            .where(EarnBackTransition.credit_id.in_([r.id for r in rows]))
            .order_by(EarnBackTransition.id)
        )
    ).all()
    by_credit: dict[uuid.UUID, list[ServiceCreditRevision]] = defaultdict(list)
    for rev in revisions:
        by_credit[rev.credit_id].append(rev)
    moves: dict[uuid.UUID, list[EarnBackTransition]] = defaultdict(list)
    for t in transitions:
        moves[t.credit_id].append(t)
    out = []
    for r in rows:
        read = CreditRead.model_validate(r)
        read.revisions = [CreditRevisionRead.model_validate(v) for v in by_credit[r.id]]
        read.earn_back = EarnBackRead(
            status=r.earn_back_status,
            periods=r.earn_back_periods,
            progress=r.earn_back_progress,
            earned_back_in_period=r.earn_back_period,
            explanation=Explanation.model_validate(r.earn_back_explanation)
            if r.earn_back_explanation
            else None,
            transitions=[
                {
                    "from_status": t.from_status,
                    "to_status": t.to_status,
                    "progress": t.progress,
                    "period_label": t.period_label,
                    "explanation": t.explanation,
                    "at": t.at,
                }
                for t in moves[r.id]
            ],
        )
        out.append(read)
    return out
