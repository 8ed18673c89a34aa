"""sales imports run by the worker: the uploaded file, its progress and its report

Revision ID: 0023
Revises: 0022
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

WHEN = backend.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sales_imports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("total_lines", sa.Integer(), nullable=False),
        sa.Column("lines_done", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("worker_id", sa.String(120), nullable=True),
        sa.Column("lease_until", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("started_at", WHEN, nullable=True),
        sa.Column("finished_at", WHEN, nullable=True),
    )
    op.create_index("ix_sales_imports_status", "sales_imports", ["status"])


def downgrade() -> None:
    op.drop_table("sales_imports")
