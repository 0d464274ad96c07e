"""webhook secrets in the Standard Webhooks form, and the previous secret of a rotation

Deliveries are signed as Standard Webhooks say: the HMAC key is the base64-decoded part of
`whsec_<base64>`. Secrets issued before (a generated `whsec_<base64url>` or the client's own
string) were used as their UTF-8 bytes; each is stored as `whsec_` + base64 of those bytes,
so the key, and what receivers hold, signs exactly as before
(`obligation_tracker.webhooks.signing.legacy_secret`).

A rotation keeps the previous secret signing until `previous_secret_expires_at`.

Revision ID: 5d2f0c8e4a11
Revises: c1a0a5e70003
Create Date: 2026-12-10 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d2f0c8e4a11"
down_revision: str | None = "c1a0a5e70003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook_subscriptions", sa.Column("previous_secret", sa.Text, nullable=True))
    op.add_column(
        "webhook_subscriptions",
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    # encode(..., 'base64') wraps lines every 76 characters: the newlines go.
    op.execute(
        "UPDATE webhook_subscriptions SET secret = 'whsec_' || "
        "replace(encode(convert_to(secret, 'UTF8'), 'base64'), E'\\n', '')"
    )


def downgrade() -> None:
    # Back to the key as the string's UTF-8 bytes where the key is text (every secret
    # issued before this revision); a secret of random bytes stays as it is, and signs
    # with other keys after the downgrade: rotate it.
    op.execute(
        """
        DO $$
        DECLARE r record;
        BEGIN
          FOR r IN SELECT id, secret FROM webhook_subscriptions LOOP
            BEGIN
              UPDATE webhook_subscriptions
                 SET secret = convert_from(decode(substr(r.secret, 7), 'base64'), 'UTF8')
               WHERE id = r.id;
            EXCEPTION WHEN others THEN NULL;
            END;
          END LOOP;
        END $$
        """
    )
    op.drop_column("webhook_subscriptions", "previous_secret_expires_at")
    op.drop_column("webhook_subscriptions", "previous_secret")
