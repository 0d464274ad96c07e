"""Webhook signatures as Standard Webhooks (https://www.standardwebhooks.com) define them.
Pure: no I/O, no clock.

Every delivery carries three headers:

    webhook-id         the event id: the same on every retry of the message (dedupe on it)
    webhook-timestamp  Unix seconds when this attempt was signed
    webhook-signature  `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{raw body}">`, one per
                       active secret, space-separated (two while a rotation overlaps)

A secret reads `whsec_<base64>`; the HMAC key is the decoded bytes. Signing the id and the
timestamp with the body lets a receiver refuse replays of an old delivery.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

SECRET_PREFIX = "whsec_"
# The spec's bounds for a generated secret: 24 to 64 random bytes.
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
# Ours, beside the standard ones (no standard header says these).
EVENT_TYPE_HEADER = "X-CRM-Event-Type"
DELIVERY_ID_HEADER = "X-CRM-Delivery-Id"
ATTEMPT_HEADER = "X-CRM-Attempt"


def new_secret() -> str:
    """A fresh secret: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret (`whsec_<base64>`); ValueError when it is not of that form."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX}")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        # Padding is optional, as in the official libraries.
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"after {SECRET_PREFIX} a webhook secret is standard base64") from exc


def check_new_secret(secret: str) -> str:
    """A secret a client chooses: `whsec_` and the base64 of 24 to 64 bytes; returned with
    its padding, as every stored secret has it."""
    key = secret_key(secret)
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ValueError(
            f"a webhook secret encodes {MIN_KEY_BYTES} to {MAX_KEY_BYTES} random bytes "
            f"(this one: {len(key)})"
        )
    return SECRET_PREFIX + base64.b64encode(key).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature: `v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(
    active_secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every active secret."""
    if "." in msg_id:
        # The id is part of the signed string, delimited by full stops.
        raise ValueError("a webhook id may not contain '.'")
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: " ".join(signature(s, msg_id, timestamp, body) for s in active_secrets),
    }


def active_secrets(
    secret: str, previous: str | None, previous_until: datetime | None, now: datetime
) -> list[str]:
    """The secrets that sign now: the current one, then the previous one while its rotation
    overlap lasts."""
    if previous is not None and previous_until is not None and now < previous_until:
        return [secret, previous]
    return [secret]


def legacy_secret(secret: str) -> str:
    """The Standard Webhooks form of a secret issued before deliveries followed the spec (any
    string; the HMAC key was its UTF-8 bytes): `whsec_` and the base64 of those bytes, so the
    key stays the same. The migration that adopted the spec stored every secret this way."""
    return SECRET_PREFIX + base64.b64encode(secret.encode()).decode()


def backoff_seconds(attempt: int, *, initial: float, maximum: float) -> float:
    """Delay before the attempt after `attempt` (1-based): initial × 2^(attempt−1), capped."""
    return float(min(initial * (2 ** (attempt - 1)), maximum))
