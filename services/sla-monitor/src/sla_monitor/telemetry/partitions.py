"""Raw telemetry partitioned by month.

`samples` and `measurements` — nearly every raw row — are range-partitioned by the UTC month
of their instant (`samples_y2026m12`); a table that had rows before partitioning keeps them
in one partition, `<table>_legacy`, from the start of time to the month after its newest
row. There is no DEFAULT partition: a month is made before the first row that needs it, by
the `telemetry_partitions` job (this month and the next `TELEMETRY_PARTITION_MONTHS_AHEAD`)
or, for any other month, by ingestion itself. A month is made as a plain table and then
attached, in a short transaction of its own: attaching takes a SHARE UPDATE EXCLUSIVE lock
on the parent, so reads and inserts of the other months go on (`CREATE TABLE … PARTITION
OF` would take an ACCESS EXCLUSIVE one and wait for them). Dropping a month
(`drop_before`) does take an ACCESS EXCLUSIVE lock, for milliseconds, once a month, with a
short lock timeout: a drop that cannot get it is tried again at the next run.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from crm_platform.scheduler import lock_key

log = structlog.get_logger(__name__)

# The partitioned tables and the instant they are partitioned by. The names are constants,
# never input, so they are formatted into DDL.
PARTITIONED = {"samples": "observed_at", "measurements": "measured_at"}
# The telemetry kind whose rows each partitioned table holds.
KIND_TABLE = {"sample": "samples", "measurement": "measurements"}
LOCK_TIMEOUT = "5s"


def month_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def add_months(month: datetime, n: int) -> datetime:
    index = month.year * 12 + month.month - 1 + n
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def month_name(table: str, month: datetime) -> str:
    return f"{table}_y{month.year:04d}m{month.month:02d}"


@dataclass(frozen=True)
class Partition:
    name: str
    lower: datetime | None  # None: MINVALUE
    upper: datetime | None  # None: MAXVALUE

    def covers(self, month: datetime) -> bool:
        """Whether the month lies inside (partitions never overlap, so inside or apart)."""
        return (self.lower is None or self.lower <= month) and (
            self.upper is None or month < self.upper
        )


_BOUND = re.compile(r"FOR VALUES FROM \((.+)\) TO \((.+)\)")


def _bound(text: str) -> datetime | None:
    if text in ("MINVALUE", "MAXVALUE"):
        return None
    return datetime.fromisoformat(text.strip("'"))


def parse_partition(name: str, bound: str) -> Partition:
    """A partition from its name and `pg_get_expr(relpartbound)` text."""
    match = _BOUND.fullmatch(bound)
    if match is None:
        raise ValueError(f"partition {name}: unexpected bound {bound!r}")
    return Partition(name, _bound(match.group(1)), _bound(match.group(2)))


async def partitions(conn: AsyncSession | AsyncConnection, table: str) -> list[Partition]:
    """The table's partitions, oldest first (bounds are read with their offset, in the
    ISO form of PostgreSQL's default DateStyle)."""
    rows = await conn.execute(
        sa.text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:table AS regclass)"
        ),
        {"table": table},
    )
    found = [parse_partition(name, bound) for name, bound in rows.all()]
    return sorted(found, key=lambda p: p.lower or datetime.min.replace(tzinfo=UTC))


async def _add_month(conn: AsyncConnection, table: str, month: datetime) -> bool:
    """Make the month's partition (a plain table, then attached) in a transaction of its
    own; False when another process made it first. Makers of one month queue on an advisory
    lock of its own, so the second finds the first's partition made and attached."""
    name, end = month_name(table, month), add_months(month, 1)
    async with conn.begin():
        await conn.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key(f"partition:{name}"))))
        if await conn.scalar(sa.select(sa.func.to_regclass(name))) is not None:
            return False
        await conn.execute(
            sa.text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        )
        await conn.execute(
            sa.text(
                f"ALTER TABLE {table} ATTACH PARTITION {name} "
                f"FOR VALUES FROM ('{month.isoformat()}') TO ('{end.isoformat()}')"
            )
        )
    log.info("telemetry.partition_added", partition=name)
    return True


# Months known to have a partition, per database (engine) and table: checked before every
# insert, read from the catalog again only when a month is missing.
_KNOWN: weakref.WeakKeyDictionary[Engine, dict[str, list[Partition]]] = weakref.WeakKeyDictionary()


_DDL: weakref.WeakKeyDictionary[Engine, AsyncEngine] = weakref.WeakKeyDictionary()


async def ddl_engine(session: AsyncSession) -> AsyncEngine:
    """An engine without a pool on the session's database, for partition DDL in
    transactions of its own: a caller holding a pooled connection never waits for another."""
    engine = (await session.connection()).engine.sync_engine
    if engine not in _DDL:
        _DDL[engine] = create_async_engine(engine.url, poolclass=NullPool)
    return _DDL[engine]


def _missing(known: list[Partition], months: Iterable[datetime]) -> list[datetime]:
    return sorted({m for m in months if not any(p.covers(m) for p in known)})


async def ensure_months(session: AsyncSession, table: str, months: Iterable[datetime]) -> list[str]:
    """A partition for each of the months that has none; the names made. Partitions are
    made on a connection of their own (committed before the caller's transaction goes on,
    which only holds locks an attach does not wait for)."""
    months = set(months)
    engine = (await session.connection()).engine
    cache = _KNOWN.setdefault(engine.sync_engine, {})
    if table in cache and not _missing(cache[table], months):
        return []
    cache[table] = await partitions(session, table)
    made = []
    missing = _missing(cache[table], months)
    if missing:
        async with (await ddl_engine(session)).connect() as conn:
            for month in missing:
                if await _add_month(conn, table, month):
                    made.append(month_name(table, month))
        cache[table] = await partitions(session, table)
    return made


def months_of(instants: Iterable[datetime]) -> set[datetime]:
    """The UTC months of the instants (first of the month); from the first and last alone
    when they are at most a month apart, as in nearly every batch."""
    values = list(instants)
    if not values:
        return set()
    first, last = month_start(min(values)), month_start(max(values))
    if last <= add_months(first, 1):
        return {first, last}
    return {month_start(at) for at in values}


async def drop_before(conn: AsyncConnection, table: str, horizon: datetime) -> list[str]:
    """Drop the table's partitions that end at or before the horizon, each in a short
    transaction; the names dropped (one that cannot get its lock waits for the next run)."""
    async with conn.begin():
        found = await partitions(conn, table)
    dropped = []
    for p in found:
        if p.upper is None or p.upper > horizon:
            continue
        try:
            async with conn.begin():
                await conn.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                await conn.execute(sa.text(f"DROP TABLE {p.name}"))
        except DBAPIError as exc:
            log.warning("telemetry.partition_drop_deferred", partition=p.name, error=str(exc.orig))
            continue
        dropped.append(p.name)
        log.info("telemetry.partition_dropped", partition=p.name, before=horizon.isoformat())
    return dropped
