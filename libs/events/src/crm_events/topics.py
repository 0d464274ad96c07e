"""Topic names. Key = contract id (or, for telemetry, the service key).

`CRM_TOPIC_NAMESPACE`, when set, prefixes every physical topic and consumer group
(`<ns>.sla.v1`), so several stacks (a developer's, a test run's) can share one broker
without reading each other's events.
"""

from __future__ import annotations

import os
from enum import StrEnum

NAMESPACE_ENV = "CRM_TOPIC_NAMESPACE"


def namespace() -> str:
    return os.environ.get(NAMESPACE_ENV, "").strip()


def physical(name: str) -> str:
    """The broker-side name of a catalog topic or consumer group."""
    ns = namespace()
    return f"{ns}.{name}" if ns else name


class Topic(StrEnum):
    CONTRACTS = "contracts.v1"
    TELEMETRY = "telemetry.v1"
    CONSUMPTION = "consumption.v1"
    SLA = "sla.v1"
    BILLING = "billing.v1"
    OBLIGATIONS = "obligations.v1"
    ALERTS = "alerts.v1"
    ACCESS = "access.v1"
    AUDIT = "audit.v1"

    @property
    def dlq(self) -> str:
        return dlq_topic(self.value)


DLQ_SUFFIX = ".dlq"


def dlq_topic(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"


def all_topics() -> list[str]:
    """Physical names of every topic and DLQ."""
    names: list[str] = []
    for topic in Topic:
        names += [physical(topic.value), physical(topic.dlq)]
    return names
