"""Benchmarks kept while their inputs are unchanged: never stale, rarely recomputed.

One computation walks the tenant's benchmark counts (a few thousand rows at 10,000
contracts, bench/portfolio_health.py); an unchanged answer costs one primary-key row.
Each answer is kept with the tenant's generation (HealthGeneration, bumped by
summaries.refresh in the same transaction as any change to those inputs); a request reads the
generation (one primary-key row) and reuses the answer computed at that generation.
Reading the generation first makes it safe: the computation that follows sees at least
that generation's data, and a later change moves the generation on. All-tenant callers
use the sum of every tenant's generation. One cache per database engine and process;
every instance checks the same generations.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.benchmarks.schemas import Benchmarks
from contract_registry.models import HealthGeneration

MAX_ENTRIES = 256
Key = tuple[str | None, ...]

_caches: weakref.WeakKeyDictionary[Any, OrderedDict[Key, tuple[int, Benchmarks]]] = (
    weakref.WeakKeyDictionary()
)


async def generation(session: AsyncSession, tenant_id: str | None) -> int:
    g = HealthGeneration
    if tenant_id is None:
        query = sa.select(sa.func.coalesce(sa.func.sum(g.generation), 0))
    else:
        query = sa.select(g.generation).where(g.tenant_id == tenant_id)
    return int(await session.scalar(query) or 0)


def _entries(session: AsyncSession) -> OrderedDict[Key, tuple[int, Benchmarks]]:
    return _caches.setdefault(session.get_bind(), OrderedDict())


def get(session: AsyncSession, key: Key, at: int) -> Benchmarks | None:
    entries = _entries(session)
    found = entries.get(key)
    if found is None or found[0] != at:
        return None
    entries.move_to_end(key)
    return found[1]


def put(session: AsyncSession, key: Key, at: int, value: Benchmarks) -> None:
    entries = _entries(session)
    entries[key] = (at, value)
    entries.move_to_end(key)
    while len(entries) > MAX_ENTRIES:
        entries.popitem(last=False)
