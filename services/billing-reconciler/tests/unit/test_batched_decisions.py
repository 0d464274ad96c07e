"""Deciding a batch of SLA outcomes and the periods they recompute, without I/O — and the
property that makes batching safe: the outcomes stored, and so the credits settled from
them, do not depend on how the events were split into batches or their order."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_reconciler.charges.domain import monthly_charges
from billing_reconciler.credits.domain import at_risk_amount
from billing_reconciler.credits.outcomes import OutcomeKey, outcome_writes
from billing_reconciler.credits.settlement import OutcomeFact, PeriodCase, settle
from billing_reconciler.periods.recompute import REACH, Recompute, merge, targets_of
from crm_events.schemas.contracts import ContractTerms
from crm_testing import examples

CONTRACT = uuid.UUID("00000000-0000-4000-8000-000000000001")
LEVELS = {"failed": "99.4609", "below_expected": "99.7", "met": "99.95"}


def fact(outcome: str, restatement: int = 0, source: str = "e1") -> OutcomeFact:
    return OutcomeFact(
        outcome=outcome,
        attainment=Decimal(LEVELS[outcome]),
        expected_level=Decimal("99.9"),
        minimum_level=Decimal("99.5"),
        restatement=restatement,
        source_event_id=source,
    )


def key(sla: str = "AVAIL-CORE", period: str = "2026-03") -> OutcomeKey:
    return (CONTRACT, sla, period)


def test_a_close_and_its_restatement_in_one_batch_store_the_restatement() -> None:
    writes = outcome_writes(
        {}, [(key(), fact("met", 0, "close")), (key(), fact("failed", 1, "restated"))]
    )
    assert writes.written == {key(): fact("failed", 1, "restated")}
    assert writes.created_by == {key(): 0}  # the close created the row
    assert writes.changed == [0, 1]


def test_a_close_arriving_after_its_restatement_changes_nothing() -> None:
    stored = {key(): fact("failed", 1, "restated")}
    writes = outcome_writes(stored, [(key(), fact("met", 0, "late close"))])
    assert (writes.written, writes.changed) == ({}, [])


def test_a_redelivered_close_in_the_same_batch_changes_nothing_more() -> None:
    close = (key(), fact("failed", 0, "close"))
    writes = outcome_writes({}, [close, close])
    assert writes.changed == [0]
    assert writes.written == {key(): fact("failed", 0, "close")}


def test_a_restatement_with_the_same_figures_is_stored_but_changes_nothing() -> None:
    writes = outcome_writes({key(): fact("failed", 0, "close")}, [(key(), fact("failed", 1, "r"))])
    assert writes.written == {key(): fact("failed", 1, "r")}
    assert writes.changed == []


def request(period: str, sla: str = "", *, create: bool = True, cascade: bool = True) -> Recompute:
    async def emit(*args: Any, **kwargs: Any) -> Any:
        return None

    cause = f"{sla or 'x'}@{period}"
    return Recompute(
        contract_id=CONTRACT,
        period_label=period,
        trigger="sla_period_closed",
        cause=cause,
        emit=emit,
        create=create,
        cascade=cascade,
        causes={sla: (emit, cause)} if sla else {},
    )


def test_five_closes_of_a_month_are_one_recompute_caused_by_the_last() -> None:
    closes = [request("2026-03", f"SLA-{i}") for i in range(5)]
    [merged] = merge(closes)
    assert merged.cause == "SLA-4@2026-03" and merged.emit is closes[-1].emit
    # each SLA's credit stays caused by the close that brought its outcome
    assert {sla: cause for sla, (_, cause) in merged.causes.items()} == {
        f"SLA-{i}": f"SLA-{i}@2026-03" for i in range(5)
    }


def test_a_recompute_reaches_the_later_computed_periods_within_reach() -> None:
    computed = {"2026-02", "2026-04", "2026-05", "2027-06"}
    targets = targets_of([request("2026-03")], computed)
    assert list(targets) == ["2026-03", "2026-04", "2026-05"]  # 2027-06 is past REACH
    assert REACH == 12


def test_a_period_recomputed_for_its_own_request_and_another_s_cascade_is_its_own() -> None:
    own = request("2026-05", "B")
    targets = targets_of([request("2026-03", "A"), own], {"2026-04", "2026-05", "2026-06"})
    assert list(targets) == ["2026-03", "2026-04", "2026-05", "2026-06"]
    assert targets["2026-04"].cause == "A@2026-03"
    assert targets["2026-05"] is own and targets["2026-06"] is own


def test_consumption_never_creates_a_period_not_computed_before() -> None:
    assert targets_of([request("2026-03", create=False)], {"2026-01"}) == {}


# The property -----------------------------------------------------------------------------

SLAS = ["AVAIL-CORE", "AVAIL-EDGE", "AVAIL-WEB"]
PERIODS = ["2026-01", "2026-02", "2026-03"]


def three_slas() -> ContractTerms:
    """The worked example's contract with three SLAs whose credits exceed the at-risk
    amount together (the cap shares it: a credit depends on the others' outcomes)."""
    doc = examples.contract_terms().model_dump(mode="json")
    sla = doc["sla_definitions"][0]
    doc["sla_definitions"] = [
        {**sla, "code": code, "allocation_pct": pct, "service_key": code.lower()}
        for code, pct in zip(SLAS, ["40", "50", "60"], strict=True)
    ]
    return ContractTerms.model_validate(doc)


def credits_of(stored: dict[OutcomeKey, OutcomeFact]) -> list[tuple[str, Decimal]]:
    """The credits of 2026-03 settled from the stored outcomes."""
    t = three_slas()
    charges = monthly_charges(
        t.price_book, {"SRV-WIN": Decimal(214), "TCK-L1": Decimal(4700)}, t.currency
    )
    outcomes: dict[str, dict[str, OutcomeFact]] = {}
    for (_, sla, period), f in stored.items():
        outcomes.setdefault(sla, {})[period] = f
    settled = settle(
        PeriodCase(
            terms=t,
            period_label="2026-03",
            charges=charges,
            at_risk_amount=at_risk_amount(charges.total, t.credit_terms.at_risk_pct, t.currency),
            outcomes=outcomes,
        )
    )
    return [(line.sla_code, line.amount) for line in settled.lines]


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[OutcomeKey, OutcomeFact]]:
    """Closes and restatements of a contract's SLA periods (each restatement once, with its
    own figures; a redelivery repeats an event whole)."""
    events = []
    for sla in SLAS:
        for period in PERIODS:
            count = draw(st.integers(0, 3))  # the close and up to two restatements
            for n in range(count):
                outcome = draw(st.sampled_from(sorted(LEVELS)))
                events.append((key(sla, period), fact(outcome, n, f"{sla}/{period}/{n}")))
    redelivered = draw(st.lists(st.sampled_from(events), max_size=3)) if events else []
    return events + redelivered


def in_batches(
    events: Sequence[tuple[OutcomeKey, OutcomeFact]], cuts: Sequence[int]
) -> dict[OutcomeKey, OutcomeFact]:
    """The stored outcomes after handling the events in batches cut at `cuts`."""
    stored: dict[OutcomeKey, OutcomeFact] = {}
    bounds = [0, *sorted({c % (len(events) + 1) for c in cuts}), len(events)]
    for start, end in itertools.pairwise(bounds):
        stored.update(outcome_writes(stored, events[start:end]).written)
    return stored


@settings(max_examples=150, deadline=None)
@given(
    events=histories(),
    cuts=st.lists(st.integers(0, 40), max_size=6),
    order=st.randoms(use_true_random=False),
)
def test_the_credits_do_not_depend_on_batches_or_order(
    events: list[tuple[OutcomeKey, OutcomeFact]], cuts: list[int], order: Any
) -> None:
    one_by_one = in_batches(events, range(len(events) + 1))
    shuffled = list(events)
    order.shuffle(shuffled)
    assert in_batches(shuffled, cuts) == one_by_one == in_batches(events, [])
    assert credits_of(in_batches(shuffled, cuts)) == credits_of(one_by_one)


def test_three_failures_share_the_at_risk_amount_whatever_the_batches() -> None:
    closes = [(key(sla), fact("failed", 0, sla)) for sla in SLAS]
    together = credits_of(in_batches(closes, []))
    assert together == credits_of(in_batches(closes[::-1], [1, 2]))
    # the at-risk amount: 12 % of M 91,960.00, shared by 150 % of allocations
    assert sum(amount for _, amount in together) == Decimal("11035.20")
