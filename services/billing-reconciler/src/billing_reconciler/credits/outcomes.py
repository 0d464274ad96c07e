"""Which SLA outcomes a batch of closes and restatements writes, decided without I/O.

The stored outcome of an SLA period is the one with the highest restatement (a close is 0);
`supersedes` says when an incoming one replaces it. Deciding a batch is the same as
applying its events one after another, in order: the last superseding event of a period
is written, and an event "changed what we knew" when its figures differ from the outcome
it replaced (the stored one, or an earlier event of the same batch).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from billing_reconciler.credits.settlement import OutcomeFact, supersedes

# (contract, SLA code, SLA period label)
OutcomeKey = tuple[uuid.UUID, str, str]


@dataclass(frozen=True)
class OutcomeWrites:
    written: dict[OutcomeKey, OutcomeFact]  # the fact to store per period
    created_by: dict[OutcomeKey, int]  # the incoming index that creates a new period's row
    changed: list[int]  # incoming indexes that changed what we knew, in order


def same_figures(a: OutcomeFact, b: OutcomeFact) -> bool:
    return (a.outcome, a.attainment, a.expected_level, a.minimum_level) == (
        b.outcome,
        b.attainment,
        b.expected_level,
        b.minimum_level,
    )


def outcome_writes(
    stored: Mapping[OutcomeKey, OutcomeFact],
    incoming: Sequence[tuple[OutcomeKey, OutcomeFact]],
) -> OutcomeWrites:
    """The outcomes to write for `incoming` (in arrival order) over `stored`."""
    current = dict(stored)
    written: dict[OutcomeKey, OutcomeFact] = {}
    created_by: dict[OutcomeKey, int] = {}
    changed: list[int] = []
    for index, (key, fact) in enumerate(incoming):
        before = current.get(key)
        if not supersedes(None if before is None else before.restatement, fact.restatement):
            continue
        if before is None:
            created_by[key] = index
        current[key] = written[key] = fact
        if before is None or not same_figures(before, fact):
            changed.append(index)
    return OutcomeWrites(written, created_by, changed)
