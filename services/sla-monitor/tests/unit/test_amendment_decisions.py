"""Which closed periods an amendment restates, why, and what counts as a change (pure)."""

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from crm_events.schemas.contracts import ContractTerms, MaintenanceWindows, SlaDefinition
from crm_events.schemas.sla import Outcome
from crm_testing import examples
from sla_monitor.attainment.amendments import ClosedPeriod, amendment_reason, governed
from sla_monitor.attainment.compute import published_key
from sla_monitor.attainment.restatement import restated_event, within_window

CID = uuid.UUID("00000000-0000-0000-0000-00000000000a")
V1 = examples.contract_terms(contract_id=CID)
AVAIL = V1.sla_definitions[0]


def version(number: int, effective: date, *slas: SlaDefinition, **changes: Any) -> ContractTerms:
    return V1.model_copy(
        update={
            "version": number,
            "effective_from": effective,
            "sla_definitions": list(slas) if slas else V1.sla_definitions,
            **changes,
        }
    )


def lowered(**changes: Any) -> SlaDefinition:
    return AVAIL.model_copy(
        update={"expected_level": Decimal("99.4"), "minimum_level": Decimal("99.0"), **changes}
    )


def closed(*labels: str) -> list[ClosedPeriod]:
    return [ClosedPeriod(AVAIL.code, label, 1) for label in labels]


def labels(found: list[Any]) -> list[str]:
    return [g.closed.label for g in found]


def test_an_amendment_effective_at_the_start_governs_every_closed_period() -> None:
    v2 = version(2, date(2026, 1, 1), lowered())
    found = governed(v2, [V1, v2], closed("2026-03", "2026-01"))
    assert labels(found) == ["2026-01", "2026-03"]
    assert all(g.ref is not None and g.ref.terms is v2 for g in found)
    assert found[1].ref is not None and found[1].ref.sla.expected_level == Decimal("99.4")


def test_an_amendment_effective_after_a_period_leaves_it_to_the_earlier_version() -> None:
    v2 = version(2, date(2026, 4, 1), lowered())
    assert labels(governed(v2, [V1, v2], closed("2026-03", "2026-04"))) == ["2026-04"]
    # Effective in the middle of March: March is read with the terms of its first day.
    v2_mid = version(2, date(2026, 3, 15), lowered())
    assert labels(governed(v2_mid, [V1, v2_mid], closed("2026-03"))) == []


def test_a_version_arriving_after_a_later_one_governs_only_what_that_one_leaves() -> None:
    v2 = version(2, date(2026, 1, 1), lowered())
    v3 = version(3, date(2026, 2, 1))
    assert labels(governed(v2, [V1, v2, v3], closed("2026-01", "2026-03"))) == ["2026-01"]


def test_a_dropped_or_requartered_sla_is_governed_but_not_measured() -> None:
    dropped = version(2, date(2026, 1, 1), AVAIL.model_copy(update={"code": "AVAIL-EDGE"}))
    [g] = governed(dropped, [V1, dropped], closed("2026-03"))
    assert g.ref is None
    quarterly = version(
        2, date(2026, 1, 1), AVAIL.model_copy(update={"measurement_period": "quarter"})
    )
    [g] = governed(quarterly, [V1, quarterly], closed("2026-03"))
    assert g.ref is None


def test_the_reason_names_the_amendment_and_what_it_changed_for_the_sla() -> None:
    v2 = version(2, date(2026, 1, 1), lowered())
    assert amendment_reason(v2, V1, AVAIL.code) == (
        "contract amended to version 2 (effective 2026-01-01): "
        "expected_level 99.9 → 99.4, minimum_level 99.5 → 99.0"
    )
    # The agreed window dropped, a holiday added: named, not spelled out.
    windowed = version(
        3,
        date(2026, 1, 1),
        AVAIL.model_copy(update={"maintenance_windows": MaintenanceWindows()}),
        holidays=[date(2026, 3, 16)],
    )
    assert amendment_reason(windowed, V1, AVAIL.code) == (
        "contract amended to version 3 (effective 2026-01-01): "
        "maintenance_windows changed, holidays changed"
    )
    assert amendment_reason(version(2, date(2026, 1, 1)), V1, AVAIL.code).endswith(
        "the terms of AVAIL-CORE did not change"
    )
    assert amendment_reason(v2, None, AVAIL.code).endswith("AVAIL-CORE as version 2 defines it")


def test_lowered_levels_are_a_change_even_with_the_same_attainment_and_outcome() -> None:
    march = examples.period_closed(CID, outcome="met")
    relaxed = march.model_copy(update={"expected_level": Decimal("99.4")})
    assert published_key(relaxed) != published_key(march)
    # A new contract version alone changes nothing a consumer acts on.
    assert published_key(march.model_copy(update={"contract_version": 2})) == published_key(march)


def test_the_restatement_carries_the_levels_and_version_it_replaces() -> None:
    before = examples.period_closed(CID, outcome="failed")
    after = before.model_copy(
        update={
            "outcome": Outcome.MET,
            "expected_level": Decimal("99.4"),
            "minimum_level": Decimal("99.0"),
            "contract_version": 2,
        }
    )
    event = restated_event(before, after, 1, "contract amended to version 2 (…)")
    assert (event.outcome, event.expected_level, event.contract_version) == (
        "met",
        Decimal("99.4"),
        2,
    )
    previous = event.previous
    assert (previous.outcome, previous.attainment) == ("failed", Decimal("99.4609"))
    assert (previous.expected_level, previous.minimum_level, previous.contract_version) == (
        Decimal("99.9"),
        Decimal("99.5"),
        1,
    )


def test_the_window_is_counted_from_the_close() -> None:
    closed_at = examples.march_close_time()
    assert within_window(closed_at, closed_at.replace(month=7, day=3), 90)
    assert not within_window(closed_at, closed_at.replace(month=7, day=10), 90)
