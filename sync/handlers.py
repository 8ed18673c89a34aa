"""One handler per mutation (SPEC §5 table). Each runs in the mutation's own transaction and
commits it (through the backend service it calls); a DomainError means rejected, nothing kept."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit, db
from backend.auth import policy
from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.org.models import User
from backend.tasks import service as tasks
from backend.tasks.models import Blob, StoreTask, TaskPhoto
from notifications import service as inbox
from qr import service as qr
from qr import tokens as qr_tokens
from sync import rules
from sync.models import SyncClient, SyncMutation


@dataclass
class MutationContext:
    """Everything a handler may use: who, from which client, when, and the result row."""

    session: Session
    actor: User
    client: SyncClient
    record: SyncMutation
    args: dict
    client_time: dt.datetime | None
    received_at: dt.datetime
    qr_settings: qr.QrSettings

    @property
    def task_id(self) -> int:
        return self.args["task_id"]

    def supersede(self, message: str, **details) -> None:
        """Mark the result rejected but keep what the handler commits (the loser's history)."""
        self.record.status, self.record.error, self.record.message = "rejected", "superseded", message
        self.record.details = details or None


def _claimed_task(ctx: MutationContext) -> StoreTask:
    task = tasks.visible_task(ctx.session, ctx.actor, ctx.task_id, lock=True)
    if ctx.actor.id not in task.claimant_ids():
        raise Forbidden("Only a clerk holding this task may do this.", error="not_claimant")
    return task


def _touch(ctx: MutationContext, task: StoreTask, action: str, before: dict, after: dict) -> None:
    task.version += 1
    task.updated_at = ctx.received_at
    audit.record(ctx.session, entity="task", entity_id=task.id, action=action, actor=ctx.actor,
                 before=before, after=after, client_id=ctx.client.client_id,
                 client_time=ctx.client_time, at=ctx.received_at)
    db.commit(ctx.session)


def claim_task(ctx: MutationContext) -> None:
    """Through the QR claim service, unchanged; the token must name this task."""
    claims_task = qr_tokens.verify(ctx.args["qr_token"], ctx.qr_settings.keyring, ctx.received_at)
    if claims_task.task_id != ctx.task_id:
        raise qr_tokens.InvalidQr("The code names another task.")
    qr.claim_by_qr(session=ctx.session, actor=ctx.actor, qr_token=ctx.args["qr_token"],
                   settings=ctx.qr_settings, client_id=ctx.client.client_id,
                   scanned_at=ctx.args.get("scanned_at") or ctx.client_time, now=ctx.received_at)


def unclaim_task(ctx: MutationContext) -> None:
    tasks.unclaim(session=ctx.session, actor=ctx.actor, task_id=ctx.task_id,
                  device=ctx.client.client_id)


def start_task(ctx: MutationContext) -> None:
    tasks.start(session=ctx.session, actor=ctx.actor, task_id=ctx.task_id,
                device=ctx.client.client_id)


def submit_task(ctx: MutationContext) -> None:
    tasks.submit(session=ctx.session, actor=ctx.actor, task_id=ctx.task_id,
                 observed_prices=ctx.args.get("observed_prices"), quantity=ctx.args.get("quantity"),
                 device=ctx.client.client_id)


def set_checklist_item(ctx: MutationContext) -> None:
    """Per-item register: the later edit by clamped client time wins; the loser stays in history."""
    task = _claimed_task(ctx)
    item_id, done = ctx.args["item_id"], ctx.args["done"]
    if item_id not in task.template.checklist_ids:
        raise ValidationFailed(f"This task has no checklist item '{item_id}'.",
                               error="unknown_item", errors={"item_id": ["Unknown item."]})
    if task.status not in ("claimed", "in_progress"):
        raise Conflict(f"The checklist of a {task.status} task is locked.", error="task_locked",
                       status=task.status)
    effective = rules.clamp_client_time(ctx.client_time, ctx.client.last_client_time,
                                        ctx.received_at)
    current = task.checklist_state.get(item_id)
    edit = {"done": bool(done), "by": ctx.actor.username, "at": ctx.received_at.isoformat(),
            "client_time": effective.isoformat(), "client_id": ctx.client.client_id}
    if rules.checklist_edit_wins(effective_time=effective, client_id=ctx.client.client_id,
                                 current=current):
        task.checklist_state = {**task.checklist_state, item_id: edit}
        _touch(ctx, task, "checklist_set", {item_id: current}, {item_id: edit})
    else:
        ctx.supersede(f"A later edit of '{item_id}' by {current.get('by')} wins.",
                      item_id=item_id, kept=current, lost=edit)
        _touch(ctx, task, "checklist_edit_lost", {item_id: current}, {"lost": edit})


def record_sale(ctx: MutationContext) -> None:
    """Additive counter: every accepted increment counts once (the mutation id makes it once)."""
    task = _claimed_task(ctx)
    sku, quantity = ctx.args["sku"], ctx.args["quantity"]
    if task.status not in ("claimed", "in_progress"):
        raise Conflict(f"Sales of a {task.status} task are closed.", error="task_locked",
                       status=task.status)
    before = {sku: task.sales.get(sku, 0)}
    task.sales = {**task.sales, sku: task.sales.get(sku, 0) + quantity}
    _touch(ctx, task, "sale_recorded", before, {sku: task.sales[sku], "added": quantity})


def add_note(ctx: MutationContext) -> None:
    """Append-only: notes are never edited or reordered by the server."""
    task = tasks.visible_task(ctx.session, ctx.actor, ctx.task_id, lock=True)
    note = {"text": ctx.args["text"], "by": ctx.actor.username, "at": ctx.received_at.isoformat(),
            "client_time": ctx.client_time.isoformat() if ctx.client_time else None}
    task.notes = [*task.notes, note]
    _touch(ctx, task, "note_added", {}, {"note": note})


def attach_photo(ctx: MutationContext) -> None:
    """The blob must have been uploaded first (PUT /blobs/{sha256})."""
    task = _claimed_task(ctx)
    sha = ctx.args["sha256"]
    if task.status not in ("claimed", "in_progress"):
        raise Conflict(f"The proof of a {task.status} task is closed.", error="task_locked",
                       status=task.status)
    if ctx.session.get(Blob, sha) is None:
        raise ValidationFailed("Upload the photo with PUT /api/v1/blobs/{sha256} first.",
                               error="unknown_photo", errors={"sha256": ["Not uploaded."]})
    if sha not in {photo.sha256 for photo in task.photos}:
        task.photos.append(TaskPhoto(sha256=sha, added_by_id=ctx.actor.id, added_by=ctx.actor,
                                     added_at=ctx.received_at))
    _touch(ctx, task, "photo_attached", {}, {"sha256": sha})


def mark_read(ctx: MutationContext) -> None:
    """Idempotent: reading again keeps the first read time; another user's id is unknown."""
    inbox.mark_read(session=ctx.session, actor=ctx.actor, notification_id=ctx.args["notification_id"])


HANDLERS = {
    "claim_task": claim_task, "unclaim_task": unclaim_task, "start_task": start_task,
    "set_checklist_item": set_checklist_item, "record_sale": record_sale, "add_note": add_note,
    "attach_photo": attach_photo, "submit_task": submit_task, "mark_read": mark_read,
}


def entity_of(session: Session, actor: User, task_id: int) -> StoreTask | None:
    """The task a mutation is about, if the actor may see it (never leak another store's)."""
    task = session.scalar(select(StoreTask).where(StoreTask.id == task_id))
    if task is None or not policy.can_see_store(actor, task.store):
        return None
    return task
