"""change feed without a global lock: changes carry their transaction id, seq from a sequence

Revision ID: 0013
Revises: 0016
Create Date: 2026-11-29 20:20:00.000000

Existing change rows get txid 0 (below every horizon: already delivered), and purged_through
restarts at 0: it now counts transaction ids, not sequence numbers. c1 cursors of phones are
answered with reset: true (sync/cursor.py).
"""
from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("txid", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.drop_index("ix_changes_store_seq")
        batch_op.drop_index("ix_changes_region_seq")
        batch_op.drop_index("ix_changes_user_seq")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.alter_column("txid", server_default=None)
        batch_op.create_index("ix_changes_txid_seq", ["txid", "seq"], unique=False)
        batch_op.create_index("ix_changes_store_txid", ["store_id", "txid", "seq"], unique=False)
        batch_op.create_index("ix_changes_region_txid", ["region_id", "txid", "seq"], unique=False)
        batch_op.create_index("ix_changes_user_txid", ["user_id", "txid", "seq"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE changes_seq OWNED BY changes.seq")
        op.execute("SELECT setval('changes_seq', COALESCE((SELECT max(seq) FROM changes), 0) + 1, false)")
        op.execute("ALTER TABLE changes ALTER COLUMN seq SET DEFAULT nextval('changes_seq')")
    op.execute("UPDATE change_counter SET purged_through = 0")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE changes ALTER COLUMN seq DROP DEFAULT")
        op.execute("DROP SEQUENCE changes_seq")
        # The counter must be above every sequence number handed out meanwhile.
        op.execute("UPDATE change_counter SET value = GREATEST(value, "
                   "COALESCE((SELECT max(seq) FROM changes), 0))")
    else:
        op.execute("UPDATE change_counter SET value = MAX(value, "
                   "COALESCE((SELECT max(seq) FROM changes), 0))")
    op.execute("UPDATE change_counter SET purged_through = 0")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index("ix_changes_user_txid")
        batch_op.drop_index("ix_changes_region_txid")
        batch_op.drop_index("ix_changes_store_txid")
        batch_op.drop_index("ix_changes_txid_seq")
        batch_op.create_index("ix_changes_user_seq", ["user_id", "seq"], unique=False)
        batch_op.create_index("ix_changes_region_seq", ["region_id", "seq"], unique=False)
        batch_op.create_index("ix_changes_store_seq", ["store_id", "seq"], unique=False)
        batch_op.drop_column("txid")
