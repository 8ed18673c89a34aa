"""A manager's one-click follow-up of an overdue task: remind the store's clerks, or escalate it.

Both send the same ``overdue`` notification the worker's schedule sends (so the phones show the
task, its campaign and its due time in the reader's language) and record the step in the task's
history. A second click within the same hour sends nothing new (a dedupe key per hour).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit, db
from backend.auth import policy
from backend.db import utcnow
from backend.errors import Conflict, ValidationFailed
from backend.org.models import Store, User, supervisor_regions
from backend.tasks.service import task_by_id
from notifications import outbox

NUDGES = ("remind", "escalate")
HISTORY_ACTIONS = {"remind": "reminded", "escalate": "escalated"}


def _recipients(session: Session, actor: User, task, nudge: str) -> list[User]:
    """Reminders go to the clerks holding the task (every active clerk of the store while nobody
    holds it); escalations to the supervisors of the store's region and to HQ, not the sender."""
    if nudge == "remind":
        holders = [claim.user for claim in task.claims if claim.user.active]
        return holders or list(session.scalars(select(User).where(
            User.store_id == task.store_id, User.role == policy.CLERK,
            User.active.is_(True)).order_by(User.username)))
    supervisors = (select(supervisor_regions.c.user_id)
                   .join(Store, Store.region_id == supervisor_regions.c.region_id)
                   .where(Store.id == task.store_id))
    return list(session.scalars(select(User).where(
        User.active.is_(True), User.id != actor.id,
        ((User.role == policy.SUPERVISOR) & User.id.in_(supervisors)) | (User.role == policy.HQ))
        .order_by(User.role.desc(), User.username)))


def nudge_overdue(*, session: Session, actor: User, task_id: int, nudge: str) -> dict:
    """Remind or escalate one overdue task of a store the actor manages; returns who was
    notified now ({"notified": n, "recipients": ["name (username)"]}; 0 when already sent
    this hour)."""
    if nudge not in NUDGES:
        raise ValidationFailed(f"Unknown follow-up '{nudge}'.",
                               errors={"nudge": [f"Must be one of: {', '.join(NUDGES)}."]})
    task = task_by_id(session, task_id)
    policy.ensure_can_manage_store(actor, task.store)
    now = utcnow()
    if not task.is_overdue(now):
        raise Conflict("The task is not overdue.", error="not_overdue", current_status=task.status)
    recipients = _recipients(session, actor, task, nudge)
    if not recipients:
        raise Conflict("Nobody to notify.", error="nobody_to_notify")
    key = f"{nudge}:{task.id}:{now:%Y-%m-%dT%H}"
    notified = [user for user in recipients
                if outbox.insert_one(session, user_id=user.id, kind="overdue", now=now,
                                     task_id=task.id, campaign_id=task.campaign_id,
                                     store_id=task.store_id, params={}, dedupe_key=key)]
    names = [f"{user.display_name} ({user.username})" for user in notified]
    if notified:
        audit.record(session, entity="task", entity_id=task.id, action=HISTORY_ACTIONS[nudge],
                     actor=actor, after={"recipients": names}, at=now)
    db.commit(session)
    return {"notified": len(notified), "recipients": names}
