"""The triggers that keep the analytics rollups exact, written for PostgreSQL and for SQLite.

Why triggers: a store task changes through ORM services, set-based UPDATEs (campaign cancel,
template edits), a claim that is one statement with its claim row (a data-modifying CTE on
PostgreSQL), bulk INSERTs (publish, bulk import, recurrences, rules) and COPY. A row trigger sees
every one of them with the row before (OLD) and after (NEW), inside the writing transaction: the
rollups commit or roll back with the change, so they are never stale. Each trigger subtracts the
old row's contribution and adds the new one's; the exact medians of a store or a clerk are
recomputed from that key's own rows (a few hundred at most, through an index) only when a claim
delay enters or leaves the set.

Both databases run the same statements; only the date, delay and null-safe comparison
expressions differ. ``create_triggers`` and ``drop_triggers`` take a connection; the migration
that introduced them (0023) calls them, and so does ``rollups.suspended`` around bulk loads.
SQLite drops a table's triggers when a batch migration copies the table: a later migration that
alters ``store_tasks``, ``task_claims`` or ``stores`` on SQLite must call ``create_triggers`` again.
"""

from __future__ import annotations

import math

from sqlalchemy import text
from sqlalchemy.engine import Connection

from backend.analytics.models import COUNTS

GAMMA = 1.01 / 0.99  # histogram bucket ratio: a bucket's midpoint is within 1 % of its delays
MEDIAN_RELATIVE_ERROR = 0.01
STRIPES = 16
_ACTIVE = "('open', 'claimed', 'in_progress')"
# A change of any of these moves a task's contribution (store_id and created_at never change,
# but nothing relies on it).
_RELEVANT = ("status", "first_claimed_at", "submitted_at", "late", "deviates", "due_at",
             "store_id", "created_at")
_DELAY_RELEVANT = ("first_claimed_at", "created_at", "store_id")


class _Dialect:
    """The few expressions that differ between PostgreSQL and SQLite."""

    def __init__(self, name: str):
        self.pg = name == "postgresql"

    def delay(self, row: str) -> str:
        """Seconds from publish to the first claim (the same expression the live query uses)."""
        if self.pg:
            return f"extract(epoch FROM {row}.first_claimed_at - {row}.created_at)"
        return f"((julianday({row}.first_claimed_at) - julianday({row}.created_at)) * 86400.0)"

    def bucket(self, row: str) -> str:
        floor = "greatest" if self.pg else "max"
        return (f"CAST(ceil(ln({floor}({self.delay(row)}, 1.0)) / {math.log(GAMMA)!r}) AS INTEGER)")

    def day(self, row: str) -> str:
        if self.pg:
            return f"COALESCE(to_char({row}.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), '')"
        return f"COALESCE(date({row}.due_at), '')"

    def changed(self, columns) -> str:
        operator = "IS DISTINCT FROM" if self.pg else "IS NOT"
        return " OR ".join(f"OLD.{column} {operator} NEW.{column}" for column in columns)


def _counts(row: str, sign: str) -> list[str]:
    """The row's contribution to each count, as ``sign`` or 0 (in COUNTS order)."""
    kept = f"{row}.status <> 'cancelled'"
    submitted = f"{kept} AND {row}.submitted_at IS NOT NULL"
    conditions = [kept, f"{kept} AND {row}.first_claimed_at IS NOT NULL", submitted,
                  f"{row}.status = 'approved'", f"{submitted} AND NOT {row}.late",
                  f"{submitted} AND {row}.deviates",
                  f"{row}.status IN {_ACTIVE} AND {row}.due_at IS NOT NULL"]
    return [f"CASE WHEN {condition} THEN {sign} ELSE 0 END" for condition in conditions]


def _claimed(row: str) -> str:
    return f"{row}.status <> 'cancelled' AND {row}.first_claimed_at IS NOT NULL"


def _add_counts(table: str, keys: tuple[str, ...]) -> str:
    return (f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
            + ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in COUNTS))


def _store(row: str, sign: str) -> str:
    return (f"INSERT INTO analytics_rollup_store (store_id, {', '.join(COUNTS)}) "
            f"VALUES ({row}.store_id, {', '.join(_counts(row, sign))}) "
            + _add_counts("analytics_rollup_store", ("store_id",)))


def _day(sql: _Dialect, row: str, sign: str) -> str:
    return (f"INSERT INTO analytics_rollup_day (due_day, stripe, {', '.join(COUNTS)}) "
            f"VALUES ({sql.day(row)}, {row}.store_id % {STRIPES}, {', '.join(_counts(row, sign))}) "
            + _add_counts("analytics_rollup_day", ("due_day", "stripe")))


def _clerks_of_task(row: str, sign: str, extra: str = "") -> str:
    """The task's contribution to each clerk holding it."""
    return (f"INSERT INTO analytics_rollup_clerk (user_id, {', '.join(COUNTS)}) "
            f"SELECT c.user_id, {', '.join(_counts(row, sign))} FROM task_claims c "
            f"WHERE c.task_id = {row}.id{extra} " + _add_counts("analytics_rollup_clerk", ("user_id",)))


def _clerk_of_claim(claim: str, sign: str) -> str:
    """The claimed task's contribution to the claim's clerk."""
    return (f"INSERT INTO analytics_rollup_clerk (user_id, {', '.join(COUNTS)}) "
            f"SELECT {claim}.user_id, {', '.join(_counts('t', sign))} FROM store_tasks t "
            f"WHERE t.id = {claim}.task_id " + _add_counts("analytics_rollup_clerk", ("user_id",)))


def _histograms(sql: _Dialect, row: str, sign: str) -> list[str]:
    region = f"CAST((SELECT s.region_id FROM stores s WHERE s.id = {row}.store_id) AS TEXT)"
    return [f"INSERT INTO analytics_claim_delay (dimension, group_key, bucket, claims) "
            f"SELECT '{dimension}', {key}, {sql.bucket(row)}, {sign} WHERE {_claimed(row)} "
            f"ON CONFLICT (dimension, group_key, bucket) DO UPDATE SET "
            f"claims = analytics_claim_delay.claims + excluded.claims"
            for dimension, key in (("day", sql.day(row)), ("region", region))]


def _median(sql: _Dialect, source: str, where: str) -> str:
    """The exact median claim delay of the claimed, non-cancelled tasks ``source`` / ``where``
    select (NULL when none): the middle one, or the mean of the middle two."""
    return (f"(SELECT avg(d) FROM (SELECT d, row_number() OVER (ORDER BY d) AS rn, "
            f"count(*) OVER () AS n FROM (SELECT {sql.delay('t')} AS d FROM {source} "
            f"WHERE {where} AND {_claimed('t')}) AS delays) AS ranked "
            f"WHERE rn IN ((n + 1) / 2, (n + 2) / 2))")


def _store_median(sql: _Dialect, store_ids: str) -> str:
    return (f"UPDATE analytics_rollup_store SET median_claim_seconds = "
            f"{_median(sql, 'store_tasks t', 't.store_id = analytics_rollup_store.store_id')} "
            f"WHERE store_id IN ({store_ids})")


def _clerk_median(sql: _Dialect, user_ids: str) -> str:
    source = "task_claims mc JOIN store_tasks t ON t.id = mc.task_id"
    return (f"UPDATE analytics_rollup_clerk SET median_claim_seconds = "
            f"{_median(sql, source, 'mc.user_id = analytics_rollup_clerk.user_id')} "
            f"WHERE user_id IN ({user_ids})")


def _region_move(sql: _Dialect, region: str, sign: str) -> str:
    """A store's claim delays into (+1) or out of (-1) a region's histogram."""
    return (f"INSERT INTO analytics_claim_delay (dimension, group_key, bucket, claims) "
            f"SELECT 'region', CAST({region} AS TEXT), {sql.bucket('t')}, {sign} * count(*) "
            f"FROM store_tasks t WHERE t.store_id = NEW.id AND {_claimed('t')} "
            f"GROUP BY {sql.bucket('t')} "
            f"ON CONFLICT (dimension, group_key, bucket) DO UPDATE SET "
            f"claims = analytics_claim_delay.claims + excluded.claims")


def _inserted_rows(sql: _Dialect) -> list[str]:
    """PostgreSQL: the rows one INSERT statement (publish: 50,000 tasks) added, summed per key in
    a few set-based statements instead of a function call per row; keys in order, so two
    concurrent bulk inserts lock the rollup rows they share in the same order."""
    sums = ", ".join(f"sum({expression})" for expression in _counts("n", "1"))
    names = ", ".join(COUNTS)
    histogram = ("INSERT INTO analytics_claim_delay (dimension, group_key, bucket, claims) "
                 "SELECT '{dimension}', {key}, {bucket}, count(*) FROM new_rows n "
                 "JOIN stores s ON s.id = n.store_id WHERE {claimed} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 "
                 "ON CONFLICT (dimension, group_key, bucket) DO UPDATE SET "
                 "claims = analytics_claim_delay.claims + excluded.claims")
    return [
        f"INSERT INTO analytics_rollup_store (store_id, {names}) SELECT n.store_id, {sums} "
        f"FROM new_rows n GROUP BY n.store_id ORDER BY n.store_id "
        + _add_counts("analytics_rollup_store", ("store_id",)),
        f"INSERT INTO analytics_rollup_day (due_day, stripe, {names}) "
        f"SELECT {sql.day('n')}, n.store_id % {STRIPES}, {sums} FROM new_rows n "
        f"GROUP BY 1, 2 ORDER BY 1, 2 " + _add_counts("analytics_rollup_day", ("due_day", "stripe")),
        f"INSERT INTO analytics_rollup_clerk (user_id, {names}) SELECT c.user_id, {sums} "
        f"FROM new_rows n JOIN task_claims c ON c.task_id = n.id GROUP BY c.user_id ORDER BY c.user_id "
        + _add_counts("analytics_rollup_clerk", ("user_id",)),
        histogram.format(dimension="day", key=sql.day("n"), bucket=sql.bucket("n"),
                         claimed=_claimed("n")),
        histogram.format(dimension="region", key="CAST(s.region_id AS TEXT)", bucket=sql.bucket("n"),
                         claimed=_claimed("n")),
    ]


def _triggers(sql: _Dialect) -> list[tuple[str, str, str, str | None, list[str]]]:
    """(name, event, table, WHEN condition, statements) of every rollup trigger; an event
    ending in "STATEMENT" is a PostgreSQL statement trigger over the transition table new_rows."""
    # On PostgreSQL a claim is one statement (UPDATE of the task + INSERT of its claim row, see
    # tasks.service.take_claim) whose row triggers all fire at its end: the task's trigger then
    # already sees the new claim row, whose own trigger adds the task as it is now. So the task's
    # trigger leaves out the claims that statement added: the newest ones, as many as
    # claimant_count went up (only a claim raises it, in the statement that inserts the row).
    # SQLite fires each row trigger at once, before the claim row exists.
    new_claims = (" AND c.id NOT IN (SELECT c2.id FROM task_claims c2 WHERE c2.task_id = NEW.id "
                  "ORDER BY c2.id DESC LIMIT greatest(NEW.claimant_count - OLD.claimant_count, 0))"
                  if sql.pg else "")
    return [
        ("analytics_rollup_task_insert", "INSERT STATEMENT", "store_tasks", None, _inserted_rows(sql))
        if sql.pg else
        ("analytics_rollup_task_insert", "INSERT", "store_tasks", None,
         [_store("NEW", "1"), _day(sql, "NEW", "1"), _clerks_of_task("NEW", "1"),
          *_histograms(sql, "NEW", "1")]),
        ("analytics_rollup_task_update", "UPDATE", "store_tasks", sql.changed(_RELEVANT),
         [_store("OLD", "-1"), _day(sql, "OLD", "-1"), _clerks_of_task("OLD", "-1", new_claims),
          *_histograms(sql, "OLD", "-1"),
          _store("NEW", "1"), _day(sql, "NEW", "1"), _clerks_of_task("NEW", "1", new_claims),
          *_histograms(sql, "NEW", "1")]),
        ("analytics_rollup_task_delete", "DELETE", "store_tasks", None,
         [_store("OLD", "-1"), _day(sql, "OLD", "-1"), _clerks_of_task("OLD", "-1"),
          *_histograms(sql, "OLD", "-1"), _store_median(sql, "OLD.store_id")]),
        ("analytics_rollup_task_median_insert", "INSERT", "store_tasks",
         "NEW.first_claimed_at IS NOT NULL", [_store_median(sql, "NEW.store_id")]),
        ("analytics_rollup_task_median_update", "UPDATE", "store_tasks",
         f"{sql.changed(_DELAY_RELEVANT)} OR (OLD.status = 'cancelled') <> (NEW.status = 'cancelled')",
         [_store_median(sql, "OLD.store_id, NEW.store_id"),
          _clerk_median(sql, "SELECT user_id FROM task_claims WHERE task_id = NEW.id")]),
        ("analytics_rollup_claim_insert", "INSERT", "task_claims", None,
         [_clerk_of_claim("NEW", "1"), _clerk_median(sql, "NEW.user_id")]),
        ("analytics_rollup_claim_delete", "DELETE", "task_claims", None,
         [_clerk_of_claim("OLD", "-1"), _clerk_median(sql, "OLD.user_id")]),
        ("analytics_rollup_claim_update", "UPDATE OF task_id, user_id", "task_claims",
         sql.changed(("task_id", "user_id")),
         [_clerk_of_claim("OLD", "-1"), _clerk_of_claim("NEW", "1"),
          _clerk_median(sql, "OLD.user_id, NEW.user_id")]),
        ("analytics_rollup_store_region", "UPDATE OF region_id", "stores", sql.changed(("region_id",)),
         [_region_move(sql, "OLD.region_id", "-1"), _region_move(sql, "NEW.region_id", "1")]),
    ]


def create_triggers(connection: Connection) -> None:
    """Install every rollup trigger (replacing those already there)."""
    drop_triggers(connection)
    sql = _Dialect(connection.dialect.name)
    for name, event, table, condition, statements in _triggers(sql):
        when = f" WHEN ({condition})" if condition else ""
        body = "".join(f"    {statement};\n" for statement in statements)
        if sql.pg:
            connection.execute(text(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                                    f"$body$\nBEGIN\n{body}    RETURN NULL;\nEND\n$body$"))
            level = "FOR EACH ROW"
            if event.endswith(" STATEMENT"):
                event, level = event.removesuffix(" STATEMENT"), \
                    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
            connection.execute(text(f"CREATE TRIGGER {name} AFTER {event} ON {table} {level}"
                                    f"{when} EXECUTE FUNCTION {name}()"))
        else:
            connection.execute(text(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW"
                                    f"{when} BEGIN\n{body}END"))


def drop_triggers(connection: Connection) -> None:
    """Remove every rollup trigger (the rollups then go stale until ``rollups.rebuild``)."""
    sql = _Dialect(connection.dialect.name)
    for name, _event, table, _condition, _statements in _triggers(sql):
        if sql.pg:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
            connection.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))
        else:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def rebuild_statements(dialect_name: str) -> list[str]:
    """Recompute every rollup from the tasks (the migration's backfill, and after a bulk load)."""
    sql = _Dialect(dialect_name)
    counts = ", ".join(f"sum({expression})" for expression in _counts("t", "1"))
    names = ", ".join(COUNTS)
    median_store = _median(sql, "store_tasks t", "t.store_id = analytics_rollup_store.store_id")
    median_clerk = _median(sql, "task_claims mc JOIN store_tasks t ON t.id = mc.task_id",
                           "mc.user_id = analytics_rollup_clerk.user_id")
    histogram = ("INSERT INTO analytics_claim_delay (dimension, group_key, bucket, claims) "
                 "SELECT '{dimension}', {key}, {bucket}, count(*) FROM store_tasks t "
                 "JOIN stores s ON s.id = t.store_id WHERE {claimed} GROUP BY {key}, {bucket}")
    return [
        "DELETE FROM analytics_rollup_store", "DELETE FROM analytics_rollup_clerk",
        "DELETE FROM analytics_rollup_day", "DELETE FROM analytics_claim_delay",
        f"INSERT INTO analytics_rollup_store (store_id, {names}) "
        f"SELECT t.store_id, {counts} FROM store_tasks t GROUP BY t.store_id",
        f"INSERT INTO analytics_rollup_clerk (user_id, {names}) "
        f"SELECT c.user_id, {counts} FROM task_claims c JOIN store_tasks t ON t.id = c.task_id "
        f"GROUP BY c.user_id",
        f"INSERT INTO analytics_rollup_day (due_day, stripe, {names}) "
        f"SELECT {sql.day('t')}, t.store_id % {STRIPES}, {counts} FROM store_tasks t "
        f"GROUP BY {sql.day('t')}, t.store_id % {STRIPES}",
        histogram.format(dimension="day", key=sql.day("t"), bucket=sql.bucket("t"),
                         claimed=_claimed("t")),
        histogram.format(dimension="region", key="CAST(s.region_id AS TEXT)",
                         bucket=sql.bucket("t"), claimed=_claimed("t")),
        f"UPDATE analytics_rollup_store SET median_claim_seconds = {median_store}",
        f"UPDATE analytics_rollup_clerk SET median_claim_seconds = {median_clerk}",
    ]
