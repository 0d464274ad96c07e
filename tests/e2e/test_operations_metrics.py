"""Every metric the alert rules and the Grafana dashboard read is exported by the running
services (their /metrics, the four together), and the sampled gauges have values."""

from functools import partial

import httpx

from crm_testing.kafka import wait_until
from crm_testing.ops import (
    PROMETHEUS_OWN,
    alert_expressions,
    dashboard_expressions,
    exposed_names,
    metric_names,
)
from crm_testing.stack import Stack


async def test_the_rules_and_the_dashboard_read_only_metrics_the_services_export(
    stack: Stack,
) -> None:
    exposed: set[str] = set()
    async with httpx.AsyncClient(timeout=10) as client:
        for svc in stack.services.values():
            resp = await client.get(f"{svc.url}/metrics")
            assert resp.status_code == 200
            exposed |= exposed_names(resp.text)
    used = metric_names(list(alert_expressions().values()) + dashboard_expressions())
    assert len(used) > 20
    assert sorted(used - exposed - PROMETHEUS_OWN) == []

    # The sampler runs every second here: the gauges hold values, not only their HELP, and
    # every group reports the lag of the partitions it holds.
    async def sampled(url: str, *extra: str) -> bool:
        async with httpx.AsyncClient(timeout=10) as client:
            text = (await client.get(f"{url}/metrics")).text
        return all(
            s in text
            for s in (
                "\ncrm_outbox_backlog ",
                'crm_metrics_sampled_timestamp_seconds{sampler="consumer_lag"}',
                'crm_metrics_sampled_timestamp_seconds{sampler="dlq"}',
                "\ncrm_consumer_lag{",
                "\ncrm_dlq_depth{",
                *extra,
            )
        )

    for name, svc in stack.services.items():
        extra = ['crm_webhook_deliveries{state="failed"}'] if name == "obligation-tracker" else []
        await wait_until(partial(sampled, svc.url, *extra), message=f"{name} sampled its gauges")
