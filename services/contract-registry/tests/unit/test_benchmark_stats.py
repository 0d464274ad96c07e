from decimal import Decimal as D

from contract_registry.benchmarks.stats import from_float, percentile, summarise


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [D(4), D(1), D(3), D(2)]
    assert percentile(values, D(50)) == D("2.5000")
    assert percentile(values, D(90)) == D("3.7000")  # rank 2.7: 3 + 0.7 × (4 − 3)
    assert percentile([D("99.4609")], D(90)) == D("99.4609")
    assert percentile([], D(50)) is None


def test_a_summary_counts_and_gives_p50_and_p90() -> None:
    s = summarise([D("99.95"), D("99.4609"), D("99.99"), D("100")])
    assert (s.count, s.p50, s.p90) == (4, D("99.9700"), D("99.9970"))


def test_a_percentile_postgresql_gives_as_a_double_rounds_like_the_exact_one() -> None:
    # The median of 99.9871 and 99.9872 is 99.98715: half-even to 99.9872, although the
    # double PostgreSQL's percentile_cont returns for it is 99.98714999…
    values = [D("99.9871"), D("99.9872")]
    assert percentile(values, D(50)) == D("99.9872")
    interpolated = 99.9871 + (99.9872 - 99.9871) * 0.5
    assert D(interpolated) < D("99.98715")
    assert from_float(interpolated) == D("99.9872")
    assert from_float(2.0 + 0.7 * (3.0 - 2.0)) == D("2.7000")
    assert from_float(None) is None
