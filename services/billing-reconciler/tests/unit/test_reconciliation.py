"""Invoice reconciliation, line by line, with exact figures for every discrepancy class."""

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_reconciler.charges.domain import LineKind
from billing_reconciler.reconciliation.domain import (
    DiscrepancyClass,
    ExpectedLine,
    InvoiceLine,
    reconcile,
)

D = Decimal
EXPECTED = [
    ExpectedLine(LineKind.BASE, "SRV-WIN", D(200), D("150.00"), D("30000.00"), "SRV-WIN base"),
    ExpectedLine(LineKind.BASE, "TCK-L1", D(5000), D("12.00"), D("60000.00"), "TCK-L1 base"),
    ExpectedLine(LineKind.ARC, "SRV-WIN", D(14), D("140.00"), D("1960.00"), "SRV-WIN ARC"),
    ExpectedLine(LineKind.CREDIT, "AVAIL-CORE", D(1), D("4414.08"), D("-4414.08"), "credit"),
]
RATES = {
    ("base", "SRV-WIN"): D("150.00"),
    ("arc", "SRV-WIN"): D("140.00"),
    ("rrc", "SRV-WIN"): D("120.00"),
    ("base", "TCK-L1"): D("12.00"),
    ("arc", "TCK-L1"): D("11.00"),
    ("rrc", "TCK-L1"): D("9.00"),
}
WORKED_INVOICE = [
    InvoiceLine(1, "SRV-WIN", "base", D("30000.00"), D(200), D("150.00")),
    InvoiceLine(2, "SRV-WIN", "arc", D("2240.00"), D(16), D("140.00")),
    InvoiceLine(3, "TCK-L1", "base", D("60000.00"), D(5000), D("12.00")),
]


def run(lines: list[InvoiceLine], total: Decimal | None = None, **kw: object):  # type: ignore[no-untyped-def]
    return reconcile(
        period_label="2026-03",
        lines=lines,
        stated_total=total if total is not None else sum((ln.amount for ln in lines), D(0)),
        expected=kw.pop("expected", EXPECTED),  # type: ignore[arg-type]
        reference_rates=RATES,
        sla_codes={"AVAIL-CORE", "P1-RES"},
        currency="USD",
        **kw,  # type: ignore[arg-type]
    )


def found(result) -> list[tuple[str, Decimal]]:  # type: ignore[no-untyped-def]
    return [(d.discrepancy_class.value, d.amount) for d in result.discrepancies]


def test_design_worked_example_invoice_to_the_cent() -> None:
    result = run(WORKED_INVOICE, D("92240.00"))
    assert found(result) == [("consumption_error", D("280.00")), ("unapplied_credit", D("4414.08"))]
    assert (result.expected_total, result.invoiced_total) == (D("87545.92"), D("92240.00"))
    assert result.difference == D("4694.08") == sum(d.amount for d in result.discrepancies)
    assert result.sums_by_class["consumption_error"] == D("280.00")
    assert result.sums_by_class["unapplied_credit"] == D("4414.08")
    assert result.sums_by_class["rate_error"] == D("0.00")
    assert result.status == "discrepancies"
    arc = result.discrepancies[0]
    assert (arc.item_code, arc.line_number, arc.expected, arc.invoiced) == (
        "SRV-WIN",
        2,
        "14",
        "16",
    )
    assert arc.direction == "over_billed"
    assert "(billed 16 − measured 14) × rate 140.00 = 2240.00 − 1960.00 = 280.00" == arc.formula


def test_an_invoice_that_matches_is_matched() -> None:
    lines = [
        *WORKED_INVOICE[:1],
        InvoiceLine(2, "SRV-WIN", "arc", D("1960.00"), D(14), D("140.00")),
    ]
    lines += [WORKED_INVOICE[2], InvoiceLine(4, "AVAIL-CORE", "credit", D("-4414.08"))]
    result = run(lines, D("87545.92"))
    assert result.discrepancies == [] and result.status == "matched"


def test_rate_error_when_the_unit_price_is_not_the_price_book() -> None:
    lines = [
        InvoiceLine(1, "SRV-WIN", "base", D("31000.00"), D(200), D("155.00")),
        *WORKED_INVOICE[1:],
        InvoiceLine(4, "AVAIL-CORE", "credit", D("-4414.08")),
    ]
    assert found(run(lines)) == [("rate_error", D("1000.00")), ("consumption_error", D("280.00"))]


def test_computation_error_when_amount_is_not_quantity_times_price_and_in_the_total() -> None:
    lines = [
        InvoiceLine(1, "SRV-WIN", "base", D("30000.00"), D(200), D("150.00")),
        InvoiceLine(2, "SRV-WIN", "arc", D("1690.00"), D(14), D("140.00")),  # 1960 mistyped
        WORKED_INVOICE[2],
        InvoiceLine(4, "AVAIL-CORE", "credit", D("-4414.08")),
    ]
    result = run(lines, D("87375.92"))  # the total adds up to 87,275.92: 100.00 too much
    assert found(result) == [
        ("computation_error", D("-270.00")),  # under-billed by the typo
        ("computation_error", D("100.00")),
    ]
    assert result.discrepancies[0].line_number == 2
    assert result.discrepancies[1].line_number is None
    assert result.sums_by_class["computation_error"] == D("-170.00") == result.difference


def test_missing_credit_and_over_applied_credit_are_unapplied_credit_both_ways() -> None:
    over = [*WORKED_INVOICE[:1], InvoiceLine(2, "SRV-WIN", "arc", D("1960.00"), D(14), D("140.00"))]
    over += [WORKED_INVOICE[2], InvoiceLine(4, "AVAIL-CORE", "credit", D("-5000.00"))]
    [d] = run(over).discrepancies
    assert (d.discrepancy_class, d.amount, d.direction) == (
        DiscrepancyClass.UNAPPLIED_CREDIT,
        D("-585.92"),
        "under_billed",
    )


def test_unapplied_rebate() -> None:
    expected = [
        EXPECTED[0],
        ExpectedLine(LineKind.REBATE, "REBATE", D(1), D("1678.40"), D("-1678.40"), "rebate"),
    ]
    [d] = run([WORKED_INVOICE[0]], expected=expected).discrepancies
    assert (d.discrepancy_class, d.amount) == (DiscrepancyClass.UNAPPLIED_REBATE, D("1678.40"))
    # Any item code on a rebate line counts toward the rebate.
    assert (
        run(
            [WORKED_INVOICE[0], InvoiceLine(2, "VOL-REBATE-Q1", "rebate", D("-1678.40"))],
            expected=expected,
        ).discrepancies
        == []
    )


def test_duplicate_line_is_its_whole_amount_and_the_rest_still_matches() -> None:
    lines = [*WORKED_INVOICE, InvoiceLine(4, "TCK-L1", "base", D("60000.00"), D(5000), D("12.00"))]
    assert found(run(lines)) == [
        ("duplicate_line", D("60000.00")),
        ("consumption_error", D("280.00")),
        ("unapplied_credit", D("4414.08")),
    ]
    # Itemised lines that differ by description are not duplicates.
    itemised = [
        InvoiceLine(1, "SRV-WIN", "base", D("15000.00"), D(100), D("150.00"), "site A"),
        InvoiceLine(2, "SRV-WIN", "base", D("15000.00"), D(100), D("150.00"), "site B"),
    ]
    assert run(itemised, expected=[EXPECTED[0]]).discrepancies == []


def test_unknown_items_other_lines_and_credits_for_unknown_slas() -> None:
    lines = [
        WORKED_INVOICE[0],
        InvoiceLine(2, "SRV-LINUX", "base", D("500.00"), D(5), D("100.00")),
        InvoiceLine(3, "TRAVEL", "other", D("120.00")),
        InvoiceLine(4, "AVAIL-EDGE", "credit", D("-10.00")),
    ]
    assert found(run(lines, expected=[EXPECTED[0]])) == [
        ("unknown_item", D("500.00")),
        ("unknown_item", D("120.00")),
        ("unknown_item", D("-10.00")),
    ]


def test_out_of_period_line_and_period_outside_the_term() -> None:
    lines = [
        WORKED_INVOICE[0],
        InvoiceLine(2, "SRV-WIN", "arc", D("280.00"), D(2), D("140.00"), period_label="2026-02"),
    ]
    assert found(run(lines, expected=[EXPECTED[0]])) == [("out_of_period", D("280.00"))]
    outside = run([WORKED_INVOICE[0]], expected=[], periods_in_term=set())
    assert found(outside) == [("out_of_period", D("30000.00"))]


def test_rrc_owed_but_not_on_the_invoice_is_over_billing() -> None:
    expected = [
        EXPECTED[0],
        ExpectedLine(LineKind.RRC, "SRV-WIN", D(20), D("120.00"), D("-2400.00"), "SRV-WIN RRC"),
    ]
    [d] = run([WORKED_INVOICE[0]], expected=expected).discrepancies
    assert (d.discrepancy_class, d.amount) == (DiscrepancyClass.CONSUMPTION_ERROR, D("2400.00"))
    # billed at 18 instead of 20: 2 × 120 too little credited → over-billed 240.00
    short = [WORKED_INVOICE[0], InvoiceLine(2, "SRV-WIN", "rrc", D("-2160.00"), D(18), D("120.00"))]
    [d] = run(short, expected=expected).discrepancies
    assert (d.discrepancy_class, d.amount, d.invoiced, d.expected) == (
        DiscrepancyClass.CONSUMPTION_ERROR,
        D("240.00"),
        "18",
        "20",
    )


def test_under_billed_arc_is_supplier_leakage() -> None:
    lines = [
        *WORKED_INVOICE[:1],
        WORKED_INVOICE[2],
        InvoiceLine(4, "AVAIL-CORE", "credit", D("-4414.08")),
    ]
    [d] = run(lines).discrepancies
    assert (d.discrepancy_class, d.amount, d.direction) == (
        DiscrepancyClass.CONSUMPTION_ERROR,
        D("-1960.00"),
        "under_billed",
    )


@pytest.mark.parametrize(
    "tolerance, expected",
    [
        (D("0.00"), [("rate_error", D("0.50"))]),
        (D("0.50"), []),
        (D("0.49"), [("rate_error", D("0.50"))]),
    ],
)
def test_differences_within_the_tolerance_are_not_discrepancies(
    tolerance: Decimal, expected: list[tuple[str, Decimal]]
) -> None:
    lines = [InvoiceLine(1, "TCK-L1", "base", D("60000.50"), D(5000), D("12.0001"))]
    assert found(run(lines, expected=[EXPECTED[1]], tolerance=tolerance)) == expected


# Properties ------------------------------------------------------------------------------


@st.composite
def invoices(draw: st.DrawFn) -> list[InvoiceLine]:
    """Invoices an ERP could send: right and wrong quantities, prices, amounts, repeats,
    lines of another period, unknown items, credits and rebates."""
    lines = []
    for n in range(1, draw(st.integers(0, 12)) + 1):
        kind = draw(st.sampled_from(["base", "arc", "rrc", "credit", "rebate", "other"]))
        item = draw(st.sampled_from(["SRV-WIN", "TCK-L1", "AVAIL-CORE", "NOPE"]))
        quantity = D(draw(st.integers(0, 6000)))
        price = draw(st.sampled_from([D("150.00"), D("140.00"), D("12.00"), D("9.99")]))
        amount = quantity * price * (-1 if kind in ("rrc", "credit", "rebate") else 1)
        amount += D(draw(st.sampled_from([0, 0, 0, 1, -5]))) / 100  # a computation slip
        period = draw(st.sampled_from([None, None, "2026-03", "2026-02"]))
        lines.append(InvoiceLine(n, item, kind, amount, quantity, price, "", period))
        if draw(st.booleans()) and n % 4 == 0:
            lines.append(lines[-1]._replace(line_number=n + 100))  # a repeated line
    return lines


@settings(max_examples=300, deadline=None)
@given(invoices(), st.integers(-3, 3))
def test_the_classes_add_up_to_invoiced_minus_expected(lines: list[InvoiceLine], slip: int) -> None:
    total = sum((ln.amount for ln in lines), D(0)) + D(slip)
    result = run(lines, total)
    assert sum(result.sums_by_class.values(), D(0)) == result.difference
    assert sum((d.amount for d in result.discrepancies), D(0)) == result.difference


@settings(max_examples=200, deadline=None)
@given(invoices().filter(lambda ls: len(ls) > 1), st.randoms(use_true_random=False))
def test_the_order_of_an_invoices_lines_never_changes_a_class_sum(
    lines: list[InvoiceLine], rnd: random.Random
) -> None:
    shuffled = list(lines)
    rnd.shuffle(shuffled)
    assert run(shuffled).sums_by_class == run(lines).sums_by_class
    assert run(lines) == run(lines)  # deciding again changes nothing
