"""Campaign impact (SPEC §14): execution rates, and attach rate and featured-SKU sales of the
targeted stores against control stores as a difference in differences with a bootstrap interval.

Windows: *during* runs from the campaign's start to its end (or to now, if it is still
running); *before* is the same length of time just before the start. Treated stores are the
stores the campaign reached (they have a task of it); control stores are stores it did not
reach, in the same regions where there are any, that sold a featured SKU in both windows.
Every figure comes with its counts, and a figure that cannot be computed is null with a reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Integer, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session, aliased

from backend.analytics import did
from backend.auth import policy
from backend.campaigns import service as campaigns
from backend.campaigns.models import Campaign
from backend.catalog.models import Product, ProductPairing
from backend.db import utcnow
from backend.org.models import Region, Store, User
from backend.sales.models import SalesLine
from backend.tasks.models import StoreTask

ATTACH_PAIRINGS = 5  # as SPEC §8: a featured SKU's top 5 recommended partners count as an attach
BOOTSTRAP_SEED = 20261111  # with the campaign id: the same report gives the same interval
DAY = dt.timedelta(days=1)
STORE_COLUMNS = ("store", "region", "group", "featured_transactions_before", "attached_before",
                 "attach_rate_before", "featured_units_before", "featured_transactions_during",
                 "attached_during", "attach_rate_during", "featured_units_during")
ATTACH_METHOD = (
    "Attach rate = transactions holding a featured SKU and one of its top-5 recommended pairings "
    "/ transactions holding a featured SKU, pooled over the group's stores. uplift_did = "
    "(treated during - treated before) - (control during - control before), in rate points; "
    "uplift_relative = uplift_did / (treated before + control during - control before). "
    "ci95: 2.5th and 97.5th percentiles of {resamples} bootstrap resamples of stores (drawn with "
    "replacement within treated and within control; fixed seed).")
SALES_METHOD = (
    "Featured units per store = units of the featured SKUs sold in the window / stores in the "
    "group. uplift_did = (treated during - treated before) - (control during - control before), "
    "in units per store per window; relative and ci95 as for the attach rate.")


@dataclass
class _Windows:
    before_start: dt.datetime
    start: dt.datetime
    end: dt.datetime
    truncated: bool

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY


def _windows(campaign: Campaign, now: dt.datetime) -> _Windows | None:
    """The during window (up to now) and the before window of the same length; None before start."""
    end = min(campaign.ends_at, now)
    if end <= campaign.starts_at:
        return None
    return _Windows(campaign.starts_at - (end - campaign.starts_at), campaign.starts_at, end,
                    end < campaign.ends_at)


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


# ---- execution ------------------------------------------------------------------------------

def _execution(session: Session, actor: User, campaign_id: int) -> dict:
    """Completion, on-time and deviation rates of the campaign's tasks in scope, with counts."""
    one = lambda condition: func.coalesce(func.sum(cast(case((condition, 1), else_=0), Integer)), 0)  # noqa: E731
    submitted = StoreTask.submitted_at.is_not(None)
    row = session.execute(
        select(func.count(), func.count(StoreTask.submitted_at), one(StoreTask.status == "approved"),
               one(and_(submitted, StoreTask.late.is_(False))),
               one(and_(submitted, StoreTask.deviates.is_(True))))
        .where(StoreTask.campaign_id == campaign_id, StoreTask.status != "cancelled",
               policy.store_scope(actor, StoreTask.store_id))).one()
    tasks, submitted_count, approved, on_time, deviated = (int(value or 0) for value in row)
    reasons = {}
    if not tasks:
        reasons["completion_rate"] = "no_tasks"
    if not submitted_count:
        reasons["on_time_rate"] = reasons["deviation_rate"] = "no_submissions"
    return {"completion_rate": _ratio(approved, tasks), "on_time_rate": _ratio(on_time, submitted_count),
            "deviation_rate": _ratio(deviated, submitted_count),
            "tasks": {"total": tasks, "submitted": submitted_count, "approved": approved,
                      "on_time": on_time, "deviated": deviated},
            "reasons": reasons}


# ---- sales ----------------------------------------------------------------------------------

def _day_index(session: Session, sold_at, origin: dt.datetime):
    """Whole days from the before window's start to a sale (the timeline's bins)."""
    if session.bind.dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", sold_at - literal(origin)) / 86400), Integer)
    stamp = origin.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    return cast(func.julianday(sold_at) - func.julianday(stamp), Integer)


def has_top_pairing():
    """EXISTS: the receipt of the SalesLine row in the query also holds one of that line's
    product's top pairings (SPEC §8: an attached sale). Receipts are numbered per store: a
    transaction is (store, transaction id)."""
    partner = aliased(SalesLine)
    return (select(partner.id)
            .join(ProductPairing, (ProductPairing.paired_product_id == partner.product_id)
                  & (ProductPairing.product_id == SalesLine.product_id)
                  & (ProductPairing.rank <= ATTACH_PAIRINGS))
            .where(partner.transaction_id == SalesLine.transaction_id,
                   partner.store_id == SalesLine.store_id)
            .exists())


def _featured_counts(session: Session, actor: User, featured: list[int], windows: _Windows):
    """Per store, window and day: featured transactions, those with a pairing, featured units."""
    in_range = and_(SalesLine.product_id.in_(featured), SalesLine.sold_at >= windows.before_start,
                    SalesLine.sold_at < windows.end, policy.store_scope(actor, SalesLine.store_id))
    has_partner = has_top_pairing()
    transactions = (select(SalesLine.store_id, SalesLine.transaction_id,
                           func.min(SalesLine.sold_at).label("sold_at"),
                           func.sum(SalesLine.quantity).label("units"),
                           func.max(case((has_partner, 1), else_=0)).label("attached"))
                    .where(in_range).group_by(SalesLine.store_id, SalesLine.transaction_id).subquery())
    during = (transactions.c.sold_at >= windows.start).label("during")
    day = _day_index(session, transactions.c.sold_at, windows.before_start).label("day")
    statement = (select(transactions.c.store_id, during, day, func.count(),
                        func.sum(transactions.c.attached), func.sum(transactions.c.units))
                 .group_by(transactions.c.store_id, during, day))
    return [(store_id, bool(is_during), int(day_number), int(count), int(with_pairing), int(units or 0))
            for store_id, is_during, day_number, count, with_pairing, units in session.execute(statement)]


def _per_store(rows) -> dict[int, np.ndarray]:
    """store id → [transactions, attached, units] before, then the same during."""
    stores: dict[int, np.ndarray] = {}
    for store_id, is_during, _day, count, with_pairing, units in rows:
        figures = stores.setdefault(store_id, np.zeros(6, dtype=np.int64))
        figures[3 * is_during: 3 * is_during + 3] += (count, with_pairing, units)
    return stores


# ---- who is treated, who is control ---------------------------------------------------------

def _store_labels(session: Session, actor: User) -> dict[int, tuple[str, str]]:
    """store id → (store code, region code) of every store in the actor's scope."""
    return {store_id: (code, region) for store_id, code, region in session.execute(
        select(Store.id, Store.code, Region.code).join(Region, Store.region_id == Region.id)
        .where(policy.store_scope(actor, Store.id)))}


def _choose_groups(session: Session, actor: User, campaign_id: int, labels: dict, sales: dict) -> dict:
    """Treated and control stores, and the rule and counts behind the choice."""
    reached = set(session.scalars(select(StoreTask.store_id).where(
        StoreTask.campaign_id == campaign_id, policy.store_scope(actor, StoreTask.store_id)).distinct()))
    with_sales = {store_id for store_id, figures in sales.items() if figures[0] and figures[3]}
    treated = sorted(reached & with_sales)
    regions = sorted({labels[store_id][1] for store_id in reached if store_id in labels})
    not_reached = [store_id for store_id in labels if store_id not in reached]
    same_region = [store_id for store_id in not_reached if labels[store_id][1] in regions]
    rule = "same_regions"
    if not (set(same_region) & with_sales):
        rule, same_region = "other_regions", not_reached
    control = sorted(set(same_region) & with_sales)
    return {
        "treated": treated, "control": control,
        "treated_selection": {
            "rule": "reached_by_campaign",
            "explanation": "Stores the campaign reached (they have a task of it) that sold a "
                           "featured SKU in both windows.",
            "reached": len(reached), "excluded_without_sales_in_both_windows": len(reached) - len(treated)},
        "control_selection": {
            "rule": rule, "regions": regions if rule == "same_regions" else [],
            "explanation": ("Stores the campaign did not reach (no task of it), in the regions of "
                            "the stores it reached, that sold a featured SKU in both windows."
                            if rule == "same_regions" else
                            "No store outside the campaign sold a featured SKU in both windows in "
                            "its regions, so stores of other regions (not reached, with such sales "
                            "in both windows) are the control."),
            "candidates": len(same_region),
            "excluded_without_sales_in_both_windows": len(same_region) - len(control)},
    }


# ---- the figures ----------------------------------------------------------------------------

def _pair(before, during) -> dict:
    return {"before": before, "during": during}


def _figure(estimate: did.Estimate, digits: int) -> dict:
    """The four group figures, the uplift and its intervals, as the API shows them."""
    def interval(pair, places=digits):
        return [round(pair[0], places), round(pair[1], places)] if pair else None

    return {"treated": _pair(_rounded(estimate.treated_before, digits), _rounded(estimate.treated_during, digits)),
            "control": _pair(_rounded(estimate.control_before, digits), _rounded(estimate.control_during, digits)),
            "uplift_did": _rounded(estimate.did, digits), "ci95": interval(estimate.ci95),
            "uplift_relative": _rounded(estimate.relative), "ci95_relative": interval(estimate.ci95_relative, 4),
            "naive_uplift": (_rounded(estimate.treated_during - estimate.treated_before, digits)
                             if estimate.treated_during is not None and estimate.treated_before is not None
                             else None),
            "resamples": estimate.resamples_used, "reason": estimate.reason}


def _group_sums(sales: dict, stores: list[int]) -> np.ndarray:
    return sum((sales[store_id] for store_id in stores), np.zeros(6, dtype=np.int64))


def _metrics(sales: dict, treated: list[int], control: list[int], seed: list[int]) -> tuple[dict, dict]:
    """The attach-rate and featured-sales figures of the chosen groups."""
    def rows(stores, kind):
        if kind == "attach":  # attached / featured transactions
            return np.array([[sales[s][1], sales[s][0], sales[s][4], sales[s][3]] for s in stores], float)
        return np.array([[sales[s][2], 1, sales[s][5], 1] for s in stores], float)  # units / stores

    sums = {"treated": _group_sums(sales, treated), "control": _group_sums(sales, control)}
    attach = _figure(did.estimate(rows(treated, "attach"), rows(control, "attach"), seed=seed + [1]), 4)
    attach.update(
        transactions={group: _pair(int(total[0]), int(total[3])) for group, total in sums.items()},
        attached={group: _pair(int(total[1]), int(total[4])) for group, total in sums.items()},
        stores={"treated": len(treated), "control": len(control)},
        method=ATTACH_METHOD.format(resamples=did.RESAMPLES))
    featured = _figure(did.estimate(rows(treated, "sales"), rows(control, "sales"), seed=seed + [2]), 2)
    featured.update(
        units={group: _pair(int(total[2]), int(total[5])) for group, total in sums.items()},
        transactions=attach["transactions"], stores=attach["stores"], method=SALES_METHOD)
    return attach, featured


def _timeline(rows, treated: list[int], control: list[int], windows: _Windows) -> list[dict]:
    """Per day of both windows: each group's featured transactions, attached ones and units."""
    group_of = {**{store_id: "treated" for store_id in treated},
                **{store_id: "control" for store_id in control}}
    days = int(np.ceil((windows.end - windows.before_start) / DAY))
    counts = {group: np.zeros((days, 3), dtype=np.int64) for group in ("treated", "control")}
    for store_id, _during, day, count, with_pairing, units in rows:
        if store_id in group_of and 0 <= day < days:
            counts[group_of[store_id]][day] += (count, with_pairing, units)
    timeline = []
    for day in range(days):
        start = windows.before_start + day * DAY
        entry = {"day": day, "start": start, "window": "during" if start >= windows.start else "before"}
        for group, stores in (("treated", treated), ("control", control)):
            count, with_pairing, units = (int(value) for value in counts[group][day])
            entry[group] = {"transactions": count, "attached": with_pairing, "units": units,
                            "attach_rate": _ratio(with_pairing, count),
                            "units_per_store": round(units / len(stores), 3) if stores else None}
        timeline.append(entry)
    return timeline


def _store_rows(sales: dict, labels: dict, treated: list[int], control: list[int]) -> list[dict]:
    rows = []
    for group, stores in (("treated", treated), ("control", control)):
        for store_id in sorted(stores, key=lambda store_id: labels[store_id][0]):
            figures = [int(value) for value in sales[store_id]]
            rows.append({"store": labels[store_id][0], "region": labels[store_id][1], "group": group,
                         "featured_transactions_before": figures[0], "attached_before": figures[1],
                         "attach_rate_before": _ratio(figures[1], figures[0]),
                         "featured_units_before": figures[2],
                         "featured_transactions_during": figures[3], "attached_during": figures[4],
                         "attach_rate_during": _ratio(figures[4], figures[3]),
                         "featured_units_during": figures[5]})
    return rows


def _not_computable(reason: str) -> dict:
    empty = {"treated": _pair(None, None), "control": _pair(None, None), "uplift_did": None,
             "ci95": None, "uplift_relative": None, "ci95_relative": None, "naive_uplift": None,
             "resamples": 0, "reason": reason, "transactions": None,
             "stores": {"treated": 0, "control": 0}}
    return {"attach": {**empty, "attached": None, "method": ATTACH_METHOD.format(resamples=did.RESAMPLES)},
            "featured_sales_per_store": {**empty, "units": None, "method": SALES_METHOD}}


def campaign_impact(*, session: Session, actor: User, campaign_id: int) -> dict:
    """The impact report of one campaign, within the actor's scope (SPEC §14)."""
    campaign = campaigns.get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    report = {"campaign": {"id": campaign.id, "code": campaign.code, "title": campaign.title,
                           "status": campaign.effective_status(utcnow()),
                           "starts_at": campaign.starts_at, "ends_at": campaign.ends_at,
                           "featured_skus": list(campaign.featured_skus)},
              **_execution(session, actor, campaign.id),
              "stores_treated": 0, "stores_control": 0, "windows": None, "treated_selection": None,
              "control_selection": None, "timeline": [], "stores": []}
    windows = _windows(campaign, utcnow())
    featured = list(session.scalars(select(Product.id).where(
        Product.sku.in_(campaign.featured_skus)))) if campaign.featured_skus else []
    reason = ("campaign_not_started" if windows is None else
              "no_featured_skus" if not featured else None)
    if reason:
        return {**report, **_not_computable(reason)}
    report["windows"] = {"before": {"start": windows.before_start, "end": windows.start},
                         "during": {"start": windows.start, "end": windows.end},
                         "days": round(windows.days, 3), "during_cut_at_now": windows.truncated}
    rows = _featured_counts(session, actor, featured, windows)
    sales = _per_store(rows)
    labels = _store_labels(session, actor)
    groups = _choose_groups(session, actor, campaign.id, labels, sales)
    treated, control = groups.pop("treated"), groups.pop("control")
    report.update(groups, stores_treated=len(treated), stores_control=len(control))
    attach, featured_sales = _metrics(sales, treated, control, [BOOTSTRAP_SEED, campaign.id])
    if attach["reason"] not in ("no_treated_stores", "no_control_stores") and not session.scalar(
            select(func.count()).select_from(ProductPairing).where(ProductPairing.product_id.in_(featured))):
        attach = {**_not_computable("no_pairings_for_featured_skus")["attach"],
                  "transactions": attach["transactions"], "stores": attach["stores"]}
    report.update(attach=attach, featured_sales_per_store=featured_sales,
                  timeline=_timeline(rows, treated, control, windows),
                  stores=_store_rows(sales, labels, treated, control))
    return report


def stores_csv(report: dict) -> str:
    """The per-store evidence of a report as CSV (the pooled figures are sums of its columns)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=STORE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report["stores"])
    return buffer.getvalue()
