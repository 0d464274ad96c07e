"""What one contract period adds to the benchmarks, and the counts' percentiles, against
the reference rules (exact Decimal)."""

from collections import Counter
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from contract_registry.benchmarks.contributions import (
    ANY,
    SLA,
    UNIT,
    ChargesInput,
    Contribution,
    CreditInput,
    SlaInput,
    contribution,
    figure_changes,
    group_changes,
    parse_sla_group,
    sla_group,
)
from contract_registry.benchmarks.stats import interpolate, percentile, ranks

LINES = [
    {"kind": "base", "item_code": "SRV-WIN", "amount": "30000.00"},
    {"kind": "arc", "item_code": "SRV-WIN", "amount": "1500.00"},
    {"kind": "base", "item_code": "TCK-L1", "amount": "600.00"},
    {"kind": "rrc", "item_code": "TCK-L1", "amount": "-60.00"},
    {"kind": "rrc", "item_code": "STO-TB", "amount": "-10.00"},  # no base: no figures
    {"kind": "other", "item_code": "TCK-L1", "amount": "999.00"},
]


def test_a_contract_period_gives_its_sla_unit_and_credit_figures() -> None:
    slas = [
        SlaInput("AVAIL", "availability", None, "failed", D("99.1")),
        SlaInput("LAT", "measurement", "ms", "met", D("180")),
        SlaInput("P1", "incident_resolution", None, "no_data", None),
    ]
    credits = [CreditInput("AVAIL", D("3000.00"), D("30600.00"))]
    got = contribution(slas, credits, ChargesInput(D("30600.00"), LINES))
    rate = D("3000.00") / D("30600.00") * 100
    assert got.figures == Counter(
        {
            ("sla_periods", "availability", D(0)): 1,
            ("outcome:failed", "availability", D(0)): 1,
            ("attainment", "availability", D("99.1")): 1,
            ("sla_credit_rate", "availability", rate): 1,
            ("sla_periods", "measurement/ms", D(0)): 1,
            ("outcome:met", "measurement/ms", D(0)): 1,
            ("attainment", "measurement/ms", D("180")): 1,
            ("sla_credit_rate", "measurement/ms", D(0)): 1,
            ("sla_periods", "incident_resolution", D(0)): 1,
            ("outcome:no_data", "incident_resolution", D(0)): 1,
            ("sla_credit_rate", "incident_resolution", D(0)): 1,
            ("arc", "SRV-WIN", D(5)): 1,
            ("rrc", "SRV-WIN", D(0)): 1,
            ("net", "SRV-WIN", D(5)): 1,
            ("arc", "TCK-L1", D(0)): 1,
            ("rrc", "TCK-L1", D(10)): 1,
            ("net", "TCK-L1", D(-10)): 1,
            ("credit_rate", "", rate): 1,
        }
    )
    assert got.groups == {
        (SLA, "availability"),
        (SLA, "measurement/ms"),
        (SLA, "incident_resolution"),
        (UNIT, "SRV-WIN"),
        (UNIT, "TCK-L1"),
        (ANY, ""),
    }


def test_without_charges_the_largest_monthly_charges_of_the_credits_count() -> None:
    credits = [CreditInput("A", D("10"), D("400")), CreditInput("B", D("30"), D("500"))]
    got = contribution([], credits, None)
    assert got.figures == Counter({("credit_rate", "", D(8)): 1})
    assert got.groups == {(ANY, "")}
    assert contribution([], [CreditInput("A", D("10"), D("0"))], None).figures == Counter()


def test_units_are_never_pooled_and_the_empty_unit_is_not_no_unit() -> None:
    assert sla_group("measurement", "ms") == "measurement/ms"
    assert parse_sla_group("measurement/requests/s") == ("measurement", "requests/s")
    assert parse_sla_group("measurement/") == ("measurement", "")
    assert parse_sla_group("availability") == ("availability", None)


def test_a_change_takes_the_old_figures_out_and_puts_the_new_ones_in() -> None:
    old = contribution([SlaInput("A", "availability", None, "failed", D("98"))], [], None)
    new = contribution([SlaInput("A", "availability", None, "met", D("99.95"))], [], None)
    assert figure_changes(old, new) == Counter(
        {
            ("outcome:failed", "availability", D(0)): -1,
            ("attainment", "availability", D("98")): -1,
            ("outcome:met", "availability", D(0)): 1,
            ("attainment", "availability", D("99.95")): 1,
        }
    )
    assert figure_changes(new, new) == Counter()
    assert group_changes(Contribution(), new) == {(SLA, "availability"): 1, (ANY, ""): 1}
    assert group_changes(new, new) == {}


def test_a_contribution_survives_its_json() -> None:
    got = contribution(
        [SlaInput("A", "measurement", "", "met", D("1.50"))],
        [CreditInput("A", D("1"), D("3"))],
        ChargesInput(D("3"), LINES),
    )
    assert Contribution.from_json(got.to_json()) == got
    assert Contribution.from_json({}) == Contribution()


@given(
    counts=st.dictionaries(
        st.integers(-500, 500).map(lambda n: D(n).scaleb(-2)), st.integers(1, 5), min_size=1
    ),
    pct=st.sampled_from([D(50), D(90)]),
)
def test_a_percentile_of_counted_values_equals_the_one_of_every_value(
    counts: dict[D, int], pct: D
) -> None:
    """What queries.py does in SQL (the values at the two ranks, walking the counts in
    order), in Python: the same as sorting every value."""
    values = sorted(v for v, n in counts.items() for _ in range(n))
    low, high, fraction = ranks(len(values), pct)

    def at(position: int) -> D:
        seen = 0
        for value in sorted(counts):
            seen += counts[value]
            if seen > position:
                return value
        raise AssertionError(position)

    assert interpolate(at(low), at(high), fraction) == percentile(values, pct)
