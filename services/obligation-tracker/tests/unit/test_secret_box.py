"""Secrets at rest: encrypted with the first key, read with any, re-encrypted on rotation;
a missing or malformed key stops the service without printing the key."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from obligation_tracker.settings import Settings
from obligation_tracker.webhooks.secret_box import (
    SecretBox,
    SecretKeysMissing,
    SecretUnreadable,
    new_key,
    require_secret_keys,
)
from obligation_tracker.webhooks.signing import new_secret

OLD, NEW = new_key(), new_key()


def test_a_sealed_secret_is_not_the_secret_and_opens_to_it() -> None:
    box, secret = SecretBox(OLD), new_secret()
    sealed = box.seal(secret)
    assert secret not in sealed and secret.removeprefix("whsec_") not in sealed
    assert box.open(sealed) == secret
    assert box.seal(secret) != sealed  # a fresh IV each time


def test_key_rotation_new_key_first_reads_old_rows_and_reencrypts_them() -> None:
    secret = new_secret()
    before = SecretBox(OLD).seal(secret)
    during = SecretBox(f"{NEW}, {OLD}")
    assert during.open(before) == secret
    assert not during.is_current(before)
    after = during.reseal(before)
    assert during.is_current(after) and during.open(after) == secret
    assert SecretBox(NEW).open(after) == secret  # the old key may go now
    with pytest.raises(SecretUnreadable, match="none of the 1 key"):
        SecretBox(NEW).open(before)  # ...but rows not re-encrypted would be lost


def test_without_a_key_the_service_refuses_to_start() -> None:
    with pytest.raises(SecretKeysMissing, match="OBLIGATION_TRACKER_WEBHOOK_SECRET_KEYS"):
        require_secret_keys(Settings(webhook_secret_keys=None))
    require_secret_keys(Settings(webhook_secret_keys=SecretStr(OLD)))


def test_a_malformed_key_is_refused_without_being_printed() -> None:
    leaked = "not-a-fernet-key-but-maybe-a-password"
    with pytest.raises(SecretKeysMissing) as refused:
        SecretBox(f"{OLD},{leaked}")
    assert "key 2 of 2 is not a Fernet key" in str(refused.value)
    assert leaked not in str(refused.value)
    settings = Settings(webhook_secret_keys=SecretStr(leaked))
    assert leaked not in str(settings.safe_dump()) and leaked not in repr(settings)
