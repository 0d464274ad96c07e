"""Stored period downtime figures folded forward batch by batch are the figures of computing
the period over all its spans at once — domain.availability's, today's — whatever order the
outages arrived in and however they were split into batches."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sla_monitor.attainment.domain import Interval, PeriodBounds, availability, merge, period_bounds
from sla_monitor.attainment.period_downtime import (
    DowntimeBasis,
    PeriodDowntime,
    closure_complete,
    fold,
    measure,
)

MARCH = period_bounds("2026-03", "America/New_York")
SECOND = timedelta(seconds=1)
HOUR = 3600


@st.composite
def intervals(draw: st.DrawFn, period: PeriodBounds = MARCH, fine: bool = True) -> Interval:
    """Intervals near the period's edges and its middle, to the second or (`fine`) to the
    millisecond: merged pieces with fractions of a second are counted in whole seconds per
    piece, which a fold must not change."""
    span = int((period.end - period.start).total_seconds())
    anchor = draw(st.sampled_from([0, span // 2, span]))
    start = anchor + draw(st.integers(-3 * HOUR, 3 * HOUR))
    length = draw(st.integers(1, 2 * HOUR))
    at = period.start + start * SECOND
    if fine and draw(st.booleans()):
        at += timedelta(milliseconds=draw(st.integers(1, 999)))
    return Interval(at, at + length * SECOND)


@st.composite
def exclusions(draw: st.DrawFn) -> list[Interval]:
    return draw(st.lists(intervals(fine=False), max_size=4))


def touching(spans: list[Interval], regions: list[Interval]) -> list[int]:
    """Indexes of the spans overlapping or touching a region (downtime_store._touching)."""
    return [
        i
        for i, s in enumerate(spans)
        if any(s.start <= r.end and s.end >= r.start for r in regions)
    ]


def closed_region(spans: list[Interval], changed: list[Interval]) -> list[Interval]:
    """downtime_store.closed_regions over an in-memory store."""
    queried = merge(changed)
    read: set[int] = set()
    pending = queried
    while pending:
        read |= set(touching(spans, pending))
        got = [spans[i] for i in read]
        pending = [] if closure_complete(got, queried) else merge(got)
        queried = merge([*queried, *pending])
    return [spans[i] for i in sorted(read)]


class Store:
    """Downtime spans of one service key and a period's figures folded along."""

    def __init__(self, basis: DowntimeBasis) -> None:
        self.spans: list[Interval] = []
        self.state = PeriodDowntime(basis)

    def replace(self, removed: list[Interval], added: list[Interval]) -> None:
        left = Counter(self.spans)
        left.subtract(Counter(removed))
        assert all(n >= 0 for n in left.values())
        self.spans = [*left.elements(), *added]
        after = closed_region(self.spans, [*removed, *added])
        before = Counter(after)
        before.subtract(Counter(added))
        before.update(removed)
        self.state = fold(self.state, before=list(before.elements()), after=after)

    def add_outages(self, new: list[Interval]) -> None:
        """telemetry.repository.merge_outage_spans: the stored spans the new outages overlap
        or touch give way to their union."""
        merged = merge(new)
        removed = [self.spans[i] for i in touching(self.spans, merged)]
        self.replace(removed, merge([*merged, *removed]))


def _figures(state: PeriodDowntime) -> tuple[int, int, int, int, int]:
    r = state.result()
    return (
        state.spans,
        r.period_seconds,
        r.excluded_seconds,
        r.downtime_seconds,
        r.reported_downtime_seconds,
    )


def _todays(outages: list[Interval], excluded: list[Interval]) -> tuple[int, int, int, int]:
    r = availability(MARCH, outages, excluded)
    return r.period_seconds, r.excluded_seconds, r.downtime_seconds, r.reported_downtime_seconds


@settings(max_examples=300, deadline=None)
@given(
    st.lists(intervals(), max_size=30),
    exclusions(),
    st.randoms(use_true_random=False),
    st.integers(1, 8),
)
def test_outages_folded_batch_by_batch_give_todays_figures_in_any_order_and_split(
    outages: list[Interval], excluded: list[Interval], rnd: random.Random, batch: int
) -> None:
    reported = outages + outages[: len(outages) // 3]  # some reported twice
    rnd.shuffle(reported)
    store = Store(DowntimeBasis.of(MARCH, excluded))
    for i in range(0, len(reported), batch):
        store.add_outages(reported[i : i + batch])
    assert _figures(store.state)[1:] == _todays(outages, excluded)
    assert store.state == measure(DowntimeBasis.of(MARCH, excluded), store.spans)
    assert store.state.result().attainment == availability(MARCH, outages, excluded).attainment


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.integers(0, 50), max_size=3), st.lists(intervals())), max_size=8
    ),
    exclusions(),
)
def test_any_replacement_of_spans_folds_to_the_figures_of_all_spans(
    changes: list[tuple[list[int], list[Interval]]], excluded: list[Interval]
) -> None:
    """Down runs of samples are replaced, not only merged: any spans may give way to any
    others, overlapping or not, from two sources."""
    basis = DowntimeBasis.of(MARCH, excluded)
    store = Store(basis)
    for picks, added in changes:
        removed = list({store.spans[i] for i in picks if i < len(store.spans)})
        store.replace(removed, added)
    assert store.state == measure(basis, store.spans)
    r = availability(MARCH, store.spans, excluded)
    assert _figures(store.state) == (
        sum(s.end > MARCH.start and s.start < MARCH.end for s in store.spans),
        r.period_seconds,
        r.excluded_seconds,
        r.downtime_seconds,
        r.reported_downtime_seconds,
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(intervals(), max_size=20), exclusions(), st.randoms(use_true_random=False))
def test_folding_a_change_and_its_undo_returns_to_the_same_figures(
    outages: list[Interval], excluded: list[Interval], rnd: random.Random
) -> None:
    basis = DowntimeBasis.of(MARCH, excluded)
    start = measure(basis, outages)
    rnd.shuffle(outages)
    there = fold(start, before=outages, after=merge(outages))
    assert fold(there, before=merge(outages), after=outages) == start


def test_one_second_outages_each_at_its_own_second_are_each_counted() -> None:
    basis = DowntimeBasis.of(MARCH, [])
    store = Store(basis)
    base = MARCH.start + timedelta(days=3)
    for n in range(200):
        at = base + 2 * n * SECOND
        store.add_outages([Interval(at, at + SECOND)])
    assert (store.state.spans, store.state.downtime_seconds) == (200, 200)
    assert store.state.reported_seconds == 200


def test_outage_across_the_period_start_counts_only_its_part_inside() -> None:
    basis = DowntimeBasis.of(MARCH, [])
    store = Store(basis)
    store.add_outages([Interval(MARCH.start - 30 * SECOND, MARCH.start + 90 * SECOND)])
    assert (store.state.spans, store.state.downtime_seconds) == (1, 90)


def test_downtime_inside_an_exclusion_is_reported_but_not_counted() -> None:
    window = Interval(MARCH.start + HOUR * SECOND, MARCH.start + 2 * HOUR * SECOND)
    basis = DowntimeBasis.of(MARCH, [window])
    store = Store(basis)
    store.add_outages([Interval(window.start - 60 * SECOND, window.start + 600 * SECOND)])
    assert (store.state.reported_seconds, store.state.downtime_seconds) == (660, 60)
    assert store.state.result().excluded_seconds == HOUR


def test_spans_touching_at_a_point_are_one_piece_in_whole_seconds() -> None:
    """Two half-second-aligned spans that touch are one merged piece (1.5 s + 1.5 s = 3 s);
    folded one at a time they must not count 1 + 1."""
    basis = DowntimeBasis.of(MARCH, [])
    store = Store(basis)
    a = MARCH.start + timedelta(days=1, milliseconds=500)
    store.add_outages([Interval(a, a + timedelta(milliseconds=1500))])
    store.replace([], [Interval(a + timedelta(milliseconds=1500), a + 3 * SECOND)])
    assert store.state.downtime_seconds == 3
    assert store.state == measure(basis, store.spans)


def test_closure_is_incomplete_while_a_read_piece_reaches_past_what_was_queried() -> None:
    a = MARCH.start
    queried = [Interval(a, a + 10 * SECOND)]
    assert closure_complete([Interval(a + SECOND, a + 5 * SECOND)], queried)
    assert not closure_complete([Interval(a + 5 * SECOND, a + 20 * SECOND)], queried)
