"""Execution analytics over 1,000,000 store tasks: p50/p95 of each grouped query vs a raw GROUP BY.

    python -m bench.analytics [--backend sqlite|postgresql|both] [--stores 10000] [--campaigns 100]
                              [--runs 20] [--actor admin|sup_east] [--only NAME] [--ssd-planner]
                              [--before-runs 5] [--repeat 1]
                              [--url DATABASE_URL (time an already seeded database)]

Seeds 10,000 stores × 100 campaigns (seed.execution: ten months of claims, submissions, reviews,
late and off-price submissions, still-open overdue tasks), then times the real service functions
behind `GET /analytics/execution` (group_by region|store|clerk|day, all campaigns and one
campaign), `/analytics/leaderboard` and `/analytics/overdue`, each call in a fresh session like a
request. The floor of each grouping is one hand-written GROUP BY of the same counts (no median, no
scope check, no attach rate). "before" times the same call with ``live=True``: every figure
aggregated from the tasks, as before the rollups (issue 17); "p50/p95" is the service as it
answers now (the unfiltered groupings from the rollups). Each line carries the 1-minute load
average (the higher of before/after the case) next to its figures. --repeat times every case
several rounds on one seeded database (seeding takes minutes); --before-runs 0 skips "before".
"""

from __future__ import annotations

import argparse
import math
import os
import time

from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker

from backend.analytics import service as analytics
from backend.campaigns.models import Campaign
from backend.db import build_engine, utcnow
from backend.runtime import freeze_startup_heap
from backend.org.models import User
from backend.tasks.models import StoreTask
from bench.common import database_factory, emit, timed
from seed.execution import seed_execution

# Per grouping: the key, and only the joins it needs.
_FLOOR_GROUPS = {
    "region": ("r.code", "JOIN stores s ON s.id = t.store_id JOIN regions r ON r.id = s.region_id"),
    "store": ("s.code", "JOIN stores s ON s.id = t.store_id"),
    "clerk": ("u.username", "JOIN task_claims c ON c.task_id = t.id JOIN users u ON u.id = c.user_id"),
    "day": ("date(t.due_at)", ""),
}


def floor_sql(group_by: str, campaign: int | None) -> str:
    """The hand-written single GROUP BY of the counts behind one grouping."""
    key, joins = _FLOOR_GROUPS[group_by]
    return f"""
        SELECT {key} AS grp, count(*), count(t.first_claimed_at), count(t.submitted_at),
               sum(CASE WHEN t.status = 'approved' THEN 1 ELSE 0 END),
               sum(CASE WHEN t.status IN ('open', 'claimed', 'in_progress') AND t.due_at < :now
                   THEN 1 ELSE 0 END),
               sum(CASE WHEN t.submitted_at IS NOT NULL AND NOT t.late THEN 1 ELSE 0 END),
               sum(CASE WHEN t.submitted_at IS NOT NULL AND t.deviates THEN 1 ELSE 0 END)
        FROM store_tasks t {joins}
        WHERE t.status <> 'cancelled' {"AND t.campaign_id = :campaign" if campaign else ""}
        GROUP BY {key}"""


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _refresh_statistics(engine) -> None:
    """What autovacuum / a DBA would have done after a bulk load: planner statistics (and, on
    PostgreSQL, the visibility map that index-only scans rely on)."""
    if engine.dialect.name == "postgresql":  # VACUUM refuses to run inside a transaction
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:  # our SQLite engine always opens a transaction: commit it, or the statistics are lost
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def _cases(campaign_id: int):
    """(name, group_by or None, campaign, service call taking (session, actor, live)); ``live``
    is the service before the rollups (every figure aggregated from the tasks)."""
    for group_by in analytics.GROUPS:
        for campaign in (None, campaign_id):
            yield (f"execution group_by={group_by}", group_by, campaign,
                   lambda session, actor, live, g=group_by, c=campaign: analytics.execution_rates(
                       session=session, actor=actor, group_by=g, campaign=c, live=live))
    for level in ("store", "clerk"):
        for campaign in (None, campaign_id):
            yield (f"leaderboard level={level}", None, campaign,
                   lambda session, actor, live, g=level, c=campaign: analytics.leaderboard(
                       session=session, actor=actor, level=g, campaign=c, live=live))
    for campaign in (None, campaign_id):
        yield ("overdue list", None, campaign,
               lambda session, actor, live, c=campaign: analytics.overdue_tasks(
                   session=session, actor=actor, campaign=c))


def _time_calls(call, runs: int) -> list[float]:
    call()  # warm-up: plans, caches
    times = []
    for _ in range(runs):
        seconds, _ = timed(call)
        times.append(seconds * 1000)
    return times


def seed(backend: str, fresh, stores: int, campaigns: int, ssd_planner: bool = False) -> str:
    """A fresh database with the execution history; its URL."""
    url = fresh("bench_analytics")
    engine = build_engine(url, pool_size=2)
    with sessionmaker(bind=engine)() as session:
        seed_s, report = timed(seed_execution, session, stores=stores, campaigns=campaigns)
    stats_s, _ = timed(_refresh_statistics, engine)
    if ssd_planner and backend == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ALTER DATABASE bench_analytics SET random_page_cost = 1.1"))
    engine.dispose()
    emit(bench="analytics_seed", backend=backend, stores=stores, campaigns=campaigns,
         tasks=report.created["store tasks"], seed_s=round(seed_s, 1), statistics_s=round(stats_s, 1))
    return url


def measure(url: str, runs: int, actor_name: str, only: str | None = None,
            before_runs: int = 5, repeat: int = 1, gc_freeze: bool = True) -> None:
    """Time every case against a seeded database."""
    if gc_freeze:  # as a server process does after start-up (wsgi.py)
        freeze_startup_heap()
    engine = build_engine(url, pool_size=2)
    backend = engine.dialect.name
    Session = sessionmaker(bind=engine, expire_on_commit=False)
    with Session() as session:
        actor_id = session.scalar(select(User.id).where(User.username == actor_name))
        tasks = session.scalar(select(func.count()).select_from(StoreTask))
        # A campaign still running (its tasks are a mix of every status), as a dashboard asks.
        campaign_id = session.scalar(select(Campaign.id).order_by(Campaign.id.desc()).offset(2))
        planner = ({"random_page_cost": session.scalar(text("SHOW random_page_cost"))}
                   if backend == "postgresql" else {})
    for round_, (name, group_by, campaign, service_call) in (
            (round_, case) for round_ in range(1, repeat + 1) for case in _cases(campaign_id)):
        if only and only not in name:
            continue
        rows: list = []

        def call(live=False):
            with Session() as session:
                rows[:] = service_call(session, session.get(User, actor_id), live)

        load_before = os.getloadavg()[0]
        service_ms = _time_calls(call, runs)
        result = dict(bench="analytics", backend=backend, query=name, actor=actor_name,
                      campaign_filter=campaign is not None, tasks=tasks,
                      rows=len(rows), runs=runs, p50_ms=round(percentile(service_ms, 0.5), 1),
                      p95_ms=round(percentile(service_ms, 0.95), 1), target_p95_ms=150, **planner)
        result.update(round=round_)
        if before_runs and name != "overdue list":
            before_ms = _time_calls(lambda: call(live=True), before_runs)
            result.update(before_p50_ms=round(percentile(before_ms, 0.5), 1),
                          before_p95_ms=round(percentile(before_ms, 0.95), 1))
        if group_by:
            statement = text(floor_sql(group_by, campaign))
            params = {"now": utcnow(), "campaign": campaign}

            def floor():
                with engine.connect() as connection:
                    connection.execute(statement, params).all()

            floor_ms = _time_calls(floor, runs)
            result.update(floor_p50_ms=round(percentile(floor_ms, 0.5), 1),
                          floor_p95_ms=round(percentile(floor_ms, 0.95), 1))
        result.update(load_avg_1m=round(max(load_before, os.getloadavg()[0]), 2))
        emit(**result)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--stores", type=int, default=10_000)
    parser.add_argument("--campaigns", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--actor", default="admin", help="admin (HQ, every store) or sup_east")
    parser.add_argument("--url", help="time this already seeded database instead of seeding one")
    parser.add_argument("--only", help="only the queries whose name contains this")
    parser.add_argument("--before-runs", type=int, default=5,
                        help="calls timed without the rollups (live=True, the 'before'; 0: skip)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time every case this many rounds on the one seeded database")
    parser.add_argument("--no-gc-freeze", action="store_true",
                        help="time without freezing the start-up heap (wsgi.py freezes it)")
    parser.add_argument("--ssd-planner", action="store_true",
                        help="PostgreSQL: random_page_cost = 1.1 (the usual SSD setting) instead of 4")
    args = parser.parse_args()
    if args.url:
        measure(args.url, args.runs, args.actor, args.only, args.before_runs, args.repeat,
                not args.no_gc_freeze)
        return
    for backend in (["postgresql", "sqlite"] if args.backend == "both" else [args.backend]):
        started = time.perf_counter()
        with database_factory(backend) as fresh:
            url = seed(backend, fresh, args.stores, args.campaigns, args.ssd_planner)
            measure(url, args.runs, args.actor, args.only, args.before_runs, args.repeat,
                    not args.no_gc_freeze)
        emit(bench="analytics_total", backend=backend, seconds=round(time.perf_counter() - started, 1))


if __name__ == "__main__":
    main()
