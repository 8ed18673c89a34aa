"""Store tasks over HTTP: list, detail, assign, start, unclaim, submit, review, cancel."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, case, func, insert, literal, select, update
from sqlalchemy.orm import Session

from backend import audit, changefeed, db, events
from backend.audit import Event
from backend.auth import policy
from backend.common.paging import Page, paginate
from backend.db import utcnow
from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.org.models import Store, User
from backend.org.service import user_by_username
from backend.tasks import history, rules
from backend.tasks.sections import DetailSection
from backend.tasks.models import (ACTIVE_STATUSES, Blob, StoreTask, TaskChecklistItem, TaskClaim,
                                  TaskNote, TaskPhoto)


# ---- reading ------------------------------------------------------------------------------

_LOCKED = "tasks.locked_ids"


def lock_tasks(session: Session, task_ids: list[int]) -> None:
    """Lock (and load) several tasks up front, in id order, for a batch of writes: two
    batches over the same tasks then queue instead of deadlocking, and later look-ups in
    this transaction are answered without another query."""
    ids = sorted(set(task_ids))
    if not ids:
        return
    loaded = session.scalars(select(StoreTask).where(StoreTask.id.in_(ids)).order_by(StoreTask.id)
                             .with_for_update(of=StoreTask)).all()
    # Held with the transaction they belong to (a later transaction locks again), and held
    # strongly: the identity map alone would let unreferenced rows be collected.
    transaction = session.get_transaction()
    held = session.info.get(_LOCKED)
    if held is None or held[0] is not transaction:
        held = session.info[_LOCKED] = (transaction, {})
    held[1].update({task.id: task for task in loaded})


def task_by_id(session: Session, task_id: int, *, lock: bool = False) -> StoreTask:
    """The task or 404 (row-locked for writes on PostgreSQL)."""
    held = session.info.get(_LOCKED)
    if lock and held and held[0] is session.get_transaction() and task_id in held[1]:
        return held[1][task_id]  # locked earlier in this transaction
    statement = select(StoreTask).where(StoreTask.id == task_id)
    if lock:
        statement = statement.with_for_update(of=StoreTask)
    task = session.scalar(statement)
    if task is None:
        raise NotFound(f"No task {task_id}.")
    return task


def visible_task(session: Session, actor: User, task_id: int, *, lock: bool = False) -> StoreTask:
    """The task, if it belongs to a store in the actor's scope (403 otherwise)."""
    task = task_by_id(session, task_id, lock=lock)
    policy.ensure_store_in_scope(actor, task.store)
    return task


def list_tasks(*, session: Session, actor: User, page: int, page_size: int,
               campaign: int | None = None, store: str | None = None, status: str | None = None,
               overdue: bool | None = None) -> Page:
    """Tasks of stores in the actor's scope, filtered and paginated."""
    statement = (select(StoreTask).where(policy.store_scope(actor, StoreTask.store_id))
                 .order_by(StoreTask.due_at.is_(None), StoreTask.due_at, StoreTask.id))
    if campaign is not None:
        statement = statement.where(StoreTask.campaign_id == campaign)
    if store:
        statement = statement.where(StoreTask.store_id.in_(select(Store.id)
                                                           .where(Store.code == store)))
    if status:
        statement = statement.where(StoreTask.status == status)
    if overdue is not None:
        is_overdue = and_(StoreTask.status.in_(ACTIVE_STATUSES), StoreTask.due_at < utcnow())
        statement = statement.where(is_overdue if overdue else ~is_overdue | StoreTask.due_at.is_(None))
    return paginate(session, statement, page=page, page_size=page_size)


def get_task(*, session: Session, actor: User, task_id: int, include: str | None = None,
             sections: dict[str, DetailSection] | None = None, locale: str = "zh-CN") -> dict:
    """The task detail; ``include=history`` adds its events, each plugged-in section its part
    (recommendations: backend.tasks.sections)."""
    task = visible_task(session, actor, task_id)
    extra = {name: section(session, task, locale) for name, section in (sections or {}).items()}
    history = None
    if include == "history":
        history = session.scalars(select(Event).where(Event.entity == "task",
                                                      Event.entity_id == task.id)
                                  .order_by(Event.id)).all()
    return {"task": task, "history": history, "sections": extra}


# ---- writing helpers ----------------------------------------------------------------------

_snapshot = history.snapshot


def _touch(session: Session, task: StoreTask, actor: User, action: str, before: dict,
           now: dt.datetime, **kwargs) -> None:
    history.touch(session, task, actor, action, before, now, **kwargs)


def _ensure_claimant(task: StoreTask, actor: User) -> None:
    if actor.id not in task.claimant_ids():
        raise Forbidden("Only a clerk holding this task may do this.", error="not_claimant")


CLAIMABLE_STATUSES = tuple(rules.TRANSITIONS["claim"])


def take_claim(session: Session, *, task_id: int, clerk_id: int, now: dt.datetime,
               client_id: str | None = None, scanned_at: dt.datetime | None = None,
               assigned_by_id: int | None = None, bump_version: bool = False) -> tuple[str, int] | None:
    """Take a place on the task and write the claim row in one statement: capacity left, task
    claimable, clerk not yet a claimant — or nothing at all. Returns the task's (status, version)
    after the claim, or None when a condition failed.

    The status follows ``rules.TRANSITIONS["claim"]``; ``bump_version`` also bumps the version
    and updated_at (for a caller that writes nothing else to the task). Capacity is
    checked by the UPDATE itself, so concurrent claims can never push a task past max_claimants
    whatever the isolation level. PostgreSQL runs both writes as one statement (a data-modifying
    CTE); SQLite, which has none and one writer at a time, runs the UPDATE then the INSERT.
    """
    claimed_status = case(*((StoreTask.status == before, after)
                            for before, after in rules.TRANSITIONS["claim"].items()),
                          else_=StoreTask.status)
    already = select(TaskClaim.id).where(TaskClaim.task_id == task_id, TaskClaim.user_id == clerk_id)
    taken = (update(StoreTask)
             .where(StoreTask.id == task_id, StoreTask.claimant_count < StoreTask.max_claimants,
                    StoreTask.status.in_(CLAIMABLE_STATUSES), ~already.exists())
             .values(claimant_count=StoreTask.claimant_count + 1, status=claimed_status,
                     first_claimed_at=func.coalesce(StoreTask.first_claimed_at, now),
                     **({"version": StoreTask.version + 1, "updated_at": now} if bump_version else {}))
             .returning(StoreTask.id, StoreTask.status, StoreTask.version)
             .execution_options(synchronize_session=False))
    claim_values = {"user_id": clerk_id, "claimed_at": now, "client_id": client_id,
                    "scanned_at": scanned_at, "assigned_by_id": assigned_by_id}
    if session.bind.dialect.name != "postgresql":
        row = session.execute(taken).first()
        if row is None:
            return None
        session.execute(insert(TaskClaim).values(task_id=task_id, **claim_values))
        return row.status, row.version
    taken_rows = taken.cte("taken")
    claim = (db.insert_skipping_conflicts(session, TaskClaim.__table__, ["task_id", "user_id"])
             .from_select(["task_id", *claim_values],
                          select(taken_rows.c.id, *(literal(value, TaskClaim.__table__.c[name].type)
                                                    for name, value in claim_values.items())))
             .returning(TaskClaim.id).cte("claim"))
    row = session.execute(select(taken_rows.c.status, taken_rows.c.version,
                                 select(func.count()).select_from(claim).scalar_subquery()
                                 .label("claimed"))).first()
    if row is None:
        return None
    if not row.claimed:
        # The clerk's own concurrent scan committed while this statement waited for the row:
        # its NOT EXISTS saw the older snapshot. Give the place back; the caller re-reads.
        session.execute(update(StoreTask).where(StoreTask.id == task_id)
                        .values(claimant_count=StoreTask.claimant_count - 1,
                                **({"version": StoreTask.version - 1} if bump_version else {}))
                        .execution_options(synchronize_session=False))
        return None
    return row.status, row.version


def claim_scanned(session: Session, *, task_id: int, clerk: User, now: dt.datetime, before: dict,
                  client_id: str | None = None, scanned_at: dt.datetime | None = None
                  ) -> tuple[str, int] | None:
    """A scan's claim without loading the task (QR bursts): the place and claim row in one
    statement with the version bump, the event that explains it, the change-feed mark; None when
    the task had no place left (or changed) since the caller read it."""
    taken = take_claim(session, task_id=task_id, clerk_id=clerk.id, now=now, client_id=client_id,
                       scanned_at=scanned_at, bump_version=True)
    if taken is None:
        return None
    status, version = taken
    changefeed.mark_tasks_where(session, StoreTask.id == task_id)
    audit.record(session, entity="task", entity_id=task_id, action="claimed", actor=clerk,
                 before=before, after={"status": status, "version": version,
                                       "claimants": sorted([*before["claimants"], clerk.username]),
                                       "via": "qr"},
                 client_id=client_id, client_time=scanned_at, at=now)
    return taken


def add_claimant(session: Session, task: StoreTask, clerk: User, now: dt.datetime, *,
                 assigned_by: User | None = None, client_id: str | None = None,
                 scanned_at: dt.datetime | None = None) -> bool:
    """Make the clerk a claimant of a loaded (locked) task; False if they already were."""
    if clerk.id in task.claimant_ids():
        return False
    rules.next_status("claim", task.status)  # refuses a task that cannot be claimed
    session.flush()
    outcome = take_claim(session, task_id=task.id, clerk_id=clerk.id, now=now, client_id=client_id,
                         scanned_at=scanned_at, assigned_by_id=assigned_by.id if assigned_by else None)
    if outcome is None:
        holder = task.claims[0] if task.claims else None
        raise Conflict("The task already has all the claimants it allows.",
                       error="task_already_claimed",
                       held_by=[{"username": c.user.username, "claimed_at": c.claimed_at.isoformat()}
                                for c in task.claims],
                       since=holder.claimed_at.isoformat() if holder else None)
    # The database wrote the claim; the loaded task learns it on its next read.
    session.expire(task, ["claimant_count", "status", "first_claimed_at", "claims"])
    return True


# ---- lifecycle ----------------------------------------------------------------------------

def assign(*, session: Session, actor: User, task_id: int, username: str,
        device: str | None = None) -> StoreTask:
    """HQ or the region's supervisor hands the task to a clerk of its store."""
    task = visible_task(session, actor, task_id, lock=True)
    policy.ensure_can_manage_store(actor, task.store)
    clerk = user_by_username(session, username)
    if clerk.role != policy.CLERK or clerk.store_id != task.store_id or not clerk.active:
        raise ValidationFailed(f"{username} is not an active clerk of store {task.store.code}.",
                               errors={"username": ["Not an active clerk of this store."]})
    now = utcnow()
    before = _snapshot(task)
    if add_claimant(session, task, clerk, now, assigned_by=actor):
        _touch(session, task, actor, "assigned", before, now, after={"assignee": username},
               client_id=device)
    db.commit(session)
    return task


def start(*, session: Session, actor: User, task_id: int,
        device: str | None = None) -> StoreTask:
    """A claimant starts the work."""
    task = visible_task(session, actor, task_id, lock=True)
    _ensure_claimant(task, actor)
    before = _snapshot(task)
    task.status = rules.next_status("start", task.status)
    _touch(session, task, actor, "started", before, utcnow(), client_id=device)
    db.commit(session)
    return task


def unclaim(*, session: Session, actor: User, task_id: int, username: str | None = None,
        device: str | None = None) -> StoreTask:
    """A claimant lets go (or HQ/supervisor removes one), only before submit."""
    task = visible_task(session, actor, task_id, lock=True)
    if username and username != actor.username:
        policy.ensure_can_manage_store(actor, task.store)
        leaving = user_by_username(session, username)
        if leaving.id not in task.claimant_ids():
            raise ValidationFailed(f"{username} does not hold this task.",
                                   errors={"username": ["Not a claimant."]})
    else:
        _ensure_claimant(task, actor)
        leaving = actor
    before = _snapshot(task)
    task.status = rules.status_after_unclaim(task.status, len(task.claims) - 1)
    task.claims = [claim for claim in task.claims if claim.user_id != leaving.id]
    task.claimant_count = len(task.claims)
    _touch(session, task, actor, "unclaimed", before, utcnow(),
           after={"released": leaving.username}, client_id=device)
    db.commit(session)
    return task


def _attach_photos(session: Session, task: StoreTask, actor: User, shas: list[str],
                   now: dt.datetime) -> None:
    known = set(session.scalars(select(Blob.sha256).where(Blob.sha256.in_(shas))))
    unknown = [sha for sha in shas if sha not in known]
    if unknown:
        raise ValidationFailed("Upload photos with PUT /api/v1/blobs/{sha256} first.",
                               error="unknown_photo", errors={"photos": [f"Unknown: {sha}" for sha in unknown]})
    attached = {photo.sha256 for photo in task.photos}
    for sha in dict.fromkeys(shas):
        if sha not in attached:
            task.photos.append(TaskPhoto(sha256=sha, added_by_id=actor.id, added_by=actor, added_at=now))


def submit(*, session: Session, actor: User, task_id: int, checklist: dict[str, bool] | None = None,
           photos: list[str] | None = None, quantity: int | None = None,
           observed_prices: dict[str, float] | None = None, note: str | None = None,
        device: str | None = None) -> StoreTask:
    """A claimant submits proof; incomplete proof is a 422 naming each missing item.

    A task HQ cancelled meanwhile still keeps the submission (``submitted_after_cancel``);
    a submission after ``due_at`` is accepted and marked ``late``.
    """
    task = visible_task(session, actor, task_id, lock=True)
    _ensure_claimant(task, actor)
    now = utcnow()
    before = _snapshot(task)
    cancelled = task.status == "cancelled"
    if not cancelled:
        target = rules.next_status("submit", task.status)
    unknown_items = sorted(set(checklist or {}) - set(task.template.checklist_ids))
    if unknown_items:
        raise ValidationFailed("The checklist names items this task does not have.",
                               errors={f"checklist.{item}": ["Unknown item."] for item in unknown_items})
    registers = {item.item_id: item for item in task.checklist_items}
    for item_id, done in (checklist or {}).items():
        register = registers.get(item_id)
        if register is None:
            register = TaskChecklistItem(item_id=item_id)
            task.checklist_items.append(register)
        register.done, register.by_username, register.edited_at = bool(done), actor.username, now
        register.client_time = register.client_id = None
    state = task.checklist_state
    _attach_photos(session, task, actor, photos or [], now)
    if quantity is not None:
        task.quantity = quantity
    if observed_prices:
        task.observed_prices = {**task.observed_prices, **observed_prices}
    if note:
        task.note_entries.append(TaskNote(text=note, by_username=actor.username, added_at=now))
    missing = rules.missing_proof(
        proof=task.template.proof, checklist_ids=task.template.checklist_ids,
        checklist_done={item: entry.get("done", False) for item, entry in state.items()},
        photo_count=len(task.photos), quantity=task.quantity,
        observed_prices=task.observed_prices, featured_skus=task.campaign.featured_skus)
    if cancelled:  # kept whatever it holds: the clerk's work is not thrown away
        task.submitted_after_cancel = True
    elif missing:  # the caller's rollback discards the merged proof: nothing is written
        raise ValidationFailed("Proof is missing: " + ", ".join(missing) + ".",
                               error="proof_missing", errors=missing)
    else:
        task.status = target
    task.deviates = bool(missing) or rules.price_deviates(task.observed_prices,
                                                          task.campaign.promo_prices)
    task.submitted_at = now
    task.late = task.due_at is not None and now > task.due_at
    _touch(session, task, actor, "submitted", before, now,
           after={"late": task.late, "submitted_after_cancel": task.submitted_after_cancel},
           client_id=device)
    db.commit(session)
    return task


def review(*, session: Session, actor: User, task_id: int, decision: str,
           comment: str = "",
        device: str | None = None) -> StoreTask:
    """HQ or the region's supervisor approves a submission or sends it back with a comment."""
    task = visible_task(session, actor, task_id, lock=True)
    policy.ensure_can_manage_store(actor, task.store)
    if decision == "reject" and not comment.strip():
        raise ValidationFailed("Say what to fix when rejecting.",
                               errors={"comment": ["Required when rejecting."]})
    now = utcnow()
    before = _snapshot(task)
    task.status = rules.next_status(decision, task.status)
    task.review = {"decision": decision, "comment": comment, "by": actor.username,
                   "at": now.isoformat()}
    task.reviewed_at = now
    _touch(session, task, actor, "approved" if decision == "approve" else "rejected", before, now,
           after={"comment": comment}, client_id=device)
    events.announce_tasks("review_result", session=session, condition=StoreTask.id == task.id,
                          now=now, decision=decision, comment=comment)
    db.commit(session)
    return task


def cancel(*, session: Session, actor: User, task_id: int, reason: str = "",
        device: str | None = None) -> StoreTask:
    """HQ cancels one task that is not final."""
    task = visible_task(session, actor, task_id, lock=True)
    before = _snapshot(task)
    task.status = rules.next_status("cancel", task.status)
    now = utcnow()
    _touch(session, task, actor, "cancelled", before, now, after={"reason": reason},
           client_id=device)
    events.announce_tasks("task_cancelled", session=session, condition=StoreTask.id == task.id,
                          now=now)
    db.commit(session)
    return task
