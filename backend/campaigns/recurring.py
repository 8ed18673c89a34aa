"""Occurrences of recurring task templates: the worker's job, run every minute, creates each
occurrence's store tasks ahead of time, once (unique keys make re-runs and several workers add
nothing), in each store's timezone."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import changefeed, db, events
from backend.campaigns import recurrence, targeting
from backend.campaigns.models import Campaign, TaskTemplate
from backend.campaigns.service import store_task_row
from backend.org.models import Store
from backend.tasks.models import StoreTask

DEFAULT_DURATION = dt.timedelta(hours=24)
_COPIED = ("campaign_id", "position", "title", "instructions", "kind", "checklist", "proof",
           "max_claimants", "script_hint", "store_id")


def _occurrence_template(session: Session, parent: TaskTemplate, local: str) -> int:
    """The id of the parent's child template for this local wall time (made once)."""
    values = {name: getattr(parent, name) for name in _COPIED}
    values.update(recurrence_of_id=parent.id, occurrence=local, version=1, due_at=None,
                  due_offset_hours=None, recurrence=None, import_key=None)
    session.execute(db.insert_skipping_conflicts(session, TaskTemplate.__table__,
                                                 ["recurrence_of_id", "occurrence"]).values(**values))
    return session.scalar(select(TaskTemplate.id).where(TaskTemplate.recurrence_of_id == parent.id,
                                                        TaskTemplate.occurrence == local))


def create_due_occurrences(session: Session, *, now: dt.datetime, lead: dt.timedelta) -> int:
    """Store tasks of every occurrence starting before ``now + lead`` and not yet due; returns
    how many tasks were created. Commits."""
    parents = session.execute(
        select(TaskTemplate, Campaign).join(Campaign, Campaign.id == TaskTemplate.campaign_id)
        .where(TaskTemplate.recurrence.is_not(None), Campaign.status.in_(("scheduled", "live")),
               Campaign.published_at.is_not(None), Campaign.ends_at > now)).all()
    created: list[int] = []
    for parent, campaign in parents:
        duration = (dt.timedelta(hours=parent.due_offset_hours) if parent.due_offset_hours
                    else DEFAULT_DURATION)
        store_ids = ([parent.store_id] if parent.store_id
                     else targeting.targeted_store_ids(session, campaign.targeting))
        zones: dict[str, list[int]] = defaultdict(list)
        for store_id, zone in session.execute(select(Store.id, Store.timezone)
                                              .where(Store.id.in_(store_ids))):
            zones[zone].append(store_id)
        since = max(campaign.starts_at, now - duration)  # a missed occurrence still due is made
        until = min(campaign.ends_at, now + lead)
        if since >= until:
            continue
        for zone, stores in zones.items():
            for local, starts in recurrence.occurrences(parent.recurrence, zone, since=since, until=until,
                                                        anchor=campaign.starts_at):
                template_id = _occurrence_template(session, parent, local)
                rows = [store_task_row(campaign_id=campaign.id, template_id=template_id, template_version=1,
                                       store_id=store_id, due_at=starts + duration,
                                       max_claimants=parent.max_claimants, now=now)
                        for store_id in stores]
                statement = db.insert_skipping_conflicts(session, StoreTask.__table__,
                                                         ["template_id", "store_id"])
                # RETURNING gives the rows this run inserted (a conflict returns nothing).
                created += [session.execute(statement.values(**row).returning(StoreTask.id)).scalar()
                            for row in rows]
    created = [task_id for task_id in created if task_id is not None]
    if created:
        new_tasks = StoreTask.id.in_(created)
        changefeed.mark_tasks_where(session, new_tasks)
        events.announce_tasks("task_published", session=session, condition=new_tasks, now=now)
    session.commit()
    return len(created)
