"""analytics rollups: counts per store, clerk and due day, claim-delay histograms, kept by triggers

Revision ID: 0024
Revises: 0023

Creates the rollup tables, fills them from the tasks already there (the backfill), then installs
the triggers that keep them exact (backend/analytics/rollup_sql.py).
"""
from alembic import op
import sqlalchemy as sa

from backend.analytics import rollup_sql, rollups


revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def _counts() -> list[sa.Column]:
    return [sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
            for name in ("tasks", "claimed", "submitted", "approved", "on_time", "deviated",
                         "active_due")]


def upgrade() -> None:
    op.create_table("analytics_rollup_store",
                    sa.Column("store_id", sa.Integer(), primary_key=True, autoincrement=False),
                    *_counts(), sa.Column("median_claim_seconds", sa.Float(), nullable=True))
    op.create_table("analytics_rollup_clerk",
                    sa.Column("user_id", sa.Integer(), primary_key=True, autoincrement=False),
                    *_counts(), sa.Column("median_claim_seconds", sa.Float(), nullable=True))
    op.create_table("analytics_rollup_day",
                    sa.Column("due_day", sa.String(10), primary_key=True),
                    sa.Column("stripe", sa.Integer(), primary_key=True, autoincrement=False),
                    *_counts())
    op.create_table("analytics_claim_delay",
                    sa.Column("dimension", sa.String(6), primary_key=True),
                    sa.Column("group_key", sa.String(10), primary_key=True),
                    sa.Column("bucket", sa.Integer(), primary_key=True, autoincrement=False),
                    sa.Column("claims", sa.BigInteger(), nullable=False, server_default="0"))
    connection = op.get_bind()
    rollups.rebuild(connection)
    rollup_sql.create_triggers(connection)


def downgrade() -> None:
    rollup_sql.drop_triggers(op.get_bind())
    for table in ("analytics_claim_delay", "analytics_rollup_day", "analytics_rollup_clerk",
                  "analytics_rollup_store"):
        op.drop_table(table)
