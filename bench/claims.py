"""500 concurrent QR claims on 50 tasks, over HTTP, against gunicorn workers on PostgreSQL.

    python -m bench.claims [--workers 4] [--threads 8] [--rounds 3]

Setup: 10 stores × 10 clerks; one campaign with 5 single-claimant templates → 50 tasks.
Every clerk scans every task of their store: 500 claims, 10 contenders per task. Two
load shapes per round: a burst (500 client threads released by one barrier) and a steady
load (50, then 8 concurrent clients). Reports winners (must be exactly 50), errors (anything but
201/409 task_already_claimed), and p50/p99 latency; first, once, the floor of the burst: the same
500 threads released at once against GET /healthz (no token, no database).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import statistics
import threading
import time

import requests
from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from backend.auth.tokens import issue_access_token
from backend.campaigns import service as campaigns
from backend.db import build_engine, utcnow
from backend.org.models import Region, Store, User
from backend.tasks.models import StoreTask, TaskClaim
from bench.common import SECRET, database_factory, emit, gunicorn
from qr.service import QrSettings, token_for
from tests.factories import PASSWORD_HASH

STORES, CLERKS_PER_STORE, TEMPLATES = 10, 10, 5


def _setup(url: str):
    engine = build_engine(url)
    session = sessionmaker(bind=engine, expire_on_commit=False)()
    region = Region(code="EAST", name="East")
    session.add(region)
    stores = [Store(code=f"S{i:03d}", name=f"Store {i}", region=region) for i in range(STORES)]
    session.add_all(stores)
    admin = User(username="admin", display_name="Admin", role="hq_admin", password_hash=PASSWORD_HASH)
    clerks = [User(username=f"c{s.code}_{j}", display_name="Clerk", role="clerk",
                   password_hash=PASSWORD_HASH, store=s)
              for s in stores for j in range(CLERKS_PER_STORE)]
    session.add_all([admin, *clerks])
    session.commit()
    now = utcnow()
    campaign = campaigns.create_campaign(
        session=session, actor=admin, code="RUSH", title="Rush", description="",
        starts_at=now, ends_at=now + dt.timedelta(days=5), featured_skus=[], promo_prices={},
        targeting={"regions": ["EAST"], "stores": [], "tags": []},
        tasks=[{"title": f"Task {i}", "instructions": "", "kind": "other", "checklist": [],
                "proof": {"photos": 0, "quantity": False, "observed_price": False},
                "due_in_hours": 48, "max_claimants": 1, "script_hint": ""} for i in range(TEMPLATES)])
    campaigns.publish(session=session, actor=admin, campaign_id=campaign.id)
    settings = QrSettings.from_config({"SECRET_KEY": SECRET, "QR_GRACE_HOURS": 72})
    tasks = session.scalars(select(StoreTask)).all()
    codes_by_store = {}
    for task in tasks:
        codes_by_store.setdefault(task.store_id, []).append(token_for(task, settings)[0])
    attempts = []
    for clerk in clerks:
        header = {"Authorization": "Bearer " + issue_access_token(
            user_id=clerk.id, role="clerk", secret=SECRET, ttl_seconds=3600, now=utcnow())}
        attempts.extend((header, code) for code in codes_by_store[clerk.store_id])
    return engine, session, attempts


def _reset_claims(session) -> None:
    session.execute(delete(TaskClaim))
    session.execute(StoreTask.__table__.update().values(status="open", claimant_count=0))
    session.commit()


def _claim(base: str, http: requests.Session, header: dict, code: str):
    start = time.perf_counter()
    response = http.post(f"{base}/api/v1/claims", json={"qr_token": code}, headers=header, timeout=60)
    elapsed = time.perf_counter() - start
    error = response.json().get("error") if response.status_code != 201 else None
    return response.status_code, error, elapsed


def _summarise(shape: str, results, **extra) -> None:
    winners = sum(1 for status, _, _ in results if status == 201)
    errors = sum(1 for status, error, _ in results
                 if not (status == 201 or (status == 409 and error == "task_already_claimed")))
    latencies = sorted(elapsed for _, _, elapsed in results)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    emit(bench="claims", shape=shape, backend="postgresql", claims=len(results), winners=winners,
         errors=errors, p50_ms=round(statistics.median(latencies) * 1000, 1),
         p99_ms=round(p99 * 1000, 1), max_ms=round(latencies[-1] * 1000, 1), **extra)


def _health(base: str, http: requests.Session, _header, _code):
    start = time.perf_counter()
    response = http.get(f"{base}/healthz", timeout=60)
    return response.status_code, None, time.perf_counter() - start


def burst(base: str, attempts, request=_claim) -> list:
    barrier = threading.Barrier(len(attempts))
    results = [None] * len(attempts)

    def run(index):
        http = requests.Session()
        header, code = attempts[index]
        barrier.wait()
        results[index] = request(base, http, header, code)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def steady(base: str, attempts, clients: int) -> list:
    local = threading.local()

    def run(attempt):
        if not hasattr(local, "http"):
            local.http = requests.Session()
        return _claim(base, local.http, *attempt)

    # Interleave stores so the 50 clients contend on the same tasks at the same time.
    ordered = sorted(attempts, key=lambda a: attempts.index(a) % CLERKS_PER_STORE)
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        return list(pool.map(run, ordered))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with database_factory("postgresql") as fresh:
        url = fresh("bench_claims")
        engine, session, attempts = _setup(url)
        try:
            with gunicorn(url, workers=args.workers, threads=args.threads) as base:
                # The floor of the burst on this machine: the same 500 threads and connections
                # against GET /healthz (no token, no database) — what the load generator,
                # loopback and gunicorn cost before any claim work.
                floor = burst(base, attempts, _health)
                latencies = sorted(elapsed for _, _, elapsed in floor)
                emit(bench="claims", shape="burst-500-healthz-floor", requests=len(floor),
                     errors=sum(1 for status, _, _ in floor if status != 200),
                     p50_ms=round(statistics.median(latencies) * 1000, 1),
                     p99_ms=round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
                     max_ms=round(latencies[-1] * 1000, 1), workers=args.workers, threads=args.threads)
                for round_ in range(args.rounds):
                    _reset_claims(session)
                    _summarise("burst-500", burst(base, attempts), round=round_,
                               workers=args.workers, threads=args.threads)
                    for clients in (50, 8):
                        _reset_claims(session)
                        _summarise(f"steady-{clients}-clients", steady(base, attempts, clients),
                                   round=round_, workers=args.workers, threads=args.threads)
            claimed = session.scalar(select(StoreTask.claimant_count).order_by(
                StoreTask.claimant_count.desc()).limit(1))
            assert claimed == 1, "a task exceeded max_claimants"
        finally:
            session.close()
            engine.dispose()


if __name__ == "__main__":
    main()
