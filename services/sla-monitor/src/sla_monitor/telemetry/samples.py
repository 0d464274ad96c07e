"""Up/down samples turned into downtime intervals (pure).

The rule: a run of consecutive `down` samples is downtime from its first `down` sample to
the next sample after it (which is `up`, or it would belong to the run). A run that no
sample has ended yet is downtime up to its latest `down` sample: only what was observed
counts, and the run grows when the next sample arrives. When two samples of the same
instant disagree, `down` wins (the conservative reading for the customer). Gaps between
samples are not guessed at: the status holds until the next sample says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sla_monitor.attainment.domain import Interval

UP = "up"
DOWN = "down"


def collapse(samples: Iterable[tuple[datetime, str]]) -> list[tuple[datetime, str]]:
    """Sorted by time, one status per instant (`down` wins a tie)."""
    by_time: dict[datetime, str] = {}
    for at, status in samples:
        if by_time.get(at) != DOWN:
            by_time[at] = status
    return sorted(by_time.items())


def down_runs(samples: Iterable[tuple[datetime, str]]) -> list[Interval]:
    runs: list[Interval] = []
    run_start: datetime | None = None
    last_down: datetime | None = None
    for at, status in collapse(samples):
        if status == DOWN:
            if run_start is None:
                run_start = at
            last_down = at
        elif run_start is not None:
            runs.append(Interval(run_start, at))
            run_start = None
    if run_start is not None and last_down is not None and last_down > run_start:
        runs.append(Interval(run_start, last_down))
    return runs
