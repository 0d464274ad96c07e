"""The migration to Standard Webhooks keeps every existing secret's key: it stores the old
string as `whsec_` + the base64 of its UTF-8 bytes, as the guide tells receivers."""

import asyncio
import uuid

import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from crm_platform.migrations import alembic_config, upgrade
from obligation_tracker.main import MIGRATIONS
from obligation_tracker.webhooks.signing import legacy_secret, secret_key

BEFORE = "c1a0a5e70003"  # the revision before the secrets became Standard Webhooks ones
STANDARD = "5d2f0c8e4a11"  # the revision that made them so (encrypted after it)
LEGACY = [
    "whsec_" + "Zq-3_x" * 7,  # what the old generator gave (base64url)
    "an operator's own secret, é and ✓, " + "long " * 40,  # over 76 base64 characters
]


async def _secrets(database_url: str, sql: str, **params: object) -> list[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sa.text(sql), params)
            return [row[0] for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


async def test_existing_secrets_keep_their_key_in_the_standard_form(database_url: str) -> None:
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, BEFORE)
    for number, secret in enumerate(LEGACY):
        await _secrets(
            database_url,
            "INSERT INTO webhook_subscriptions (id, tenant_id, url, secret, event_types,"
            " description, enabled, consecutive_failures, created_at) VALUES (:id, 't',"
            " 'https://x.example', :secret, '[]', :n, true, 0, now())",
            id=uuid.uuid4(),
            secret=secret,
            n=str(number),
        )
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, STANDARD)

    stored = await _secrets(
        database_url, "SELECT secret FROM webhook_subscriptions ORDER BY description"
    )
    assert stored == [legacy_secret(s) for s in LEGACY]
    assert [secret_key(s) for s in stored] == [s.encode() for s in LEGACY]

    # And back: the old strings again.
    config = alembic_config(MIGRATIONS, database_url)
    await asyncio.to_thread(command.downgrade, config, BEFORE)
    again = await _secrets(
        database_url, "SELECT secret FROM webhook_subscriptions ORDER BY description"
    )
    assert again == LEGACY
