"""Pure reconciliation: an invoice, line by line, against what the contract says is owed.

Sign convention: a discrepancy's amount is what the invoice charges beyond what is owed —
positive when the customer is over-billed (dispute risk), negative when under-billed (the
supplier's own leakage). Invoice line amounts are signed as they add up to the total (RRC,
credits and rebates negative).

How a difference is split into classes, per group of invoice lines with the same kind and
item code (A = invoiced amount, q/p = invoiced quantity and unit price, p_e = the rate the
contract says, E = the expected amount, s = −1 for reducing kinds else 1):

    A − E = Σ (A − s·round(q × p))             computation_error (per line)
          + Σ s·(round(q × p) − round(q × p_e)) rate_error (per invoiced unit price)
          + (Σ s·round(q × p_e) − E)             consumption_error (billed quantity ≠ measured)

Credits, earn-back and rebates are compared on amounts (unapplied_credit, unapplied_rebate).
Lines outside the period, repeated lines and lines the contract does not know are taken out
first (out_of_period, duplicate_line, unknown_item) with their whole amount; a stated total
that is not the sum of the lines is a computation_error. With a zero tolerance the classes
add up exactly to invoiced − expected. Differences within the tolerance are not discrepancies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from functools import cache
from typing import NamedTuple

from billing_reconciler.charges.domain import LineKind
from crm_events.types import minor_units


class DiscrepancyClass(StrEnum):
    CONSUMPTION_ERROR = "consumption_error"
    RATE_ERROR = "rate_error"
    COMPUTATION_ERROR = "computation_error"
    UNAPPLIED_CREDIT = "unapplied_credit"
    UNAPPLIED_REBATE = "unapplied_rebate"
    DUPLICATE_LINE = "duplicate_line"
    UNKNOWN_ITEM = "unknown_item"
    OUT_OF_PERIOD = "out_of_period"


INVOICE_KINDS = ("base", "arc", "rrc", "credit", "earn_back", "rebate", "other")
QUANTITY_KINDS = ("base", "arc", "rrc")
REDUCING_KINDS = ("rrc", "credit", "rebate")
REBATE_POOL = "*"  # rebate lines are compared in total, whatever their item code


class InvoiceLine(NamedTuple):
    # A tuple, not a frozen dataclass: invoices have tens of thousands of lines.
    line_number: int
    item_code: str
    kind: str
    amount: Decimal
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    description: str = ""
    period_label: str | None = None


@dataclass(frozen=True)
class ExpectedLine:
    kind: LineKind
    item_code: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal  # signed: RRC, credits and rebates negative
    clause: str = ""
    formula: str = ""
    source_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Discrepancy:
    discrepancy_class: DiscrepancyClass
    amount: Decimal
    item_code: str | None
    line_number: int | None
    expected: str | None
    invoiced: str | None
    explanation: str
    formula: str
    clause: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    source_ids: tuple[str, ...] = ()

    @property
    def direction(self) -> str:
        return "over_billed" if self.amount > 0 else "under_billed"


@dataclass(frozen=True)
class Reconciliation:
    expected_total: Decimal
    invoiced_total: Decimal
    lines_total: Decimal
    discrepancies: list[Discrepancy]
    sums_by_class: dict[str, Decimal]

    @property
    def difference(self) -> Decimal:
        return self.invoiced_total - self.expected_total

    @property
    def status(self) -> str:
        return "discrepancies" if self.discrepancies else "matched"


@cache
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """crm_events.types.round_money (half-even to the minor unit), with the quantum cached:
    it runs for every line of every invoice."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_EVEN)


def _s(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def _numbers(lines: Sequence[InvoiceLine], limit: int = 20) -> str:
    """'line 2' or 'lines 2, 5 and 40 more'."""
    shown = ", ".join(str(ln.line_number) for ln in lines[:limit])
    more = f" and {len(lines) - limit} more" if len(lines) > limit else ""
    return f"{'line' if len(lines) == 1 else 'lines'} {shown}{more}"


@dataclass
class _Builder:
    tolerance: Decimal
    found: list[Discrepancy] = field(default_factory=list)

    def add(self, d: Discrepancy) -> None:
        if d.amount != 0 and abs(d.amount) > self.tolerance:
            self.found.append(d)


def reconcile(
    *,
    period_label: str,
    lines: Sequence[InvoiceLine],
    stated_total: Decimal,
    expected: Sequence[ExpectedLine],
    reference_rates: Mapping[tuple[str, str], Decimal],
    sla_codes: Collection[str],
    periods_in_term: Collection[str] | None = None,
    tolerance: Decimal = Decimal(0),
    currency: str,
) -> Reconciliation:
    """Match an invoice against the expected charges of its period.

    `reference_rates` maps (kind, item code) to the price book's rate for base/arc/rrc, so
    lines the contract did not expect are still priced; `sla_codes` are the item codes of
    credit and earn-back lines; a line's period must be the invoice's, and inside the
    contract's term when `periods_in_term` is given.
    """
    out = _Builder(tolerance=tolerance)
    screen = _Screen(
        period_label=period_label,
        periods_in_term=periods_in_term,
        price_items={item for (_, item) in reference_rates},
        sla_codes=sla_codes,
    )
    groups: dict[tuple[str, str], list[InvoiceLine]] = defaultdict(list)
    for line in lines:
        found = screen.take_out(line)
        if found is not None:
            out.add(found)
        else:
            groups[_group_key(line.kind, line.item_code)].append(line)
    expected_by_key: dict[tuple[str, str], list[ExpectedLine]] = defaultdict(list)
    for e in expected:
        expected_by_key[_group_key(e.kind.value, e.item_code)].append(e)
    keys = list(expected_by_key) + [k for k in groups if k not in expected_by_key]
    for key in keys:
        _match_group(
            out, key, groups.get(key, []), expected_by_key.get(key, []), reference_rates, currency
        )
    lines_total = sum((line.amount for line in lines), Decimal(0))
    if stated_total != lines_total:
        out.add(_total_mismatch(stated_total, lines_total))
    sums = {c.value: Decimal(0) for c in DiscrepancyClass}
    for d in out.found:
        sums[d.discrepancy_class.value] += d.amount
    return Reconciliation(
        expected_total=round_money(sum((e.amount for e in expected), Decimal(0)), currency),
        invoiced_total=stated_total,
        lines_total=lines_total,
        discrepancies=out.found,
        sums_by_class={k: round_money(v, currency) for k, v in sums.items()},
    )


def _group_key(kind: str, item_code: str) -> tuple[str, str]:
    """Lines are matched per kind and item; rebates in total, whatever their item code."""
    return ("rebate", REBATE_POOL) if kind == "rebate" else (kind, item_code)


@dataclass
class _Screen:
    """Takes out, with their whole amount, the lines that are not owed at all: outside the
    period, repeated, or for something the contract does not know."""

    period_label: str
    periods_in_term: Collection[str] | None
    price_items: set[str]
    sla_codes: Collection[str]
    seen: dict[tuple[object, ...], int] = field(default_factory=dict)

    def take_out(self, line: InvoiceLine) -> Discrepancy | None:
        period = line.period_label or self.period_label
        if period != self.period_label or (
            self.periods_in_term is not None and period not in self.periods_in_term
        ):
            return self._out_of_period(line, period)
        signature = (
            line.item_code,
            line.kind,
            line.quantity,
            line.unit_price,
            line.amount,
            line.description,
            period,
        )
        first = self.seen.get(signature)
        if first is not None:
            return _duplicate(line, first)
        self.seen[signature] = line.line_number
        return None if self._known(line) else _unknown(line)

    def _known(self, line: InvoiceLine) -> bool:
        return (
            (line.kind in QUANTITY_KINDS and line.item_code in self.price_items)
            or (line.kind in ("credit", "earn_back") and line.item_code in self.sla_codes)
            or line.kind == "rebate"
        )

    def _out_of_period(self, line: InvoiceLine, period: str) -> Discrepancy:
        why = (
            f"billed for {period}, on the invoice of {self.period_label}"
            if period != self.period_label
            else f"{period} is outside the contract's term"
        )
        return Discrepancy(
            DiscrepancyClass.OUT_OF_PERIOD,
            line.amount,
            line.item_code,
            line.line_number,
            expected="0",
            invoiced=_s(line.amount),
            explanation=f"line {line.line_number} ({line.kind} {line.item_code}) {why}: "
            f"not owed in this period",
            formula=f"invoiced {_s(line.amount)} − owed in {self.period_label} 0 = "
            f"{_s(line.amount)}",
            inputs={"line_period": period, "invoice_period": self.period_label},
        )


def _duplicate(line: InvoiceLine, first: int) -> Discrepancy:
    return Discrepancy(
        DiscrepancyClass.DUPLICATE_LINE,
        line.amount,
        line.item_code,
        line.line_number,
        expected="0",
        invoiced=_s(line.amount),
        explanation=f"line {line.line_number} repeats line {first} exactly "
        f"({line.kind} {line.item_code}, {_s(line.quantity)} × "
        f"{_s(line.unit_price)} = {_s(line.amount)})",
        formula=f"duplicate amount {_s(line.amount)}",
        inputs={"duplicate_of_line": str(first)},
    )


def _unknown(line: InvoiceLine) -> Discrepancy:
    what = (
        "an SLA code of the contract"
        if line.kind in ("credit", "earn_back")
        else "in the contract's price book"
        if line.kind in QUANTITY_KINDS
        else "something the contract charges for"
    )
    return Discrepancy(
        DiscrepancyClass.UNKNOWN_ITEM,
        line.amount,
        line.item_code,
        line.line_number,
        expected="0",
        invoiced=_s(line.amount),
        explanation=f"line {line.line_number}: {line.kind} item {line.item_code!r} is not {what}",
        formula=f"invoiced {_s(line.amount)} − owed 0 = {_s(line.amount)}",
    )


def _total_mismatch(stated_total: Decimal, lines_total: Decimal) -> Discrepancy:
    """A stated total that is not the sum of the lines."""
    diff = stated_total - lines_total
    return Discrepancy(
        DiscrepancyClass.COMPUTATION_ERROR,
        diff,
        None,
        None,
        expected=_s(lines_total),
        invoiced=_s(stated_total),
        explanation=f"the invoice total {_s(stated_total)} is not the sum of its lines "
        f"{_s(lines_total)}",
        formula=f"stated total {_s(stated_total)} − sum of lines {_s(lines_total)} = {_s(diff)}",
    )


@dataclass(frozen=True)
class _Group:
    """One kind and item: the invoice's lines and what the contract expects."""

    kind: str
    item: str
    lines: Sequence[InvoiceLine]
    expected: Sequence[ExpectedLine]
    currency: str

    @property
    def sign(self) -> Decimal:
        return Decimal(-1) if self.kind in REDUCING_KINDS else Decimal(1)

    @property
    def expected_amount(self) -> Decimal:
        return sum((e.amount for e in self.expected), Decimal(0))

    @property
    def clause(self) -> str:
        return "; ".join(e.clause for e in self.expected if e.clause)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(s for e in self.expected for s in e.source_ids)

    @property
    def item_code(self) -> str | None:
        return None if self.item == REBATE_POOL else self.item

    @property
    def expected_formula(self) -> str:
        return "; ".join(e.formula for e in self.expected if e.formula)


def _match_group(
    out: _Builder,
    key: tuple[str, str],
    lines: Sequence[InvoiceLine],
    expected: Sequence[ExpectedLine],
    reference_rates: Mapping[tuple[str, str], Decimal],
    currency: str,
) -> None:
    g = _Group(key[0], key[1], lines, expected, currency)
    priced = [(line, _extended(g, line)) for line in lines]
    for line, extended in priced:
        if line.amount != extended:  # most lines are right: build nothing for them
            out.add(_computation_error(g, line, extended))
    if g.kind in ("credit", "earn_back", "rebate"):
        out.add(_unapplied(g, priced))
        return
    # base, arc, rrc: quantities and rates.
    rate = g.expected[0].rate if g.expected else reference_rates[(g.kind, g.item)]
    by_price: dict[Decimal | None, list[tuple[InvoiceLine, Decimal]]] = defaultdict(list)
    for line, extended in priced:
        by_price[line.unit_price].append((line, extended))
    at_contract_rate = Decimal(0)
    for unit_price, group in by_price.items():
        at_rate, mispriced = _at_contract_rate(g, unit_price, group, rate)
        at_contract_rate += at_rate
        if mispriced is not None:
            out.add(mispriced)
    out.add(_consumption_error(g, rate, at_contract_rate))


def _extended(g: _Group, line: InvoiceLine) -> Decimal:
    """quantity × unit price, signed and rounded (the amount when either is missing)."""
    if line.quantity is None or line.unit_price is None:
        return line.amount
    return g.sign * round_money(line.quantity * line.unit_price, g.currency)


def _computation_error(g: _Group, line: InvoiceLine, extended: Decimal) -> Discrepancy:
    """The line's amount is not quantity × unit price."""
    diff = line.amount - extended
    return Discrepancy(
        DiscrepancyClass.COMPUTATION_ERROR,
        diff,
        line.item_code,
        line.line_number,
        expected=_s(extended),
        invoiced=_s(line.amount),
        explanation=f"line {line.line_number}: amount {_s(line.amount)} is not "
        f"quantity {_s(line.quantity)} × unit price {_s(line.unit_price)} = "
        f"{_s(abs(extended))}",
        formula=f"{_s(line.amount)} − {_s(extended)} = {_s(diff)}",
        clause=g.clause,
        inputs={
            "quantity": _s(line.quantity),
            "unit_price": _s(line.unit_price),
            "amount": _s(line.amount),
        },
    )


def _unapplied(g: _Group, priced: Sequence[tuple[InvoiceLine, Decimal]]) -> Discrepancy:
    """Credits, earn-back and rebates are compared on amounts."""
    invoiced = round_money(sum((amount for _, amount in priced), Decimal(0)), g.currency)
    expected_amount = round_money(g.expected_amount, g.currency)
    diff = invoiced - expected_amount
    cls = (
        DiscrepancyClass.UNAPPLIED_REBATE
        if g.kind == "rebate"
        else DiscrepancyClass.UNAPPLIED_CREDIT
    )
    what = {"credit": "service credit", "earn_back": "earn-back", "rebate": "rebate"}[g.kind]
    for_item = f" for {g.item}" if g.item_code else ""
    if not g.lines:
        story = f"the {what}{for_item} of {_s(abs(expected_amount))} is not on the invoice"
    elif not g.expected:
        story = f"the invoice applies a {what}{for_item} of {_s(abs(invoiced))} that is not due"
    else:
        story = (
            f"the invoice applies {_s(abs(invoiced))} as {what}{for_item} "
            f"({_numbers(g.lines)}); the contract says {_s(abs(expected_amount))}"
        )
    return Discrepancy(
        cls,
        diff,
        g.item_code,
        g.lines[0].line_number if g.lines else None,
        expected=_s(expected_amount),
        invoiced=_s(invoiced),
        explanation=story,
        formula=f"invoiced {_s(invoiced)} − due {_s(expected_amount)} = {_s(diff)}",
        clause=g.clause,
        inputs={"expected_formula": g.expected_formula},
        source_ids=g.sources,
    )


def _at_contract_rate(
    g: _Group,
    unit_price: Decimal | None,
    group: Sequence[tuple[InvoiceLine, Decimal]],
    rate: Decimal,
) -> tuple[Decimal, Discrepancy | None]:
    """Lines billed at one unit price, repriced at the contract's rate; a rate_error when
    the unit price is not the rate."""
    group_lines = [ln for ln, _ in group]
    extended_total = sum((x for _, x in group), Decimal(0))
    if unit_price is not None and unit_price == rate:
        return extended_total, None  # the same products, already rounded line by line
    at_rate = sum(
        (
            g.sign * round_money((ln.quantity or Decimal(0)) * rate, g.currency)
            for ln in group_lines
        ),
        Decimal(0),
    )
    if unit_price is None:
        return at_rate, None
    quantity = sum((ln.quantity or Decimal(0) for ln in group_lines), Decimal(0))
    diff = extended_total - at_rate
    return at_rate, Discrepancy(
        DiscrepancyClass.RATE_ERROR,
        diff,
        g.item,
        group_lines[0].line_number,
        expected=_s(rate),
        invoiced=_s(unit_price),
        explanation=f"{g.kind} {g.item}: unit price {_s(unit_price)} "
        f"({_numbers(group_lines)}), the contract's rate is {_s(rate)}",
        formula=f"quantity {_s(quantity)} × ({_s(unit_price)} − {_s(rate)}) = "
        f"{_s(extended_total)} − {_s(at_rate)} = {_s(diff)}",
        clause=g.clause,
        inputs={
            "invoiced_unit_price": _s(unit_price),
            "contract_rate": _s(rate),
            "quantity": _s(quantity),
        },
        source_ids=g.sources,
    )


def _consumption_error(g: _Group, rate: Decimal, at_contract_rate: Decimal) -> Discrepancy:
    """What is left once every line is at the contract's rate: the billed quantity is not
    the measured (or contracted) one."""
    exp = g.expected[0] if g.expected else None
    billed_quantity = sum((ln.quantity or Decimal(0) for ln in g.lines), Decimal(0))
    diff = at_contract_rate - g.expected_amount
    expected_quantity = exp.quantity if exp is not None else Decimal(0)
    measured = "contracted baseline" if g.kind == "base" else "measured"
    kind, item = g.kind, g.item
    if not g.lines:
        story = (
            f"{kind} {item} of {_s(expected_quantity)} × {_s(rate)} = "
            f"{_s(abs(g.expected_amount))} is owed and not on the invoice"
        )
    elif exp is None:
        story = (
            f"{kind} {item}: the invoice bills quantity {_s(billed_quantity)} "
            f"({_numbers(g.lines)}); the measured consumption gives no {kind}"
        )
    else:
        story = (
            f"{kind} {item}: billed quantity {_s(billed_quantity)} ({_numbers(g.lines)}), "
            f"{measured} {_s(expected_quantity)}"
        )
    return Discrepancy(
        DiscrepancyClass.CONSUMPTION_ERROR,
        diff,
        item,
        g.lines[0].line_number if g.lines else None,
        expected=_s(expected_quantity),
        invoiced=_s(billed_quantity),
        explanation=story,
        formula=f"(billed {_s(billed_quantity)} − {measured} {_s(expected_quantity)}) × "
        f"rate {_s(rate)} = {_s(at_contract_rate)} − {_s(g.expected_amount)} = {_s(diff)}",
        clause=g.clause,
        inputs={
            "billed_quantity": _s(billed_quantity),
            "expected_quantity": _s(expected_quantity),
            "rate": _s(rate),
            "expected_formula": g.expected_formula,
        },
        source_ids=g.sources,
    )
