"""devices remember the app version they registered with

Revision ID: 0014
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa


revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch_op:
        batch_op.add_column(sa.Column("app_version", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch_op:
        batch_op.drop_column("app_version")
