"""api keys: the keys this service accepts (fed by access.v1)

Revision ID: c1a0a5e70004
Revises: 01dc016d18a0
Create Date: 2026-11-26 16:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from crm_platform.apikeys import API_KEYS, create_api_keys_table

revision: str = "c1a0a5e70004"
down_revision: str | None = "01dc016d18a0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_api_keys_table(op)


def downgrade() -> None:
    op.drop_table(API_KEYS)
