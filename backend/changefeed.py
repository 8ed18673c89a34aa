"""The change feed behind sync pull: every committed change of a store task, in commit order.

Sequence numbers are allocated in the writing transaction itself, at ``before_commit``,
by updating a single counter row. The row lock is held until that transaction commits,
so a transaction that allocates later also commits later: sequence order is commit
order, and a reader holding cursor N can never miss a change committed after it read
(the failure of timestamp cursors). SQLite serializes writers anyway (BEGIN IMMEDIATE).

Services do not call this for ordinary ORM edits: ``after_flush`` notices every new or
changed StoreTask (and its claims and photos). Bulk statements (publish, campaign cancel,
template propagation, a store changing region) mark their rows with ``mark_tasks_where``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (BigInteger, ColumnElement, ForeignKey, Index, String, event, func, insert,
                        literal, select, update)
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.db import Base, BigId, UTCDateTime, utcnow
from backend.org.models import Store
from backend.tasks.models import StoreTask, TaskClaim, TaskPhoto

_PENDING = "changefeed.pending"   # list of (condition, op, region override)
_TOUCHED = "changefeed.touched"   # task ids noticed at flush
_PERSONAL = "changefeed.personal"  # list of (entity, select of (entity id, user id))


class ChangeCounter(Base):
    """One row: the last allocated sequence number and how far tombstones were purged."""

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    purged_through: Mapped[int] = mapped_column(BigInteger, default=0)


class Change(Base):
    """One change of one entity: what (entity, id, put/delete) and whose scope (store, region)."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_store_seq", "store_id", "seq"),
                      Index("ix_changes_region_seq", "region_id", "seq"),
                      Index("ix_changes_user_seq", "user_id", "seq"))

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(10))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    # Set for entities that belong to one user (notifications); store and region are then empty.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def mark_tasks_where(session: Session, condition: ColumnElement[bool], *, op: str = "put",
                     region_id: int | None = None) -> None:
    """Record, at commit, a change for every store task matching the condition.

    ``region_id`` overrides the store's current region: a store leaving a region
    sends ``delete`` to that region's supervisors.
    """
    session.info.setdefault(_PENDING, []).append((condition, op, region_id))


def mark_personal(session: Session, entity: str, rows) -> None:
    """Record, at commit, a ``put`` of each (entity id, user id) pair the select returns: an
    entity only its user syncs (a notification), whatever store or region they are in."""
    session.info.setdefault(_PERSONAL, []).append((entity, rows))


def _notice_flushed_tasks(session: Session, _context) -> None:
    touched = session.info.setdefault(_TOUCHED, set())
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, StoreTask) and obj.id is not None:
            touched.add(obj.id)
        elif isinstance(obj, (TaskClaim, TaskPhoto)) and obj.task_id is not None:
            touched.add(obj.task_id)


def _write_changes(session: Session) -> None:
    """Allocate sequence numbers under the counter's row lock and insert the change rows."""
    session.flush()
    pending = session.info.pop(_PENDING, [])
    touched = session.info.pop(_TOUCHED, set())
    personal = session.info.pop(_PERSONAL, [])
    if touched:
        ids = sorted(touched)
        pending.extend((StoreTask.id.in_(ids[i:i + 5000]), "put", None)
                       for i in range(0, len(ids), 5000))
    if not pending and not personal:
        return
    base = session.execute(update(ChangeCounter).where(ChangeCounter.id == 1)
                           .values(value=ChangeCounter.value).returning(ChangeCounter.value)).scalar_one()
    now = utcnow()
    for condition, op, region_override in pending:
        region = literal(region_override) if region_override is not None else Store.region_id
        rows = (select((literal(base) + func.row_number().over(order_by=StoreTask.id)).label("seq"),
                       literal("task").label("entity"), StoreTask.id, literal(op).label("op"),
                       StoreTask.store_id, region.label("region_id"),
                       literal(now, UTCDateTime).label("created_at"))
                .join(Store, StoreTask.store_id == Store.id).where(condition))
        session.execute(insert(Change).from_select(
            ["seq", "entity", "entity_id", "op", "store_id", "region_id", "created_at"], rows))
        # rowcount of INSERT … SELECT is not reliable across drivers; under the counter's lock
        # the highest sequence in the table is ours (a primary-key lookup).
        base = session.scalar(select(func.max(Change.seq))) or base
    for entity, rows in personal:
        subquery = rows.subquery()
        entity_id, user_id = subquery.c
        numbered = select((literal(base) + func.row_number().over(order_by=entity_id)).label("seq"),
                          literal(entity).label("entity"), entity_id, literal("put").label("op"),
                          user_id, literal(now, UTCDateTime).label("created_at"))
        session.execute(insert(Change).from_select(
            ["seq", "entity", "entity_id", "op", "user_id", "created_at"], numbered))
        base = session.scalar(select(func.max(Change.seq))) or base
    session.execute(update(ChangeCounter).where(ChangeCounter.id == 1).values(value=base))


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # Releasing a SAVEPOINT is not the commit: allocating here would hold the counter's
        # lock for the rest of the outer transaction.
        return
    if (session.info.get(_PENDING) or session.info.get(_TOUCHED) or session.info.get(_PERSONAL)
            or session.new or session.dirty):
        _write_changes(session)


def _forget(session: Session, previous_transaction) -> None:
    """The whole transaction rolled back: nothing to announce. A SAVEPOINT rolling back keeps
    the marks of the outer transaction (at worst a task is re-sent unchanged)."""
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)
        session.info.pop(_TOUCHED, None)
        session.info.pop(_PERSONAL, None)


def install() -> None:
    """Listen on every Session (idempotent)."""
    if not event.contains(Session, "after_flush", _notice_flushed_tasks):
        event.listen(Session, "after_flush", _notice_flushed_tasks)
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_soft_rollback", _forget)


def high_water(session: Session) -> tuple[int, int]:
    """(last committed sequence number, purged-through sequence number)."""
    row = session.execute(select(ChangeCounter.value, ChangeCounter.purged_through)
                          .where(ChangeCounter.id == 1)).one()
    return row[0], row[1]


def purge_older_than(session: Session, cutoff: dt.datetime) -> int:
    """Drop change rows older than the cutoff; cursors from before them must reset."""
    through = session.scalar(select(func.max(Change.seq)).where(Change.created_at < cutoff))
    if through is None:
        return 0
    deleted = session.execute(Change.__table__.delete().where(Change.seq <= through)).rowcount
    session.execute(update(ChangeCounter).where(ChangeCounter.id == 1)
                    .values(purged_through=func.max(ChangeCounter.purged_through, through)
                            if session.bind.dialect.name == "sqlite"
                            else func.greatest(ChangeCounter.purged_through, through)))
    session.commit()
    return deleted
