"""Webhook endpoints, the events sent to them, one delivery per (endpoint, event) and the log of
every attempt."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, synonym

from backend.db import Base, BigId, UTCDateTime, utcnow
from outbox.models import OutboxMessage

EVENT_TYPES = ("campaign.published", "campaign.closed", "task.claimed", "task.submitted",
               "task.approved", "task.rejected", "task.overdue", "rule.fired")
DELIVERY_STATES = ("pending", "sending", "delivered", "failed")


class WebhookEndpoint(Base):
    """A URL HQ registered, the events it wants and the secret its deliveries are signed with.

    The secret is kept as is (it signs every delivery) and shown only in the creation answer.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    events: Mapped[list] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEvent(Base):
    """One event as it is sent: ``{"id","type","created_at","data"}``; ``dedupe_key`` makes
    clock-driven events (task.overdue) and rule firings idempotent."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(OutboxMessage):
    """One event for one endpoint: the outbox's ``webhook`` rows (outbox/models.py),
    pending → sending → delivered | failed; retries stop at ``give_up_at`` (24 h after the event
    or a redeliver)."""

    __mapper_args__ = {"polymorphic_identity": "webhook"}

    delivered_at = synonym("sent_at")


class WebhookAttempt(Base):
    """The delivery log: one row per POST, what the receiver answered and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"),
                                             index=True)
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
