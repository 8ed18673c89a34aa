"""Devices that receive pushes, the per-user notifications (the inbox) and their deliveries
(the outbox's push rows, which the worker drains)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, BigId, UTCDateTime, utcnow
from outbox.models import OutboxMessage

KINDS = ("task_published", "task_changed", "task_cancelled", "review_result", "reminder",
         "overdue", "campaign_summary", "rule")
PLATFORMS = ("android", "ios", "web")
TOKEN_KINDS = ("registration_token", "fid")
DELIVERY_STATES = ("pending", "sending", "sent", "dead")


class Device(Base):
    """A phone app install (its sync client id) and the push address FCM knows it by."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    platform: Mapped[str] = mapped_column(String(10))
    # None once unregistered (logout) or answered UNREGISTERED / SENDER_ID_MISMATCH by FCM.
    push_token: Mapped[str | None] = mapped_column(String(4096))
    token_kind: Mapped[str] = mapped_column(String(20), default="registration_token")
    locale: Mapped[str] = mapped_column(String(10), default="zh-CN")
    app_version: Mapped[str | None] = mapped_column(String(40))
    token_dropped_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """One message for one user. Title and body are rendered from kind + params in the reader's
    locale, at read or send time; ``dedupe_key`` makes scheduled messages idempotent."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("user_id", "dedupe_key", name="uq_notifications_dedupe"),
                      Index("ix_notifications_user_id", "user_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(30))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("store_tasks.id", ondelete="CASCADE"),
                                                index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Delivery(OutboxMessage):
    """A push of one notification to one device: the outbox's ``push`` rows (outbox/models.py),
    pending → sending → sent | dead."""

    __mapper_args__ = {"polymorphic_identity": "push"}
