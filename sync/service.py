"""Sync push (exactly-once mutations, each atomic on its own) and pull (commit-ordered feed)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import marshmallow as ma
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from backend import db
from backend.auth import policy
from backend import changefeed
from backend.changefeed import Change, Position
from backend.db import utcnow
from backend.errors import DomainError, Forbidden
from backend.org.models import User
from backend.tasks import progress
from backend.tasks import service as tasks
from backend.tasks.models import StoreTask
from backend.tasks.sections import DetailSection
from notifications.models import Notification
from notifications import service as inbox
from qr.service import QrSettings
from sync import cursor as cursors
from sync import handlers, rules
from sync.models import SyncClient, SyncMutation
from sync.payloads import TaskPayloads
from sync.schemas import ARG_SCHEMAS, MutationSchema, load_progress_fast

log = logging.getLogger(__name__)
MUTATION_SCHEMA = MutationSchema()

NOTIFICATION_SNAPSHOT_DAYS = 30  # a bootstrap brings the last month of the inbox


# ---- clients --------------------------------------------------------------------------------

@dataclass
class _Client:
    """The pushing client's row as its push found it (locked until the commit)."""

    client_id: str
    last_mutation_id: int
    last_client_time: dt.datetime | None


_CLIENTS = SyncClient.__table__


@db.built_once
def _client_upsert(dialect: str):
    upsert = db.dialect_insert(dialect, _CLIENTS)
    return upsert.on_conflict_do_update(
        index_elements=["client_id"], set_={"last_seen_at": upsert.excluded.last_seen_at}
    ).returning(_CLIENTS.c.user_id, _CLIENTS.c.last_mutation_id, _CLIENTS.c.last_client_time)


_CLIENT_ADVANCE = (update(_CLIENTS).where(_CLIENTS.c.client_id == bindparam("client"))
                   .values(last_mutation_id=bindparam("last_id"),
                           last_client_time=bindparam("last_time", type_=_CLIENTS.c.last_client_time.type)))
_RESULT_INSERT = SyncMutation.__table__.insert()


def _bind_client(session: Session, actor: User, client_id: str, now: dt.datetime) -> _Client:
    """The client row, locked, in one statement: created on first push, in the push's own
    transaction (a refused push leaves nothing behind), else locked by the upsert touching its
    last_seen_at. A client id belongs to its first user."""
    row = session.execute(_client_upsert(session), {
        "client_id": client_id, "user_id": actor.id, "last_mutation_id": 0, "created_at": now,
        "last_seen_at": now}).one()
    if row.user_id != actor.id:
        raise Forbidden("This client id belongs to another user.", error="client_id_taken")
    return _Client(client_id, row.last_mutation_id, row.last_client_time)


def _client_for_pull(session: Session, actor: User, client_id: str) -> int:
    """Pull writes nothing: the last applied mutation id (0 for a client that never pushed)."""
    client = session.get(SyncClient, client_id)
    if client is None:
        return 0
    if client.user_id != actor.id:
        raise Forbidden("This client id belongs to another user.", error="client_id_taken")
    return client.last_mutation_id


# ---- push -----------------------------------------------------------------------------------

@dataclass
class _Mutation:
    """One new mutation, checked on its own: either loaded arguments or its rejection."""

    id: int
    name: str
    args: dict | None
    client_time: dt.datetime | None
    rejection: dict | None = None


class _Fallback(Exception):
    """The set-based attempt hit a database error or a task changed under it: redo the push
    with one SAVEPOINT per mutation."""


def _parse(mutation: dict) -> _Mutation:
    """Any client input becomes either loaded arguments or a stored rejection, never a refused
    push (a lone surrogate in a name, an unknown field, a bad client time...)."""
    fast = load_progress_fast(mutation)
    if fast is not None:
        return _Mutation(mutation["id"], *fast)
    body = {key: value for key, value in mutation.items() if key != "id"}
    name = rules.storable(str(body.get("name")))[:40]
    try:
        loaded = MUTATION_SCHEMA.load(body)
    except ma.ValidationError as exc:
        errors = exc.normalized_messages()
        if "name" in errors:
            return _Mutation(mutation["id"], name, None, None, rules.rejection(
                "unknown_mutation", "The mutation's name is not one this server knows.", None))
        return _Mutation(mutation["id"], name, None, None, rules.rejection(
            "invalid_args", "The mutation is invalid.", {"errors": errors}))
    name, client_time = loaded["name"], loaded.get("client_time")
    schema = ARG_SCHEMAS.get(name)
    if schema is None:
        return _Mutation(mutation["id"], name, None, client_time, rules.rejection(
            "unknown_mutation", f"Unknown mutation '{name}'.", None))
    try:
        args = schema.load(loaded["args"])
    except ma.ValidationError as exc:
        return _Mutation(mutation["id"], name, None, client_time, rules.rejection(
            "invalid_args", "The mutation's arguments are invalid.",
            {"errors": exc.normalized_messages()}))
    return _Mutation(mutation["id"], name, args, client_time)


def _rejected(exc: DomainError) -> dict:
    details = dict(exc.details) or None
    if exc.errors:
        details = {**(details or {}), "errors": exc.errors}
    return rules.rejection(exc.error, exc.message, details)


def _accepted_time(last: dt.datetime | None, client_time: dt.datetime | None,
                   received_at: dt.datetime) -> dt.datetime | None:
    """Later edits of this client are clamped to the latest time it got accepted with."""
    if client_time is None:
        return last
    return max(filter(None, (last, rules.clamp_client_time(client_time, last, received_at))))


class _Push:
    """Applies one push's new mutations in order inside the caller's transaction.

    Set-based (``careful=False``): runs of progress mutations go to ``progress.apply`` as one
    batch each; other mutations run through their service in a SAVEPOINT (a rejection rolls
    back what the service did). Any database error → ``_Fallback``.
    Careful: the named tasks are locked up front and every mutation gets its own SAVEPOINT; a
    database error rejects that mutation only; a transient one (deadlock) aborts the attempt.
    """

    def __init__(self, session: Session, actor: User, client: _Client, qr_settings: QrSettings,
                 received_at: dt.datetime, careful: bool):
        self.session, self.actor, self.client = session, actor, client
        self.qr_settings, self.received_at, self.careful = qr_settings, received_at, careful
        self.batch = progress.Batch()
        self.last_time = client.last_client_time
        self.results: dict[int, dict] = {}
        self.pending: list[tuple[_Mutation, progress.Edit]] = []

    def run(self, mutations: list[_Mutation]) -> None:
        with db.caller_owns_transaction(self.session):
            for mutation in mutations:
                if mutation.rejection is not None:
                    self._store(mutation, mutation.rejection)
                elif mutation.name in handlers.PROGRESS:
                    kind, fields = handlers.PROGRESS[mutation.name]
                    edit = progress.Edit(kind=kind, task_id=mutation.args["task_id"],
                                         args={f: mutation.args[f] for f in fields},
                                         client_time=mutation.client_time)
                    if self.careful:
                        self._guarded(mutation, lambda edit=edit: self._progress_one(mutation, edit))
                    else:
                        self.pending.append((mutation, edit))
                else:
                    # The progress so far is settled (re-checked under the task locks) before a
                    # lifecycle change could make that check fail on this push's own doing.
                    self._settle_progress()
                    self._guarded(mutation, lambda: self._handle(mutation))
            self._flush_progress()

    def finish(self) -> None:
        """Lock the touched tasks, re-check, bump their versions: the last step before the
        commit, so the task rows stay locked only for the commit."""
        if self.batch.touched or self.batch.events:
            progress.finish(self.session, self.actor, self.batch, self.received_at)

    def _settle_progress(self) -> None:
        self._flush_progress()
        self.finish()

    def _store(self, mutation: _Mutation, result: dict, task_id: int | None = None) -> None:
        self.results[mutation.id] = {
            **result, "mutation_id": mutation.id, "name": mutation.name,
            "client_time": mutation.client_time,
            "entity_id": task_id if task_id is not None else handlers.task_id_of(mutation.args)}

    def _flush_progress(self) -> None:
        if not self.pending:
            return
        edits = [edit for _, edit in self.pending]
        outcomes, self.last_time = progress.apply(
            self.session, self.actor, edits, self.batch, client_id=self.client.client_id,
            last_client_time=self.last_time, received_at=self.received_at)
        for (mutation, _), outcome in zip(self.pending, outcomes):
            self._store(mutation, rules.rejection(outcome.error, outcome.message, outcome.details)
                        if outcome.status == "rejected" else {"status": "applied"})
        self.pending.clear()

    def _progress_one(self, mutation: _Mutation, edit: progress.Edit) -> None:
        own = progress.Batch()  # merged only once its SAVEPOINT is released
        outcomes, last_time = progress.apply(
            self.session, self.actor, [edit], own, client_id=self.client.client_id,
            last_client_time=self.last_time, received_at=self.received_at)
        return outcomes[0], last_time, own

    def _handle(self, mutation: _Mutation):
        context = handlers.MutationContext(
            session=self.session, actor=self.actor, client_id=self.client.client_id,
            args=mutation.args, client_time=mutation.client_time, received_at=self.received_at,
            qr_settings=self.qr_settings)
        task_id = handlers.HANDLERS[mutation.name](context)
        return progress.Outcome(), _accepted_time(self.last_time, mutation.client_time,
                                                  self.received_at), task_id

    def _guarded(self, mutation: _Mutation, apply) -> None:
        savepoint = self.session.begin_nested()
        try:
            outcome, last_time, extra = apply()
            savepoint.commit()
        except DomainError as exc:
            savepoint.rollback()
            self._store(mutation, _rejected(exc))
            return
        except OperationalError:
            raise  # transient (deadlock, lock timeout, connection): the whole attempt again
        except Exception as exc:
            if not self.careful:
                raise _Fallback(mutation.id) from exc
            savepoint.rollback()
            log.warning("mutation %s of %s refused by the database: %r", mutation.id,
                        self.client.client_id, exc)
            self._store(mutation, rules.rejection(
                "storage_refused", "The database refused this mutation's data.", None))
            return
        if isinstance(extra, progress.Batch):
            self.batch.touched.update({task_id: self.batch.touched.get(task_id, False) or needs
                                       for task_id, needs in extra.touched.items()})
            self.batch.events.extend(extra.events)
            task_id = None
        else:
            task_id = extra
        self.last_time = last_time
        self._store(mutation, rules.rejection(outcome.error, outcome.message, outcome.details)
                    if outcome.status == "rejected" else {"status": "applied"}, task_id)


def _push_once(session: Session, actor: User, client_id: str, mutations: list[dict],
               qr_settings: QrSettings, careful: bool) -> tuple[int, dict[int, dict]]:
    """One attempt: (last mutation id, result of every mutation of the push by id), committed."""
    client = _bind_client(session, actor, client_id, utcnow())  # one push per client at a time
    received_at = utcnow()  # after the wait for the client's previous push, if any
    replay, fresh = rules.split_mutation_ids([m["id"] for m in mutations], client.last_mutation_id)
    named = {m["id"]: handlers.task_id_of(m.get("args")) for m in mutations}
    results = {row.mutation_id: {"mutation_id": row.mutation_id, "status": row.status,
                                 "error": row.error, "message": row.message, "details": row.details,
                                 # results stored before push v2 did not keep their task
                                 "entity_id": row.entity_id or named.get(row.mutation_id)}
               for row in session.scalars(select(SyncMutation).where(
                   SyncMutation.client_id == client_id, SyncMutation.mutation_id.in_(replay)))
               } if replay else {}
    if fresh:
        new = [_parse(m) for m in mutations if m["id"] > client.last_mutation_id]
        if careful:
            tasks.lock_tasks(session, [task_id for m in new
                                       if (task_id := handlers.task_id_of(m.args)) is not None])
        attempt = _Push(session, actor, client, qr_settings, received_at, careful)
        attempt.run(new)
        session.execute(_RESULT_INSERT, [
            dict(client_id=client_id, mutation_id=r["mutation_id"], name=r["name"],
                 status=r["status"], error=r.get("error"), message=r.get("message"),
                 details=r.get("details"), entity_type="task" if r["entity_id"] else None,
                 entity_id=r["entity_id"], client_time=r["client_time"], applied_at=received_at)
            for r in (attempt.results[m.id] for m in new)])
        results.update(attempt.results)
        session.execute(_CLIENT_ADVANCE, {"client": client_id, "last_id": fresh[-1],
                                          "last_time": attempt.last_time})
        client.last_mutation_id = fresh[-1]
        attempt.finish()
    db.commit(session)
    return client.last_mutation_id, results


def push(*, session: Session, actor: User, client_id: str, schema_version: int,
         mutations: list[dict], qr_settings: QrSettings,
         sections: dict[str, DetailSection] | None = None) -> dict:
    """Answer every mutation exactly once: stored results for retries, new ones applied in order.

    The new mutations of one push share a transaction and the answer is sent only after it
    committed: "applied" is never a write that a later failure rolled back. They are applied
    set-based first; a database error (or a task changed under the push) rolls everything
    back and the push is applied again with one SAVEPOINT per mutation, where such an error
    rejects only its own mutation. A transient error (deadlock) retries the push, twice.
    """
    careful = False
    for attempt in range(4):
        try:
            last, results = _push_once(session, actor, client_id, mutations, qr_settings, careful)
            break
        except (_Fallback, progress.StaleProgress, SQLAlchemyError) as exc:
            session.rollback()
            if attempt == 3 or (careful and not isinstance(
                    exc, (OperationalError, progress.StaleProgress))):
                raise
            log.info("push of %s: attempt %d falls back to one savepoint per mutation: %r",
                     client_id, attempt + 1, exc)
            careful = True
    return {"last_mutation_id": last, "results": _answers(session, actor, mutations, results, sections)}


def _answers(session: Session, actor: User, mutations: list[dict], results: dict[int, dict],
             sections: dict[str, DetailSection] | None) -> list[dict]:
    """Entities after the commit, built set-based: every rejection gets its task's state, and
    so does the last applied lifecycle mutation (claim, start, unclaim, submit) of each task —
    the server decided something there the phone cannot compute. An applied progress edit
    (tick, sale, note, photo) gets none: the phone holds its own edit, the next pull brings
    the others', and a hundred ticks do not come back as a hundred whole tasks."""
    lifecycle = [m for m in mutations if results[m["id"]]["status"] == "applied"
                 and isinstance(m.get("name"), str) and m["name"] in handlers.HANDLERS]
    last_touch = {results[m["id"]]["entity_id"]: m["id"] for m in lifecycle}
    wanted = {m["id"] for m in mutations if results[m["id"]]["entity_id"] is not None and (
        results[m["id"]]["status"] == "rejected"
        or last_touch.get(results[m["id"]]["entity_id"]) == m["id"])}
    payloads = TaskPayloads(session, actor, sections).dump_many(
        sorted({results[i]["entity_id"] for i in wanted}), in_scope=True)
    answers = []
    for mutation in mutations:
        record = results[mutation["id"]]
        answer = {"id": mutation["id"], "status": record["status"]}
        if record["status"] == "rejected":
            answer["error"], answer["message"] = record["error"], record["message"]
        if record.get("details"):
            answer["details"] = record["details"]
        answer["entity"] = payloads.get(record["entity_id"]) if mutation["id"] in wanted else None
        answers.append(answer)
    session.rollback()  # reads only: end the snapshot
    return answers


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


def _notifications_of(session: Session, actor: User, ids: list[int]) -> dict[int, dict]:
    if not ids:
        return {}
    rows = session.scalars(select(Notification).where(Notification.id.in_(ids),
                                                      Notification.user_id == actor.id)).all()
    return inbox.inbox_json(session=session, notifications=rows, locale=actor.locale)


def _snapshot_tasks(session: Session, actor: User, after_id: int, limit: int,
                    payloads: TaskPayloads) -> tuple[list[dict], bool]:
    ids = list(session.scalars(select(StoreTask.id).where(policy.store_scope(actor, StoreTask.store_id),
                                                          StoreTask.id > after_id)
                               .order_by(StoreTask.id).limit(limit + 1)))
    data = payloads.dump_many(ids[:limit])
    return ([{"entity": "task", "op": "put", "id": task_id, "data": data[task_id]}
             for task_id in ids[:limit] if task_id in data], len(ids) > limit)


def _snapshot_notifications(session: Session, actor: User, after_id: int, limit: int,
                            payloads: TaskPayloads) -> tuple[list[dict], bool]:
    since = utcnow() - dt.timedelta(days=NOTIFICATION_SNAPSHOT_DAYS)
    rows = session.scalars(select(Notification).where(
        Notification.user_id == actor.id, Notification.id > after_id, Notification.created_at >= since)
        .order_by(Notification.id).limit(limit + 1)).all()
    rendered = inbox.inbox_json(session=session, notifications=rows[:limit], locale=actor.locale)
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
    tasks_now = TaskPayloads(session, actor, sections).dump_many(
        [i for entity, i in touched if entity == "task"], in_scope=True)
    notifications_now = _notifications_of(session, actor,
                                          [i for entity, i in touched if entity == "notification"])
    changes = []
    for entity, entity_id in touched:
        if entity == "notification":
            data = notifications_now.get(entity_id)
        else:
            data = tasks_now.get(entity_id)
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
        session.rollback()  # a read: end the transaction, commit nothing
        return {"cursor": next_cursor, "has_more": has_more, "reset": reset,
                "last_mutation_id": last_mutation_id, "changes": changes}
    rows, following, has_more = changefeed.read_page(session, position.position,
                                                      _change_scope(actor), limit)
    changes = _current_state(session, actor, rows, sections)
    session.rollback()  # a read: end the transaction, commit nothing
    return {"cursor": cursors.encode(cursors.Cursor(position=following, scope=scope)),
            "has_more": has_more, "reset": False, "last_mutation_id": last_mutation_id,
            "changes": changes}
