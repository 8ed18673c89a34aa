"""Execution rates per region, store, clerk or day, computed with SQL aggregates."""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics

from sqlalchemy import Integer, String, and_, bindparam, case, cast, func, select
from sqlalchemy.orm import Session, aliased

from backend.analytics import rollups
from backend.auth import policy
from backend.campaigns.models import Campaign
from backend.catalog.models import Product, ProductPairing
from backend.db import utcnow
from backend.org.models import Region, Store, User
from backend.sales.models import SalesLine
from backend.tasks.models import ACTIVE_STATUSES, StoreTask, TaskClaim

GROUPS = ("region", "store", "clerk", "day")
COLUMNS = ("group", "tasks", "claimed", "submitted", "approved", "overdue", "completion_rate",
           "on_time_rate", "median_claim_minutes", "deviation_rate", "attach_rate",
           "attach_rate_before", "attach_uplift")
ATTACH_PAIRINGS = 5  # a featured SKU's top 5 recommended partners count as an attach


class _Median:
    """SQLite has no percentile aggregate: this one collects a group's values (NULLs skipped)."""

    def __init__(self):
        self.values: list[float] = []

    def step(self, value):
        if value is not None:
            self.values.append(value)

    def finalize(self):
        return statistics.median(self.values) if self.values else None


def _median(session: Session, value):
    """The median of a column per group, ignoring NULLs, on either database (on SQLite this
    registers the aggregate on the session's connection first)."""
    if session.bind.dialect.name == "postgresql":
        return func.percentile_cont(0.5).within_group(value)
    session.connection().connection.driver_connection.create_aggregate("median", 1, _Median)
    return func.median(value)


def _claim_seconds(dialect: str):
    """Seconds from publish to the first claim (NULL while unclaimed)."""
    if dialect == "postgresql":
        return func.extract("epoch", StoreTask.first_claimed_at - StoreTask.created_at)
    return (func.julianday(StoreTask.first_claimed_at) - func.julianday(StoreTask.created_at)) * 86400


def _group_id(group_by: str, dialect: str):
    """What tasks are grouped by: an id (labelled after aggregating, so a million rows are not
    joined to their labels) or the day tasks were due."""
    return {"region": Store.region_id, "store": StoreTask.store_id, "clerk": TaskClaim.user_id,
            "day": func.date(func.timezone("UTC", StoreTask.due_at))
            if dialect == "postgresql" else func.date(StoreTask.due_at)}[group_by]


def _labelled(group_by: str, grouped):
    """The aggregated rows with their group's name (region or store code, username, day)."""
    if group_by == "day":
        return select(grouped.c.group_id.label("group"), grouped).order_by(grouped.c.group_id)
    label = {"region": Region.code, "store": Store.code, "clerk": User.username}[group_by]
    table = label.class_
    return (select(label.label("group"), grouped).join(grouped, grouped.c.group_id == table.id)
            .order_by(label))


def _base(actor: User, group_by: str, campaign: int | None, region: str | None,
          store: str | None, due_from: dt.datetime | None, due_to: dt.datetime | None):
    """FROM/WHERE shared by every aggregate: non-cancelled tasks in the actor's scope."""
    statement = (select().select_from(StoreTask)
                 .where(StoreTask.status != "cancelled", policy.store_scope(actor, StoreTask.store_id)))
    if group_by == "region":
        statement = statement.join(Store, StoreTask.store_id == Store.id)
    if group_by == "clerk":  # a task held by two clerks counts for each
        statement = statement.join(TaskClaim, TaskClaim.task_id == StoreTask.id)
    if campaign is not None:
        statement = statement.where(StoreTask.campaign_id == campaign)
    if region:
        statement = statement.where(StoreTask.store_id.in_(
            select(Store.id).join(Region, Store.region_id == Region.id).where(Region.code == region)))
    if store:
        statement = statement.where(
            StoreTask.store_id == select(Store.id).where(Store.code == store).scalar_subquery())
    if due_from:
        statement = statement.where(StoreTask.due_at >= due_from)
    if due_to:
        statement = statement.where(StoreTask.due_at < due_to)
    return statement


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def execution_rates(*, session: Session, actor: User, group_by: str = "region",
                    campaign: int | None = None, region: str | None = None, store: str | None = None,
                    due_from: dt.datetime | None = None, due_to: dt.datetime | None = None,
                    live: bool = False) -> list[dict]:
    """One row per group: counts and the rates of SPEC §8 (attach rate arrives with sales lines).

    Unfiltered groupings are read from the rollups (``backend.analytics.rollups``) unless ``live``;
    the others, and ``live=True``, aggregate the tasks themselves."""
    now = utcnow()
    if not live and rollups.answers(actor, group_by, campaign=campaign, region=region, store=store,
                                    due_from=due_from, due_to=due_to):
        return [_row(*row) for row in rollups.rows(session, actor, group_by, now)]
    submitted = StoreTask.submitted_at.is_not(None)
    one = lambda condition: func.sum(cast(case((condition, 1), else_=0), Integer))  # noqa: E731
    group_id = _group_id(group_by, session.bind.dialect.name).label("group_id")
    base = _base(actor, group_by, campaign, region, store, due_from, due_to)
    counts = [
        func.count().label("tasks"), func.count(StoreTask.first_claimed_at).label("claimed"),
        func.count(StoreTask.submitted_at).label("submitted"),
        one(StoreTask.status == "approved").label("approved"),
        one(and_(StoreTask.status.in_(ACTIVE_STATUSES), StoreTask.due_at < now)).label("overdue"),
        one(and_(submitted, StoreTask.late.is_(False))).label("on_time"),
        one(and_(submitted, StoreTask.deviates.is_(True))).label("deviated")]
    claim_median = _median(session, _claim_seconds(session.bind.dialect.name)).label("median_seconds")
    # PostgreSQL aggregates the counts in parallel (partial hash aggregates), which an ordered-set
    # aggregate such as percentile_cont in the same statement rules out: there the median gets a
    # statement of its own, unless the tasks are joined to their claims (by clerk), a join that
    # costs more than the aggregates. SQLite has one thread: one pass is always cheaper.
    together = group_by == "clerk" or session.bind.dialect.name != "postgresql"
    counted = (base.add_columns(group_id, *counts, *([claim_median] if together else []))
               .group_by(group_id).subquery())
    medians = {} if together else dict(session.execute(
        base.where(StoreTask.first_claimed_at.is_not(None)).add_columns(group_id, claim_median)
        .group_by(group_id)).all())
    attach = (_attach_rates(session, actor, group_by, campaign, region, store)
              if campaign is not None and group_by in ("region", "store") else {})
    rows = []
    for group, key, tasks, claimed, submitted_count, approved, overdue, on_time, deviated, *median \
            in session.execute(_labelled(group_by, counted)):
        median_seconds = median[0] if together else medians.get(key)
        rows.append({**_row(group, key, tasks, claimed, submitted_count, approved, overdue, on_time,
                            deviated, median_seconds), **attach.get(group, _NO_ATTACH)})
    return rows


_NO_ATTACH = {"attach_rate": None, "attach_rate_before": None, "attach_uplift": None}


def _rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator to 4 decimals, half up (a quarter of ``round``'s cost: it runs
    30,000 times for the store grouping of the whole chain)."""
    return int(numerator * 10000 / denominator + 0.5) / 10000 if denominator else None


def _row(group, _key, tasks, claimed, submitted, approved, overdue, on_time, deviated,
         median_seconds) -> dict:
    """One answer row from a group's counts (live or rolled up)."""
    approved = approved or 0
    return {"group": str(group) if group is not None else None,
            "tasks": tasks, "claimed": claimed, "submitted": submitted,
            "approved": approved, "overdue": overdue or 0,
            "completion_rate": _rate(approved, tasks),
            "on_time_rate": _rate(on_time or 0, submitted),
            "median_claim_minutes": (int(float(median_seconds) / 6 + 0.5) / 10
                                     if median_seconds is not None else None),
            "deviation_rate": _rate(deviated or 0, submitted), **_NO_ATTACH}


def execution_report(*, session: Session, actor: User, group_by: str = "region",
                     campaign: int | None = None, region: str | None = None, store: str | None = None,
                     due_from: dt.datetime | None = None, due_to: dt.datetime | None = None) -> dict:
    """``execution_rates`` with how they were computed: from the rollups or from the tasks, and
    how close the median is (0: exact; region and day medians from rollups: within 1 %)."""
    from_rollups = rollups.answers(actor, group_by, campaign=campaign, region=region, store=store,
                                   due_from=due_from, due_to=due_to)
    rows = execution_rates(session=session, actor=actor, group_by=group_by, campaign=campaign,
                           region=region, store=store, due_from=due_from, due_to=due_to)
    return {"group_by": group_by, "rows": rows, "source": "rollups" if from_rollups else "tasks",
            "median_relative_error": (rollups.MEDIAN_RELATIVE_ERROR
                                      if from_rollups and group_by in ("region", "day") else 0.0)}


def _attach_counts(session: Session, actor: User, group_by: str, featured: list[int],
                   start: dt.datetime, end: dt.datetime, region: str | None, store: str | None):
    """Per group: transactions with a featured SKU, and those also holding one of its pairings."""
    key = Region.code if group_by == "region" else Store.code
    partner = aliased(SalesLine)
    # A receipt is (store, transaction id): the same id in two stores is two receipts.
    receipt = cast(SalesLine.store_id, String) + ":" + SalesLine.transaction_id
    attached = (select(receipt)
                .join(ProductPairing, (ProductPairing.product_id == SalesLine.product_id)
                      & (ProductPairing.rank <= ATTACH_PAIRINGS))
                .join(partner, (partner.store_id == SalesLine.store_id)
                      & (partner.transaction_id == SalesLine.transaction_id)
                      & (partner.product_id == ProductPairing.paired_product_id))
                .where(SalesLine.product_id.in_(featured)))
    statement = (select(key.label("group"),
                        func.count(func.distinct(receipt)).label("with_featured"),
                        func.count(func.distinct(case((receipt.in_(attached), receipt)))).label("attached"))
                 .select_from(SalesLine).join(Store, SalesLine.store_id == Store.id)
                 .join(Region, Store.region_id == Region.id)
                 .where(SalesLine.product_id.in_(featured), SalesLine.sold_at >= start,
                        SalesLine.sold_at < end, policy.store_scope(actor, SalesLine.store_id))
                 .group_by(key))
    if region:
        statement = statement.where(Region.code == region)
    if store:
        statement = statement.where(Store.code == store)
    return {row.group: (row.with_featured, row.attached) for row in session.execute(statement)}


def _attach_rates(session: Session, actor: User, group_by: str, campaign_id: int,
                  region: str | None, store: str | None) -> dict:
    """Attach rate during the campaign (so far) and in the same length of time before it."""
    campaign = session.get(Campaign, campaign_id)
    featured = list(session.scalars(select(Product.id).where(
        Product.sku.in_(campaign.featured_skus)))) if campaign else []
    if not featured:
        return {}
    start, end = campaign.starts_at, min(campaign.ends_at, utcnow())
    if end <= start:
        return {}
    during = _attach_counts(session, actor, group_by, featured, start, end, region, store)
    before = _attach_counts(session, actor, group_by, featured, start - (end - start), start,
                            region, store)
    rates = {}
    for group in set(during) | set(before):
        now_rate = _ratio(during.get(group, (0, 0))[1], during.get(group, (0, 0))[0])
        then_rate = _ratio(before.get(group, (0, 0))[1], before.get(group, (0, 0))[0])
        rates[group] = {"attach_rate": now_rate, "attach_rate_before": then_rate,
                        "attach_uplift": round(now_rate / then_rate - 1, 4)
                        if now_rate is not None and then_rate else None}
    return rates


def campaign_attach(*, session: Session, actor: User, campaign_id: int) -> dict:
    """The attach rate over every store in the actor's scope: during the campaign (so far), in
    the same length of time before it, and the relative uplift (the rows' figures, summed)."""
    none = {"attach_rate": None, "attach_rate_before": None, "attach_uplift": None}
    campaign = session.get(Campaign, campaign_id)
    featured = list(session.scalars(select(Product.id).where(
        Product.sku.in_(campaign.featured_skus)))) if campaign else []
    start, end = (campaign.starts_at, min(campaign.ends_at, utcnow())) if campaign else (None, None)
    if not featured or end <= start:
        return none
    totals = []
    for window_start, window_end in ((start, end), (start - (end - start), start)):
        counts = _attach_counts(session, actor, "region", featured, window_start, window_end,
                                None, None).values()
        totals.append(_ratio(sum(attached for _, attached in counts),
                             sum(with_featured for with_featured, _ in counts)))
    during, before = totals
    return {"attach_rate": during, "attach_rate_before": before,
            "attach_uplift": round(during / before - 1, 4) if during is not None and before else None}


def leaderboard(*, session: Session, actor: User, level: str = "store",
                campaign: int | None = None, live: bool = False) -> list[dict]:
    """Stores or clerks by completion rate, then on-time rate (the best first)."""
    rows = execution_rates(session=session, actor=actor, group_by=level, campaign=campaign, live=live)
    return sorted(rows, key=lambda row: (-(row["completion_rate"] or 0), -(row["on_time_rate"] or 0),
                                         row["group"] or ""))


def overdue_tasks(*, session: Session, actor: User, campaign: int | None = None,
                  limit: int = 200) -> list[StoreTask]:
    """Tasks past due and not yet submitted, the longest overdue first (for follow-up)."""
    # The statuses inline (not bound) so the planner can prove the partial index
    # ix_store_tasks_active_due applies and read it in order, stopping at the limit.
    active = StoreTask.status.in_(bindparam("active", list(ACTIVE_STATUSES), literal_execute=True))
    statement = (select(StoreTask).where(active, StoreTask.due_at < utcnow(),
                                         policy.store_scope(actor, StoreTask.store_id))
                 .order_by(StoreTask.due_at, StoreTask.id).limit(limit))
    if campaign is not None:
        statement = statement.where(StoreTask.campaign_id == campaign)
    return list(session.scalars(statement))


def as_csv(rows: list[dict]) -> str:
    """The rows as CSV with a header line."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
