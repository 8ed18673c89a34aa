"""users carry a session epoch: moving it on ends every token and console session of before

Revision ID: 0016
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa


revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases: SQLite (3.35+) adds and drops a column in place, where a
# batch rebuild would drop and recreate a table other tables' foreign keys point at.
def upgrade() -> None:
    op.add_column("users", sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("users", "session_epoch")
