"""The messaging tables every service database holds: the outbox and the inbox.

Services attach them to their own SQLAlchemy `MetaData` (so Alembic autogenerate sees
them) and create them in their first migration with `create_messaging_tables(op)`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

OUTBOX = "outbox_events"
INBOX = "inbox_events"


def _outbox_columns() -> list[Any]:
    return [
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False, unique=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    ]


def _inbox_columns() -> list[Any]:
    return [
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


_PENDING_INDEX = "ix_outbox_events_pending"


def attach_messaging_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Define the outbox and inbox tables on a service's metadata; returns (outbox, inbox)."""
    if OUTBOX in metadata.tables:
        return metadata.tables[OUTBOX], metadata.tables[INBOX]
    outbox = sa.Table(OUTBOX, metadata, *_outbox_columns())
    sa.Index(_PENDING_INDEX, outbox.c.id, postgresql_where=outbox.c.published_at.is_(None))
    inbox = sa.Table(INBOX, metadata, *_inbox_columns())
    return outbox, inbox


def create_messaging_tables(op: Any) -> None:
    """For a service's first Alembic migration: `create_messaging_tables(op)`."""
    op.create_table(OUTBOX, *_outbox_columns())
    op.create_index(
        _PENDING_INDEX, OUTBOX, ["id"], postgresql_where=sa.text("published_at IS NULL")
    )
    op.create_table(INBOX, *_inbox_columns())


def drop_messaging_tables(op: Any) -> None:
    op.drop_table(INBOX)
    op.drop_index(_PENDING_INDEX, table_name=OUTBOX)
    op.drop_table(OUTBOX)


# Module-level tables for the library's own queries (relay, inbox); same shape as attached ones.
_metadata = sa.MetaData()
outbox_table, inbox_table = attach_messaging_tables(_metadata)
