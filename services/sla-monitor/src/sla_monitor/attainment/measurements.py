"""Measurement SLAs: the mean or a percentile of the period's values (pure).

The percentile is the nearest-rank one: of n values sorted ascending, the p-th percentile
is the value at rank ⌈p × n / 100⌉ — always a value that was measured, never interpolated.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, Decimal

from crm_events.schemas.contracts import Statistic


def nearest_rank(percentile: Decimal, count: int) -> int:
    """1-based rank of the p-th percentile among `count` values."""
    if count <= 0:
        raise ValueError("no values")
    if not Decimal(0) < percentile <= Decimal(100):
        raise ValueError("percentile must be in (0, 100]")
    rank = (percentile * count / 100).to_integral_value(rounding=ROUND_CEILING)
    return max(1, int(rank))


def mean(total: Decimal, count: int) -> Decimal:
    return total / Decimal(count)


def statistic_of(
    values: Sequence[Decimal], statistic: Statistic, percentile: Decimal | None
) -> Decimal | None:
    if not values:
        return None
    if statistic is Statistic.MEAN:
        return mean(sum(values, Decimal(0)), len(values))
    if percentile is None:
        raise ValueError("a percentile SLA needs its percentile")
    return sorted(values)[nearest_rank(percentile, len(values)) - 1]
