"""webhook signing secrets encrypted at rest (Fernet, keys from the environment)

`secret` and `previous_secret` become `secret_encrypted` and `previous_secret_encrypted`,
and every stored secret is encrypted with the first key of
OBLIGATION_TRACKER_WEBHOOK_SECRET_KEYS (obligation_tracker.webhooks.secret_box). With
subscriptions to encrypt and no key, the migration stops and says so: set the key, run it
again. The downgrade decrypts them (it needs a key that decrypts them).

Revision ID: 9a3e5c7d1b42
Revises: a0d17e000003
Create Date: 2026-12-13 09:00:00+00:00
"""

import os
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from obligation_tracker.webhooks.secret_box import KEYS_ENV, SecretBox, SecretKeysMissing

revision: str = "9a3e5c7d1b42"
down_revision: str | None = "a0d17e000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "webhook_subscriptions"
COLUMNS = (("secret", "secret_encrypted"), ("previous_secret", "previous_secret_encrypted"))


def _box(rows: int) -> SecretBox | None:
    keys = os.environ.get(KEYS_ENV, "").strip()
    if not keys:
        if rows:
            raise SecretKeysMissing(
                f"{rows} webhook subscription(s) hold secrets to encrypt and {KEYS_ENV} is "
                "not set: set it (see docs/obligation-tracker.md) and migrate again"
            )
        return None
    return SecretBox(keys)


def _convert(current: tuple[str, str], change: Callable[[SecretBox, str], str]) -> None:
    """Every stored secret (and previous secret) through `change`."""
    secret, previous = current
    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT id, {secret}, {previous} FROM {TABLE}")).all()
    box = _box(len(rows))
    if box is None:
        return
    for row in rows:
        bind.execute(
            sa.text(f"UPDATE {TABLE} SET {secret} = :s, {previous} = :p WHERE id = :id"),
            {
                "id": row[0],
                "s": change(box, row[1]),
                "p": None if row[2] is None else change(box, row[2]),
            },
        )


def upgrade() -> None:
    _convert(("secret", "previous_secret"), SecretBox.seal)
    for old, new in COLUMNS:
        op.alter_column(TABLE, old, new_column_name=new)


def downgrade() -> None:
    _convert(("secret_encrypted", "previous_secret_encrypted"), SecretBox.open)
    for old, new in COLUMNS:
        op.alter_column(TABLE, new, new_column_name=old)
