import hashlib
import hmac

from obligation_tracker.webhooks.signing import backoff_seconds, new_secret, signature, verify


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"type":"alert.raised"}'
    expected = hmac.new(b"s3cret-s3cret-s3cret", b"1764000000." + body, hashlib.sha256)
    assert signature("s3cret-s3cret-s3cret", 1764000000, body) == "sha256=" + expected.hexdigest()


def test_a_receiver_accepts_a_fresh_signature_and_refuses_tampering_or_replays() -> None:
    secret, body, ts = new_secret(), b'{"a":1}', 1764000000
    header = signature(secret, ts, body)
    assert verify(secret, str(ts), body, header, now=ts + 10)
    assert not verify(secret, str(ts), b'{"a":2}', header, now=ts + 10)
    assert not verify("another-secret-value", str(ts), body, header, now=ts + 10)
    assert not verify(secret, str(ts), body, header, now=ts + 3600)
    assert not verify(secret, "not-a-number", body, header, now=ts)


def test_backoff_doubles_from_the_initial_delay_up_to_the_cap() -> None:
    delays = [backoff_seconds(n, initial=1.0, maximum=10.0) for n in range(1, 7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_generated_secrets_are_long_and_distinct() -> None:
    a, b = new_secret(), new_secret()
    assert a != b and len(a) > 40 and a.startswith("whsec_")
