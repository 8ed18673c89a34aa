"""task templates may belong to one store (bulk CSV import), with an import key per campaign

Revision ID: 0020
Revises: 0019
"""
from alembic import op
import sqlalchemy as sa


revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_templates") as batch_op:
        batch_op.add_column(sa.Column("store_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("import_key", sa.String(40), nullable=True))
        batch_op.create_foreign_key("fk_task_templates_store_id", "stores", ["store_id"], ["id"])
        batch_op.create_unique_constraint("uq_task_templates_import_key", ["campaign_id", "import_key"])


def downgrade() -> None:
    with op.batch_alter_table("task_templates") as batch_op:
        batch_op.drop_constraint("uq_task_templates_import_key", type_="unique")
        batch_op.drop_constraint("fk_task_templates_store_id", type_="foreignkey")
        batch_op.drop_column("import_key")
        batch_op.drop_column("store_id")
