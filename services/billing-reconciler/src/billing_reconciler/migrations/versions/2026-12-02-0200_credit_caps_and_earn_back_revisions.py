"""credit caps and earn-back revisions: what the ceiling took from each credit, the SLA
period it settles, and every earn-back booking with its revision

Revision ID: d2c4e1f00003
Revises: c1a0a5e70002
Create Date: 2026-12-02 02:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d2c4e1f00003"
down_revision: str | None = "c1a0a5e70002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("service_credits", sa.Column("measurement_period", sa.String(), nullable=True))
    op.add_column("service_credits", sa.Column("uncapped_amount", sa.Numeric(), nullable=True))
    op.add_column(
        "service_credits",
        sa.Column("cap_reduction", sa.Numeric(), server_default="0", nullable=False),
    )
    op.add_column("service_credits", sa.Column("outcome", sa.String(), nullable=True))
    # Credits from before: monthly SLAs, so the SLA period is the billing month.
    op.execute("UPDATE service_credits SET measurement_period = period_label")
    op.add_column(
        "service_credit_revisions", sa.Column("uncapped_amount", sa.Numeric(), nullable=True)
    )
    op.add_column(
        "service_credit_revisions",
        sa.Column("cap_reduction", sa.Numeric(), server_default="0", nullable=False),
    )
    # Every revision books a delta: the first one's previous amount is zero.
    op.execute(
        "UPDATE service_credit_revisions SET previous_amount = 0 WHERE previous_amount IS NULL"
    )
    op.alter_column("service_credit_revisions", "previous_amount", nullable=False)
    op.add_column(
        "earn_backs_granted",
        sa.Column("revision", sa.Integer(), server_default="1", nullable=False),
    )
    op.add_column(
        "earn_backs_granted", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("earn_backs_granted", "updated_at")
    op.drop_column("earn_backs_granted", "revision")
    op.alter_column("service_credit_revisions", "previous_amount", nullable=True)
    op.drop_column("service_credit_revisions", "cap_reduction")
    op.drop_column("service_credit_revisions", "uncapped_amount")
    op.drop_column("service_credits", "outcome")
    op.drop_column("service_credits", "cap_reduction")
    op.drop_column("service_credits", "uncapped_amount")
    op.drop_column("service_credits", "measurement_period")
