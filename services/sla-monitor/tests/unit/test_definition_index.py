"""The SLA definitions indexed from contracts.v1: a run of events applied at once gives what
applying them one by one gives, however the run is split."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_testing import examples
from sla_monitor.contracts.service import Applied, Indexed, index_versions

CONTRACTS = [uuid.UUID(int=n) for n in (1, 2)]
BASE = examples.contract_terms()
CODES = ["AVAIL-CORE", "AVAIL-EDGE", "AVAIL-DR"]
SLAS = [BASE.sla_definitions[0].model_copy(update={"code": code}) for code in CODES]
T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


def applied(contract: int, version: int, codes: list[str], status: str, minute: int) -> Applied:
    terms = BASE.model_copy(
        update={
            "contract_id": CONTRACTS[contract],
            "version": version,
            "sla_definitions": [s for s in SLAS if s.code in codes],
        }
    )
    return Applied(terms, status, T0 + timedelta(minutes=minute))


events = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.integers(1, 4),
        st.lists(st.sampled_from(CODES), unique=True),
        st.sampled_from(["active", "terminated"]),
    ),
    max_size=12,
).map(lambda drawn: [applied(*e, minute=n) for n, e in enumerate(drawn)])


def one_by_one(existing: dict[uuid.UUID, Indexed], run: list[Applied]) -> dict[uuid.UUID, Indexed]:
    state = dict(existing)
    for event in run:
        state.update(index_versions(state, [event]))
    return state


def figures(state: dict[uuid.UUID, Indexed]) -> dict[uuid.UUID, tuple[object, ...]]:
    return {cid: (i.version, dict(i.since), i.active) for cid, i in state.items()}


@given(events, st.data())
@settings(max_examples=300, deadline=None)
def test_a_run_at_once_equals_one_by_one_whatever_the_split(
    run: list[Applied], data: st.DataObject
) -> None:
    existing = {CONTRACTS[0]: Indexed(version=2, since={CODES[0]: T0 - timedelta(days=9)})}
    expected = one_by_one(existing, run)
    cut = data.draw(st.integers(0, len(run)))
    split = dict(existing)
    for part in (run[:cut], run[cut:]):
        split.update(index_versions(split, part))
    assert figures(split) == figures(expected)
    assert figures({**existing, **index_versions(existing, run)}) == figures(expected)


def test_a_late_older_version_changes_nothing_and_codes_keep_when_they_were_first_known() -> None:
    first = applied(0, 2, CODES[:2], "active", minute=0)
    late = applied(0, 1, CODES, "active", minute=5)
    newer = applied(0, 3, CODES[1:], "terminated", minute=9)
    state = index_versions({}, [first, late, newer])[CONTRACTS[0]]
    assert state.version == 3 and state.active is False
    # CODES[1] was known since the first event; the rest are new with version 3.
    assert dict(state.since) == {
        CODES[1]: T0,
        **{code: T0 + timedelta(minutes=9) for code in CODES[2:]},
    }
    assert index_versions({CONTRACTS[0]: state}, [late]) == {}
