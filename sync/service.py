"""Sync push (exactly-once mutations, each atomic on its own) and pull (commit-ordered feed)."""

from __future__ import annotations

import datetime as dt

import marshmallow as ma
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend import db
from backend.auth import policy
from backend import changefeed
from backend.changefeed import Change, Position
from backend.db import utcnow
from backend.errors import DomainError, Forbidden
from backend.org.models import User
from backend.tasks import service as tasks
from backend.tasks.models import StoreTask
from backend.tasks.sections import DetailSection
from notifications.content import Facts
from notifications.models import Notification
from notifications.schemas import NotificationSchema
from qr.service import QrSettings
from sync import cursor as cursors
from sync import handlers, rules
from sync.models import SyncClient, SyncMutation
from sync.payloads import TaskPayloads
from sync.schemas import ARG_SCHEMAS

NOTIFICATION_SCHEMA = NotificationSchema()
NOTIFICATION_SNAPSHOT_DAYS = 30  # a bootstrap brings the last month of the inbox


# ---- clients --------------------------------------------------------------------------------

def _bind_client(session: Session, actor: User, client_id: str) -> SyncClient:
    """The client row, locked; created on first push, in the push's own transaction (a refused
    push leaves nothing behind). A client id belongs to its first user."""
    session.execute(db.insert_skipping_conflicts(session, SyncClient.__table__, ["client_id"]).values(
        client_id=client_id, user_id=actor.id, last_mutation_id=0, created_at=utcnow(),
        last_seen_at=utcnow()))
    client = _locked_client(session, client_id)
    if client.user_id != actor.id:
        raise Forbidden("This client id belongs to another user.", error="client_id_taken")
    return client


def _client_for_pull(session: Session, actor: User, client_id: str) -> int:
    """Pull writes nothing: the last applied mutation id (0 for a client that never pushed)."""
    client = session.get(SyncClient, client_id)
    if client is None:
        return 0
    if client.user_id != actor.id:
        raise Forbidden("This client id belongs to another user.", error="client_id_taken")
    return client.last_mutation_id


def task_id_of(args) -> int | None:
    """The task a mutation names, if it names one that can exist (any client input is possible)."""
    task_id = args.get("task_id") if isinstance(args, dict) else None
    if isinstance(task_id, int) and not isinstance(task_id, bool) and 0 < task_id < 2**62:
        return task_id
    return None


def _locked_client(session: Session, client_id: str) -> SyncClient:
    return session.scalar(select(SyncClient).where(SyncClient.client_id == client_id)
                          .with_for_update().execution_options(populate_existing=True))


# ---- push -----------------------------------------------------------------------------------

def _result(session: Session, actor: User, record: SyncMutation, task_id: int | None,
            with_entity: bool, payloads: TaskPayloads) -> dict:
    result = {"id": record.mutation_id, "status": record.status}
    if record.status == "rejected":
        result["error"], result["message"] = record.error, record.message
    if record.details:
        result["details"] = record.details
    task = handlers.entity_of(session, actor, task_id) if with_entity and task_id else None
    result["entity"] = payloads.dump(task) if task is not None else None
    return result


def _rejected(client: SyncClient, mutation: dict, error: str, message: str,
              details: dict | None) -> SyncMutation:
    return SyncMutation(client_id=client.client_id, mutation_id=mutation["id"], name=mutation["name"],
                        status="rejected", error=error, message=message[:500], details=details,
                        client_time=mutation.get("client_time"))


def _apply_one(session: Session, actor: User, client: SyncClient, mutation: dict,
               qr_settings: QrSettings, received_at: dt.datetime) -> SyncMutation:
    """Apply one mutation inside its own SAVEPOINT: all of it, or none of it plus a rejection."""
    schema = ARG_SCHEMAS.get(mutation["name"])
    if schema is None:
        return _rejected(client, mutation, "unknown_mutation",
                         f"Unknown mutation '{mutation['name']}'.", None)
    try:
        args = schema.load(mutation["args"])
    except ma.ValidationError as exc:
        return _rejected(client, mutation, "invalid_args", "The mutation's arguments are invalid.",
                         {"errors": exc.normalized_messages()})
    savepoint = session.begin_nested()
    record = SyncMutation(client_id=client.client_id, mutation_id=mutation["id"],
                          name=mutation["name"], status="applied",
                          client_time=mutation.get("client_time"))
    try:
        session.add(record)
        context = handlers.MutationContext(
            session=session, actor=actor, client=client, record=record, args=args,
            client_time=mutation.get("client_time"), received_at=received_at,
            qr_settings=qr_settings)
        handlers.HANDLERS[mutation["name"]](context)
        if mutation.get("client_time") is not None and record.status == "applied":
            # Later edits of this client are clamped to the latest time it got accepted with.
            client.last_client_time = max(filter(None, (client.last_client_time, rules.clamp_client_time(
                mutation["client_time"], client.last_client_time, received_at))))
        savepoint.commit()
        return record
    except DomainError as exc:
        savepoint.rollback()
        details = dict(exc.details) or None
        if exc.errors:
            details = {**(details or {}), "errors": exc.errors}
        return _rejected(client, mutation, exc.error, exc.message, details)


def push(*, session: Session, actor: User, client_id: str, schema_version: int,
         mutations: list[dict], qr_settings: QrSettings,
         sections: dict[str, DetailSection] | None = None) -> dict:
    """Answer every mutation exactly once: stored results for retries, new ones applied in order.

    The new mutations of one push share a transaction, each in its own SAVEPOINT, and the
    answer is sent only after that transaction committed: "applied" is never a write that a
    later failure rolled back. If the commit itself fails, nothing is applied and nothing is
    stored, and the phone's retry starts over.
    """
    client = _bind_client(session, actor, client_id)  # locked: one push per client at a time
    ids = [mutation["id"] for mutation in mutations]
    replay, fresh = rules.split_mutation_ids(ids, client.last_mutation_id)
    stored = {record.mutation_id: record for record in session.scalars(
        select(SyncMutation).where(SyncMutation.client_id == client_id,
                                   SyncMutation.mutation_id.in_(replay)))} if replay else {}
    received_at = utcnow()
    if fresh:
        tasks.lock_tasks(session, [task_id for m in mutations if m["id"] in set(fresh)
                                   and (task_id := task_id_of(m["args"])) is not None])
        with db.caller_owns_transaction(session):
            for mutation in mutations:
                if mutation["id"] in stored:
                    continue
                record = _apply_one(session, actor, client, mutation, qr_settings, received_at)
                session.add(record)
                stored[mutation["id"]] = record
        client.last_mutation_id = fresh[-1]
    client.last_seen_at = received_at
    session.commit()
    # Entities after the commit: every rejection gets its task's state, and so does the
    # last applied mutation of each task (earlier ones would repeat it).
    last_touch = {task_id_of(m["args"]): m["id"] for m in mutations}
    payloads = TaskPayloads(session, actor, sections)
    answers = [_result(session, actor, stored[m["id"]], task_id_of(m["args"]),
                       with_entity=stored[m["id"]].status == "rejected"
                       or last_touch.get(task_id_of(m["args"])) == m["id"], payloads=payloads)
               for m in mutations]
    last = client.last_mutation_id
    session.commit()
    return {"last_mutation_id": last, "results": answers}


# ---- pull -----------------------------------------------------------------------------------

def _change_scope(actor: User):
    """The feed rows of the actor's scope: tasks of their stores or regions, and their own
    notifications (personal rows carry no store or region)."""
    own = Change.user_id == actor.id
    if actor.role == policy.HQ:
        return or_(Change.user_id.is_(None), own)
    if actor.role == policy.SUPERVISOR:
        return or_(Change.region_id.in_(sorted(actor.region_ids) or [-1]), own)
    return or_(Change.store_id == (actor.store_id or -1), own)


def _tasks_in_scope(session: Session, actor: User, ids: list[int]) -> dict[int, StoreTask]:
    if not ids:
        return {}
    return {task.id: task for task in session.scalars(
        select(StoreTask).where(StoreTask.id.in_(ids), policy.store_scope(actor, StoreTask.store_id)))}


def _notifications_of(session: Session, actor: User, ids: list[int]) -> dict[int, dict]:
    if not ids:
        return {}
    rows = session.scalars(select(Notification).where(Notification.id.in_(ids),
                                                      Notification.user_id == actor.id)).all()
    return _render_notifications(session, actor, rows)


def _render_notifications(session: Session, actor: User, rows) -> dict[int, dict]:
    facts = Facts(session)
    facts.preload(rows)
    return {n.id: NOTIFICATION_SCHEMA.dump(facts.inbox_item(n, actor.locale)) for n in rows}


def _snapshot_tasks(session: Session, actor: User, after_id: int, limit: int,
                    payloads: TaskPayloads) -> tuple[list[dict], bool]:
    tasks = session.scalars(select(StoreTask).where(policy.store_scope(actor, StoreTask.store_id),
                                                    StoreTask.id > after_id)
                            .order_by(StoreTask.id).limit(limit + 1)).all()
    return ([{"entity": "task", "op": "put", "id": task.id, "data": payloads.dump(task)}
             for task in tasks[:limit]], len(tasks) > limit)


def _snapshot_notifications(session: Session, actor: User, after_id: int, limit: int,
                            payloads: TaskPayloads) -> tuple[list[dict], bool]:
    since = utcnow() - dt.timedelta(days=NOTIFICATION_SNAPSHOT_DAYS)
    rows = session.scalars(select(Notification).where(
        Notification.user_id == actor.id, Notification.id > after_id, Notification.created_at >= since)
        .order_by(Notification.id).limit(limit + 1)).all()
    rendered = _render_notifications(session, actor, rows[:limit])
    return ([{"entity": "notification", "op": "put", "id": notification_id, "data": data}
             for notification_id, data in rendered.items()], len(rows) > limit)


# A bootstrap sends each entity in turn, in this order.
_SNAPSHOT = {"task": _snapshot_tasks, "notification": _snapshot_notifications}
_AFTER = {"task": "notification", "notification": None}


def _snapshot_page(session: Session, actor: User, start: Position, entity: str, after_id: int,
                   limit: int, scope: str, payloads: TaskPayloads) -> tuple[list[dict], str, bool]:
    changes: list[dict] = []
    while True:
        page, more = _SNAPSHOT[entity](session, actor, after_id, limit - len(changes), payloads)
        changes += page
        if more:
            following = cursors.Cursor(position=start, scope=scope, snapshot_after=page[-1]["id"],
                                       snapshot_entity=entity)
            return changes, cursors.encode(following), True
        entity, after_id = _AFTER[entity], 0
        if entity is None:
            return changes, cursors.encode(cursors.Cursor(position=start, scope=scope)), False
        if len(changes) >= limit:
            following = cursors.Cursor(position=start, scope=scope, snapshot_after=0,
                                       snapshot_entity=entity)
            return changes, cursors.encode(following), True


def _current_state(session: Session, actor: User, rows: list[Change],
                   sections: dict[str, DetailSection] | None) -> list[dict]:
    """Each entity of the page once, as it is now: a put if it exists in the actor's scope,
    else a delete. The feed says *what* changed; the answer never depends on the order in which
    a page's rows of one entity were written."""
    touched = list(dict.fromkeys((row.entity, row.entity_id) for row in rows))
    tasks_now = _tasks_in_scope(session, actor, [i for entity, i in touched if entity == "task"])
    notifications_now = _notifications_of(session, actor,
                                          [i for entity, i in touched if entity == "notification"])
    payloads = TaskPayloads(session, actor, sections)
    changes = []
    for entity, entity_id in touched:
        if entity == "notification":
            data = notifications_now.get(entity_id)
        else:
            task = tasks_now.get(entity_id)
            data = payloads.dump(task) if task is not None else None
        if data is not None:
            changes.append({"entity": entity, "op": "put", "id": entity_id, "data": data})
        else:  # deleted, or no longer in this actor's scope
            changes.append({"entity": entity, "op": "delete", "id": entity_id, "data": {}})
    return changes


def pull(*, session: Session, actor: User, client_id: str, cursor: str | None,
         schema_version: int, limit: int, sections: dict[str, DetailSection] | None = None) -> dict:
    """A page of the actor's scope: a snapshot (cursor null, reset) or the changes since cursor."""
    position = cursors.decode(cursor) if cursor else None
    last_mutation_id = _client_for_pull(session, actor, client_id)
    scope = cursors.scope_of(actor)
    reset = position is not None and (position.legacy or position.scope != scope or (
        position.snapshot_after is None
        and position.position.horizon <= changefeed.purged_through(session)))
    if position is None or reset or position.snapshot_after is not None:
        fresh = position is None or reset
        # The horizon is read before the snapshot's rows: whatever the snapshot misses is at
        # or above it, and the deltas start there.
        start = Position(changefeed.horizon(session)) if fresh else position.position
        entity = "task" if fresh else position.snapshot_entity
        after = 0 if fresh else position.snapshot_after
        changes, next_cursor, has_more = _snapshot_page(session, actor, start, entity, after, limit, scope,
                                                        TaskPayloads(session, actor, sections))
        session.commit()
        return {"cursor": next_cursor, "has_more": has_more, "reset": reset,
                "last_mutation_id": last_mutation_id, "changes": changes}
    rows, following, has_more = changefeed.read_page(session, position.position,
                                                      _change_scope(actor), limit)
    changes = _current_state(session, actor, rows, sections)
    session.commit()
    return {"cursor": cursors.encode(cursors.Cursor(position=following, scope=scope)),
            "has_more": has_more, "reset": False, "last_mutation_id": last_mutation_id,
            "changes": changes}
