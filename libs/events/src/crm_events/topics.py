"""Topic names. Key = contract id (or, for telemetry, the service key)."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    CONTRACTS = "contracts.v1"
    TELEMETRY = "telemetry.v1"
    CONSUMPTION = "consumption.v1"
    SLA = "sla.v1"
    BILLING = "billing.v1"
    OBLIGATIONS = "obligations.v1"
    ALERTS = "alerts.v1"

    @property
    def dlq(self) -> str:
        return dlq_topic(self.value)


DLQ_SUFFIX = ".dlq"


def dlq_topic(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"


def all_topics() -> list[str]:
    names: list[str] = []
    for topic in Topic:
        names += [topic.value, topic.dlq]
    return names
