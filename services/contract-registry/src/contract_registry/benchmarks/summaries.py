"""The benchmarks' counts, kept in step with their inputs in the transaction that changes them.

A portfolio percentile over 10,000 contracts would sort millions of figures per request;
instead, for every series and group (never pooled), the tenant's counts per value are kept
(benchmark_counts), per period and over all periods ('*'), and a percentile walks a few
thousand distinct values (queries.py). When an SLA period, credit or charges row of a
contract period changes, `refresh` recomputes that contract period's figures from its rows
(contributions.py), takes the ones it gave before (benchmark_periods) out of the counts and
puts the new ones in. Recomputing from the rows, not adding up events, keeps redeliveries,
restatements and late older revisions harmless: the counts always equal `recount` over the
rows (the tests hold them equal after any sequence of events).

Locks: the contract periods' rows first, then the contracts' group rows, then the counts,
each in sorted order, so two consumers (sla.v1 and billing.v1 on one contract period)
serialise instead of deadlocking, and the second sees the first's rows.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.benchmarks.contributions import (
    ZERO,
    ChargesInput,
    Contribution,
    CreditInput,
    Membership,
    SlaInput,
    contracts_series,
    contribution,
    figure_changes,
    group_changes,
)
from contract_registry.models import (
    BenchmarkContract,
    BenchmarkCount,
    BenchmarkPeriod,
    HealthCharges,
    HealthCredit,
    HealthGeneration,
    HealthSlaPeriod,
)
from crm_platform.db import table_of, tuple_in

Key = tuple[uuid.UUID, str]  # contract id, period label
CountKey = tuple[str, str, str, str, Decimal]  # tenant, period label, series, group, value
MemberKey = tuple[uuid.UUID, str, str]  # contract id, family, group
ALL_PERIODS = "*"
CHUNK = 1000  # rows per executemany call of the backfill (bounded memory per call)

T = TypeVar("T")


def _chunks(rows: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


@dataclass
class Inputs:
    """One contract period's rows, as contributions.contribution takes them."""

    tenant_id: str
    slas: list[SlaInput] = field(default_factory=list)
    credits: list[CreditInput] = field(default_factory=list)
    charges: ChargesInput | None = None

    def contribution(self) -> Contribution:
        return contribution(self.slas, self.credits, self.charges)


def _input_queries(keys: Sequence[Key] | None) -> tuple[sa.Select[*tuple[Any, ...]], ...]:
    """The SLA periods, credits and charges of the contract periods (None: of all)."""
    s, c, ch = HealthSlaPeriod, HealthCredit, HealthCharges

    def of(model: Any, query: sa.Select[*tuple[Any, ...]]) -> sa.Select[*tuple[Any, ...]]:
        if keys is None:
            return query
        return query.where(tuple_in((model.contract_id, model.period_label), keys))

    return (
        of(s, sa.select(s.contract_id, s.period_label, s.tenant_id, s.sla_code, s.metric_kind,
                        s.unit, s.outcome, s.attainment)),
        of(c, sa.select(c.contract_id, c.period_label, c.tenant_id, c.sla_code, c.credit_amount,
                        c.monthly_charges)),
        of(ch, sa.select(ch.contract_id, ch.period_label, ch.tenant_id, ch.monthly_charges,
                         ch.lines)),
    )  # fmt: skip


Rows = Iterable[Sequence[Any]]


def _group_inputs(slas: Rows, credits: Rows, charges: Rows) -> dict[Key, Inputs]:
    out: dict[Key, Inputs] = {}
    for cid, label, tenant, *rest in slas:
        out.setdefault((cid, label), Inputs(tenant)).slas.append(SlaInput(*rest))
    for cid, label, tenant, *rest in credits:
        out.setdefault((cid, label), Inputs(tenant)).credits.append(CreditInput(*rest))
    for cid, label, tenant, monthly, lines in charges:
        out.setdefault((cid, label), Inputs(tenant)).charges = ChargesInput(monthly, lines)
    return out


async def _inputs(session: AsyncSession, keys: Sequence[Key]) -> dict[Key, Inputs]:
    results = [(await session.execute(q)).all() for q in _input_queries(keys)]
    return _group_inputs(*results)


@dataclass
class Changes:
    """What a refresh adds to the counts, and the period labels it adds to (+1) or takes
    from (−1) the contracts' groups."""

    counts: Counter[CountKey] = field(default_factory=Counter)
    members: dict[MemberKey, tuple[str, dict[str, int]]] = field(default_factory=dict)

    def add(self, tenant: str, label: str, old: Contribution, new: Contribution) -> None:
        for (series, group, value), n in figure_changes(old, new).items():
            self.counts[(tenant, label, series, group, value)] += n
            self.counts[(tenant, ALL_PERIODS, series, group, value)] += n

    def join(
        self, contract_id: uuid.UUID, tenant: str, label: str, groups: Mapping[Membership, int]
    ) -> None:
        for (family, group), n in groups.items():
            _, labels = self.members.setdefault((contract_id, family, group), (tenant, {}))
            labels[label] = labels.get(label, 0) + n


def _merged(labels: str, removed: str) -> str:
    """The labels, without the removed ones, sorted and distinct (SQL)."""
    return (
        f"ARRAY(SELECT DISTINCT p FROM unnest({labels}) AS p WHERE p <> ALL({removed}) ORDER BY p)"
    )


def _upsert(model: type[Any], keys: list[str], changes: Callable[[Any], dict[str, Any]]) -> Any:
    """INSERT … ON CONFLICT (keys) DO UPDATE, its rows given as executemany parameters: one
    statement compiled once and cached, whatever the batch (a VALUES list of N literal
    rows would be compiled anew for every batch)."""
    stmt = pg_insert(table_of(model))
    return stmt.on_conflict_do_update(index_elements=keys, set_=changes(stmt.excluded))


_P, _C, _B = (table_of(m) for m in (BenchmarkPeriod, BenchmarkContract, BenchmarkCount))
_PERIOD_KEY = ["contract_id", "period_label"]
# A no-op update: it locks the contract period's row (created when new) and returns it.
_LOCK_PERIODS = _upsert(
    BenchmarkPeriod, _PERIOD_KEY, lambda _: {"summary": _P.c.summary}
).returning(_P.c.contract_id, _P.c.period_label, _P.c.tenant_id, _P.c.summary)
_STORE_PERIODS = _upsert(
    BenchmarkPeriod, _PERIOD_KEY, lambda new: {"tenant_id": new.tenant_id, "summary": new.summary}
)
_JOIN_GROUPS = _upsert(
    BenchmarkContract,
    ["contract_id", "family", "grp"],
    lambda _: {
        "periods": sa.text(
            _merged("benchmark_contracts.periods || excluded.periods", "ARRAY[]::varchar[]")
        )
    },
).returning(_C.c.contract_id, _C.c.family, _C.c.grp, _C.c.tenant_id, _C.c.periods)
_ADD_COUNTS = _upsert(
    BenchmarkCount,
    ["tenant_id", "period_label", "series", "grp", "value"],
    lambda new: {"n": _B.c.n + new.n},
).returning(_B.c.tenant_id, _B.c.period_label, _B.c.series, _B.c.grp, _B.c.value, _B.c.n)
_BUMP_GENERATIONS = _upsert(
    HealthGeneration,
    ["tenant_id"],
    lambda _: {"generation": table_of(HealthGeneration).c.generation + 1},
)


async def _lock_periods(
    session: AsyncSession, tenant_of: Mapping[Key, str]
) -> dict[Key, tuple[str, Contribution]]:
    """Each contract period's row (created empty when new), locked in key order, with the
    contribution it holds."""
    rows = [
        {"contract_id": c, "period_label": p, "tenant_id": tenant_of[(c, p)], "summary": {}}
        for c, p in sorted(tenant_of)
    ]
    return {
        (cid, label): (tenant, Contribution.from_json(summary))
        for cid, label, tenant, summary in await session.execute(_LOCK_PERIODS, rows)
    }


async def _join_groups(session: AsyncSession, rows: list[dict[str, Any]], changes: Changes) -> None:
    """Periods joining groups, one statement: a contract whose group row is new (holds just
    the labels given) enters the group."""
    if not rows:
        return
    given = {(r["contract_id"], r["family"], r["grp"]): len(r["periods"]) for r in rows}
    for cid, family, group, tenant, periods in await session.execute(_JOIN_GROUPS, rows):
        if len(periods) == given[(cid, family, group)]:
            changes.counts[(tenant, ALL_PERIODS, contracts_series(family), group, ZERO)] += 1


async def _move_groups(
    session: AsyncSession, row: dict[str, Any], leaves: list[str], changes: Changes
) -> None:
    """Periods leaving a group (and maybe others joining it) of one contract: the contract
    leaves the group when no period is left in it."""
    t = table_of(BenchmarkContract)
    key = sa.tuple_(t.c.contract_id, t.c.family, t.c.grp) == (
        row["contract_id"],
        row["family"],
        row["grp"],
    )
    labels = ARRAY(sa.String())
    merged = sa.text(_merged("periods || :joins", ":leaves")).bindparams(
        sa.bindparam("joins", row["periods"], type_=labels),
        sa.bindparam("leaves", leaves, type_=labels),
    )
    after = await session.scalar(
        sa.update(t).where(key).values(periods=merged).returning(t.c.periods)
    )
    counted = (row["tenant_id"], ALL_PERIODS, contracts_series(row["family"]), row["grp"], ZERO)
    if after is None and row["periods"]:  # not there (it never held the leaving periods)
        await _join_groups(session, [row], changes)
    elif after is not None and not after:
        await session.execute(sa.delete(t).where(key))
        changes.counts[counted] -= 1


async def _update_members(session: AsyncSession, changes: Changes) -> None:
    """Apply the period labels joining and leaving each contract's groups, in key order
    (the lock order): runs of joins in one statement, a contract period leaving a group
    (rare: a restatement that takes a unit's base line away) one at a time. A contract
    entering (leaving) a group adds (takes) one to (from) its `contracts` over all periods."""
    joining: list[dict[str, Any]] = []
    for (cid, family, group), (tenant, labels) in sorted(changes.members.items()):
        joins = sorted(label for label, n in labels.items() if n > 0)
        leaves = sorted(label for label, n in labels.items() if n < 0)
        row = {
            "contract_id": cid, "family": family, "grp": group, "tenant_id": tenant,
            "periods": joins,
        }  # fmt: skip
        if leaves:
            await _join_groups(session, joining, changes)
            joining = []
            await _move_groups(session, row, leaves, changes)
        elif joins:
            joining.append(row)
    await _join_groups(session, joining, changes)


async def _add_counts(session: AsyncSession, counts: Counter[CountKey]) -> None:
    columns = ("tenant_id", "period_label", "series", "grp", "value")
    rows = [dict(zip(columns, k, strict=True)) | {"n": n} for k, n in sorted(counts.items()) if n]
    if not rows:
        return
    emptied = [tuple(row[:5]) for row in await session.execute(_ADD_COUNTS, rows) if row[5] == 0]
    if emptied:
        t = table_of(BenchmarkCount)
        key = sa.tuple_(*(t.c[c] for c in columns))
        await session.execute(sa.delete(t).where(key.in_(emptied)))


async def _store(
    session: AsyncSession, tenant_of: Mapping[Key, str], new: Mapping[Key, Contribution]
) -> None:
    rows = [
        {"contract_id": c, "period_label": p, "tenant_id": tenant_of[(c, p)],
         "summary": new[(c, p)].to_json()}
        for c, p in sorted(new)
    ]  # fmt: skip
    if rows:
        await session.execute(_STORE_PERIODS, rows)


async def _bump_generations(session: AsyncSession, tenants: Iterable[str]) -> None:
    """The benchmarks' inputs changed for these tenants (see HealthGeneration)."""
    rows = [{"tenant_id": tenant, "generation": 1} for tenant in sorted(set(tenants))]
    await session.execute(_BUMP_GENERATIONS, rows)


async def refresh(session: AsyncSession, tenant_of: Mapping[Key, str]) -> None:
    """Bring the counts in line with these contract periods' rows (each with the tenant
    of the event that changed it), in the caller's transaction."""
    if not tenant_of:
        return
    old = await _lock_periods(session, tenant_of)
    inputs = await _inputs(session, sorted(tenant_of))
    new = {key: inputs[key].contribution() if key in inputs else Contribution() for key in old}
    changes = Changes()
    for (cid, label), contributed in new.items():
        # A contract's events all carry its tenant: the one its period counted in before.
        tenant, before = old[(cid, label)]
        changes.add(tenant, label, before, contributed)
        changes.join(cid, tenant, label, group_changes(before, contributed))
    await _update_members(session, changes)
    await _add_counts(session, changes.counts)
    await _store(session, tenant_of, new)
    await _bump_generations(session, tenant_of.values())


@dataclass
class Recount:
    """Every count anew from the rows: what `refresh` keeps them equal to."""

    periods: dict[Key, tuple[str, Contribution]]
    counts: Counter[CountKey]
    members: dict[tuple[uuid.UUID, str, str, str], list[str]]  # contract, family, group, tenant


def recount(inputs: Mapping[Key, Inputs]) -> Recount:
    changes = Changes()
    periods = {}
    for (cid, label), rows in inputs.items():
        contributed = rows.contribution()
        periods[(cid, label)] = (rows.tenant_id, contributed)
        changes.add(rows.tenant_id, label, Contribution(), contributed)
        changes.join(cid, rows.tenant_id, label, group_changes(Contribution(), contributed))
    members = {}
    for (cid, family, group), (tenant, labels) in changes.members.items():
        members[(cid, family, group, tenant)] = sorted(labels)
        changes.counts[(tenant, ALL_PERIODS, contracts_series(family), group, ZERO)] += 1
    return Recount(periods, +changes.counts, members)


def rebuild(connection: sa.Connection) -> None:
    """Replace every count with a recount of the rows (the migration's backfill; synchronous
    so Alembic can run it; `AsyncSession.run_sync` runs it for the tests and the bench)."""
    loaded = recount(_group_inputs(*(connection.execute(q).all() for q in _input_queries(None))))
    for model in (BenchmarkPeriod, BenchmarkCount, BenchmarkContract):
        connection.execute(sa.delete(table_of(model)))
    inserts: list[tuple[type[Any], list[dict[str, Any]]]] = [
        (BenchmarkPeriod, [
            {"contract_id": c, "period_label": p, "tenant_id": t, "summary": v.to_json()}
            for (c, p), (t, v) in loaded.periods.items()
        ]),
        (BenchmarkCount, [
            {"tenant_id": t, "period_label": p, "series": s, "grp": g, "value": v, "n": n}
            for (t, p, s, g, v), n in loaded.counts.items()
        ]),
        (BenchmarkContract, [
            {"contract_id": c, "family": f, "grp": g, "tenant_id": t, "periods": labels}
            for (c, f, g, t), labels in loaded.members.items()
        ]),
    ]  # fmt: skip
    for model, rows in inserts:
        for chunk in _chunks(rows):
            connection.execute(sa.insert(table_of(model)), list(chunk))
