"""The one way a store task records a change: its version goes up and an event explains it.

``touch`` does it for one task an ORM service holds; ``lock_and_touch`` for the tasks a
set-based write (a sync push) changed, once per task, at the end of the transaction, under row
locks taken in id order and held only until the commit."""

from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from backend import audit, changefeed
from backend.org.models import User
from backend.tasks.models import StoreTask


def snapshot(task: StoreTask) -> dict:
    """What an event's before/after shows of a task's lifecycle."""
    return {"status": task.status, "claimants": sorted(c.user.username for c in task.claims),
            "version": task.version}


def touch(session: Session, task: StoreTask, actor: User | None, action: str, before: dict | None,
          now: dt.datetime, *, after: dict | None = None, client_id: str | None = None,
          client_time: dt.datetime | None = None) -> None:
    """Bump the version of a task an ORM service changed and append the event that explains it."""
    task.version += 1
    task.updated_at = now
    session.flush()
    audit.record(session, entity="task", entity_id=task.id, action=action, actor=actor,
                 before=before, after={**snapshot(task), **(after or {})}, client_id=client_id,
                 client_time=client_time, at=now)


def lock_and_touch(session: Session, task_ids: list[int], now: dt.datetime, *columns,
                   params: dict | None = None):
    """Lock the tasks in id order (FOR NO KEY UPDATE on PostgreSQL: rows referencing them are
    not blocked), bump each version once and announce them to the change feed; returns what a
    set-based write must re-check under the lock: id, status and the caller's ``columns``
    (module-level constants, with their bound values in ``params``), as the locked rows hold
    them. The caller raises (and rolls back) if the re-check fails, and otherwise commits right
    after: the rows stay locked only for the commit.

    PostgreSQL does all of it in one statement (the locking select, the UPDATE … RETURNING and
    the change rows as data-modifying CTEs); SQLite, one writer at a time, in two plus the feed's
    row at commit."""
    values = {**(params or {}), "ids": sorted(task_ids), "now": now}
    if session.bind.dialect.name != "postgresql":
        read, bump = _sqlite_lock_and_touch(columns)
        rows = session.execute(read, values).all()
        session.execute(bump, values, execution_options={"synchronize_session": False})
        changefeed.mark_tasks_where(session, StoreTask.id.in_(values["ids"]))
        return rows
    return session.execute(_postgresql_lock_and_touch(columns), values).all()


_IDS = bindparam("ids", expanding=True)
_NOW = bindparam("now", type_=StoreTask.__table__.c.updated_at.type)


@functools.lru_cache(maxsize=16)
def _postgresql_lock_and_touch(columns: tuple):
    locked = (select(StoreTask.id).where(StoreTask.id.in_(_IDS)).order_by(StoreTask.id)
              .with_for_update(key_share=True).subquery("locked"))
    bumped = (update(StoreTask).where(StoreTask.id == locked.c.id)
              .values(version=StoreTask.version + 1, updated_at=_NOW)
              .returning(StoreTask.id, StoreTask.store_id, StoreTask.status, *columns)
              .cte("bumped"))
    changes = changefeed.task_changes_of(bumped.c.id, bumped.c.store_id, _NOW).cte("announced")
    return (select(bumped.c.id, bumped.c.status, *(bumped.c[column.key] for column in columns))
            .add_cte(changes).order_by(bumped.c.id))


@functools.lru_cache(maxsize=16)
def _sqlite_lock_and_touch(columns: tuple):
    read = (select(StoreTask.id, StoreTask.status, *columns).where(StoreTask.id.in_(_IDS))
            .order_by(StoreTask.id))
    bump = (update(StoreTask).where(StoreTask.id.in_(_IDS))
            .values(version=StoreTask.version + 1, updated_at=_NOW))
    return read, bump


def record_events(session: Session, events: list[dict]) -> None:
    """Append the events of a set-based write (rows for ``audit.record_many``); they need no
    task lock, so they go in before ``lock_and_touch``."""
    audit.record_many(session, events)
