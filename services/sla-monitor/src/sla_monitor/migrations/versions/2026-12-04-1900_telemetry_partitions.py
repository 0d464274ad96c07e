"""raw telemetry by month: samples and measurements partitioned on their instant; the
retention horizon

`samples` and `measurements` (nearly all raw telemetry rows) become range-partitioned
tables. An existing table with rows is not copied: it is attached whole as the partition
`<table>_legacy`, from MINVALUE up to the first month after both now and its newest row, so
the upgrade costs one scan of it (the attach checks its rows fit); an empty one is dropped.
Month partitions after that are made ahead by the `telemetry_partitions` job, and by
ingestion for a month that has none yet (`sla_monitor.telemetry.partitions`).

`telemetry_horizon` holds the instant before which raw telemetry has been given up: items
wholly before it are refused and the periods starting before it are sealed (never
restated). No row: nothing given up.

Revision ID: 5e7a0c4d2b19
Revises: 7d0e11c5a9b2
Create Date: 2026-12-04 19:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e7a0c4d2b19"
down_revision: str | None = "7d0e11c5a9b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table, its instant column, its primary key (which holds the instant, as a partitioned
# table's unique keys must)
PARTITIONED = [
    ("samples", "observed_at", "tenant_id, service_key, observed_at, status"),
    ("measurements", "measured_at", "tenant_id, service_key, unit, measured_at, source_key"),
]


def upgrade() -> None:
    for table, column, key in PARTITIONED:
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_legacy")
        op.execute(f"ALTER INDEX {table}_pkey RENAME TO {table}_legacy_pkey")
        op.execute(
            f"CREATE TABLE {table} (LIKE {table}_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            f" PARTITION BY RANGE ({column})"
        )
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({key})")
        # The names are this migration's constants; the bound is computed by the database.
        op.execute(
            f"""
            DO $$
            DECLARE bound timestamptz;
            BEGIN
              IF NOT EXISTS (SELECT 1 FROM {table}_legacy) THEN
                DROP TABLE {table}_legacy;
                RETURN;
              END IF;
              SELECT greatest(
                  date_trunc('month', now(), 'UTC') + interval '1 month',
                  date_trunc('month', max({column}), 'UTC') + interval '1 month')
                INTO bound FROM {table}_legacy;
              EXECUTE format(
                'ALTER TABLE {table} ATTACH PARTITION {table}_legacy '
                'FOR VALUES FROM (MINVALUE) TO (%L)', bound);
            END $$;
            """
        )
    op.create_table(
        "telemetry_horizon",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_telemetry_horizon_single_row"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("telemetry_horizon")
    for table, _, key in PARTITIONED:
        op.execute(f"CREATE TABLE {table}_flat (LIKE {table} INCLUDING DEFAULTS)")
        op.execute(f"INSERT INTO {table}_flat SELECT * FROM {table}")
        op.execute(f"DROP TABLE {table}")
        op.execute(f"ALTER TABLE {table}_flat RENAME TO {table}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({key})")
