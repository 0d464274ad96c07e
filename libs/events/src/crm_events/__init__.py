"""Event plumbing shared by the CRM services: envelope, catalog, outbox, consumer runner."""

from crm_events.consumer import ConsumerRunner, EventContext, Handler, Handlers
from crm_events.envelope import Envelope, EnvelopeError
from crm_events.errors import PermanentEventError, RetryableEventError
from crm_events.outbox import OutboxRelay, publish
from crm_events.registry import REGISTRY, EventSpec, parse_payload, spec_for
from crm_events.topics import Topic, dlq_topic

__all__ = [
    "REGISTRY",
    "ConsumerRunner",
    "Envelope",
    "EnvelopeError",
    "EventContext",
    "EventSpec",
    "Handler",
    "Handlers",
    "OutboxRelay",
    "PermanentEventError",
    "RetryableEventError",
    "Topic",
    "dlq_topic",
    "parse_payload",
    "publish",
    "spec_for",
]
