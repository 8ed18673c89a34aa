"""Write transactions per second the change feed allows: 32 concurrent writers on PostgreSQL.

    python -m bench.feed [--client pgbench|python] [--writers 32] [--seconds 10] [--runs 3]
                         [--synchronous-commit on|off] [--processes 4]

Each transaction is one task change, as the app commits it: an UPDATE of the task (version,
updated_at) and its change-feed row. Two designs, alternated on the same server and database:

- ``counter-row``: the feed before issue 11 — the transaction numbers its change rows under the
  lock of the one ``change_counter`` row (UPDATE … RETURNING at commit, INSERT … SELECT, max(seq),
  UPDATE), the statements ``backend/changefeed.py`` ran until migration 0013. The row lock is held
  until COMMIT returns, so commits are one at a time.
- ``txid``: the current ``backend/changefeed.py`` (``mark_tasks_where`` + the ``before_commit``
  listener): rows stamped with ``pg_current_xact_id()`` and a sequence number, no shared lock.

Writer w updates its own task, so the task rows never contend: the feed is the only shared
resource. Two clients drive the writers:

- ``pgbench`` (default): PostgreSQL's own load generator, 32 connections, sending the SQL of each
  design (the statements SQLAlchemy renders for the code above, written out in ``PGBENCH_SCRIPTS``).
  Its client costs next to nothing, so the figure is what the database allows.
- ``python``: the app's code itself (SQLAlchemy sessions, the ``before_commit`` listener), as
  threads over several processes; on 2 cores it measures mostly Python.
 PostgreSQL runs with its default durability (fsync and synchronous_commit on);
``--synchronous-commit off`` sets that as the database's default, to show what the fsync costs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time

from sqlalchemy import func, insert, literal, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from backend import changefeed
from backend.changefeed import Change, ChangeCounter
from backend.db import UTCDateTime, build_engine, utcnow
from backend.org.models import Region, Store, User
from backend.tasks.models import StoreTask
from bench.common import database_factory, emit
from tests.factories import PASSWORD_HASH

DESIGNS = ("counter-row", "txid")

_TASK = """\\set task :first_task + :client_id
BEGIN;
UPDATE store_tasks SET version = version + 1, updated_at = now() WHERE id = :task;
"""
PGBENCH_SCRIPTS = {
    "counter-row": _TASK + """\
UPDATE change_counter SET value = value WHERE id = 1 RETURNING value AS base \\gset
INSERT INTO changes (seq, txid, entity, entity_id, op, store_id, region_id, created_at)
  SELECT :base + row_number() OVER (ORDER BY t.id), 0, 'task', t.id, 'put', t.store_id,
         s.region_id, now()
  FROM store_tasks t JOIN stores s ON t.store_id = s.id WHERE t.id = :task;
SELECT max(seq) AS top FROM changes \\gset
UPDATE change_counter SET value = :top WHERE id = 1;
COMMIT;
""",
    "txid": _TASK + """\
INSERT INTO changes (txid, entity, entity_id, op, store_id, region_id, created_at)
  SELECT pg_current_xact_id()::text::bigint, 'task', t.id, 'put', t.store_id, s.region_id, now()
  FROM store_tasks t JOIN stores s ON t.store_id = s.id WHERE t.id = :task;
COMMIT;
""",
}


def _setup(url: str, tasks_wanted: int) -> list[int]:
    from backend.campaigns import service as campaigns
    engine = build_engine(url)
    session = sessionmaker(bind=engine, expire_on_commit=False)()
    region = Region(code="EAST", name="East")
    stores = [Store(code=f"S{i:03d}", name=f"Store {i}", region=region)
              for i in range((tasks_wanted + 3) // 4)]
    admin = User(username="admin", display_name="Admin", role="hq_admin", password_hash=PASSWORD_HASH)
    session.add_all([region, *stores, admin])
    session.commit()
    now = utcnow()
    campaign = campaigns.create_campaign(
        session=session, actor=admin, code="FEED", title="Feed", description="",
        starts_at=now, ends_at=now + dt.timedelta(days=5), featured_skus=[], promo_prices={},
        targeting={"regions": ["EAST"], "stores": [], "tags": []},
        tasks=[{"title": f"Task {i}", "instructions": "", "kind": "other", "checklist": [],
                "proof": {"photos": 0, "quantity": False, "observed_price": False},
                "due_in_hours": 48, "max_claimants": 1, "script_hint": ""} for i in range(4)])
    campaigns.publish(session=session, actor=admin, campaign_id=campaign.id)
    ids = session.scalars(select(StoreTask.id).order_by(StoreTask.id)).all()
    session.close()
    engine.dispose()
    return list(ids)


def _counter_row_changes(session: Session, task_id: int) -> None:
    """The pre-0013 allocation, statement for statement: lock the counter row, number the rows
    from it, find the highest, store it back. Runs right before COMMIT, like the listener did."""
    base = session.execute(update(ChangeCounter).where(ChangeCounter.id == 1)
                           .values(value=ChangeCounter.value).returning(ChangeCounter.value)).scalar_one()
    rows = (select((literal(base) + func.row_number().over(order_by=StoreTask.id)).label("seq"),
                   literal(0).label("txid"), literal("task").label("entity"), StoreTask.id,
                   literal("put").label("op"), StoreTask.store_id, Store.region_id,
                   literal(utcnow(), UTCDateTime).label("created_at"))
            .join(Store, StoreTask.store_id == Store.id).where(StoreTask.id == task_id))
    session.execute(insert(Change).from_select(
        ["seq", "txid", "entity", "entity_id", "op", "store_id", "region_id", "created_at"], rows))
    base = session.scalar(select(func.max(Change.seq))) or base
    session.execute(update(ChangeCounter).where(ChangeCounter.id == 1).values(value=base))


def _one_change(session: Session, design: str, task_id: int) -> None:
    session.execute(update(StoreTask).where(StoreTask.id == task_id)
                    .values(version=StoreTask.version + 1, updated_at=utcnow())
                    .execution_options(synchronize_session=False))
    if design == "txid":
        changefeed.mark_tasks_where(session, StoreTask.id == task_id)  # written by before_commit
    else:
        _counter_row_changes(session, task_id)
    session.commit()


def _process(url: str, design: str, task_ids: list[int], ready, go, seconds: float,
             results) -> None:
    changefeed.install()
    engine = build_engine(url, pool_size=len(task_ids))
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    counts, errors, latencies = [0] * len(task_ids), [0] * len(task_ids), [[] for _ in task_ids]

    def writer(index: int) -> None:
        session = factory()
        session.execute(text("SELECT 1"))
        session.commit()
        ready.put(1)
        go.wait()
        stop = time.time() + seconds
        while time.time() < stop:
            begun = time.perf_counter()
            try:
                _one_change(session, design, task_ids[index])
                counts[index] += 1
                latencies[index].append(time.perf_counter() - begun)
            except Exception:  # noqa: BLE001 - counted and reported, the run goes on
                session.rollback()
                errors[index] += 1
        session.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(len(task_ids))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    results.put((sum(counts), sum(errors), [x for per in latencies for x in per]))


def _fresh_feed(url: str) -> None:
    engine = build_engine(url)
    with engine.begin() as connection:  # the same starting point for every run
        connection.execute(text("TRUNCATE changes"))
        connection.execute(text("UPDATE change_counter SET value = 0"))
    engine.dispose()


def _count_changes(url: str) -> int:
    engine = build_engine(url)
    with engine.connect() as connection:
        rows = connection.scalar(text("SELECT count(*) FROM changes"))
    engine.dispose()
    return rows


def run_pgbench(server, database: str, url: str, design: str, task_ids: list[int], writers: int,
                seconds: float) -> dict:
    _fresh_feed(url)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPTS[design])
    os.chmod(script.name, 0o644)
    try:
        output = subprocess.run(
            [*server.as_user, os.path.join(server.pg_bin, "pgbench"), "-h", "127.0.0.1",
             "-p", str(server.port), "-U", "postgres", "-n", "-c", str(writers), "-j", "2",
             "-T", str(int(seconds)), "-D", f"first_task={task_ids[0]}", "-f", script.name,
             database], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(script.name)
    commits = int(re.search(r"number of transactions actually processed: (\d+)", output).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", output)
    tps = float(re.search(r"tps = ([\d.]+)", output).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", output).group(1))
    rows = _count_changes(url)
    assert rows == commits, f"{rows} change rows for {commits} commits"
    return {"design": design, "client": "pgbench", "writers": writers, "commits": commits,
            "errors": int(failed.group(1)) if failed else 0, "tx_per_s": round(tps, 1),
            "latency_avg_ms": latency}


def run_python(url: str, design: str, task_ids: list[int], writers: int, processes: int,
               seconds: float) -> dict:
    _fresh_feed(url)
    context = multiprocessing.get_context("spawn")
    results, ready, go = context.Queue(), context.Queue(), context.Event()
    mine = [task_ids[i::processes] for i in range(processes)]
    children = [context.Process(target=_process, args=(url, design, ids, ready, go, seconds, results))
                for ids in mine if ids]
    for child in children:
        child.start()
    for _ in range(sum(len(ids) for ids in mine)):  # every writer connected before the clock starts
        ready.get()
    go.set()
    collected = [results.get() for _ in children]
    for child in children:
        child.join()
    commits = sum(c for c, _, _ in collected)
    latencies = sorted(x for _, _, per in collected for x in per)
    rows = _count_changes(url)
    assert rows == commits, f"{rows} change rows for {commits} commits"
    return {"design": design, "client": "python", "writers": writers, "commits": commits,
            "errors": sum(e for _, e, _ in collected), "tx_per_s": round(commits / seconds, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2) if latencies else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=("pgbench", "python"), default="pgbench")
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--synchronous-commit", choices=("on", "off"), default="on")
    args = parser.parse_args()
    with database_factory("postgresql") as fresh:
        url = fresh("bench_feed")
        server = fresh.server
        task_ids = _setup(url, args.writers)[:args.writers]
        engine = build_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f"ALTER DATABASE bench_feed SET synchronous_commit = "
                                    f"{args.synchronous_commit}"))
        engine.dispose()
        rates: dict[str, list[float]] = {design: [] for design in DESIGNS}
        for run in range(args.runs):
            for design in DESIGNS:
                if args.client == "pgbench":
                    result = run_pgbench(server, "bench_feed", url, design, task_ids, args.writers,
                                         args.seconds)
                else:
                    result = run_python(url, design, task_ids, args.writers, args.processes,
                                        args.seconds)
                rates[design].append(result["tx_per_s"])
                emit(bench="feed", backend="postgresql", run=run, seconds=args.seconds,
                     synchronous_commit=args.synchronous_commit, **result)
        old, new = (statistics.median(rates[design]) for design in DESIGNS)
        emit(bench="feed", summary=True, backend="postgresql", client=args.client, writers=args.writers,
             synchronous_commit=args.synchronous_commit, runs=args.runs,
             counter_row_tx_per_s=old, txid_tx_per_s=new, ratio=round(new / old, 2) if old else None)


if __name__ == "__main__":
    main()
