import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from obligation_tracker.webhooks.signing import (
    active_secrets,
    backoff_seconds,
    check_new_secret,
    legacy_secret,
    new_secret,
    secret_key,
    signature,
    signed_headers,
)

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
AT = datetime(2026, 3, 14, 3, 0, tzinfo=UTC)


def test_the_signature_is_base64_hmac_sha256_of_id_dot_timestamp_dot_body() -> None:
    body = b'{"type":"alert.raised"}'
    mac = hmac.new(b"k" * 32, b"evt-1.1764000000." + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    assert signature(SECRET, "evt-1", 1764000000, body) == expected
    # The official library signs the same bytes the same way.
    official = Webhook(SECRET).sign("evt-1", datetime.fromtimestamp(1764000000, UTC), body.decode())
    assert official == expected


def test_the_headers_carry_one_signature_per_active_secret_newest_first() -> None:
    older = new_secret()
    headers = signed_headers([SECRET, older], "evt-1", 1764000000, b"{}")
    assert headers["webhook-id"] == "evt-1" and headers["webhook-timestamp"] == "1764000000"
    assert headers["webhook-signature"].split(" ") == [
        signature(SECRET, "evt-1", 1764000000, b"{}"),
        signature(older, "evt-1", 1764000000, b"{}"),
    ]
    with pytest.raises(ValueError, match="may not contain"):
        signed_headers([SECRET], "evt.1", 1764000000, b"{}")


def test_the_previous_secret_signs_until_its_overlap_ends() -> None:
    until = AT + timedelta(hours=1)
    assert active_secrets("new", "old", until, AT) == ["new", "old"]
    assert active_secrets("new", "old", until, until) == ["new"]
    assert active_secrets("new", None, None, AT) == ["new"]


def test_generated_secrets_encode_32_random_bytes_and_are_distinct() -> None:
    a, b = new_secret(), new_secret()
    assert a != b and a.startswith("whsec_") and len(secret_key(a)) == 32


def test_a_chosen_secret_is_whsec_and_the_base64_of_24_to_64_bytes() -> None:
    unpadded = "whsec_" + base64.b64encode(b"x" * 25).decode().rstrip("=")
    assert check_new_secret(unpadded) == "whsec_" + base64.b64encode(b"x" * 25).decode()
    for bad, why in [
        ("my-own-secret-value-long-enough", "starts with whsec_"),
        ("whsec_not*base64*at*all*here*really", "standard base64"),
        ("whsec_" + base64.b64encode(b"x" * 16).decode(), "24 to 64"),
        ("whsec_" + base64.b64encode(b"x" * 65).decode(), "24 to 64"),
    ]:
        with pytest.raises(ValueError, match=why):
            check_new_secret(bad)


def test_a_legacy_secret_keeps_its_key_the_utf8_bytes_of_the_old_string() -> None:
    old = "whsec_Ab-c_d" + "é" * 100  # the old generator's base64url, or any string
    assert secret_key(legacy_secret(old)) == old.encode()
    assert Webhook(legacy_secret(old)).sign("e", AT, "{}") == signature(
        legacy_secret(old), "e", int(AT.timestamp()), b"{}"
    )


def test_backoff_doubles_from_the_initial_delay_up_to_the_cap() -> None:
    delays = [backoff_seconds(n, initial=1.0, maximum=10.0) for n in range(1, 7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
