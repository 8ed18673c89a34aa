"""Pre-aggregated execution figures (rollups), kept exact by triggers in every writing transaction.

Each rollup row holds the counts of SPEC §8 for one key — a store, a clerk, a due day (in 16
stripes, so concurrent writers of one campaign do not queue on one row) — plus, for stores and
clerks, the exact median claim delay; a histogram of claim delays per due day and per region
gives those medians within 1 %. ``backend/analytics/rollup_sql.py`` writes the triggers,
``backend/analytics/rollups.py`` reads the rows. Keys carry no foreign keys: a trigger may write
a row before the store or user it names is visible to a constraint check, and nothing is ever
joined through them but the label.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base

COUNTS = ("tasks", "claimed", "submitted", "approved", "on_time", "deviated", "active_due")


class _Counts:
    """Non-cancelled tasks and how far they got; ``active_due`` = open, claimed or in progress with
    a due time (overdue = those minus the ones not yet due, counted live: it moves with the clock)."""

    tasks: Mapped[int] = mapped_column(BigInteger, default=0)
    claimed: Mapped[int] = mapped_column(BigInteger, default=0)
    submitted: Mapped[int] = mapped_column(BigInteger, default=0)
    approved: Mapped[int] = mapped_column(BigInteger, default=0)
    on_time: Mapped[int] = mapped_column(BigInteger, default=0)
    deviated: Mapped[int] = mapped_column(BigInteger, default=0)
    active_due: Mapped[int] = mapped_column(BigInteger, default=0)


class StoreRollup(_Counts, Base):
    """A store's tasks (regions sum their stores)."""

    __tablename__ = "analytics_rollup_store"

    store_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    median_claim_seconds: Mapped[float | None] = mapped_column(Float)


class ClerkRollup(_Counts, Base):
    """The tasks a clerk holds (a task held by two clerks counts for each)."""

    __tablename__ = "analytics_rollup_clerk"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    median_claim_seconds: Mapped[float | None] = mapped_column(Float)


class DayRollup(_Counts, Base):
    """Tasks due on one UTC day ('' = no due time), in stripes of stores (store id mod 16)."""

    __tablename__ = "analytics_rollup_day"

    due_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    stripe: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class ClaimDelayHistogram(Base):
    """Claimed, non-cancelled tasks per claim-delay bucket, per due day or per region: bucket k
    holds delays in (γ^(k-1), γ^k] seconds, γ = 1.01/0.99, so its midpoint is within 1 % of any
    delay in it."""

    __tablename__ = "analytics_claim_delay"

    dimension: Mapped[str] = mapped_column(String(6), primary_key=True)  # 'day' or 'region'
    group_key: Mapped[str] = mapped_column(String(10), primary_key=True)  # the day, or the region id
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    claims: Mapped[int] = mapped_column(BigInteger, default=0)
