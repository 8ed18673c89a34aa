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


# Plain ALTER TABLE on both databases: SQLite (3.35+) adds and drops a column in place, where a
# batch rebuild would drop and recreate a table other tables' foreign keys point at.
def upgrade() -> None:
    op.add_column("devices", sa.Column("app_version", sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column("devices", "app_version")
