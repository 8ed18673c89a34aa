"""Sales scripts (话术) and the outcomes that rank them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, utcnow

SOURCES = ("hq", "clerk", "generated", "llm")  # generated: the deterministic templates
STATUSES = ("approved", "pending", "rejected")


class Script(Base):
    """A sales script for a product (optionally for one campaign), with its feedback counts."""

    __tablename__ = "scripts"
    __table_args__ = (Index("ix_scripts_product_status", "product_id", "status", "locale"),
                      Index("ix_scripts_status_id", "status", "id"))  # the moderation queue

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    locale: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uses: Mapped[int] = mapped_column(default=0)
    conversions: Mapped[int] = mapped_column(default=0)
    dismissals: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    moderated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    moderation_comment: Mapped[str | None] = mapped_column(Text)


class PairingRule(Base):
    """HQ's say over a product's pairings: a pinned partner comes first, a banned one never shows."""

    __tablename__ = "pairing_rules"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            primary_key=True)
    other_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                          primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "pin" | "ban"
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
