"""audit log: every operator action that changes money or obligations (crm_platform.audit)

Revision ID: a0d17e000003
Revises: 7c4e1b9d2f30
Create Date: 2026-12-12 10:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from crm_platform.audit import create_audit_table, drop_audit_table

revision: str = "a0d17e000003"
down_revision: str | None = "7c4e1b9d2f30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_table(op)


def downgrade() -> None:
    drop_audit_table(op)
