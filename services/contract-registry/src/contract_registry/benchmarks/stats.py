"""Distributions for benchmarks (pure, exact Decimal)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

FOUR_PLACES = Decimal("0.0001")


def percentile(values: Sequence[Decimal], pct: Decimal) -> Decimal | None:
    """The pct-th percentile with linear interpolation between the closest ranks (the
    "inclusive" method of numpy/Excel PERCENTILE.INC): p50 of 1, 2, 3, 4 is 2.5."""
    if not values:
        return None
    ordered = sorted(values)
    low, high, fraction = ranks(len(ordered), pct)
    return interpolate(ordered[low], ordered[high], fraction)


def ranks(count: int, pct: Decimal) -> tuple[int, int, Decimal]:
    """The positions (0-based, in ascending order) of the two values the pct-th percentile
    of `count` values lies between, and how far it lies from the first."""
    rank = (count - 1) * pct / 100
    low = int(rank)
    return low, min(low + 1, count - 1), rank - low


def interpolate(low: Decimal, high: Decimal, fraction: Decimal) -> Decimal:
    return (low + (high - low) * fraction).quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Summary:
    count: int
    p50: Decimal | None
    p90: Decimal | None


def summarise(values: Sequence[Decimal]) -> Summary:
    return Summary(len(values), percentile(values, Decimal(50)), percentile(values, Decimal(90)))
