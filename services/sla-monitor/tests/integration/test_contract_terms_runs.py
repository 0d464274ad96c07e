"""A run of contracts.v1 events applied in one go stores the same terms and SLA definitions
as the same events applied one by one, on the real database."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sla_harness import Harness, terms_with_every_kind

from crm_platform.contract_terms import contract_terms_table
from sla_monitor.contracts.service import Applied, apply_terms, apply_terms_many
from sla_monitor.models import SlaDefinitionRow


def script(a: uuid.UUID, b: uuid.UUID, harness: Harness) -> list[Applied]:
    """Two contracts: versions in order, a redelivery, a late older version, an SLA dropped
    by a new version, a termination."""
    now = harness.clock.now()
    v1a, v1b = terms_with_every_kind(a), terms_with_every_kind(b)
    v2a = terms_with_every_kind(a, version=2)
    v3a = v2a.model_copy(update={"version": 3, "sla_definitions": v2a.sla_definitions[:2]})
    v2b = terms_with_every_kind(b, version=2)
    return [
        Applied(v1a, "active", now),
        Applied(v2b, "active", now + timedelta(seconds=1)),
        Applied(v1a, "active", now + timedelta(seconds=2)),  # redelivered
        Applied(v2a, "active", now + timedelta(seconds=3)),
        Applied(v1b, "active", now + timedelta(seconds=4)),  # older, late
        Applied(v3a, "terminated", now + timedelta(seconds=5)),
    ]


async def stored(
    harness: Harness, contract_id: uuid.UUID
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    t = contract_terms_table
    async with harness.app.state.session_factory() as session:
        terms = (
            await session.execute(
                sa.select(t.c.version, t.c.status).where(t.c.contract_id == contract_id)
            )
        ).all()
        definitions = (
            await session.execute(
                sa.select(
                    SlaDefinitionRow.sla_code,
                    SlaDefinitionRow.contract_version,
                    SlaDefinitionRow.active,
                    SlaDefinitionRow.tracked_since,
                ).where(SlaDefinitionRow.contract_id == contract_id)
            )
        ).all()
    return sorted(map(tuple, terms)), sorted(map(tuple, definitions))


async def test_a_run_at_once_stores_what_one_by_one_stores(harness: Harness) -> None:
    at_once, one_by_one = (uuid.uuid4(), uuid.uuid4()), (uuid.uuid4(), uuid.uuid4())
    async with harness.app.state.session_factory() as session, session.begin():
        new_at_once = await apply_terms_many(session, script(*at_once, harness))
    new_one_by_one = []
    for event in script(*one_by_one, harness):
        async with harness.app.state.session_factory() as session, session.begin():
            new_one_by_one.append(
                await apply_terms(session, event.terms, event.status, now=event.now)
            )
    assert new_at_once == new_one_by_one == [True, True, False, True, True, True]
    for mine, theirs in zip(at_once, one_by_one, strict=True):
        assert await stored(harness, mine) == await stored(harness, theirs)
    terms, definitions = await stored(harness, at_once[0])
    assert terms == [(1, "terminated"), (2, "terminated"), (3, "terminated")]
    assert [(code, version, active) for code, version, active, _ in definitions] == [
        ("AVAIL-CORE", 3, False),
        ("P1-RES", 3, False),
    ]
    # Known since the first version: the later versions keep the moment.
    assert {since for *_, since in definitions} == {harness.clock.now()}
    _, definitions_b = await stored(harness, at_once[1])
    assert {version for _, version, _, _ in definitions_b} == {2}  # the late v1 changed nothing
