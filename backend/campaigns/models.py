"""Campaigns and the task templates inside them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow

CAMPAIGN_STATUSES = ("draft", "scheduled", "live", "closed", "cancelled")
TASK_KINDS = ("display_setup", "price_check", "product_push", "photo_audit", "training", "other")


class Campaign(Base):
    """A promotion HQ publishes to the stores it targets."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    featured_skus: Mapped[list] = mapped_column(JSON, default=list)
    promo_prices: Mapped[dict] = mapped_column(JSON, default=dict)
    targeting: Mapped[dict] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    templates: Mapped[list[TaskTemplate]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", lazy="selectin",
        order_by="TaskTemplate.position")

    def effective_status(self, now: dt.datetime) -> str:
        """A scheduled campaign is live once its start time has passed."""
        if self.status == "scheduled" and now >= self.starts_at:
            return "live"
        return self.status


class TaskTemplate(Base):
    """One task of a campaign, instantiated once per targeted store at publish."""

    __tablename__ = "task_templates"
    __table_args__ = (UniqueConstraint("campaign_id", "import_key", name="uq_task_templates_import_key"),
                      UniqueConstraint("recurrence_of_id", "occurrence", name="uq_task_templates_occurrence"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"),
                                             index=True)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(30), default="other")
    checklist: Mapped[list] = mapped_column(JSON, default=list)
    proof: Mapped[dict] = mapped_column(JSON, default=dict)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due_offset_hours: Mapped[int | None] = mapped_column()
    max_claimants: Mapped[int] = mapped_column(default=1)
    script_hint: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)
    # A store-specific task (bulk CSV import): only this store gets it, whatever the targeting;
    # import_key (store, title) makes a re-import add nothing.
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    import_key: Mapped[str | None] = mapped_column(String(40))
    # A recurring template (RRULE subset, backend/campaigns/recurrence.py) is never fanned out
    # itself: the worker makes one child template per occurrence (its local wall time) and the
    # stores' tasks of it, ahead of time, once.
    recurrence: Mapped[str | None] = mapped_column(String(200))
    recurrence_of_id: Mapped[int | None] = mapped_column(ForeignKey("task_templates.id", ondelete="CASCADE"))
    occurrence: Mapped[str | None] = mapped_column(String(16))

    campaign: Mapped[Campaign] = relationship(back_populates="templates")

    @property
    def checklist_ids(self) -> list[str]:
        return [item["id"] for item in self.checklist]

    def due_for(self, published_at: dt.datetime) -> dt.datetime | None:
        """The due time of store tasks made at publish: fixed, or an offset from publish."""
        if self.due_at is not None:
            return self.due_at
        if self.due_offset_hours is not None:
            return published_at + dt.timedelta(hours=self.due_offset_hours)
        return None
