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


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("session_epoch")
