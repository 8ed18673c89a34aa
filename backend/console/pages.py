"""What each console page shows, gathered from the same services the API calls.

Each function reads through the campaign, task, org and analytics services with the signed-in
actor, so scope and role rules are exactly the API's; none of them writes or commits.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.analytics import service as analytics
from backend.auth import policy
from backend.campaigns import service as campaigns
from backend.campaigns import targeting as targeting_rules
from backend.catalog import service as catalog
from backend.db import utcnow
from backend.errors import Conflict, NotFound
from backend.org import service as org
from backend.org.models import User
from backend.tasks import service as tasks

PUBLISHED = ("scheduled", "live", "closed")


def totals(rows: list[dict]) -> dict:
    """Counts added over groups, and the completion and on-time rates of the sum."""
    summed = {key: sum(row[key] for row in rows)
              for key in ("tasks", "claimed", "submitted", "approved", "overdue")}
    summed["completion_rate"] = (round(summed["approved"] / summed["tasks"], 4)
                                 if summed["tasks"] else None)
    # Each group's rate over its own submissions gives back its whole count of them.
    for rate in ("on_time_rate", "deviation_rate"):
        counted = sum(round((row.get(rate) or 0) * row["submitted"]) for row in rows)
        summed[rate] = round(counted / summed["submitted"], 4) if summed["submitted"] else None
    return summed


def campaign_list(*, session: Session, actor: User, page: int, status: str | None) -> dict:
    """A page of campaigns, each published one with its progress totals."""
    listed = campaigns.list_campaigns(session=session, actor=actor, page=page, page_size=20,
                                      status=status)
    progress = {campaign.id: totals(analytics.execution_rates(
        session=session, actor=actor, group_by="region", campaign=campaign.id))
        for campaign in listed.items if campaign.published_at is not None}
    return {"listed": listed, "progress": progress, "status": status}


def campaign_detail(*, session: Session, actor: User, campaign_id: int) -> dict:
    """A campaign, its reach (drafts) or its progress per region and per store (published)."""
    campaign = campaigns.get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    detail = {"campaign": campaign, "preview": None, "by_region": [], "by_store": [],
              "product_names": catalog.product_names(session=session, actor=actor,
                                                     skus=campaign.featured_skus)}
    if campaign.published_at is None:
        detail["preview"] = campaigns.preview_campaign(session=session, actor=actor,
                                                       campaign_id=campaign_id)
    else:
        detail["by_region"] = analytics.execution_rates(session=session, actor=actor,
                                                        group_by="region", campaign=campaign_id)
        detail["by_store"] = analytics.execution_rates(session=session, actor=actor,
                                                       group_by="store", campaign=campaign_id)
        detail["totals"] = {**totals(detail["by_region"]), **analytics.campaign_attach(
            session=session, actor=actor, campaign_id=campaign_id)}
        detail["by_day"] = analytics.execution_rates(session=session, actor=actor,
                                                     group_by="day", campaign=campaign_id)
        detail["store_names"] = org.store_names(
            session=session, actor=actor, codes=[row["group"] for row in detail["by_store"]])
    return detail


def editable_campaign(*, session: Session, actor: User, campaign_id: int):
    """A campaign the console's form may edit: drafts only (published ones change per template)."""
    campaign = campaigns.get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    if campaign.status != "draft":
        raise Conflict("Only draft campaigns are edited in the console.",
                       error="campaign_published", current_status=campaign.status)
    return campaign


def campaign_targeting(*, session: Session, actor: User, campaign_id: int) -> dict:
    """A campaign whose targeting may still change (not closed or cancelled), and the regions."""
    campaign = campaigns.get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    if campaign.status in ("closed", "cancelled"):
        raise Conflict("A closed or cancelled campaign cannot be edited.",
                       error="campaign_locked", current_status=campaign.status)
    return {"campaign": campaign, **campaign_form_choices(session=session, actor=actor)}


def targeting_preview(*, session: Session, actor: User, targeting: dict, templates: int) -> dict:
    """The live count of the campaign form: unknown codes are named (422), else the preview."""
    targeting_rules.validate_targeting(session, targeting)
    return campaigns.preview(session=session, actor=actor, targeting=targeting,
                             templates=templates)


def campaign_form_choices(*, session: Session, actor: User) -> dict:
    """What the campaign form offers: the regions to target."""
    return {"regions": org.list_regions(session=session, actor=actor)}


def template_edit(*, session: Session, actor: User, campaign_id: int, template_id: int) -> dict:
    """A template to edit after publish, and what saving it would flag (HQ)."""
    impact = campaigns.template_edit_impact(session=session, actor=actor, campaign_id=campaign_id,
                                            template_id=template_id)
    campaign = impact["template"].campaign
    if campaign.status in ("closed", "cancelled"):
        raise Conflict("A closed or cancelled campaign cannot be edited.",
                       error="campaign_locked", current_status=campaign.status)
    return {"campaign": campaign, **impact}


def store_tasks(*, session: Session, actor: User, code: str, campaign: int | None,
                status: str | None, page: int) -> dict:
    """One store's tasks (optionally of one campaign), with the clerks a task may go to."""
    store = org.get_store(session=session, actor=actor, code=code)
    chosen = (campaigns.get_campaign(session=session, actor=actor, campaign_id=campaign)
              if campaign is not None else None)
    listed = tasks.list_tasks(session=session, actor=actor, page=page, page_size=50,
                              campaign=campaign, store=code, status=status)
    clerks = org.list_users(session=session, actor=actor, page=1, page_size=200, role="clerk",
                            store=code).items
    return {"store": store, "campaign": chosen, "status": status, "listed": listed,
            "clerks": [clerk for clerk in clerks if clerk.active], "now": utcnow()}


# What a task's history shows of each event: these keys of its before/after, in this order.
HISTORY_KEYS = ("status", "claimants", "assignee", "template_version", "instructions_changed",
                "decision", "comment", "reason", "recipients")


def history_rows(events) -> list[dict]:
    """A task's events as rows a person reads: when, who, what, and each change from → to."""
    rows = []
    for event in events or []:
        before, after = event.before or {}, event.after or {}
        changes = []
        for key in HISTORY_KEYS:
            if key not in after and key not in before:
                continue
            old, new = before.get(key), after.get(key)
            if key in ("status", "claimants") and old == new:
                continue
            changes.append({"field": key, "before": old, "after": new})
        rows.append({"at": event.server_time, "client_time": event.client_time,
                     "who": event.user, "action": event.action, "changes": changes})
    return rows


def task_detail(*, session: Session, actor: User, task_id: int) -> dict:
    """A task's proof, its readable history and the store's clerks (to assign it)."""
    detail = tasks.get_task(session=session, actor=actor, task_id=task_id, include="history")
    clerks = org.list_users(session=session, actor=actor, page=1, page_size=200, role="clerk",
                            store=detail["task"].store.code).items
    task = detail["task"]
    skus = [*task.campaign.featured_skus, *task.observed_prices, *task.sales]
    return {**detail, "events": history_rows(detail["history"]),
            "clerks": [clerk for clerk in clerks if clerk.active],
            "product_names": catalog.product_names(session=session, actor=actor, skus=skus)}


def _region_in_scope(session: Session, actor: User, code: str):
    region = org.region_by_code(session, code)
    policy.ensure_region_in_scope(actor, region)
    return region


def _matches(q: str | None, code: str, name: str) -> bool:
    """A store found by part of its name or code, any case (no search: every store)."""
    return not q or q.casefold() in code.casefold() or q.casefold() in name.casefold()


def dashboard(*, session: Session, actor: User, campaign: int | None, region: str | None,
              q: str | None = None) -> dict:
    """A supervisor's (or HQ's) execution dashboard: rates per store and per day, overdue tasks;
    ``q`` keeps the stores whose name or code contains it."""
    if region:
        _region_in_scope(session, actor, region)
    chosen = (campaigns.get_campaign(session=session, actor=actor, campaign_id=campaign)
              if campaign is not None else None)
    filters = {"campaign": campaign, "region": region}
    by_store = analytics.execution_rates(session=session, actor=actor, group_by="store", **filters)
    by_day = analytics.execution_rates(session=session, actor=actor, group_by="day", **filters)
    overdue = analytics.overdue_tasks(session=session, actor=actor, campaign=campaign)
    overdue = [task for task in overdue if not region or task.store.region.code == region][:50]
    published = campaigns.list_campaigns(session=session, actor=actor, page=1, page_size=100)
    names = org.store_names(session=session, actor=actor,
                            codes=[row["group"] for row in by_store])
    by_store = [row for row in by_store if _matches(q, row["group"], names.get(row["group"], ""))]
    overdue = [task for task in overdue if _matches(q, task.store.code, task.store.name)]
    return {"campaign": chosen, "region": region, "q": q, "by_store": by_store, "by_day": by_day,
            "overdue": overdue, "totals": totals(by_store), "store_names": names,
            "campaigns": [item for item in published.items if item.status in PUBLISHED],
            "regions": org.list_regions(session=session, actor=actor)}


def execution_csv(*, session: Session, actor: User, campaign: int | None, region: str | None,
                  group_by: str, headers: dict[str, str] | None = None) -> str:
    """The dashboard's rates as the API's CSV; with ``headers`` (column → title) the header
    line is those titles (a spreadsheet in the reader's language), else the stable column names."""
    if region:
        _region_in_scope(session, actor, region)
    if group_by not in analytics.GROUPS:
        raise NotFound(f"No grouping '{group_by}'.")
    text = analytics.as_csv(analytics.execution_rates(session=session, actor=actor,
                                                      group_by=group_by, campaign=campaign,
                                                      region=region))
    if not headers:
        return text
    first, _, rest = text.partition("\n")
    return ",".join(headers.get(column, column) for column in first.split(",")) + "\n" + rest
