"""Store tasks, their claimants, the rows of their progress (checklist registers, sale counters,
notes, photos) and photo blobs.

Progress lives in rows of its own, not in JSON on the task row, so phones editing different
items of one task never wait for each other on the task row."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, BigInteger, ForeignKey, Index, LargeBinary, String, UniqueConstraint,
                        false, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.campaigns.models import Campaign, TaskTemplate
from backend.db import Base, BigId, UTCDateTime, utcnow
from backend.org.models import Store, User

TASK_STATUSES = ("open", "claimed", "in_progress", "submitted", "approved", "cancelled")
ACTIVE_STATUSES = ("open", "claimed", "in_progress")
ACTIVE_CONDITION = "status IN ('open', 'claimed', 'in_progress')"  # a partial index's predicate
FINAL_STATUSES = ("approved", "cancelled")


class StoreTask(Base):
    """One task template instantiated for one store."""

    __tablename__ = "store_tasks"
    __table_args__ = (
        UniqueConstraint("template_id", "store_id", name="uq_store_tasks_template_store"),
        Index("ix_store_tasks_store_status", "store_id", "status"),
        Index("ix_store_tasks_campaign_store", "campaign_id", "store_id"),
        Index("ix_store_tasks_status_due", "status", "due_at"),
        # The overdue list reads still-active tasks oldest due first and stops at its limit,
        # across the chain or within one campaign.
        Index("ix_store_tasks_active_due", "due_at", "id",
              postgresql_where=text(ACTIVE_CONDITION), sqlite_where=text(ACTIVE_CONDITION)),
        Index("ix_store_tasks_active_campaign_due", "campaign_id", "due_at", "id",
              postgresql_where=text(ACTIVE_CONDITION), sqlite_where=text(ACTIVE_CONDITION)),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    template_id: Mapped[int] = mapped_column(ForeignKey("task_templates.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    template_version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20), default="open")
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    max_claimants: Mapped[int] = mapped_column(default=1)
    claimant_count: Mapped[int] = mapped_column(default=0)
    observed_prices: Mapped[dict] = mapped_column(JSON, default=dict)
    quantity: Mapped[int | None] = mapped_column()
    review: Mapped[dict | None] = mapped_column(JSON)
    late: Mapped[bool] = mapped_column(default=False)
    submitted_after_cancel: Mapped[bool] = mapped_column(default=False)
    instructions_changed: Mapped[bool] = mapped_column(default=False)
    # Set at submit: an observed price differs from the planned promo price, or required
    # proof is missing (a submission to a cancelled task). Stored so analytics aggregate in SQL.
    deviates: Mapped[bool] = mapped_column(default=False, server_default=false())
    version: Mapped[int] = mapped_column(default=1)
    # Part of the task's QR token; rotating the QR draws a new one and revokes printed codes.
    qr_nonce: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    campaign: Mapped[Campaign] = relationship(lazy="joined", innerjoin=True)
    template: Mapped[TaskTemplate] = relationship(lazy="joined", innerjoin=True)
    store: Mapped[Store] = relationship(lazy="joined", innerjoin=True)
    claims: Mapped[list[TaskClaim]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="TaskClaim.claimed_at")
    photos: Mapped[list[TaskPhoto]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="TaskPhoto.id")
    checklist_items: Mapped[list[TaskChecklistItem]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="TaskChecklistItem.item_id")
    sale_counters: Mapped[list[TaskSale]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="TaskSale.sku")
    note_entries: Mapped[list[TaskNote]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="TaskNote.id")

    def is_overdue(self, now: dt.datetime) -> bool:
        """Still open, claimed or in progress after its due time."""
        return self.status in ACTIVE_STATUSES and self.due_at is not None and now > self.due_at

    def claimant_ids(self) -> set[int]:
        return {claim.user_id for claim in self.claims}

    @property
    def checklist_state(self) -> dict[str, dict]:
        """Each edited item's register: {item id: {done, by, at, client_time, client_id}}."""
        return {item.item_id: item.as_entry() for item in self.checklist_items
                if item.edited_at is not None}

    @property
    def sales(self) -> dict[str, int]:
        """Units sold per SKU (sum of every accepted increment)."""
        return {counter.sku: counter.quantity for counter in self.sale_counters}

    @property
    def notes(self) -> list[dict]:
        """The notes, oldest first."""
        return [note.as_entry() for note in self.note_entries]


class TaskClaim(Base):
    """A clerk holding a task (by QR scan or by assignment)."""

    __tablename__ = "task_claims"
    __table_args__ = (UniqueConstraint("task_id", "user_id", name="uq_task_claims_task_user"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("store_tasks.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    client_id: Mapped[str | None] = mapped_column(String(64))
    scanned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class TaskChecklistItem(Base):
    """One checklist item's register: the edit that currently wins (SPEC §5, per-item register).

    A row with ``edited_at`` empty is a register nobody has written yet (a push inserts it to
    lock the item before deciding)."""

    __tablename__ = "task_checklist_items"

    task_id: Mapped[int] = mapped_column(ForeignKey("store_tasks.id", ondelete="CASCADE"),
                                         primary_key=True)
    item_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    done: Mapped[bool] = mapped_column(default=False)
    by_username: Mapped[str | None] = mapped_column(String(80))
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # server time
    client_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # clamped client time
    client_id: Mapped[str | None] = mapped_column(String(64))

    def as_entry(self) -> dict:
        return checklist_entry(self.done, self.by_username, self.edited_at, self.client_time,
                               self.client_id)


def checklist_entry(done, by, edited_at, client_time, client_id) -> dict:
    """A register as the task history and mutation results show it."""
    entry = {"done": bool(done), "by": by, "at": edited_at.isoformat() if edited_at else None}
    if client_time is not None:
        entry["client_time"] = client_time.isoformat()
        entry["client_id"] = client_id
    return entry


class TaskSale(Base):
    """Units of one SKU sold under one task: a counter incremented in SQL, never read-modify-write."""

    __tablename__ = "task_sales"

    task_id: Mapped[int] = mapped_column(ForeignKey("store_tasks.id", ondelete="CASCADE"),
                                         primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)


class TaskNote(Base):
    """A note on a task (append-only)."""

    __tablename__ = "task_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("store_tasks.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(4000))
    by_username: Mapped[str | None] = mapped_column(String(80))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    client_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def as_entry(self) -> dict:
        return note_entry(self.text, self.by_username, self.added_at, self.client_time)


def note_entry(text_, by, added_at, client_time) -> dict:
    return {"text": text_, "by": by, "at": added_at.isoformat() if added_at else None,
            "client_time": client_time.isoformat() if client_time else None}


class TaskPhoto(Base):
    """A photo attached to a task as proof; the bytes live in Blob."""

    __tablename__ = "task_photos"
    __table_args__ = (UniqueConstraint("task_id", "sha256", name="uq_task_photos_task_sha"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("store_tasks.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    added_by: Mapped[User] = relationship(lazy="joined")


class Blob(Base):
    """An uploaded photo, addressed by the SHA-256 of its bytes."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column()
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
