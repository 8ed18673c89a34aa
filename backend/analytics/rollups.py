"""Execution figures read from the rollups (SPEC §8 at a million tasks): the unfiltered groupings.

The rollup rows are exact at every commit (``rollup_sql``: triggers in the writing transaction),
so nothing here is stale. Two figures are not plain sums:
- ``overdue`` moves with the clock, not with writes: the rollups count active tasks that have a
  due time; those not yet due are counted live (the partial index of active tasks, a range of
  the next days) and subtracted, in the same statement so both see one snapshot;
- ``median_claim_minutes`` is exact for stores and clerks (kept per key by the triggers) and,
  for regions and days, read from claim-delay histograms whose buckets are 2 % wide: within 1 %
  of the exact median (``MEDIAN_RELATIVE_ERROR``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from sqlalchemy import BigInteger, bindparam, cast, func, literal_column, select, text
from sqlalchemy.orm import Session

from backend.analytics.models import COUNTS, ClaimDelayHistogram, ClerkRollup, DayRollup, StoreRollup
from backend.analytics.rollup_sql import (GAMMA, MEDIAN_RELATIVE_ERROR, create_triggers, drop_triggers,
                                          rebuild_statements)
from backend.auth import policy
from backend.org.models import Region, Store, User
from backend.tasks.models import ACTIVE_STATUSES, StoreTask, TaskClaim

__all__ = ["MEDIAN_RELATIVE_ERROR", "answers", "rebuild", "rows", "suspended"]


def answers(actor: User, group_by: str, *, campaign, region, store, due_from, due_to) -> bool:
    """Whether the rollups answer this query: no filter, and a grouping they keep for the actor's
    scope (stores and regions for anyone; days and clerks across the whole chain, i.e. for HQ —
    a supervisor's days and clerks are counted live)."""
    if any(value is not None and value != "" for value in (campaign, region, store, due_from, due_to)):
        return False
    return group_by in ("region", "store") or actor.role == policy.HQ


def _day_of(session: Session, column):
    """The UTC day of a timestamp as 'YYYY-MM-DD' ('' without one), as the triggers key it."""
    if session.bind.dialect.name == "postgresql":
        day = func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    else:
        day = func.date(column)
    return func.coalesce(day, "")


def _not_yet_due(session: Session, group_by: str, actor: User, now: dt.datetime):
    """Per group: active tasks due at or after ``now`` (subtracted from active_due = overdue)."""
    # The statuses inline, so the planner can use the partial index of active tasks.
    active = StoreTask.status.in_(bindparam("active", list(ACTIVE_STATUSES), literal_execute=True))
    statement = select().select_from(StoreTask).where(active, StoreTask.due_at >= now)
    if group_by == "store":
        key = StoreTask.store_id
    elif group_by == "region":
        key = Store.region_id
        statement = statement.join(Store, Store.id == StoreTask.store_id)
    elif group_by == "day":
        key = _day_of(session, StoreTask.due_at)
    else:
        key = TaskClaim.user_id
        statement = statement.join(TaskClaim, TaskClaim.task_id == StoreTask.id)
    statement = statement.where(policy.store_scope(actor, StoreTask.store_id))
    return statement.add_columns(key.label("key"), func.count().label("n")).group_by(key).subquery()


def _summed(group_by: str, actor: User):
    """(key, label, counts…) per group from the rollup table of the grouping."""
    sums = lambda table: [cast(func.sum(getattr(table, name)), BigInteger).label(name)  # noqa: E731
                          for name in COUNTS]
    if group_by == "store":
        return (select(StoreRollup.store_id.label("key"), Store.code.label("label"),
                       *[getattr(StoreRollup, name).label(name) for name in COUNTS],
                       StoreRollup.median_claim_seconds.label("median"))
                .join(Store, Store.id == StoreRollup.store_id)
                .where(StoreRollup.tasks > 0, policy.store_scope(actor, StoreRollup.store_id)))
    if group_by == "clerk":
        return (select(ClerkRollup.user_id.label("key"), User.username.label("label"),
                       *[getattr(ClerkRollup, name).label(name) for name in COUNTS],
                       ClerkRollup.median_claim_seconds.label("median"))
                .join(User, User.id == ClerkRollup.user_id).where(ClerkRollup.tasks > 0))
    if group_by == "region":
        return (select(Store.region_id.label("key"), Region.code.label("label"), *sums(StoreRollup),
                       literal_column("NULL").label("median"))
                .join(Store, Store.id == StoreRollup.store_id).join(Region, Region.id == Store.region_id)
                .where(policy.store_scope(actor, StoreRollup.store_id))
                .group_by(Store.region_id, Region.code).having(func.sum(StoreRollup.tasks) > 0))
    return (select(DayRollup.due_day.label("key"), DayRollup.due_day.label("label"), *sums(DayRollup),
                   literal_column("NULL").label("median"))
            .group_by(DayRollup.due_day).having(func.sum(DayRollup.tasks) > 0))


def _bucket_value(bucket: int) -> float:
    """The midpoint (in relative terms) of a histogram bucket: within 1 % of its delays."""
    return 2 * GAMMA ** bucket / (GAMMA + 1)


def _histogram_medians(session: Session, dimension: str) -> dict[str, float]:
    """Per key of the dimension: the median claim delay in seconds, from the histogram. The
    buckets holding the middle rank(s) are found in SQL (running sums), the rest stays there."""
    hist = ClaimDelayHistogram
    running = (select(hist.group_key, hist.bucket, hist.claims,
                      func.sum(hist.claims).over(partition_by=hist.group_key, order_by=hist.bucket)
                      .label("through"),
                      func.sum(hist.claims).over(partition_by=hist.group_key).label("total"))
               .where(hist.dimension == dimension, hist.claims > 0).subquery())
    # Rows holding rank ceil(total/2) or floor(total/2) + 1, in integer arithmetic only.
    middle = select(running.c.group_key, running.c.bucket, running.c.claims, running.c.through,
                    running.c.total).where(
        running.c.through * 2 >= running.c.total,
        (running.c.through - running.c.claims) * 2 <= running.c.total)
    found: dict[str, list] = {}
    for key, bucket, claims, through, total in session.execute(middle):
        found.setdefault(key, []).append((int(bucket), int(claims), int(through), int(total)))
    medians = {}
    for key, buckets in found.items():
        total = buckets[0][3]
        values = []
        for rank in ((total + 1) // 2, (total + 2) // 2):
            bucket = next(b for b, claims, through, _ in buckets if through - claims < rank <= through)
            values.append(_bucket_value(bucket))
        medians[key] = sum(values) / 2
    return medians


def rows(session: Session, actor: User, group_by: str, now: dt.datetime) -> list[tuple]:
    """(label, key, tasks, claimed, submitted, approved, overdue, on_time, deviated, median
    seconds) per group, ordered by label, for the groupings ``answers`` accepts."""
    summed = _summed(group_by, actor).subquery()
    pending = _not_yet_due(session, group_by, actor, now)
    columns = summed.c
    statement = (select(columns.label, columns.key, columns.tasks, columns.claimed, columns.submitted,
                        columns.approved,
                        (columns.active_due - func.coalesce(pending.c.n, 0)).label("overdue"),
                        columns.on_time, columns.deviated, columns.median)
                 .outerjoin(pending, pending.c.key == columns.key)
                 # tasks without a due day ('') sort where the live query sorts NULL
                 .order_by(func.nullif(columns.label, "")))
    # Core rows straight to the caller: 10,000 of them for stores or clerks.
    result = session.connection().execute(statement).all()
    if group_by in ("store", "clerk"):
        return result
    medians = _histogram_medians(session, group_by)
    return [(label or None, key, *counts, medians.get(str(key)))
            for label, key, *counts, _median in result]


def rebuild(connection) -> None:
    """Recompute every rollup from the tasks (a Connection or a Session)."""
    dialect = connection.bind.dialect.name if isinstance(connection, Session) else connection.dialect.name
    for statement in rebuild_statements(dialect):
        connection.execute(text(statement))


@contextlib.contextmanager
def suspended(session: Session) -> Iterator[None]:
    """Around a bulk load that bypasses the services (the benchmark seed): no triggers while it
    runs, then every rollup rebuilt at once and the triggers back (committed)."""
    drop_triggers(session.connection())
    session.commit()
    try:
        yield
    finally:
        # Triggers first: on PostgreSQL creating them locks out writers until the commit, so the
        # rebuild reads tasks nobody changes meanwhile.
        create_triggers(session.connection())
        rebuild(session)
        session.commit()
