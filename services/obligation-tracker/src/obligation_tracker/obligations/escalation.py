"""What the clock does to an obligation (pure): due soon, overdue, escalated.

On the contract's local date `today`:
- an open obligation due within `due_soon_days` calendar days is announced once (due_soon);
- an open obligation whose due date has passed becomes overdue;
- an overdue obligation is escalated to level k once it has been late for k × the contract's
  `escalation.delay_business_days` business days, level k going to `escalation.levels[k-1]`,
  and no further than the last level. With a delay of 0 every level is told at once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from crm_platform.contract_calendar import business_days_late


@dataclass(frozen=True)
class Step:
    event: str  # due_soon | overdue | escalated
    level: int = 0
    escalated_to: str | None = None


def steps_due(
    *,
    status: str,
    due: date,
    today: date,
    escalation_level: int,
    due_soon_sent: bool,
    due_soon_days: int,
    delay_business_days: int,
    levels: Sequence[str],
    holidays: Collection[date] = (),
) -> list[Step]:
    steps: list[Step] = []
    if status == "open":
        if today > due:
            steps.append(Step("overdue"))
            status = "overdue"
        elif not due_soon_sent and (due - today).days <= due_soon_days:
            steps.append(Step("due_soon"))
    if status in ("overdue", "escalated") and levels:
        if delay_business_days == 0:
            reached = len(levels)
        else:
            reached = min(
                business_days_late(due, today, holidays) // delay_business_days, len(levels)
            )
        for level in range(escalation_level + 1, reached + 1):
            steps.append(Step("escalated", level=level, escalated_to=levels[level - 1]))
    return steps
