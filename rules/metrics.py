"""Store metrics that schedule-fired rules watch (read-only): a store's attach rate in a running
campaign over the last N days, and the completion of a store's tasks due within N hours.

Each reading names its subject (``campaign:<id>:store:<id>``) and its period — the store's local
day for the attach rate, the deadline for completion — so a rule fires at most once per
(subject, period) however often the worker runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from backend.analytics import impact
from backend.campaigns.models import Campaign, TaskTemplate
from backend.catalog.models import Product
from backend.org.models import Store
from backend.sales.models import SalesLine
from backend.tasks.models import StoreTask

# Follow-up tasks a rule created carry this import key prefix; completion leaves them out, or a
# rule's own follow-up (due soon, not done yet) would fire it again and again.
FOLLOW_UP_KEY_PREFIX = "rule:"
DONE_STATUSES = ("submitted", "approved")


@dataclass(frozen=True)
class Reading:
    """One store's metric in one campaign, below the rule's threshold."""

    store_id: int
    campaign_id: int
    period: str
    value: float
    basis: int  # the transactions or tasks behind the value

    @property
    def subject(self) -> str:
        return subject_of(self.campaign_id, self.store_id)


def subject_of(campaign_id: int, store_id: int) -> str:
    """The subject key of a store in a campaign."""
    return f"campaign:{campaign_id}:store:{store_id}"


def parse_subject(subject: str) -> tuple[int, int] | None:
    """(campaign id, store id) of a store subject; None for other subjects."""
    parts = subject.split(":")
    if len(parts) == 4 and parts[0] == "campaign" and parts[2] == "store" and parts[1].isdigit() \
            and parts[3].isdigit():
        return int(parts[1]), int(parts[3])
    return None


def running_campaigns(session: Session, now: dt.datetime) -> list[Campaign]:
    """Published campaigns whose time is now."""
    return list(session.scalars(select(Campaign).where(
        Campaign.status.in_(("scheduled", "live")), Campaign.starts_at <= now, Campaign.ends_at > now)
        .order_by(Campaign.id)))


def attach_counts(session: Session, campaign: Campaign, *, start: dt.datetime, end: dt.datetime,
                  store_ids: list[int] | None = None) -> dict[int, tuple[int, int]]:
    """store id → (transactions with a featured SKU, those also holding one of its top pairings)
    sold in [start, end)."""
    featured = list(session.scalars(select(Product.id).where(Product.sku.in_(campaign.featured_skus or []))))
    if not featured:
        return {}
    where = [SalesLine.product_id.in_(featured), SalesLine.sold_at >= start, SalesLine.sold_at < end]
    if store_ids is not None:
        where.append(SalesLine.store_id.in_(store_ids))
    receipts = (select(SalesLine.store_id, SalesLine.transaction_id,
                       func.max(case((impact.has_top_pairing(), 1), else_=0)).label("attached"))
                .where(and_(*where)).group_by(SalesLine.store_id, SalesLine.transaction_id).subquery())
    rows = session.execute(select(receipts.c.store_id, func.count(), func.sum(receipts.c.attached))
                           .group_by(receipts.c.store_id)).all()
    return {store_id: (int(count), int(attached or 0)) for store_id, count, attached in rows}


def _targeted_stores(session: Session, campaign_id: int) -> dict[int, str]:
    """The campaign's stores (those holding a task of it) → their timezone."""
    rows = session.execute(select(Store.id, Store.timezone).where(Store.id.in_(
        select(StoreTask.store_id).where(StoreTask.campaign_id == campaign_id)))).all()
    return dict(rows)


def attach_rate_below(session: Session, trigger: dict, *, now: dt.datetime) -> list[Reading]:
    """Stores of running campaigns whose attach rate over the last ``days`` is below ``below``
    (with at least ``min_transactions`` featured transactions); period: the store's local day."""
    readings = []
    minimum = trigger.get("min_transactions", 1)
    for campaign in running_campaigns(session, now):
        start = max(now - dt.timedelta(days=trigger["days"]), campaign.starts_at)
        counts = attach_counts(session, campaign, start=start, end=now)
        for store_id, timezone in sorted(_targeted_stores(session, campaign.id).items()):
            transactions, attached = counts.get(store_id, (0, 0))
            if transactions < minimum or attached / transactions >= trigger["below"]:
                continue
            day = now.astimezone(ZoneInfo(timezone)).date().isoformat()
            readings.append(Reading(store_id, campaign.id, f"attach:{day}", attached / transactions,
                                    transactions))
    return readings


def completion_below(session: Session, trigger: dict, *, now: dt.datetime) -> list[Reading]:
    """Stores whose tasks due within ``hours_before_due`` (one deadline of a running campaign)
    are less than ``below`` done (submitted or approved); period: the deadline."""
    horizon = now + dt.timedelta(hours=trigger["hours_before_due"])
    running = [campaign.id for campaign in running_campaigns(session, now)]
    if not running:
        return []
    done = func.sum(case((StoreTask.status.in_(DONE_STATUSES), 1), else_=0))
    follow_ups = select(TaskTemplate.id).where(TaskTemplate.campaign_id.in_(running),
                                               TaskTemplate.import_key.startswith(FOLLOW_UP_KEY_PREFIX))
    rows = session.execute(select(StoreTask.store_id, StoreTask.campaign_id, StoreTask.due_at, func.count(), done)
                           .where(StoreTask.campaign_id.in_(running), StoreTask.status != "cancelled",
                                  StoreTask.template_id.not_in(follow_ups),
                                  StoreTask.due_at > now, StoreTask.due_at <= horizon)
                           .group_by(StoreTask.store_id, StoreTask.campaign_id, StoreTask.due_at)
                           .order_by(StoreTask.campaign_id, StoreTask.store_id, StoreTask.due_at)).all()
    readings = []
    for store_id, campaign_id, due_at, total, finished in rows:
        rate = int(finished or 0) / total
        if rate < trigger["below"]:
            stamp = due_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
            readings.append(Reading(store_id, campaign_id, f"due:{stamp}", rate, int(total)))
    return readings


def readings(session: Session, trigger: dict, *, now: dt.datetime) -> list[Reading]:
    """What a store-metric trigger sees now."""
    if trigger["type"] == "store.attach_rate":
        return attach_rate_below(session, trigger, now=now)
    return completion_below(session, trigger, now=now)


def due_of(period: str) -> dt.datetime | None:
    """The deadline of a completion period ('due:2026-12-01T10:00Z')."""
    if not period.startswith("due:"):
        return None
    return dt.datetime.strptime(period[4:], "%Y-%m-%dT%H:%MZ").replace(tzinfo=dt.timezone.utc)
