"""Progress on store tasks — checklist ticks, sales, notes, photos — applied set-based.

A batch of edits (a sync push, or one edit at a time on the careful path) costs a handful of
statements whatever its size: the named tasks' state is read once, each edit is decided in
order by pure rules (``backend.tasks.rules``) against that state as the earlier edits left it,
then the accepted effects are written with one ``executemany``/upsert per table. A rejected
edit writes nothing. The edited registers are locked (an upsert that inserts the missing ones empty and
returns the others) before deciding, so "the later client time wins" is decided exactly
under concurrency; the task rows are locked only at the end (``finish``), in id order, for
the commit — phones editing different items of one task do not wait for each other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.orm import Session

from backend import db
from backend.auth import policy
from backend.campaigns.models import TaskTemplate
from backend.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from backend.org.models import Store, User
from backend.tasks import history, rules
from backend.tasks.models import (Blob, StoreTask, TaskChecklistItem, TaskClaim, TaskNote,
                                  TaskPhoto, TaskSale, checklist_entry, note_entry)

KINDS = ("checklist", "sale", "note", "photo")


@dataclass
class Edit:
    """One requested edit: ``kind`` in KINDS, the task, its arguments, the client's claimed time."""

    kind: str
    task_id: int
    args: dict
    client_time: dt.datetime | None = None


@dataclass
class Outcome:
    """What became of one edit: applied, or rejected with a stable error (``superseded``
    edits are rejected but leave their trace in the task history)."""

    status: str = "applied"
    error: str | None = None
    message: str | None = None
    details: dict | None = None

    @classmethod
    def rejected(cls, exc: DomainError) -> Outcome:
        details = dict(exc.details) or None
        if exc.errors:
            details = {**(details or {}), "errors": exc.errors}
        return cls("rejected", exc.error, exc.message, details)


class StaleProgress(Exception):
    """A task changed under the batch (submitted, cancelled, claimant gone) before its rows
    were locked: the caller redoes the batch on the careful path."""


@dataclass
class Batch:
    """What a batch wrote and still has to settle at ``finish``."""

    # task id -> whether an accepted edit required the actor to hold it (re-checked at the end)
    touched: dict[int, bool] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)


# ---- reading the state once ------------------------------------------------------------------

@dataclass
class _State:
    tasks: dict[int, SimpleNamespace]
    registers: dict[tuple[int, str], dict | None]
    photos: set[tuple[int, str]]
    blobs: set[str]


# Does the actor (bound parameter ``actor_id``) hold this task, i.e. have a claim row?
HELD = exists().where(TaskClaim.task_id == StoreTask.id,
                      TaskClaim.user_id == bindparam("actor_id")).label("held")

_TASK_STATE = (select(StoreTask.id, StoreTask.status, StoreTask.store_id, Store.region_id, Store.code,
                      TaskTemplate.checklist, HELD)
               .join(Store, StoreTask.store_id == Store.id)
               .join(TaskTemplate, StoreTask.template_id == TaskTemplate.id)
               .where(StoreTask.id.in_(bindparam("ids", expanding=True))))


def _load_tasks(session: Session, actor: User, task_ids: list[int]) -> dict[int, SimpleNamespace]:
    rows = session.execute(_TASK_STATE, {"ids": task_ids, "actor_id": actor.id}).all()
    return {row.id: SimpleNamespace(
        id=row.id, status=row.status, held=bool(row.held),
        store=SimpleNamespace(id=row.store_id, region_id=row.region_id, code=row.code),
        checklist_ids={item["id"] for item in row.checklist or []}) for row in rows}


_REGISTERS = TaskChecklistItem.__table__


@db.built_once
def _register_lock(dialect: str):
    """An upsert that inserts the missing registers empty and leaves the others as they are
    (but locked until the commit), returning them all."""
    upsert = db.dialect_insert(dialect, _REGISTERS)
    return upsert.on_conflict_do_update(index_elements=["task_id", "item_id"],
                                        set_={"done": _REGISTERS.c.done}).returning(
        _REGISTERS.c.task_id, _REGISTERS.c.item_id, _REGISTERS.c.done, _REGISTERS.c.by_username,
        _REGISTERS.c.edited_at, _REGISTERS.c.client_time, _REGISTERS.c.client_id)


def _lock_registers(session: Session, keys: list[tuple[int, str]]) -> dict[tuple[int, str], dict | None]:
    """Lock the registers in key order and read them, in one statement."""
    if not keys:
        return {}
    registers: dict[tuple[int, str], dict | None] = {key: None for key in keys}
    for row in session.execute(_register_lock(session),
                               [{"task_id": task_id, "item_id": item_id, "done": False}
                                for task_id, item_id in keys]):
        if row.edited_at is not None:
            registers[(row.task_id, row.item_id)] = checklist_entry(
                row.done, row.by_username, row.edited_at, row.client_time, row.client_id)
    return registers


# ---- the rules each edit passes --------------------------------------------------------------

def _visible(state: _State, actor: User, task_id: int) -> SimpleNamespace:
    task = state.tasks.get(task_id)
    if task is None:
        raise NotFound(f"No task {task_id}.")
    policy.ensure_store_in_scope(actor, task.store)
    return task


def _held(state: _State, actor: User, task_id: int) -> SimpleNamespace:
    task = _visible(state, actor, task_id)
    if not task.held:
        raise Forbidden("Only a clerk holding this task may do this.", error="not_claimant")
    return task


_CLOSED = {"checklist": "The checklist of a {} task is locked.",
           "sale": "Sales of a {} task are closed.", "photo": "The proof of a {} task is closed."}


def _open(task: SimpleNamespace, kind: str) -> None:
    if task.status not in rules.PROGRESS_OPEN:
        raise Conflict(_CLOSED[kind].format(task.status), error="task_locked", current_status=task.status)


def _check_checklist(state: _State, actor: User, edit: Edit) -> None:
    task = _held(state, actor, edit.task_id)
    item_id = edit.args["item_id"]
    if item_id not in task.checklist_ids:
        raise ValidationFailed(f"This task has no checklist item '{item_id}'.",
                               error="unknown_item", errors={"item_id": ["Unknown item."]})
    _open(task, "checklist")


def _check(state: _State, actor: User, edit: Edit, blobs_known: set[str]) -> None:
    """Raise the DomainError that rejects this edit, if any (never writes)."""
    if edit.kind == "checklist":
        _check_checklist(state, actor, edit)
    elif edit.kind == "sale":
        _open(_held(state, actor, edit.task_id), "sale")
    elif edit.kind == "note":
        _visible(state, actor, edit.task_id)
    elif edit.kind == "photo":
        _open(_held(state, actor, edit.task_id), "photo")
        if edit.args["sha256"] not in blobs_known:
            raise ValidationFailed("Upload the photo with PUT /api/v1/blobs/{sha256} first.",
                                   error="unknown_photo", errors={"sha256": ["Not uploaded."]})


# ---- applying a batch ------------------------------------------------------------------------

def apply(session: Session, actor: User, edits: list[Edit], batch: Batch, *, client_id: str | None,
          last_client_time: dt.datetime | None, received_at: dt.datetime
          ) -> tuple[list[Outcome], dt.datetime | None]:
    """Decide and write a batch of edits in order; (one outcome per edit, the client's latest
    accepted time). Task rows are not locked here: call ``finish`` before the commit."""
    task_ids = sorted({edit.task_id for edit in edits})
    tasks = _load_tasks(session, actor, task_ids)
    state = _State(tasks=tasks, registers={},
                   photos=set(), blobs=set())
    shas = sorted({edit.args["sha256"] for edit in edits if edit.kind == "photo"})
    if shas:
        state.blobs = set(session.scalars(select(Blob.sha256).where(Blob.sha256.in_(shas))))
        state.photos = {(task_id, sha) for task_id, sha in session.execute(
            select(TaskPhoto.task_id, TaskPhoto.sha256).where(TaskPhoto.task_id.in_(task_ids),
                                                              TaskPhoto.sha256.in_(shas)))}
    # Status and claimants cannot change within the batch, so which registers the batch may
    # write is known before deciding: lock exactly those.
    wanted = set()
    for edit in edits:
        if edit.kind == "checklist":
            try:
                _check_checklist(state, actor, edit)
                wanted.add((edit.task_id, edit.args["item_id"]))
            except DomainError:
                pass
    state.registers = _lock_registers(session, sorted(wanted))

    outcomes: list[Outcome] = []
    register_writes: dict[tuple[int, str], dict] = {}
    sale_adds: list[tuple[int, int, str, int]] = []  # (event index, task, sku, quantity)
    notes, photos = [], []
    username = actor.username
    for edit in edits:
        try:
            _check(state, actor, edit, state.blobs)
        except DomainError as exc:
            outcomes.append(Outcome.rejected(exc))
            continue
        outcome = Outcome()
        event = dict(entity="task", entity_id=edit.task_id, user_id=actor.id, client_id=client_id,
                     server_time=received_at, client_time=edit.client_time)
        if edit.kind == "checklist":
            item_id, key = edit.args["item_id"], (edit.task_id, edit.args["item_id"])
            effective = rules.clamp_client_time(edit.client_time, last_client_time, received_at)
            current = state.registers.get(key)
            entry = checklist_entry(edit.args["done"], username, received_at, effective, client_id)
            if rules.checklist_edit_wins(effective_time=effective, client_id=client_id or "",
                                         current=current):
                state.registers[key] = entry
                register_writes[key] = dict(done=bool(edit.args["done"]), by_username=username,
                                            edited_at=received_at, client_time=effective,
                                            client_id=client_id)
                event.update(action="checklist_set", before={item_id: current}, after={item_id: entry})
            else:
                outcome = Outcome("rejected", "superseded",
                                  f"A later edit of '{item_id}' by {current.get('by')} wins."[:500],
                                  {"item_id": item_id, "kept": current, "lost": entry})
                event.update(action="checklist_edit_lost", before={item_id: current},
                             after={"lost": entry})
        elif edit.kind == "sale":
            sale_adds.append((len(batch.events), edit.task_id, edit.args["sku"], edit.args["quantity"]))
            event.update(action="sale_recorded", before=None, after=None)  # totals filled below
        elif edit.kind == "note":
            note = note_entry(edit.args["text"], username, received_at, edit.client_time)
            notes.append(dict(task_id=edit.task_id, text=edit.args["text"], by_username=username,
                              added_at=received_at, client_time=edit.client_time))
            event.update(action="note_added", before={}, after={"note": note})
        else:
            sha = edit.args["sha256"]
            if (edit.task_id, sha) not in state.photos:
                state.photos.add((edit.task_id, sha))
                photos.append(dict(task_id=edit.task_id, sha256=sha, added_by_id=actor.id,
                                   added_at=received_at))
            event.update(action="photo_attached", before={}, after={"sha256": sha})
        batch.events.append(event)
        batch.touched[edit.task_id] = batch.touched.get(edit.task_id, False) or edit.kind != "note"
        if outcome.status == "applied" and edit.client_time is not None:
            # Later edits of this client are clamped to the latest time it got accepted with.
            clamped = rules.clamp_client_time(edit.client_time, last_client_time, received_at)
            last_client_time = max(filter(None, (last_client_time, clamped)))
        outcomes.append(outcome)

    _write(session, register_writes, notes, photos)
    _add_sales(session, sale_adds, batch.events)
    forget_loaded(session, task_ids)
    return outcomes, last_client_time


def _param(name: str, column: str | None = None):
    return bindparam(name, type_=_REGISTERS.c[column].type if column else None)


_REGISTER_WRITE = (update(_REGISTERS)
                   .where(_REGISTERS.c.task_id == _param("k_task"), _REGISTERS.c.item_id == _param("k_item"))
                   .values(done=_param("v_done"), by_username=_param("v_by"),
                           edited_at=_param("v_at", "edited_at"), client_time=_param("v_ct", "client_time"),
                           client_id=_param("v_cid")))
_NOTE_INSERT = TaskNote.__table__.insert()


@db.built_once
def _photo_insert(dialect: str):
    return db.dialect_insert(dialect, TaskPhoto.__table__).on_conflict_do_nothing(
        index_elements=["task_id", "sha256"])


def _write(session: Session, registers: dict, notes: list[dict], photos: list[dict]) -> None:
    if registers:
        session.execute(_REGISTER_WRITE, [
            dict(k_task=task_id, k_item=item_id, v_done=row["done"], v_by=row["by_username"],
                 v_at=row["edited_at"], v_ct=row["client_time"], v_cid=row["client_id"])
            for (task_id, item_id), row in sorted(registers.items())])
    if notes:
        session.execute(_NOTE_INSERT, notes)
    if photos:
        session.execute(_photo_insert(session), photos)


def forget_loaded(session: Session, task_ids) -> None:
    """Expire the ORM copies of tasks changed by set-based statements (a lifecycle service later
    in the same transaction must see the new progress, not what it loaded before)."""
    wanted = set(task_ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, StoreTask) and obj.id in wanted:
            session.expire(obj)


@db.built_once
def _sales_add(dialect: str):
    table = TaskSale.__table__
    upsert = db.dialect_insert(dialect, table)
    return upsert.on_conflict_do_update(
        index_elements=["task_id", "sku"], set_={"quantity": table.c.quantity + upsert.excluded.quantity}
    ).returning(table.c.task_id, table.c.sku, table.c.quantity)


def _add_sales(session: Session, adds: list[tuple[int, int, str, int]], events: list[dict]) -> None:
    """Add every increment in SQL (one upsert per task and SKU, in key order), then give each
    sale's event the running total it produced."""
    if not adds:
        return
    totals: dict[tuple[int, str], int] = {}
    for _, task_id, sku, quantity in adds:
        totals[(task_id, sku)] = totals.get((task_id, sku), 0) + quantity
    after = {(task_id, sku): quantity for task_id, sku, quantity in session.execute(
        _sales_add(session),
        [{"task_id": task_id, "sku": sku, "quantity": quantity}
         for (task_id, sku), quantity in sorted(totals.items())])}
    running = {key: after[key] - totals[key] for key in totals}
    for event_index, task_id, sku, quantity in adds:
        before = running[(task_id, sku)]
        running[(task_id, sku)] = before + quantity
        events[event_index].update(before={sku: before},
                                   after={sku: before + quantity, "added": quantity})


def finish(session: Session, actor: User, batch: Batch, now: dt.datetime) -> None:
    """Append the events; lock the touched tasks in id order and bump each version once, and
    re-check what the batch relied on (a concurrent submit, cancel or unclaim): StaleProgress
    if it no longer holds (the caller rolls back)."""
    history.record_events(session, batch.events)
    task_ids = sorted(batch.touched)
    if task_ids:
        locked = {row.id: row for row in history.lock_and_touch(
            session, task_ids, now, HELD, params={"actor_id": actor.id})}
        for task_id in task_ids:
            if task_id not in locked:
                raise StaleProgress(f"task {task_id} is gone")
            if batch.touched[task_id] and (locked[task_id].status not in rules.PROGRESS_OPEN
                                           or not locked[task_id].held):
                raise StaleProgress(f"task {task_id} changed under the batch")
    forget_loaded(session, task_ids)
    batch.touched.clear()
    batch.events.clear()
