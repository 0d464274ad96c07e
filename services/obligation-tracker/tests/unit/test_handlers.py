from obligation_tracker.handlers import make_handlers
from obligation_tracker.settings import Settings


def test_each_consumed_event_type_has_its_handlers_and_contracts_keep_the_projection() -> None:
    handlers = make_handlers(Settings())
    assert {event_type: len(table) for event_type, table in handlers.items()} == {
        # The shared terms projection, then the recurring obligations.
        "contract.activated": 2,
        "contract.amended": 2,
        "contract.terminated": 2,
        "sla.period_closed": 1,
        "sla.period_restated": 1,
        "sla.breached": 1,
        "sla.at_risk": 1,
        "billing.credit_calculated": 1,
        "reconciliation.discrepancy_found": 1,
        "billing.volume_band_exceeded": 1,
    }
    assert {h.__qualname__ for h in handlers["contract.activated"][:1]} == {
        "contract_terms_handlers.<locals>.keep.<locals>.on_terms"
    }
