"""deploy/observability: the alert rules pass `promtool check rules` and their unit tests
(`promtool test rules`), and the dashboard reads only metrics the services export (the
e2e test tests/e2e/test_operations_metrics.py checks the names against live /metrics)."""

import json
import subprocess

import pytest

from crm_testing.ops import (
    ALERT_TESTS,
    ALERTS,
    DASHBOARD,
    OBSERVABILITY,
    alert_expressions,
    dashboard_expressions,
    metric_names,
    ops_tools,
)


@pytest.fixture(scope="module")
def promtool() -> str:
    return ops_tools()["PROMTOOL"]


def test_the_alert_rules_pass_promtool_check_rules(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_expressions())} rules found" in result.stdout


def test_each_alert_fires_on_its_series_in_promtools_unit_tests(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "test", "rules", ALERT_TESTS.name],
        cwd=OBSERVABILITY,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_alerts_cover_what_operators_are_paged_for() -> None:
    alerts = alert_expressions()
    for name in (
        "CrmServiceDown",
        "CrmHttp5xxRateHigh",
        "CrmConsumerLagHigh",
        "CrmOutboxStuck",
        "CrmDeadLetterQueueNotEmpty",
        "CrmWebhookDeliveriesFailing",
        "CrmJobNotRun",
    ):
        assert name in alerts
    assert "crm_outbox_oldest_unsent_age_seconds" in alerts["CrmOutboxStuck"]
    assert "crm_consumer_lag" in alerts["CrmConsumerLagHigh"]


def test_every_dashboard_panel_queries_the_templated_prometheus_datasource() -> None:
    doc = json.loads(DASHBOARD.read_text())
    graphs = [p for p in doc["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in doc["panels"]}) == len(doc["panels"])
    for panel in graphs:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
    used = metric_names(dashboard_expressions())
    for wanted in (
        "crm_consumer_lag",
        "crm_outbox_backlog",
        "crm_outbox_oldest_unsent_age_seconds",
        "crm_dlq_depth",
        "crm_webhook_deliveries",
        "crm_job_last_success_timestamp_seconds",
        "crm_idempotency_lookups_total",
        "crm_auth_key_lookups_total",
        "crm_auth_key_cache_lookups_total",
    ):
        assert wanted in used
