"""How each mutation of SPEC §5 is applied.

Progress mutations (checklist ticks, sales, notes, photos) are not handled one by one: they
become ``backend.tasks.progress`` edits, applied set-based a batch at a time (``PROGRESS``).
Every other mutation has a handler here that calls the one backend service owning that
write; a DomainError it raises is the mutation's rejection (the push rolls its savepoint back).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from sqlalchemy.orm import Session

from backend.org.models import User
from backend.tasks import service as tasks
from notifications import service as inbox
from qr import service as qr
from qr import tokens as qr_tokens
from recommend import library as scripts

# mutation name -> (progress edit kind, the argument names the edit carries)
PROGRESS = {
    "set_checklist_item": ("checklist", ("item_id", "done")),
    "record_sale": ("sale", ("sku", "quantity")),
    "add_note": ("note", ("text",)),
    "attach_photo": ("photo", ("sha256",)),
}


@dataclass
class MutationContext:
    """Everything a handler may use: who, from which client, when, and the arguments."""

    session: Session
    actor: User
    client_id: str
    args: dict
    client_time: dt.datetime | None
    received_at: dt.datetime
    qr_settings: qr.QrSettings

    @property
    def task_id(self) -> int:
        return self.args["task_id"]


def claim_task(ctx: MutationContext) -> int:
    """Through the QR claim service; the scanned token or the typed short code names the task,
    a task_id given must agree."""
    token, short_code = ctx.args.get("qr_token"), ctx.args.get("short_code")
    if token is not None:
        named = qr_tokens.verify(token, ctx.qr_settings.keyring, ctx.received_at).task_id
    else:
        named = qr_tokens.parse_short_code(short_code).task_id
    if ctx.args.get("task_id") is not None and named != ctx.args["task_id"]:
        raise qr_tokens.InvalidQr("The code names another task.")
    qr.claim_by_qr(session=ctx.session, actor=ctx.actor, qr_token=token, short_code=short_code,
                   settings=ctx.qr_settings, client_id=ctx.client_id,
                   scanned_at=ctx.args.get("scanned_at") or ctx.client_time, now=ctx.received_at)
    return named


def unclaim_task(ctx: MutationContext) -> None:
    tasks.unclaim(session=ctx.session, actor=ctx.actor, task_id=ctx.task_id, device=ctx.client_id)


def start_task(ctx: MutationContext) -> None:
    tasks.start(session=ctx.session, actor=ctx.actor, task_id=ctx.task_id, device=ctx.client_id)


def submit_task(ctx: MutationContext) -> None:
    tasks.submit(session=ctx.session, actor=ctx.actor, task_id=ctx.task_id,
                 observed_prices=ctx.args.get("observed_prices"), quantity=ctx.args.get("quantity"),
                 device=ctx.client_id)


def mark_read(ctx: MutationContext) -> None:
    """Idempotent: reading again keeps the first read time; another user's id is unknown."""
    inbox.mark_read(session=ctx.session, actor=ctx.actor, notification_id=ctx.args["notification_id"])


def script_feedback(ctx: MutationContext) -> None:
    """The offline twin of POST /scripts/{id}/feedback: counted once (the mutation id makes it
    once)."""
    scripts.record_feedback(session=ctx.session, actor=ctx.actor, script_id=ctx.args["script_id"],
                            outcome=ctx.args["outcome"])


# A handler returns the task it was about when the arguments alone do not name it.
HANDLERS: dict[str, Callable[[MutationContext], int | None]] = {
    "claim_task": claim_task, "unclaim_task": unclaim_task, "start_task": start_task,
    "submit_task": submit_task, "mark_read": mark_read, "script_feedback": script_feedback,
}


def task_id_of(args) -> int | None:
    """The task a mutation names, if it names one that can exist (any client input is possible)."""
    task_id = args.get("task_id") if isinstance(args, dict) else None
    if isinstance(task_id, int) and not isinstance(task_id, bool) and 0 < task_id < 2**62:
        return task_id
    return None
