"""Writing notifications and their deliveries in the transaction of the event that causes them.

Every function here only adds rows to the caller's session (INSERT … SELECT, so a publish to
10,000 stores fans out in a few statements); the worker delivers them after commit.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, String, and_, cast, exists, literal, select
from sqlalchemy.orm import Session

from backend import changefeed, db
from backend.org.models import User
from backend.tasks.models import StoreTask, TaskClaim
from notifications.models import Delivery, Device, Notification

_COLUMNS = ["user_id", "kind", "task_id", "campaign_id", "store_id", "params", "dedupe_key",
            "created_at"]


def _clerks_of_task_store():
    return and_(User.store_id == StoreTask.store_id, User.role == "clerk", User.active.is_(True))


def insert_for_tasks(session: Session, kind: str, *, condition, recipients, now: dt.datetime,
                     params: dict | None = None, dedupe_prefix: str | None = None) -> None:
    """One notification per (matching task, recipient user): ``recipients`` is a select of
    (user id, task id) pairs; a dedupe prefix makes re-runs add nothing."""
    pairs = recipients.where(condition).subquery()
    dedupe = (literal(dedupe_prefix) + cast(pairs.c.task_id, String)
              if dedupe_prefix else literal(None, String))
    rows = (select(pairs.c.user_id, literal(kind), pairs.c.task_id, StoreTask.campaign_id,
                   StoreTask.store_id, literal(params or {}, JSON), dedupe,
                   literal(now, Notification.created_at.type))
            .join(StoreTask, StoreTask.id == pairs.c.task_id)
            # SQLite needs a WHERE before ON CONFLICT when the SELECT has a join.
            .where(pairs.c.user_id.is_not(None)))
    statement = (db.insert_skipping_conflicts(session, Notification.__table__, ["user_id", "dedupe_key"])
                 if dedupe_prefix else Notification.__table__.insert())
    # RETURNING names exactly the rows written now (a conflict returns nothing).
    ids = list(session.scalars(statement.from_select(_COLUMNS, rows).returning(Notification.id)))
    fan_out(session, ids, now=now)


def clerks_of_store():
    """(user id, task id) of every active clerk of the task's store."""
    return select(User.id.label("user_id"), StoreTask.id.label("task_id")).join(
        StoreTask, _clerks_of_task_store())


def claimants():
    """(user id, task id) of the clerks holding the task."""
    return select(TaskClaim.user_id.label("user_id"), StoreTask.id.label("task_id")).join(
        StoreTask, StoreTask.id == TaskClaim.task_id)


def insert_one(session: Session, *, user_id: int, kind: str, now: dt.datetime, params: dict,
               campaign_id: int | None = None, task_id: int | None = None,
               store_id: int | None = None, dedupe_key: str | None = None) -> int:
    """One notification for one user (idempotent when a dedupe key is given); the number
    written (0 when the dedupe key was already used)."""
    values = dict(user_id=user_id, kind=kind, task_id=task_id, campaign_id=campaign_id,
                  store_id=store_id, params=params, dedupe_key=dedupe_key, created_at=now)
    statement = (db.insert_skipping_conflicts(session, Notification.__table__, ["user_id", "dedupe_key"])
                 if dedupe_key else Notification.__table__.insert())
    ids = list(session.scalars(statement.values(**values).returning(Notification.id)))
    fan_out(session, ids, now=now)
    return len(ids)


_CHUNK = 900  # ids per IN list: a 10,000-store publish is still a few statements


def fan_out(session: Session, notification_ids: list[int], *, now: dt.datetime) -> None:
    """A pending delivery to every registered device of each notification just written, and a
    change-feed entry so the user's phones also get it by sync pull."""
    for start in range(0, len(notification_ids), _CHUNK):
        fresh = Notification.id.in_(notification_ids[start:start + _CHUNK])
        targets = (select(Notification.id, Device.id, literal("pending"), literal(0),
                          literal(now, Delivery.next_attempt_at.type), literal(now, Delivery.created_at.type))
                   .join(Device, and_(Device.user_id == Notification.user_id, Device.push_token.is_not(None)))
                   .where(fresh, ~exists().where(Delivery.notification_id == Notification.id,
                                                 Delivery.device_id == Device.id)))
        session.execute(Delivery.__table__.insert().from_select(
            ["notification_id", "device_id", "state", "attempts", "next_attempt_at", "created_at"], targets))
        changefeed.mark_personal(session, "notification",
                                 select(Notification.id, Notification.user_id).where(fresh))
