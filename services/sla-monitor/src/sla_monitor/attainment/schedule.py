"""Which periods an SLA has: the kind of period its terms say (month, quarter or year), the
bounds of each in the contract's zone, and the terms in force at its start.

The labels and their arithmetic are crm_platform.periods; this module only says which of
them belong to an SLA. A period is read with the terms in force at its start, and belongs
to the SLA when those terms hold the SLA with that kind of measurement period and the
period overlaps the contract's term. An amendment that turns a monthly SLA quarterly thus
gives it months up to the amendment and quarters from the first quarter that starts under
it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from crm_events.schemas.contracts import ContractTerms, SlaDefinition
from crm_platform import periods
from crm_platform.errors import Unprocessable
from crm_platform.periods import InvalidPeriod, PeriodKind
from sla_monitor.attainment.compute import SlaRef
from sla_monitor.attainment.domain import PeriodBounds, period_bounds, periods_touching
from sla_monitor.attainment.inputs import ContractVersions


class WrongPeriodKind(Unprocessable):
    """A period label of another kind than the SLA's measurement period."""


def parse_period(label: str, timezone: str) -> PeriodBounds:
    """A period label from a path: 422 naming `path.period` when it is no label."""
    try:
        return period_bounds(label, timezone)
    except InvalidPeriod as exc:
        raise Unprocessable(
            str(exc), details=[{"loc": "path.period", "message": str(exc)}]
        ) from None


def check_kind(sla: SlaDefinition, period: PeriodBounds) -> None:
    """422 when the label is not of the SLA's kind, saying which form the SLA takes."""
    kind = sla.measurement_period
    if period.kind is kind:
        return
    instead = periods.label_of(periods.first_day(period.label), kind)
    message = (
        f"SLA {sla.code!r} is measured per {kind.value}: its periods are labelled "
        f"{periods.example(kind)} (e.g. {instead}), not {period.label!r} (a {period.kind.value})"
    )
    raise WrongPeriodKind(message, details=[{"loc": "path.period", "message": message}])


def contract_bounds(terms: ContractTerms) -> tuple[datetime, datetime | None]:
    """The contract's first and last instants (local midnights) as UTC."""
    zone = ZoneInfo(terms.timezone)
    start = datetime.combine(terms.start_date, time(0), zone)
    end = None
    if terms.end_date is not None:
        end = datetime.combine(date.fromordinal(terms.end_date.toordinal() + 1), time(0), zone)
    return start, end


def within_term(terms: ContractTerms, period: PeriodBounds) -> bool:
    start, end = contract_bounds(terms)
    return period.end > start and (end is None or period.start < end)


def sla_in(terms: ContractTerms, sla_code: str) -> SlaDefinition | None:
    return next((s for s in terms.sla_definitions if s.code == sla_code), None)


def period_kinds(
    versions: ContractVersions, contract_id: uuid.UUID, sla_code: str
) -> list[PeriodKind]:
    """The kinds of period the SLA is measured in across the contract's versions."""
    kinds: list[PeriodKind] = []
    for terms in versions.every(contract_id):
        sla = sla_in(terms, sla_code)
        if sla is not None and sla.measurement_period not in kinds:
            kinds.append(sla.measurement_period)
    return kinds


def measured_periods(
    versions: ContractVersions,
    *,
    contract_id: uuid.UUID,
    tenant_id: str,
    sla_code: str,
    timezone: str,
    touching: tuple[datetime, datetime],
) -> list[tuple[SlaRef, PeriodBounds]]:
    """The SLA's periods that [lo, hi] touches, each with the terms in force at its start
    (see the module's rule), in time order. `versions` must have loaded the contract."""
    lo, hi = touching
    out: list[tuple[SlaRef, PeriodBounds]] = []
    for kind in period_kinds(versions, contract_id, sla_code):
        for period in periods_touching(lo, hi, timezone, kind):
            terms = versions.for_period(contract_id, period.start, timezone)
            sla = None if terms is None else sla_in(terms, sla_code)
            if terms is None or sla is None or sla.measurement_period is not kind:
                continue
            if within_term(terms, period):
                out.append((SlaRef(contract_id, tenant_id, terms, sla), period))
    return sorted(out, key=lambda rp: (rp[1].start, rp[1].end))
