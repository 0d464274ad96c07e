"""The migration that encrypts webhook secrets at rest: every stored secret (and previous
secret) encrypted with the first key of OBLIGATION_TRACKER_WEBHOOK_SECRET_KEYS; without a
key it stops and says so, and leaves the rows as they were; the downgrade decrypts."""

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from crm_platform.migrations import alembic_config, upgrade
from crm_testing.webhooks import SECRET_KEYS
from obligation_tracker.main import MIGRATIONS
from obligation_tracker.webhooks.secret_box import KEYS_ENV, SecretBox, SecretKeysMissing
from obligation_tracker.webhooks.signing import new_secret

BEFORE = "a0d17e000003"  # the revision before secrets were encrypted (the audit log)


async def _sql(database_url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sa.text(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


async def test_stored_secrets_are_encrypted_and_decrypted_back(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, BEFORE)
    current, previous = new_secret(), new_secret()
    await _sql(
        database_url,
        "INSERT INTO webhook_subscriptions (id, tenant_id, url, secret, previous_secret,"
        " previous_secret_expires_at, event_types, description, enabled,"
        " consecutive_failures, created_at) VALUES (:id, 't', 'https://x.example', :s, :p,"
        " now() + interval '1 day', '[]', '', true, 0, now())",
        id=uuid.uuid4(),
        s=current,
        p=previous,
    )

    # No key: the migration refuses, names the setting, and changes nothing.
    monkeypatch.delenv(KEYS_ENV, raising=False)
    with pytest.raises(SecretKeysMissing, match=KEYS_ENV):
        await asyncio.to_thread(upgrade, MIGRATIONS, database_url)
    assert await _sql(
        database_url, "SELECT secret, previous_secret FROM webhook_subscriptions"
    ) == [(current, previous)]

    monkeypatch.setenv(KEYS_ENV, SECRET_KEYS)
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url)
    [(sealed, sealed_previous)] = await _sql(
        database_url,
        "SELECT secret_encrypted, previous_secret_encrypted FROM webhook_subscriptions",
    )
    assert isinstance(sealed, str) and isinstance(sealed_previous, str)
    assert current not in sealed and previous not in sealed_previous
    box = SecretBox(SECRET_KEYS)
    assert (box.open(sealed), box.open(sealed_previous)) == (current, previous)

    await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, database_url), BEFORE)
    assert await _sql(
        database_url, "SELECT secret, previous_secret FROM webhook_subscriptions"
    ) == [(current, previous)]
