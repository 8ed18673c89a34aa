"""Writing webhook events and their deliveries in the transaction of the change that causes them.

Only adds rows to the caller's session; the worker delivers after commit (integrations/dispatch.py).
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from backend import db, events
from backend.campaigns.models import Campaign
from backend.org.models import User
from backend.tasks.models import ACTIVE_STATUSES, StoreTask
from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

RETRY_WINDOW = dt.timedelta(hours=24)

# (audit entity, audit action) → webhook event type
_TYPES = {("campaign", "published"): "campaign.published", ("campaign", "closed"): "campaign.closed",
          ("task", "claimed"): "task.claimed", ("task", "assigned"): "task.claimed",
          ("task", "submitted"): "task.submitted", ("task", "approved"): "task.approved",
          ("task", "rejected"): "task.rejected"}


def new_event_id() -> str:
    """The public id receivers deduplicate on."""
    return "evt_" + secrets.token_hex(12)


def subscribers(session: Session, event_type: str) -> list[int]:
    """Ids of the active endpoints that asked for this event type."""
    rows = session.execute(select(WebhookEndpoint.id, WebhookEndpoint.events)
                           .where(WebhookEndpoint.active.is_(True))).all()
    return [endpoint_id for endpoint_id, wanted in rows if event_type in (wanted or [])]


def publish(session: Session, event_type: str, data: dict, *, now: dt.datetime,
            dedupe_key: str | None = None, endpoint_ids: list[int] | None = None) -> int | None:
    """One event and a pending delivery to every subscribed endpoint; the event's row id, or
    None when nobody subscribes (nothing is written) or the dedupe key was already used."""
    targets = subscribers(session, event_type) if endpoint_ids is None else endpoint_ids
    if not targets:
        return None
    values = dict(public_id=new_event_id(), type=event_type, data=data, dedupe_key=dedupe_key,
                  created_at=now)
    if dedupe_key is not None:
        statement = db.insert_skipping_conflicts(session, WebhookEvent.__table__, ["dedupe_key"])
    else:
        statement = WebhookEvent.__table__.insert()
    # The id RETURNING gives is the new row's (no matching on equal timestamps).
    event_id = session.execute(statement.values(**values).returning(WebhookEvent.id)).scalar()
    if event_id is None:
        return None
    session.execute(WebhookDelivery.__table__.insert(), [
        dict(channel="webhook", endpoint_id=endpoint_id, event_id=event_id, state="pending", attempts=0,
             next_attempt_at=now, give_up_at=now + RETRY_WINDOW, created_at=now)
        for endpoint_id in targets])
    return event_id


# ---- what an event says ---------------------------------------------------------------------

def task_data(task: StoreTask, *, at: dt.datetime) -> dict:
    """The data of a task event: ids, the store, where it stands."""
    return {"task_id": task.id, "campaign_id": task.campaign_id, "store_code": task.store.code,
            "template_id": task.template_id, "status": task.status,
            "due_at": task.due_at.isoformat() if task.due_at else None, "at": at.isoformat()}


def campaign_data(campaign: Campaign, *, at: dt.datetime) -> dict:
    """The data of a campaign event."""
    return {"campaign_id": campaign.id, "code": campaign.code, "title": campaign.title,
            "status": campaign.status, "at": at.isoformat()}


def _on_recorded(entity: str, *, session: Session, event) -> None:
    event_type = _TYPES.get((entity, event.action))
    if event_type is None:
        return
    targets = subscribers(session, event_type)
    if not targets:
        return
    at = event.server_time
    user = session.get(User, event.user_id) if event.user_id is not None else None
    actor = user.username if user is not None else None
    if entity == "task":
        task = session.get(StoreTask, event.entity_id)
        if task is None:
            return
        data = {**task_data(task, at=at), "actor": actor}
        if event_type in ("task.approved", "task.rejected"):
            data["comment"] = (event.after or {}).get("comment", "")
        if event_type == "task.submitted":
            data.update(late=bool(task.late), deviates=bool(task.deviates))
    else:
        campaign = session.get(Campaign, event.entity_id)
        if campaign is None:
            return
        data = {**campaign_data(campaign, at=at), "actor": actor}
        after = event.after or {}
        data.update({key: after[key] for key in ("stores", "tasks_created") if key in after})
    publish(session, event_type, data, now=at, endpoint_ids=targets)


def queue_overdue(session: Session, *, now: dt.datetime, lookback: dt.timedelta) -> int:
    """``task.overdue`` once per task that fell overdue within ``lookback`` (a worker job; the
    dedupe key makes several workers and re-runs add nothing). Returns how many were new."""
    targets = subscribers(session, "task.overdue")
    if not targets:
        return 0
    live = select(Campaign.id).where(Campaign.status.in_(("scheduled", "live")))
    overdue = session.scalars(select(StoreTask).where(and_(
        StoreTask.status.in_(ACTIVE_STATUSES), StoreTask.campaign_id.in_(live),
        StoreTask.due_at <= now, StoreTask.due_at > now - lookback)).order_by(StoreTask.id)).all()
    if not overdue:
        return 0
    keys = {f"task.overdue:{task.id}": task for task in overdue}
    seen = set(session.scalars(select(WebhookEvent.dedupe_key)
                               .where(WebhookEvent.dedupe_key.in_(list(keys)))))
    written = 0
    for key, task in keys.items():
        if key not in seen and publish(session, "task.overdue", task_data(task, at=task.due_at),
                                       now=now, dedupe_key=key, endpoint_ids=targets):
            written += 1
    return written


def listen() -> None:
    """Subscribe to backend's domain events (called by create_app)."""
    events.recorded.connect(_on_recorded, weak=False)
