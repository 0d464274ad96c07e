"""Webhook signing secrets at rest: encrypted with Fernet (AES-128-CBC and HMAC-SHA256,
from `cryptography`) under keys from the environment, never stored in the clear.

`OBLIGATION_TRACKER_WEBHOOK_SECRET_KEYS` holds one or more Fernet keys, comma-separated:
the first encrypts, every one decrypts (MultiFernet), so a key is rotated by putting the new
one first, re-encrypting the rows (`python -m obligation_tracker.webhooks.rekey`), then
dropping the old one. There is no default key: a development key would be a key everyone
knows, so the service refuses to start without one, as it has no administrator key without
`CRM_ADMIN_API_KEY`; the local scripts and docker-compose.yml set a development key, as
they set the administrator key.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from obligation_tracker.settings import Settings

KEYS_ENV = "OBLIGATION_TRACKER_WEBHOOK_SECRET_KEYS"


class SecretKeysMissing(RuntimeError):
    """No key (or a malformed one) in the setting: nothing may be encrypted or read."""


class SecretUnreadable(Exception):
    """A stored secret none of the configured keys decrypts (its key was dropped)."""


def new_key() -> str:
    return Fernet.generate_key().decode()


class SecretBox:
    """Encrypts secrets with the first key; decrypts with any."""

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise SecretKeysMissing(f"{KEYS_ENV} is empty: set one or more Fernet keys")
        fernets = []
        for number, key in enumerate(parts, start=1):
            try:
                fernets.append(Fernet(key))
            except ValueError:
                # Never the key itself in the message: it ends up in logs.
                raise SecretKeysMissing(
                    f"{KEYS_ENV}: key {number} of {len(parts)} is not a Fernet key "
                    "(32 random bytes, url-safe base64: see the guide)"
                ) from None
        self._fernet = MultiFernet(fernets)
        self._first = fernets[0]
        self.key_count = len(parts)

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                f"the stored secret decrypts with none of the {self.key_count} key(s) in "
                f"{KEYS_ENV}; put back the key it was encrypted with, or rotate the secret"
            ) from None

    def is_current(self, sealed: str) -> bool:
        """Whether the first key encrypted it (nothing to re-encrypt)."""
        try:
            self._first.decrypt(sealed.encode())
        except InvalidToken:
            return False
        return True

    def reseal(self, sealed: str) -> str:
        """The same secret, encrypted with the first key."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                f"a stored secret decrypts with none of the keys in {KEYS_ENV}"
            ) from None


@functools.lru_cache(maxsize=8)
def _box(keys: str) -> SecretBox:
    return SecretBox(keys)


def secret_box(settings: Settings) -> SecretBox:
    """The service's box; SecretKeysMissing when the setting is absent or malformed (the
    start-up check, `require_secret_keys`, says so before anything runs)."""
    if settings.webhook_secret_keys is None:
        raise SecretKeysMissing(
            f"{KEYS_ENV} is not set: webhook signing secrets are encrypted at rest and the "
            "service has no key (make one: python -m obligation_tracker.webhooks.rekey "
            "--new-key)"
        )
    return _box(settings.webhook_secret_keys.get_secret_value())


def require_secret_keys(settings: Settings) -> None:
    """The start-up check: refuse to start without usable keys."""
    secret_box(settings)
