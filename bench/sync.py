"""Sync push throughput and latency, and bootstrap pull time, over HTTP against gunicorn + PostgreSQL.

    python -m bench.sync [--devices 1000] [--mutations 100] [--batch 25] [--clients 16]
                         [--workers 4] [--threads 4] [--bootstrap-tasks 1000] [--rounds 3]

Push: every device (a clerk's phone, 10 per store) sends `mutations` mutations
(record_sale / set_checklist_item / add_note on tasks it holds) in pushes of `batch`,
`clients` devices at a time. Bootstrap: a clerk of a store holding `bootstrap-tasks`
tasks pulls with cursor null and limit 1000, `rounds` times.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import statistics
import time

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from backend import changefeed
from backend.auth.tokens import issue_access_token
from backend.campaigns import service as campaigns
from backend.db import build_engine, utcnow
from backend.org.models import Region, Store, User
from backend.tasks.models import StoreTask, TaskClaim
from bench.common import SECRET, database_factory, emit, gunicorn
from tests.factories import PASSWORD_HASH

CLERKS_PER_STORE, TEMPLATES = 10, 10


def _campaign(session, admin, code, stores, templates):
    now = utcnow()
    campaign = campaigns.create_campaign(
        session=session, actor=admin, code=code, title=code, description="", starts_at=now,
        ends_at=now + dt.timedelta(days=5), featured_skus=[], promo_prices={},
        targeting={"regions": [], "stores": stores, "tags": []},
        tasks=[{"title": f"Task {i}", "instructions": "", "kind": "other",
                "checklist": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}],
                "proof": {"photos": 0, "quantity": False, "observed_price": False},
                "due_in_hours": 48, "max_claimants": CLERKS_PER_STORE, "script_hint": ""}
               for i in range(templates)])
    campaigns.publish(session=session, actor=admin, campaign_id=campaign.id)
    return campaign


def _setup(url: str, devices: int, bootstrap_tasks: int):
    changefeed.install()
    engine = build_engine(url)
    session = sessionmaker(bind=engine, expire_on_commit=False)()
    region = Region(code="EAST", name="East")
    store_count = max(1, devices // CLERKS_PER_STORE)
    stores = [Store(code=f"S{i:04d}", name=f"Store {i}", region=region) for i in range(store_count)]
    big = Store(code="BIG", name="Flagship with many tasks", region=region)
    admin = User(username="admin", display_name="Admin", role="hq_admin", password_hash=PASSWORD_HASH)
    clerks = [User(username=f"c{s.code}_{j}", display_name="Clerk", role="clerk",
                   password_hash=PASSWORD_HASH, store=s) for s in stores for j in range(CLERKS_PER_STORE)]
    big_clerk = User(username="big_clerk", display_name="Clerk", role="clerk",
                     password_hash=PASSWORD_HASH, store=big)
    session.add_all([region, *stores, big, admin, *clerks, big_clerk])
    session.commit()
    _campaign(session, admin, "LOAD", [s.code for s in stores], TEMPLATES)
    # Every clerk holds every task of their store (bulk rows: this is setup, not measured).
    tasks = session.execute(select(StoreTask.id, StoreTask.store_id)).all()
    by_store: dict[int, list[int]] = {}
    for task_id, store_id in tasks:
        by_store.setdefault(store_id, []).append(task_id)
    session.execute(TaskClaim.__table__.insert(), [
        {"task_id": task_id, "user_id": clerk.id, "claimed_at": utcnow()}
        for clerk in clerks for task_id in by_store[clerk.store_id]])
    session.execute(update(StoreTask).values(status="in_progress", claimant_count=CLERKS_PER_STORE))
    session.commit()
    for index in range(0, bootstrap_tasks, 20):
        _campaign(session, admin, f"BIG{index}", ["BIG"], min(20, bootstrap_tasks - index))
    token = lambda user: {"Authorization": "Bearer " + issue_access_token(  # noqa: E731
        user_id=user.id, role=user.role, secret=SECRET, ttl_seconds=7200, now=utcnow())}
    phones = [(clerk.username, token(clerk), by_store[clerk.store_id]) for clerk in clerks]
    return engine, session, phones, token(big_clerk)


def _mutations(tasks: list[int], count: int, start: int) -> list[dict]:
    mutations = []
    for offset in range(count):
        number = start + offset
        task_id = tasks[number % len(tasks)]
        kind = number % 3
        if kind == 0:
            name, args = "record_sale", {"task_id": task_id, "sku": "LIP-01", "quantity": 1}
        elif kind == 1:
            name, args = "set_checklist_item", {"task_id": task_id, "item_id": "a", "done": number % 2 == 0}
        else:
            name, args = "add_note", {"task_id": task_id, "text": f"note {number}"}
        mutations.append({"id": number, "name": name, "args": args,
                          "client_time": utcnow().isoformat()})
    return mutations


def run_device(base: str, phone, mutations: int, batch: int) -> list[float]:
    username, headers, tasks = phone
    http = requests.Session()
    latencies = []
    for start in range(1, mutations + 1, batch):
        body = {"client_id": f"bench-{username}", "schema_version": 1,
                "mutations": _mutations(tasks, min(batch, mutations - start + 1), start)}
        began = time.perf_counter()
        response = http.post(f"{base}/api/v1/sync/push", json=body, headers=headers, timeout=120)
        latencies.append(time.perf_counter() - began)
        assert response.status_code == 200, response.text[:300]
        for result in response.json()["results"]:  # a concurrent tick may win: superseded
            assert result["status"] == "applied" or result["error"] == "superseded", result
    return latencies


def _bootstrap(base: str, headers: dict, tasks: int, rounds: int) -> None:
    http = requests.Session()
    times = []
    for _ in range(rounds + 1):  # the first one warms up
        began = time.perf_counter()
        response = http.post(f"{base}/api/v1/sync/pull", headers=headers, json={
            "client_id": "bench-big-clerk", "cursor": None, "schema_version": 1, "limit": 1000})
        times.append(time.perf_counter() - began)
        # the first page: the store's tasks (its clerk's notifications follow on the next page)
        assert response.status_code == 200
        assert [c["entity"] for c in response.json()["changes"]].count("task") == tasks
    emit(bench="sync_bootstrap_pull", backend="postgresql", tasks=tasks,
         runs_ms=[round(t * 1000, 1) for t in times[1:]],
         median_ms=round(statistics.median(times[1:]) * 1000, 1))


def _pushes(base: str, phones, args) -> None:
    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
        per_device = list(pool.map(lambda phone: run_device(base, phone, args.mutations,
                                                            args.batch), phones))
    elapsed = time.perf_counter() - began
    latencies = sorted(t for device in per_device for t in device)
    total = len(phones) * args.mutations
    emit(bench="sync_push", backend="postgresql", devices=len(phones),
         mutations_per_device=args.mutations, batch=args.batch, clients=args.clients,
         workers=args.workers, threads=args.threads, mutations=total, seconds=round(elapsed, 1),
         mutations_per_s=round(total / elapsed),
         push_p50_ms=round(statistics.median(latencies) * 1000, 1),
         push_p99_ms=round(latencies[int(len(latencies) * 0.99)] * 1000, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--mutations", type=int, default=100)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--bootstrap-tasks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bootstrap-only", action="store_true", help="skip the push benchmark")
    args = parser.parse_args()
    with database_factory("postgresql") as fresh:
        url = fresh("bench_sync")
        engine, session, phones, big_headers = _setup(url, args.devices, args.bootstrap_tasks)
        try:
            with gunicorn(url, workers=args.workers, threads=args.threads) as base:
                _bootstrap(base, big_headers, args.bootstrap_tasks, args.rounds)
                if args.bootstrap_only:
                    return
                _pushes(base, phones, args)
            recorded = sum(sum(sales.values()) for sales in session.scalars(select(StoreTask.sales)))
            assert recorded == sum(1 for n in range(1, args.mutations + 1) if n % 3 == 0) * len(phones)
        finally:
            session.close()
            engine.dispose()

if __name__ == "__main__":
    main()
