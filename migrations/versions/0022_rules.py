"""rules as a service: rules and their firings (once per rule, subject, period)

Revision ID: 0022
Revises: 0021
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = backend.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("condition", sa.JSON(), nullable=False),
        sa.Column("action", sa.JSON(), nullable=False),
        sa.Column("variant_share", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("region_ids", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_table(
        "rule_firings",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("rule_id", sa.Integer(), sa.ForeignKey("rules.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subject", sa.String(60), nullable=False),
        sa.Column("period", sa.String(60), nullable=False),
        sa.Column("store_id", sa.Integer(), sa.ForeignKey("stores.id"), nullable=False),
        sa.Column("task_id", BIG_ID, sa.ForeignKey("store_tasks.id", ondelete="CASCADE"), nullable=True),
        sa.Column("arm", sa.String(10), nullable=False),
        sa.Column("action_taken", sa.String(30), nullable=False),
        sa.Column("fired_at", WHEN, nullable=False),
        sa.UniqueConstraint("rule_id", "subject", "period", name="uq_rule_firings_once"),
    )
    op.create_index("ix_rule_firings_rule", "rule_firings", ["rule_id", "arm"])


def downgrade() -> None:
    op.drop_table("rule_firings")
    op.drop_table("rules")
