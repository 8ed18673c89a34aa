"""One outbox for pushes and webhooks: ``deliveries`` and ``webhook_deliveries`` become the rows of
one ``outbox`` table (``channel`` push | webhook), drained by one loop; existing rows move with their
state, and the webhook attempt log follows its deliveries.

Push rows keep their ids; webhook rows are renumbered after them (their attempt log with them).
The downgrade splits the table back, every row keeping its outbox id.

Revision ID: 0025
Revises: 0024
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = backend.db.UTCDateTime(timezone=True)

_COMMON = "state, attempts, next_attempt_at, leased_until, lease_owner, last_error, created_at"
_PUSH = "notification_id, device_id, provider_message_id, payload, sent_at"
_HOOK = "endpoint_id, event_id, give_up_at, last_status"


def _reset_sequence(table: str) -> None:
    """PostgreSQL: the id sequence continues after the ids copied in explicitly."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                   f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")


def _attempts_table(name: str, delivery_table: str) -> None:
    op.create_table(
        name,
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("delivery_id", BIG_ID, sa.ForeignKey(f"{delivery_table}.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("attempted_at", WHEN, nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )


def _move_attempts(delivery_table: str, id_shift: str) -> None:
    """Rebuild webhook_attempts pointing at ``delivery_table`` (ids shifted by ``id_shift``)."""
    _attempts_table("webhook_attempts_moved", delivery_table)
    op.execute("INSERT INTO webhook_attempts_moved (id, delivery_id, attempted_at, status, error, duration_ms) "
               f"SELECT id, delivery_id + {id_shift}, attempted_at, status, error, duration_ms "
               "FROM webhook_attempts")
    op.drop_index("ix_webhook_attempts_delivery_id", table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.rename_table("webhook_attempts_moved", "webhook_attempts")
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])
    _reset_sequence("webhook_attempts")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("give_up_at", WHEN, nullable=True),
        sa.Column("leased_until", WHEN, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("notification_id", BIG_ID, sa.ForeignKey("notifications.id", ondelete="CASCADE"),
                  nullable=True),
        sa.Column("device_id", sa.Integer(), sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=True),
        sa.Column("provider_message_id", sa.String(200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("endpoint_id", sa.Integer(), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
                  nullable=True),
        sa.Column("event_id", BIG_ID, sa.ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.UniqueConstraint("notification_id", "device_id", name="uq_outbox_push_target"),
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_outbox_webhook_target"),
        sa.CheckConstraint("(channel = 'push' AND notification_id IS NOT NULL AND device_id IS NOT NULL)"
                           " OR (channel = 'webhook' AND endpoint_id IS NOT NULL AND event_id IS NOT NULL)",
                           name="ck_outbox_target"),
    )
    op.create_index("ix_outbox_due", "outbox", ["channel", "state", "next_attempt_at"])
    op.create_index("ix_outbox_webhook_endpoint", "outbox", ["endpoint_id", "id"])
    op.create_index("ix_outbox_notification_id", "outbox", ["notification_id"])
    op.create_index("ix_outbox_device_id", "outbox", ["device_id"])
    op.create_index("ix_outbox_event_id", "outbox", ["event_id"])

    op.execute(f"INSERT INTO outbox (id, channel, {_COMMON}, {_PUSH}) "
               f"SELECT id, 'push', {_COMMON}, {_PUSH} FROM deliveries")
    shift = "(SELECT COALESCE(MAX(id), 0) FROM deliveries)"
    op.execute(f"INSERT INTO outbox (id, channel, {_COMMON}, {_HOOK}, sent_at) "
               f"SELECT id + {shift}, 'webhook', {_COMMON}, {_HOOK}, delivered_at FROM webhook_deliveries")
    _reset_sequence("outbox")
    _move_attempts("outbox", shift)

    for index in ("ix_deliveries_notification_id", "ix_deliveries_due", "ix_deliveries_device_id"):
        op.drop_index(index, table_name="deliveries")
    op.drop_table("deliveries")
    for index in ("ix_webhook_deliveries_due", "ix_webhook_deliveries_endpoint", "ix_webhook_deliveries_event_id"):
        op.drop_index(index, table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")


def downgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("notification_id", BIG_ID, sa.ForeignKey("notifications.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("device_id", sa.Integer(), sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("leased_until", WHEN, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("provider_message_id", sa.String(200), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.UniqueConstraint("notification_id", "device_id", name="uq_deliveries_target"),
    )
    op.create_index("ix_deliveries_device_id", "deliveries", ["device_id"])
    op.create_index("ix_deliveries_due", "deliveries", ["state", "next_attempt_at"])
    op.create_index("ix_deliveries_notification_id", "deliveries", ["notification_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("endpoint_id", sa.Integer(), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("event_id", BIG_ID, sa.ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("give_up_at", WHEN, nullable=False),
        sa.Column("leased_until", WHEN, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("delivered_at", WHEN, nullable=True),
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_target"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["state", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_endpoint", "webhook_deliveries", ["endpoint_id", "id"])
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])

    op.execute(f"INSERT INTO deliveries (id, {_COMMON}, {_PUSH}) "
               f"SELECT id, {_COMMON}, {_PUSH} FROM outbox WHERE channel = 'push'")
    op.execute(f"INSERT INTO webhook_deliveries (id, {_COMMON}, {_HOOK}, delivered_at) "
               f"SELECT id, {_COMMON}, {_HOOK}, sent_at FROM outbox WHERE channel = 'webhook'")
    _reset_sequence("deliveries")
    _reset_sequence("webhook_deliveries")
    _move_attempts("webhook_deliveries", "0")

    for index in ("ix_outbox_due", "ix_outbox_webhook_endpoint", "ix_outbox_notification_id",
                  "ix_outbox_device_id", "ix_outbox_event_id"):
        op.drop_index(index, table_name="outbox")
    op.drop_table("outbox")
