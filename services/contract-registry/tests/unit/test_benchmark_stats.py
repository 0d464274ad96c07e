from decimal import Decimal as D

from contract_registry.benchmarks.stats import interpolate, percentile, ranks, summarise


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [D(4), D(1), D(3), D(2)]
    assert percentile(values, D(50)) == D("2.5000")
    assert percentile(values, D(90)) == D("3.7000")  # rank 2.7: 3 + 0.7 × (4 − 3)
    assert percentile([D("99.4609")], D(90)) == D("99.4609")
    assert percentile([], D(50)) is None


def test_a_summary_counts_and_gives_p50_and_p90() -> None:
    s = summarise([D("99.95"), D("99.4609"), D("99.99"), D("100")])
    assert (s.count, s.p50, s.p90) == (4, D("99.9700"), D("99.9970"))


def test_the_ranks_a_percentile_lies_between() -> None:
    assert ranks(4, D(50)) == (1, 2, D("0.5"))
    assert ranks(4, D(90)) == (2, 3, D("0.7"))
    assert ranks(1, D(90)) == (0, 0, D(0))
    assert interpolate(D(3), D(4), D("0.7")) == D("3.7000")
    # Half-even at the fourth place: the median of 99.9871 and 99.9872.
    assert interpolate(D("99.9871"), D("99.9872"), D("0.5")) == D("99.9872")
