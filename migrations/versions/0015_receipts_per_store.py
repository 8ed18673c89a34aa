"""receipts per store: a sales line is unique per (store, transaction, product)

The same transaction id in two stores is two receipts. Existing lines already satisfy the new,
narrower key (it only adds the store), so nothing is rewritten; lines that the old key dropped as
"duplicates" were never stored and come back by importing their file again.

Revision ID: 0015
Revises: 0012
Create Date: 2026-11-29 20:50:00
"""
from alembic import op


revision = '0015'
down_revision = '0012'  # brief: '0011'; chained after main's head (0012) so this branch has one head
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sales_lines', schema=None) as batch_op:
        batch_op.drop_constraint('uq_sales_lines_transaction_product', type_='unique')
        batch_op.create_unique_constraint('uq_sales_lines_store_transaction_product',
                                          ['store_id', 'transaction_id', 'product_id'])


def downgrade() -> None:
    # Refuses (unique violation) while two stores share a transaction id and a SKU: merging
    # two receipts into one is the loss this revision exists to prevent.
    with op.batch_alter_table('sales_lines', schema=None) as batch_op:
        batch_op.drop_constraint('uq_sales_lines_store_transaction_product', type_='unique')
        batch_op.create_unique_constraint('uq_sales_lines_transaction_product',
                                          ['transaction_id', 'product_id'])
