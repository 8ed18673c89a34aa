"""Clock-driven notifications: reminders before due, overdue escalations, campaign summaries.
Each run is idempotent (dedupe keys), so several workers may run it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from backend.campaigns.models import Campaign
from backend.org.models import Store, User, supervisor_regions
from backend.tasks.models import ACTIVE_STATUSES, StoreTask
from notifications import outbox


def _open_tasks():
    return StoreTask.status.in_(ACTIVE_STATUSES)


def _live_campaign():
    return StoreTask.campaign_id.in_(select(Campaign.id).where(Campaign.status.in_(("scheduled", "live"))))


def queue_reminders(session: Session, *, now: dt.datetime, lead: dt.timedelta) -> None:
    """A reminder to the clerks of every open or unsubmitted task due within ``lead``: the
    claimants when it is held, every clerk of the store when nobody holds it yet."""
    due_soon = and_(_open_tasks(), _live_campaign(), StoreTask.due_at > now, StoreTask.due_at <= now + lead)
    outbox.insert_for_tasks(session, "reminder", condition=due_soon & (StoreTask.status == "open"),
                            recipients=outbox.clerks_of_store(), now=now, dedupe_prefix="reminder:")
    outbox.insert_for_tasks(session, "reminder", condition=due_soon & (StoreTask.status != "open"),
                            recipients=outbox.claimants(), now=now, dedupe_prefix="reminder:")


def queue_overdue_escalations(session: Session, *, now: dt.datetime, lookback: dt.timedelta) -> None:
    """One escalation per overdue task to each supervisor of the store's region (tasks that
    fell overdue within ``lookback``; older ones were escalated when they did)."""
    supervisors = (select(User.id.label("user_id"), StoreTask.id.label("task_id"))
                   .join(supervisor_regions, supervisor_regions.c.user_id == User.id)
                   .join(Store, Store.region_id == supervisor_regions.c.region_id)
                   .join(StoreTask, StoreTask.store_id == Store.id)
                   .where(User.role == "supervisor", User.active.is_(True)))
    overdue = and_(_open_tasks(), _live_campaign(), StoreTask.due_at <= now,
                   StoreTask.due_at > now - lookback)
    outbox.insert_for_tasks(session, "overdue", condition=overdue, recipients=supervisors, now=now,
                            dedupe_prefix="overdue:")


def summarize_campaign(session: Session, campaign: Campaign, now: dt.datetime) -> None:
    """Each supervisor with stores in the campaign gets their regions' completion figures."""
    approved = func.sum(case((StoreTask.status == "approved", 1), else_=0))
    counted = func.sum(case((StoreTask.status != "cancelled", 1), else_=0))
    rows = session.execute(
        select(supervisor_regions.c.user_id, counted, approved)
        .join(Store, Store.region_id == supervisor_regions.c.region_id)
        .join(StoreTask, StoreTask.store_id == Store.id)
        .join(User, User.id == supervisor_regions.c.user_id)
        .where(StoreTask.campaign_id == campaign.id, User.active.is_(True), User.role == "supervisor")
        .group_by(supervisor_regions.c.user_id)).all()
    for user_id, tasks, done in rows:
        tasks, done = int(tasks or 0), int(done or 0)
        outbox.insert_one(session, user_id=user_id, kind="campaign_summary", now=now,
                          campaign_id=campaign.id, dedupe_key=f"summary:{campaign.id}",
                          params={"tasks": tasks, "approved": done,
                                  "completion": f"{done / tasks:.0%}" if tasks else "—"})


def queue_campaign_summaries(session: Session, *, now: dt.datetime, lookback: dt.timedelta) -> None:
    """Summaries of campaigns that ended (by date) within ``lookback`` without being closed."""
    ended = session.scalars(select(Campaign).where(
        Campaign.status.in_(("scheduled", "live")), Campaign.ends_at <= now,
        Campaign.ends_at > now - lookback)).all()
    for campaign in ended:
        summarize_campaign(session, campaign, now)


def run_schedule(session: Session, *, now: dt.datetime, reminder_lead: dt.timedelta,
                 lookback: dt.timedelta) -> None:
    """Every clock-driven notification due at ``now``, in one transaction."""
    queue_reminders(session, now=now, lead=reminder_lead)
    queue_overdue_escalations(session, now=now, lookback=lookback)
    queue_campaign_summaries(session, now=now, lookback=lookback)
    session.commit()

