from typing import Any

from contract_registry.contracts.validation import validate_for_activation
from crm_events.schemas.contracts import ContractDocument


def _doc(**changes: Any) -> ContractDocument:
    base: dict[str, Any] = {
        "reference": "R-1",
        "customer": "Acme",
        "supplier": "Globex",
        "currency": "USD",
        "timezone": "America/New_York",
        "start_date": "2026-01-01",
        "price_book": [
            {
                "code": "SRV-WIN",
                "unit_price": "150.00",
                "baseline_volume": "200",
                "arc_rate": "140.00",
                "rrc_rate": "120.00",
                "deadband_pct": "5",
            }
        ],
        "sla_definitions": [
            {
                "code": "AVAIL-CORE",
                "metric_kind": "availability",
                "service_key": "core",
                "expected_level": "99.9",
                "minimum_level": "99.5",
                "allocation_pct": "40",
            }
        ],
        "credit_terms": {"at_risk_pct": "12", "pool_pct": "100"},
    }
    base.update(changes)
    return ContractDocument.model_validate(base)


def test_a_sound_contract_has_no_problems() -> None:
    assert validate_for_activation(_doc()) == []


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    sla = {
        "code": "AVAIL-CORE",
        "metric_kind": "availability",
        "service_key": " ",
        "expected_level": "99.5",
        "minimum_level": "99.9",
        "allocation_pct": "150",
    }
    problems = validate_for_activation(
        _doc(currency="XXY", timezone="Mars/Olympus", sla_definitions=[sla])
    )
    locs = {p.loc for p in problems}
    assert locs == {
        "currency",
        "timezone",
        "sla_definitions[0].service_key",
        "sla_definitions[0].minimum_level",
        "sla_definitions",
    }
    pool = next(p for p in problems if p.loc == "sla_definitions")
    assert "150" in pool.message and "pool of 100%" in pool.message


def test_overlapping_band_rates_are_refused() -> None:
    unit = {
        "code": "SRV",
        "unit_price": "1",
        "baseline_volume": "10",
        "arc_rate": "1",
        "rrc_rate": "1",
        "band_rates": [{"from_pct": "80", "to_pct": "110"}, {"from_pct": "100", "to_pct": "120"}],
    }
    problems = validate_for_activation(_doc(price_book=[unit]))
    assert [p.loc for p in problems] == ["price_book[0].band_rates[1]"]
