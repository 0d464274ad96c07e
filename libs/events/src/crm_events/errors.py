"""How a handler tells the consumer runner what kind of failure it hit."""

from __future__ import annotations


class PermanentEventError(Exception):
    """The event can never be handled as it is (bad data): straight to the DLQ, no retries."""


class RetryableEventError(Exception):
    """The event cannot be handled yet (e.g. the contract it refers to has not arrived).

    Retried with backoff up to the runner's attempt limit, then parked (its partition
    paused and read again from it) until the event is CONSUMER_NOT_YET_SECONDS old, then
    dead-lettered.
    """
