"""Rules and their firings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, BigId, UTCDateTime, utcnow

ARMS = ("treatment", "control")


class Rule(Base):
    """A trigger, a condition and an action, validated data (rules/definition.py), never code."""

    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[dict] = mapped_column(JSON)
    condition: Mapped[dict] = mapped_column(JSON, default=dict)
    action: Mapped[dict] = mapped_column(JSON)
    variant_share: Mapped[float] = mapped_column(Float, default=1.0)
    active: Mapped[bool] = mapped_column(default=True)
    # Empty: every store (HQ's rules); a supervisor's rule covers only their regions' stores.
    region_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RuleFiring(Base):
    """One firing of a rule for a subject in a period, in its arm: what was done (treatment) or
    would have been (control). The unique key makes firing idempotent."""

    __tablename__ = "rule_firings"
    __table_args__ = (UniqueConstraint("rule_id", "subject", "period", name="uq_rule_firings_once"),
                      Index("ix_rule_firings_rule", "rule_id", "arm"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(60))
    period: Mapped[str] = mapped_column(String(60))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("store_tasks.id", ondelete="CASCADE"))
    arm: Mapped[str] = mapped_column(String(10))
    action_taken: Mapped[str] = mapped_column(String(30))
    fired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
