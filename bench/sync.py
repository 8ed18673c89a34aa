"""Sync push throughput, latency and lost acknowledged writes, and bootstrap pull time, over HTTP
against gunicorn + PostgreSQL (default durability) — the shapes of SPEC §10.

    python -m bench.sync --shape contention [--rounds 3]
    python -m bench.sync --shape batches [--devices 1000] [--mutations 100] [--batch 25]
    python -m bench.sync --shape bootstrap [--bootstrap-tasks 1000] [--rounds 5]

contention: 100 phones in stores of 10; each store has 100 tasks with 10 checklist items, held
by its 10 clerks; each phone pushes 100 `set_checklist_item` — its own slot of each of its
store's 100 tasks — in ONE push; 8 pushes in flight; gunicorn 2 workers × 4 threads.
batches: every phone (10 per store, each store 10 tasks) sends `mutations` mutations
(record_sale / set_checklist_item / add_note) in pushes of `batch`, `clients` phones at a time
(default: one per server thread, workers × threads — more phones in flight do not push more per
second, they only wait in gunicorn's socket queue, and that wait is added to every push's latency).
Both read every task back at the end through sync pull and report acknowledged writes lost
(an `applied` tick not in the task, sales not equal to the applied increments).
bootstrap: a clerk of a store holding `bootstrap-tasks` tasks pulls with cursor null, limit 1000.
The benchmark only talks HTTP to the server, so it measures any version of the code.
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

CLERKS_PER_STORE = 10


def _campaign(session, admin, code, stores, templates, items):
    now = utcnow()
    campaign = campaigns.create_campaign(
        session=session, actor=admin, code=code, title=code, description="", starts_at=now,
        ends_at=now + dt.timedelta(days=5), featured_skus=[], promo_prices={},
        targeting={"regions": [], "stores": stores, "tags": []},
        tasks=[{"title": f"Task {i}", "instructions": "", "kind": "other",
                "checklist": [{"id": item, "label": item.upper()} for item in items],
                "proof": {"photos": 0, "quantity": False, "observed_price": False},
                "due_in_hours": 48, "max_claimants": CLERKS_PER_STORE, "script_hint": ""}
               for i in range(templates)])
    campaigns.publish(session=session, actor=admin, campaign_id=campaign.id)
    return campaign


def _token(user):
    return {"Authorization": "Bearer " + issue_access_token(
        user_id=user.id, role=user.role, secret=SECRET, ttl_seconds=7200, now=utcnow())}


def _setup(url: str, stores: int, tasks_per_store: int, items: list[str], bootstrap_tasks: int = 0):
    """Stores of ten clerks, each clerk holding every task of their store (bulk rows: setup is
    not measured); a flagship store with `bootstrap_tasks` tasks and one clerk."""
    changefeed.install()
    engine = build_engine(url)
    session = sessionmaker(bind=engine, expire_on_commit=False)()
    region = Region(code="EAST", name="East")
    shops = [Store(code=f"S{i:04d}", name=f"Store {i}", region=region) for i in range(stores)]
    big = Store(code="BIG", name="Flagship with many tasks", region=region)
    admin = User(username="admin", display_name="Admin", role="hq_admin", password_hash=PASSWORD_HASH)
    clerks = [User(username=f"c{s.code}_{j}", display_name="Clerk", role="clerk",
                   password_hash=PASSWORD_HASH, store=s) for s in shops for j in range(CLERKS_PER_STORE)]
    big_clerk = User(username="big_clerk", display_name="Clerk", role="clerk",
                     password_hash=PASSWORD_HASH, store=big)
    session.add_all([region, *shops, big, admin, *clerks, big_clerk])
    session.commit()
    if stores:
        _campaign(session, admin, "LOAD", [s.code for s in shops], tasks_per_store, items)
    by_store: dict[int, list[int]] = {}
    for task_id, store_id in session.execute(select(StoreTask.id, StoreTask.store_id).order_by(StoreTask.id)):
        by_store.setdefault(store_id, []).append(task_id)
    if clerks:
        session.execute(TaskClaim.__table__.insert(), [
            {"task_id": task_id, "user_id": clerk.id, "claimed_at": utcnow()}
            for clerk in clerks for task_id in by_store[clerk.store_id]])
        session.execute(update(StoreTask).values(status="in_progress", claimant_count=CLERKS_PER_STORE))
        session.commit()
    for index in range(0, bootstrap_tasks, 20):
        _campaign(session, admin, f"BIG{index}", ["BIG"], min(20, bootstrap_tasks - index), ["a", "b"])
    phones = [(clerk.username, clerk.store_id, _token(clerk), by_store[clerk.store_id], slot % CLERKS_PER_STORE)
              for slot, clerk in enumerate(clerks)]
    session.close()
    return engine, phones, _token(big_clerk)


# ---- reading back --------------------------------------------------------------------------

def _store_tasks(base: str, headers: dict, client_id: str) -> dict[int, dict]:
    """Every task of the clerk's store, as sync pull sends it."""
    http, cursor, tasks = requests.Session(), None, {}
    while True:
        body = http.post(f"{base}/api/v1/sync/pull", headers=headers, timeout=120, json={
            "client_id": client_id, "cursor": cursor, "schema_version": 1, "limit": 1000}).json()
        tasks.update((c["id"], c["data"]) for c in body["changes"] if c["entity"] == "task")
        cursor = body["cursor"]
        if not body["has_more"]:
            return tasks


def _read_back(base: str, phones, acknowledged: list[tuple[str, int, int, str, bool]],
               sales: dict[int, int]) -> int:
    """Acknowledged writes the server does not hold: ticked items not showing an applied tick,
    sales not adding up to the applied increments."""
    first_phone = {}
    for phone in phones:
        first_phone.setdefault(phone[1], phone)
    tasks: dict[int, dict] = {}
    for username, _store, headers, _tasks, _slot in first_phone.values():
        tasks.update(_store_tasks(base, headers, f"bench-read-{username}"))
    # An item written once must hold that write; an item several phones wrote must hold one of
    # the applied writes (which one is the register's business, tested in tests/).
    applied: dict[tuple[int, str], set[tuple[str, bool]]] = {}
    for username, _mutation_id, task_id, item, done in acknowledged:
        applied.setdefault((task_id, item), set()).add((username, done))
    lost = sum(1 for (task_id, item), writes in applied.items()
               if (tasks[task_id]["checklist"][item]["by"], tasks[task_id]["checklist"][item]["done"])
               not in writes)
    lost += sum(abs(sum(tasks[task_id]["sales"].values()) - count) for task_id, count in sales.items())
    return lost


# ---- pushing -------------------------------------------------------------------------------

def _push(http, base, username, headers, mutations):
    began = time.perf_counter()
    response = http.post(f"{base}/api/v1/sync/push", headers=headers, timeout=300, json={
        "client_id": f"bench-{username}", "schema_version": 1, "mutations": mutations})
    elapsed = time.perf_counter() - began
    assert response.status_code == 200, response.text[:300]
    return elapsed, response.json()["results"]


def _run(base, phones, in_flight, plan) -> tuple[float, list[float], list, dict[int, int], int]:
    """Run every phone's pushes (plan(phone) → list of pushes), `in_flight` phones at a time."""
    acknowledged, sales, latencies, superseded = [], {}, [], 0

    def device(phone):
        username, _store, headers, _tasks, _slot = phone
        http, own = requests.Session(), []
        for mutations in plan(phone):
            elapsed, results = _push(http, base, username, headers, mutations)
            own.append((elapsed, mutations, results))
        return username, own

    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(in_flight) as pool:
        done = list(pool.map(device, phones))
    seconds = time.perf_counter() - began
    for username, own in done:
        for elapsed, mutations, results in own:
            latencies.append(elapsed)
            for mutation, result in zip(mutations, results):
                assert result["status"] == "applied" or result["error"] == "superseded", result
                superseded += result["status"] == "rejected"
                if result["status"] != "applied":
                    continue
                args = mutation["args"]
                if mutation["name"] == "set_checklist_item":
                    acknowledged.append((username, mutation["id"], args["task_id"], args["item_id"], args["done"]))
                elif mutation["name"] == "record_sale":
                    sales[args["task_id"]] = sales.get(args["task_id"], 0) + args["quantity"]
    return seconds, sorted(latencies), acknowledged, sales, superseded


def _p(latencies, q):
    return round(latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1000, 1)


def contention(args) -> None:
    """SPEC §10 store-contention shape, `rounds` fresh databases."""
    slots = [f"slot{i}" for i in range(CLERKS_PER_STORE)]
    for round_ in range(args.rounds):
        with database_factory("postgresql") as fresh:
            url = fresh(f"bench_contention_{round_}")
            engine, phones, _ = _setup(url, stores=10, tasks_per_store=100, items=slots)
            with gunicorn(url, workers=2, threads=4) as base:
                def plan(phone):
                    username, _store, _headers, tasks, slot = phone
                    now = utcnow().isoformat()
                    return [[{"id": i + 1, "name": "set_checklist_item", "client_time": now,
                              "args": {"task_id": task_id, "item_id": slots[slot], "done": True}}
                             for i, task_id in enumerate(tasks)]]
                seconds, latencies, acknowledged, sales, superseded = _run(base, phones, 8, plan)
                lost = _read_back(base, phones, acknowledged, sales)
            engine.dispose()
        total = len(phones) * 100
        emit(bench="sync_push_contention", backend="postgresql", phones=len(phones), stores=10,
             tasks_per_store=100, mutations_per_push=100, in_flight=8, workers=2, threads=4,
             mutations=total, applied=len(acknowledged), superseded=superseded,
             seconds=round(seconds, 2), mutations_per_s=round(total / seconds),
             push_p50_ms=_p(latencies, 0.5), push_p99_ms=_p(latencies, 0.99), lost=lost)


def _batch_mutations(tasks: list[int], count: int, start: int) -> list[dict]:
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
        mutations.append({"id": number, "name": name, "args": args, "client_time": utcnow().isoformat()})
    return mutations


def batches(args) -> None:
    """SPEC §10: 1,000 phones × 100 mutations in pushes of 25."""
    for round_ in range(args.rounds):
        with database_factory("postgresql") as fresh:
            url = fresh(f"bench_batches_{round_}")
            engine, phones, _ = _setup(url, stores=args.devices // CLERKS_PER_STORE, tasks_per_store=10,
                                       items=["a", "b"])
            with gunicorn(url, workers=args.workers, threads=args.threads) as base:
                def plan(phone):
                    tasks = phone[3]
                    return [_batch_mutations(tasks, min(args.batch, args.mutations - start + 1), start)
                            for start in range(1, args.mutations + 1, args.batch)]
                clients = args.clients or args.workers * args.threads
                seconds, latencies, acknowledged, sales, superseded = _run(base, phones, clients, plan)
                lost = _read_back(base, phones, acknowledged, sales)
            engine.dispose()
        total = len(phones) * args.mutations
        emit(bench="sync_push_batches", backend="postgresql", devices=len(phones),
             mutations_per_device=args.mutations, batch=args.batch, clients=clients,
             workers=args.workers, threads=args.threads, mutations=total, superseded=superseded,
             seconds=round(seconds, 1), mutations_per_s=round(total / seconds),
             push_p50_ms=_p(latencies, 0.5), push_p99_ms=_p(latencies, 0.99), lost=lost)


def bootstrap(args) -> None:
    """A clerk of a store with `bootstrap_tasks` tasks pulls a snapshot, `rounds` times."""
    with database_factory("postgresql") as fresh:
        url = fresh("bench_bootstrap")
        engine, _, headers = _setup(url, stores=0, tasks_per_store=0, items=[],
                                    bootstrap_tasks=args.bootstrap_tasks)
        with gunicorn(url, workers=args.workers, threads=args.threads) as base:
            http, times = requests.Session(), []
            for _ in range(args.rounds + 1):  # the first one warms up
                began = time.perf_counter()
                response = http.post(f"{base}/api/v1/sync/pull", headers=headers, json={
                    "client_id": "bench-big-clerk", "cursor": None, "schema_version": 1, "limit": 1000})
                times.append(time.perf_counter() - began)
                assert response.status_code == 200
                assert [c["entity"] for c in response.json()["changes"]].count("task") == args.bootstrap_tasks
        engine.dispose()
    emit(bench="sync_bootstrap_pull", backend="postgresql", tasks=args.bootstrap_tasks,
         runs_ms=[round(t * 1000, 1) for t in times[1:]],
         median_ms=round(statistics.median(times[1:]) * 1000, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["contention", "batches", "bootstrap"], required=True)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--mutations", type=int, default=100)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--clients", type=int, default=None,
                        help="batches: phones in flight (default: workers × threads)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--bootstrap-tasks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    {"contention": contention, "batches": batches, "bootstrap": bootstrap}[args.shape](args)


if __name__ == "__main__":
    main()
