"""The outbox table: one row per message that leaves the process — a push of a notification to a
device, or a webhook event POSTed to an endpoint — written in the transaction of the event that
causes it and sent by the worker afterwards.

One table, one claim-and-send loop (``outbox/dispatcher.py``); ``channel`` says which sender takes
the row. The channels map their own classes onto it (single-table inheritance):
``notifications.models.Delivery`` (``push``) and ``integrations.models.WebhookDelivery``
(``webhook``). The loop owns ``pending`` and ``sending``; each channel names its two end states
(push: sent | dead; webhook: delivered | failed, as the webhook API shows them).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, BigId, UTCDateTime, utcnow

CHANNELS = ("push", "webhook")
PENDING, SENDING = "pending", "sending"


class OutboxMessage(Base):
    """One message to send, and where its delivery stands."""

    __tablename__ = "outbox"
    __table_args__ = (
        # The claim's two range scans: due pending rows, then expired leases, per channel.
        Index("ix_outbox_due", "channel", "state", "next_attempt_at"),
        UniqueConstraint("notification_id", "device_id", name="uq_outbox_push_target"),
        UniqueConstraint("endpoint_id", "event_id", name="uq_outbox_webhook_target"),
        Index("ix_outbox_webhook_endpoint", "endpoint_id", "id"),
        CheckConstraint("(channel = 'push' AND notification_id IS NOT NULL AND device_id IS NOT NULL)"
                        " OR (channel = 'webhook' AND endpoint_id IS NOT NULL AND event_id IS NOT NULL)",
                        name="ck_outbox_target"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Retries stop here (webhooks: 24 h after the event or a redeliver); None: only the channel's
    # attempt cap stops them (pushes).
    give_up_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    leased_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    # push: the notification and the device it goes to; FCM's message id; the message as handed
    # to the transport when it keeps one (the embedded recorder: that is where it "arrives").
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict | None] = mapped_column(JSON)

    # webhook: the endpoint and the event; the receiver's last HTTP status.
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"),
                                                 index=True)
    last_status: Mapped[int | None] = mapped_column(Integer)

    __mapper_args__ = {"polymorphic_on": channel}
