"""The change feed behind sync pull: every committed change of a store task, none ever skipped.

Each change row carries ``txid`` (its writing transaction) and ``seq`` (its row), and the feed is
read in (txid, seq) order, never past the *horizon*: a txid below which every transaction has
finished (committed or rolled back). A reader that delivered everything below horizon H and then
reads [H, H') — H' the horizon of its next read — can never miss a row: a transaction with a txid
below H' has finished by then, and one that has not finished has a txid ≥ H' and is read next time.

- PostgreSQL: ``txid`` is ``pg_current_xact_id()`` and ``seq`` comes from a sequence, so writers
  take no shared lock at all; the horizon is ``pg_snapshot_xmin(pg_current_snapshot())``, the
  oldest transaction still running. A long write transaction holds the horizon back (its rows and
  every later one wait for it), it never lets a reader skip.
- SQLite has one writer at a time: ``txid`` comes from a counter row bumped by each writing
  transaction at commit, and the horizon is that counter + 1, read in the reader's snapshot.

Services do not call this for ordinary ORM edits: ``after_flush`` notices every new or
changed StoreTask (and its claims and photos). Bulk statements (publish, campaign cancel,
template propagation, a store changing region) mark their rows with ``mark_tasks_where``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import (BigInteger, ColumnElement, ForeignKey, Index, Sequence, String, event, func,
                        insert, literal, literal_column, select, tuple_, update)
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.db import Base, BigId, UTCDateTime, utcnow
from backend.org.models import Store
from backend.tasks.models import StoreTask, TaskClaim, TaskPhoto

_PENDING = "changefeed.pending"   # list of (condition, op, region override)
_TOUCHED = "changefeed.touched"   # task ids noticed at flush
_PERSONAL = "changefeed.personal"  # list of (entity, select of (entity id, user id))


class ChangeCounter(Base):
    """One row: SQLite's last transaction number, and (both databases) the txid through which
    change rows were purged."""

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    purged_through: Mapped[int] = mapped_column(BigInteger, default=0)


CHANGE_SEQ = Sequence("changes_seq")


class Change(Base):
    """One change of one entity: what (entity, id, put/delete), whose scope (store, region or
    user), and its place in the feed (txid, seq)."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_txid_seq", "txid", "seq"),
                      Index("ix_changes_store_txid", "store_id", "txid", "seq"),
                      Index("ix_changes_region_txid", "region_id", "txid", "seq"),
                      Index("ix_changes_user_txid", "user_id", "txid", "seq"))

    # SQLite: the rowid. PostgreSQL: a sequence (no lock; gaps from rolled-back writers are harmless).
    seq: Mapped[int] = mapped_column(BigId, CHANGE_SEQ, primary_key=True)
    txid: Mapped[int] = mapped_column(BigInteger)
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(10))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    # Set for entities that belong to one user (notifications); store and region are then empty.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class Position:
    """Where a reader is: every change with txid < horizon was delivered, and so was every change
    at or before ``after`` (a (txid, seq) key, while a page of [horizon, next horizon) is read)."""

    horizon: int
    after: tuple[int, int] | None = None


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


def _transaction_number(session: Session) -> ColumnElement[int]:
    """This transaction's place in the feed: its PostgreSQL txid (no lock), or on SQLite (whose
    writers are serialized) the next value of the counter row."""
    if session.bind.dialect.name == "postgresql":
        return literal_column("pg_current_xact_id()::text::bigint", BigInteger)
    number = session.execute(update(ChangeCounter).where(ChangeCounter.id == 1)
                             .values(value=ChangeCounter.value + 1)
                             .returning(ChangeCounter.value)).scalar_one()
    return literal(number, BigInteger)


def _write_changes(session: Session) -> None:
    """Insert the change rows of this transaction, stamped with its transaction number."""
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
    txid = _transaction_number(session)
    now = literal(utcnow(), UTCDateTime)
    for condition, op, region_override in pending:
        region = literal(region_override) if region_override is not None else Store.region_id
        rows = (select(txid.label("txid"), literal("task").label("entity"), StoreTask.id,
                       literal(op).label("op"), StoreTask.store_id, region.label("region_id"),
                       now.label("created_at"))
                .join(Store, StoreTask.store_id == Store.id).where(condition))
        session.execute(insert(Change).from_select(
            ["txid", "entity", "entity_id", "op", "store_id", "region_id", "created_at"], rows))
    for entity, rows in personal:
        entity_id, user_id = rows.subquery().c
        personal_rows = select(txid.label("txid"), literal(entity).label("entity"), entity_id,
                          literal("put").label("op"), user_id, now.label("created_at"))
        session.execute(insert(Change).from_select(
            ["txid", "entity", "entity_id", "op", "user_id", "created_at"], personal_rows))


def task_changes_of(task_id, store_id, now):
    """PostgreSQL only: an INSERT … SELECT of a ``put`` change for each (task id, store id) of
    a statement's rows (columns of a CTE), stamped with this transaction's id, for a writer
    that announces its tasks in the same statement that changes them (no ``mark_tasks_where``,
    no statement at commit). ``now``: a column expression of the time (a bound parameter)."""
    rows = (select(literal_column("pg_current_xact_id()::text::bigint", BigInteger).label("txid"),
                   literal("task").label("entity"), task_id, literal("put").label("op"), store_id,
                   Store.region_id, now.label("created_at"))
            .join(Store, Store.id == store_id))
    return insert(Change).from_select(
        ["txid", "entity", "entity_id", "op", "store_id", "region_id", "created_at"], rows)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # Releasing a SAVEPOINT is not the commit: the outer transaction writes its rows once
        # (on SQLite, bumping the counter here would number it too early).
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


def horizon(session: Session) -> int:
    """The feed's horizon now: every transaction with a smaller number has finished.

    Read it *before* the rows it bounds (PostgreSQL's READ COMMITTED gives each later statement
    a newer snapshot, which sees every one of those transactions that committed)."""
    if session.bind.dialect.name == "postgresql":
        return session.scalar(select(literal_column(
            "pg_snapshot_xmin(pg_current_snapshot())::text::bigint", BigInteger)))
    return session.scalar(select(ChangeCounter.value).where(ChangeCounter.id == 1)) + 1


def purged_through(session: Session) -> int:
    """Change rows with a txid up to this one may have been purged."""
    return session.scalar(select(ChangeCounter.purged_through).where(ChangeCounter.id == 1))


def read_page(session: Session, position: Position, scope: ColumnElement[bool] | None,
              limit: int) -> tuple[list[Change], Position, bool]:
    """Up to ``limit`` changes after the position, in (txid, seq) order, and the next position."""
    upper = horizon(session)
    statement = (select(Change).where(Change.txid >= position.horizon, Change.txid < upper)
                 .order_by(Change.txid, Change.seq).limit(limit + 1))
    if position.after is not None:
        statement = statement.where(tuple_(Change.txid, Change.seq) > tuple_(*position.after))
    if scope is not None:
        statement = statement.where(scope)
    rows = session.scalars(statement).all()
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, Position(horizon=position.horizon, after=(rows[-1].txid, rows[-1].seq)), True
    # Everything below ``upper`` is read; a horizon never moves back (a reader of an older
    # snapshot could compute a smaller one: keep the larger).
    return rows, Position(horizon=max(upper, position.horizon)), False


def purge_older_than(session: Session, cutoff: dt.datetime) -> int:
    """Drop change rows older than the cutoff; cursors from before them must reset."""
    through = session.scalar(select(func.max(Change.txid)).where(Change.created_at < cutoff))
    if through is None:
        return 0
    # Only below the horizon: every later snapshot then starts above what was purged, so a
    # reset is never followed by another one.
    through = min(through, horizon(session) - 1)
    deleted = session.execute(Change.__table__.delete().where(Change.txid <= through)).rowcount
    session.execute(update(ChangeCounter).where(ChangeCounter.id == 1)
                    .values(purged_through=func.max(ChangeCounter.purged_through, through)
                            if session.bind.dialect.name == "sqlite"
                            else func.greatest(ChangeCounter.purged_through, through)))
    session.commit()
    return deleted
