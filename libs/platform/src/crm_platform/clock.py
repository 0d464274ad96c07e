"""Injectable clocks: services ask `app.state.clock` for the time, tests replace it; durations
are measured on a `MonotonicTimer` (`time.monotonic` unless a test passes a `ManualTimer`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved (for tests)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at


MonotonicTimer = Callable[[], float]
"""Seconds on a clock that never goes back (`time.monotonic`): what durations, TTLs and
rate limits are measured on, so that a wall-clock step cannot stretch or cut them."""


class ManualTimer:
    """A monotonic timer that moves only when told (for tests)."""

    def __init__(self, at: float = 1000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a monotonic timer never goes back")
        self.at += seconds
