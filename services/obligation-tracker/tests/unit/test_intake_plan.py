"""The decisions of a run of consumed events (intake.plan), on an in-memory store that writes
what the plans say: a run decided in one go leaves what the events handled one at a time
leave, whatever the run's split, and each contract's outcome does not depend on how its
events interleave with another contract's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tracker_events import (
    Rule,
    at_risk,
    breached,
    discrepancy,
    restated,
    volume_band_exceeded,
)

import crm_testing.examples as examples
from obligation_tracker.alerts.plan import AlertState, Incoming
from obligation_tracker.intake.plan import (
    IntakePlan,
    Loaded,
    alert_keys,
    decide,
    wanted_follow_ups,
)
from obligation_tracker.obligations.followups import GATHERING_KINDS, FollowUpTerms, OpenFollowUp
from obligation_tracker.settings import Settings

SETTINGS = Settings()
CONTRACTS = [uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)]
TERMS = {c: FollowUpTerms.of(examples.contract_terms(contract_id=c)) for c in CONTRACTS}
INVOICES = [uuid.UUID(int=100), uuid.UUID(int=101)]
T0 = datetime(2026, 4, 4, 12, tzinfo=UTC)


RULES = [
    Rule("sla.breached"),
    Rule("sla.period_closed", min_severity="high"),
    Rule("sla.period_restated", min_severity="high"),
    Rule("billing.credit_calculated"),
    Rule("sla.at_risk", min_severity="medium"),
    Rule("reconciliation.discrepancy_found"),
    Rule("billing.volume_band_exceeded"),
    # The third contract hears nothing of its breaches.
    Rule("sla.breached", contract_id=CONTRACTS[2], enabled=False),
    Rule("sla.period_closed", contract_id=CONTRACTS[2], enabled=False),
]


@dataclass
class Store:
    """What the database holds, keyed by deduplication key (ids are the plans' own)."""

    terms: dict[uuid.UUID, FollowUpTerms] = field(default_factory=lambda: dict(TERMS))
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    obligations: dict[str, dict[str, Any]] = field(default_factory=dict)
    periods: dict[tuple[uuid.UUID, str, str], dict[str, Any]] = field(default_factory=dict)
    published: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def take_in(self, incoming: list[Incoming]) -> IntakePlan:
        wanted = wanted_follow_ups(incoming, self.terms, SETTINGS)
        keys = alert_keys(incoming)
        gathering = [
            OpenFollowUp(o["id"], o["contract_id"], o["kind"], o["details"], o["updated_at"])
            for o in self.obligations.values()
            if o["kind"] in GATHERING_KINDS and o["status"] == "open"
        ]
        loaded = Loaded(
            terms=self.terms,
            alerts={
                k: AlertState(a["id"], a["details"], a["occurrences"], a["event_types"], None)
                for k, a in self.alerts.items()
                if k in keys
            },
            rules=RULES,
            open_follow_ups=gathering,
            taken_keys=frozenset(
                k for _, f, _ in wanted if (k := f.new.dedup_key) in self.obligations
            ),
        )
        plan = decide(incoming, wanted, loaded)
        self.apply(plan, incoming)
        return plan

    def apply(self, plan: IntakePlan, incoming: list[Incoming]) -> None:
        for state in plan.alerts.raised:
            assert state.new_row is not None
            self.alerts[state.new_row["dedup_key"]] = dict(state.new_row)
        by_id = {a["id"]: a for a in self.alerts.values()}
        for state in plan.alerts.completed:
            by_id[state.id].update(
                details=state.details,
                occurrences=state.occurrences,
                event_types=state.event_types,
                updated_at=state.updated_at,
            )
        for opened in plan.follow_ups.opened:
            self.obligations[opened.new.dedup_key] = {
                "id": opened.id,
                "contract_id": opened.new.contract_id,
                "kind": opened.new.kind,
                "status": "open",
                "details": opened.state.details,
                "updated_at": opened.state.updated_at,
                "source_event_id": opened.new.source_event_id,
            }
        obligations = {o["id"]: o for o in self.obligations.values()}
        for gathered in plan.follow_ups.gathered:
            obligations[gathered.id].update(
                details=gathered.details, updated_at=gathered.updated_at
            )
        for fact in plan.period_facts:
            self.periods.setdefault(fact.key, {"tenant_id": fact.tenant_id}).update(fact.values)
        for message in plan.outbound:
            data = message.data.model_dump(mode="json", exclude={"alert_id", "obligation_id"})
            self.published.append((incoming[message.index].event_id, message.event_type, data))

    def without_ids(self) -> tuple[Any, ...]:
        def strip(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
            return {k: {f: v for f, v in r.items() if f != "id"} for k, r in rows.items()}

        return strip(self.alerts), strip(self.obligations), self.periods


def event_of(kind: str, contract_id: uuid.UUID, variant: int, n: int) -> tuple[str, Any]:
    outcomes = ["failed", "below_expected", "met", "no_data"]
    if kind == "closed":
        return "sla.period_closed", examples.period_closed(contract_id, outcome=outcomes[variant])
    if kind == "restated":
        return "sla.period_restated", restated(
            contract_id, outcome=outcomes[variant], attainment=Decimal("99.1") + variant
        )
    if kind == "breached":
        return "sla.breached", breached(contract_id)
    if kind == "at_risk":
        return "sla.at_risk", at_risk(contract_id)
    if kind == "credit":
        return "billing.credit_calculated", examples.credit_calculated(contract_id).model_copy(
            update={"credit_id": uuid.UUID(int=n), "calculated_at": T0}
        )
    if kind == "discrepancy":
        invoice = variant % 2
        return "reconciliation.discrepancy_found", discrepancy(
            contract_id,
            INVOICES[invoice],
            str(10 + n),
            invoice_number=f"INV-{invoice}",
            revision=1 + variant // 2,
        )
    unit = ["SRV-WIN", "TCK-L1"][variant % 2]
    return "billing.volume_band_exceeded", volume_band_exceeded(
        contract_id, resource_unit=unit, period=f"2026-0{2 + variant // 2}"
    )


KINDS = ["closed", "restated", "breached", "at_risk", "credit", "discrepancy", "volume"]
events = st.lists(
    st.tuples(
        st.sampled_from(KINDS), st.integers(0, 2), st.integers(0, 3)
    ),  # kind, contract, variant
    min_size=1,
    max_size=24,
)


def incoming_of(spec: list[tuple[str, int, int]]) -> list[Incoming]:
    out = []
    for n, (kind, contract, variant) in enumerate(spec):
        event_type, payload = event_of(kind, CONTRACTS[contract], variant, n)
        out.append(Incoming(f"e{n}", event_type, "acme-bank", payload, T0 + timedelta(minutes=n)))
    return out


def one_by_one(incoming: list[Incoming]) -> Store:
    store = Store()
    for event in incoming:
        store.take_in([event])
    return store


@settings(max_examples=150, deadline=None)
@given(events, st.lists(st.integers(1, 24), max_size=4))
def test_a_run_split_anyhow_leaves_what_the_events_one_at_a_time_leave(
    spec: list[tuple[str, int, int]], cuts: list[int]
) -> None:
    incoming = incoming_of(spec)
    expected = one_by_one(incoming)
    store = Store()
    bounds = sorted({0, len(incoming), *(c for c in cuts if c < len(incoming))})
    for start, end in pairwise(bounds):
        store.take_in(incoming[start:end])
    assert store.without_ids() == expected.without_ids()
    assert store.published == expected.published


@settings(max_examples=100, deadline=None)
@given(events, st.randoms(use_true_random=False))
def test_a_contracts_outcome_does_not_depend_on_other_contracts_events_around_it(
    spec: list[tuple[str, int, int]], rnd: Any
) -> None:
    incoming = incoming_of(spec)
    # Shuffle the contracts' events together, each contract's own order kept.
    queues = {c: [e for e in incoming if e.payload.contract_id == c] for c in CONTRACTS}
    mixed: list[Incoming] = []
    while any(queues.values()):
        contract = rnd.choice([c for c, q in queues.items() if q])
        mixed.append(queues[contract].pop(0))
    whole, shuffled = Store(), Store()
    whole.take_in(incoming)
    shuffled.take_in(mixed)
    assert shuffled.without_ids() == whole.without_ids()
    assert sorted(shuffled.published, key=str) == sorted(whole.published, key=str)
    for contract in CONTRACTS:
        subject = str(contract)

        def of(store: Store, subject: str = subject) -> list[tuple[str, str, dict[str, Any]]]:
            return [p for p in store.published if p[2]["contract_id"] == subject]

        assert of(shuffled) == of(whole)


def test_one_breach_in_one_run_raises_one_alert_that_its_later_events_complete() -> None:
    cid = CONTRACTS[0]
    incoming = incoming_of(
        [("breached", 0, 0), ("closed", 0, 0), ("closed", 0, 0), ("credit", 0, 0)]
    )
    store = Store()
    plan = store.take_in(incoming)
    [alert] = store.alerts.values()
    assert alert["source_event_id"] == "e0" and alert["occurrences"] == 4
    assert alert["event_types"] == [
        "sla.breached",
        "sla.period_closed",
        "billing.credit_calculated",
    ]
    assert alert["details"]["credit_amount"] == "4414.08" and alert["updated_at"] == T0 + timedelta(
        minutes=3
    )
    [root_cause] = store.obligations.values()
    assert root_cause["source_event_id"] == "e1"
    # The first close opens the report, the second finds it; e0 raised the alert.
    assert [(cause, kind) for cause, kind, _ in store.published] == [
        ("e0", "alert.raised"),
        ("e1", "obligation.created"),
    ]
    assert store.periods[(cid, "AVAIL-CORE", "2026-03")]["credit_amount"] == Decimal("4414.08")
    assert plan.alerts.completed == []  # nothing was stored before the run


def test_discrepancies_of_one_invoice_gather_on_the_dispute_the_run_opens() -> None:
    store = Store()
    store.take_in(
        incoming_of([("discrepancy", 1, 0), ("discrepancy", 1, 0), ("discrepancy", 1, 1)])
    )
    disputes = sorted(store.obligations.values(), key=lambda o: str(o["details"]["invoice_id"]))
    assert [len(d["details"]["discrepancies"]) for d in disputes] == [2, 1]
    assert [kind for _, kind, _ in store.published].count("obligation.created") == 2
