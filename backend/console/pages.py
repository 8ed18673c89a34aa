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
from backend.errors import Conflict, NotFound
from backend.org import service as org
from backend.org.models import User

PUBLISHED = ("scheduled", "live", "closed")


def totals(rows: list[dict]) -> dict:
    """Counts added over groups, and the completion and on-time rates of the sum."""
    summed = {key: sum(row[key] for row in rows)
              for key in ("tasks", "claimed", "submitted", "approved", "overdue")}
    summed["completion_rate"] = (round(summed["approved"] / summed["tasks"], 4)
                                 if summed["tasks"] else None)
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
    detail = {"campaign": campaign, "preview": None, "by_region": [], "by_store": []}
    if campaign.published_at is None:
        detail["preview"] = campaigns.preview_campaign(session=session, actor=actor,
                                                       campaign_id=campaign_id)
    else:
        detail["by_region"] = analytics.execution_rates(session=session, actor=actor,
                                                        group_by="region", campaign=campaign_id)
        detail["by_store"] = analytics.execution_rates(session=session, actor=actor,
                                                       group_by="store", campaign=campaign_id)
        detail["totals"] = totals(detail["by_region"])
    return detail


def editable_campaign(*, session: Session, actor: User, campaign_id: int):
    """A campaign the console's form may edit: drafts only (published ones change per template)."""
    campaign = campaigns.get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    if campaign.status != "draft":
        raise Conflict("Only draft campaigns are edited in the console.",
                       error="campaign_published", status=campaign.status)
    return campaign


def targeting_preview(*, session: Session, actor: User, targeting: dict, templates: int) -> dict:
    """The live count of the campaign form: unknown codes are named (422), else the preview."""
    targeting_rules.validate_targeting(session, targeting)
    return campaigns.preview(session=session, actor=actor, targeting=targeting,
                             templates=templates)


def campaign_form_choices(*, session: Session, actor: User) -> dict:
    """What the campaign form offers: the regions to target."""
    return {"regions": org.list_regions(session=session, actor=actor)}


def _region_in_scope(session: Session, actor: User, code: str):
    region = org.region_by_code(session, code)
    policy.ensure_region_in_scope(actor, region)
    return region


def dashboard(*, session: Session, actor: User, campaign: int | None, region: str | None) -> dict:
    """A supervisor's (or HQ's) execution dashboard: rates per store and per day, overdue tasks."""
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
    return {"campaign": chosen, "region": region, "by_store": by_store, "by_day": by_day,
            "overdue": overdue, "totals": totals(by_store),
            "campaigns": [item for item in published.items if item.status in PUBLISHED],
            "regions": org.list_regions(session=session, actor=actor)}


def execution_csv(*, session: Session, actor: User, campaign: int | None, region: str | None,
                  group_by: str) -> str:
    """The dashboard's rates as the API's CSV."""
    if region:
        _region_in_scope(session, actor, region)
    if group_by not in analytics.GROUPS:
        raise NotFound(f"No grouping '{group_by}'.")
    return analytics.as_csv(analytics.execution_rates(session=session, actor=actor,
                                                      group_by=group_by, campaign=campaign,
                                                      region=region))
