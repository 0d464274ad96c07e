"""Webhook signatures (pure): HMAC-SHA256 over `<timestamp>.<body>` with the subscription's
secret, sent as `X-CRM-Signature: sha256=<hex>` next to `X-CRM-Timestamp`.

Signing the timestamp with the body lets a receiver refuse replays of an old delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-CRM-Signature"
TIMESTAMP_HEADER = "X-CRM-Timestamp"
EVENT_ID_HEADER = "X-CRM-Event-Id"
EVENT_TYPE_HEADER = "X-CRM-Event-Type"
DELIVERY_ID_HEADER = "X-CRM-Delivery-Id"
ATTEMPT_HEADER = "X-CRM-Attempt"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header: `sha256=<hex HMAC of "<timestamp>.<body>">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, header: str, *, now: int, tolerance: int = 300
) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse stale timestamps."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, ts, body), header)


def backoff_seconds(attempt: int, *, initial: float, maximum: float) -> float:
    """Delay before the attempt after `attempt` (1-based): initial × 2^(attempt−1), capped."""
    return float(min(initial * (2 ** (attempt - 1)), maximum))
