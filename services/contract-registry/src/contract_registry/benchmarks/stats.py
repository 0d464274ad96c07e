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
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Summary:
    count: int
    p50: Decimal | None
    p90: Decimal | None


def summarise(values: Sequence[Decimal]) -> Summary:
    return Summary(len(values), percentile(values, Decimal(50)), percentile(values, Decimal(90)))


def from_float(value: float | None) -> Decimal | None:
    """A percentile PostgreSQL computed in double precision, to 4 places like `percentile`.
    Read to 15 significant digits first (what a double holds exactly), so the binary noise
    of an interpolation (99.98715 as 99.987149999…) does not tip a half-even rounding."""
    if value is None:
        return None
    return Decimal(f"{value:.15g}").quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN)
