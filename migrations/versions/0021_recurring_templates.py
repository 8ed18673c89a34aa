"""recurring task templates: an RRULE subset; one child template per occurrence

Revision ID: 0021
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa


revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_templates") as batch_op:
        batch_op.add_column(sa.Column("recurrence", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("recurrence_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("occurrence", sa.String(16), nullable=True))
        batch_op.create_foreign_key("fk_task_templates_recurrence_of_id", "task_templates",
                                    ["recurrence_of_id"], ["id"], ondelete="CASCADE")
        batch_op.create_unique_constraint("uq_task_templates_occurrence", ["recurrence_of_id", "occurrence"])


def downgrade() -> None:
    with op.batch_alter_table("task_templates") as batch_op:
        batch_op.drop_constraint("uq_task_templates_occurrence", type_="unique")
        batch_op.drop_constraint("fk_task_templates_recurrence_of_id", type_="foreignkey")
        batch_op.drop_column("occurrence")
        batch_op.drop_column("recurrence_of_id")
        batch_op.drop_column("recurrence")
