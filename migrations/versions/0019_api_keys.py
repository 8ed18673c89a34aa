"""API keys for machine clients: hashed, scoped, revocable, last use

Revision ID: 0019
Revises: 0018
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

WHEN = backend.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_used_at", WHEN, nullable=True),
        sa.Column("revoked_at", WHEN, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
