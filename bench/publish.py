"""Publish one campaign (5 templates) to 1,000 / 5,000 / 10,000 stores, against a raw bulk insert.

    python -m bench.publish [--backend sqlite|postgresql|both] [--stores 1000,5000,10000] [--runs 3]

For each size: a fresh database with that many stores; `runs` campaigns are each
published through the real service (targeting, idempotency check, bulk insert, event,
one transaction); the floor inserts the same rows straight into store_tasks the way publish
does (`backend.tasks.inserts`: COPY on PostgreSQL, executemany on SQLite; no targeting, no checks).
"""

from __future__ import annotations

import argparse
import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from backend.campaigns import service as campaigns
from backend.db import build_engine, utcnow
from backend.org.models import Store, User
from backend.tasks import inserts
from backend.tasks.models import StoreTask
from bench.common import database_factory, emit, median, timed
from seed.demo import SeedReport, seed_regions, seed_stores, seed_users

TEMPLATES = 5


def _campaign_fields(code: str) -> dict:
    now = utcnow()
    return dict(code=code, title=f"Bench {code}", description="", starts_at=now,
                ends_at=now + dt.timedelta(days=7), featured_skus=[], promo_prices={},
                targeting={"regions": ["EAST", "NORTH", "SOUTH", "WEST", "CENTRAL"], "stores": [],
                           "tags": []},
                tasks=[{"title": f"Task {i}", "instructions": "Do it", "kind": "other",
                        "checklist": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}],
                        "proof": {"photos": 1, "quantity": False, "observed_price": False},
                        "due_in_hours": 48, "max_claimants": 1, "script_hint": ""}
                       for i in range(TEMPLATES)])


def _create_campaign(session, admin, code):
    return campaigns.create_campaign(session=session, actor=admin, **_campaign_fields(code))


def _raw_rows(campaign, store_ids, now):
    return [dict(campaign_id=campaign.id, template_id=t.id, store_id=s, template_version=1,
                 status="open", due_at=now, max_claimants=1, claimant_count=0,
                 observed_prices={}, late=False, submitted_after_cancel=False,
                 instructions_changed=False, version=1, qr_nonce=s, created_at=now, updated_at=now)
            for t in campaign.templates for s in store_ids]


def run(backend: str, sizes: list[int], runs: int) -> None:
    with database_factory(backend) as fresh:
        for stores in sizes:
            url = fresh(f"bench_publish_{stores}")
            engine = build_engine(url, pool_size=2)
            Session = sessionmaker(bind=engine, expire_on_commit=False)
            session = Session()
            report = SeedReport()
            regions = seed_regions(session, report)
            seed_stores(session, report, regions, stores, progress=False)
            seed_users(session, report, regions, 0, progress=False)
            session.commit()
            admin = session.scalar(select(User).where(User.username == "admin"))
            store_ids = list(session.scalars(select(Store.id).order_by(Store.id)))
            publish_times, floor_times = [], []
            for attempt in range(runs):
                campaign = _create_campaign(session, admin, f"P{stores}-{attempt}")
                seconds, result = timed(campaigns.publish, session=session, actor=admin,
                                        campaign_id=campaign.id)
                assert result["tasks_created"] == stores * TEMPLATES, result
                publish_times.append(seconds)
                # The floor: the same rows, inserted raw, for a second campaign, then removed.
                floor_campaign = _create_campaign(session, admin, f"F{stores}-{attempt}")
                rows = _raw_rows(floor_campaign, store_ids, utcnow())

                def raw_insert():  # the fastest raw path on each database (COPY on PostgreSQL)
                    inserts.insert_tasks(session, rows)
                    session.commit()

                seconds, _ = timed(raw_insert)
                floor_times.append(seconds)
                session.execute(delete(StoreTask).where(StoreTask.campaign_id == floor_campaign.id))
                session.commit()
            publish_s, floor_s = median(publish_times), median(floor_times)
            emit(bench="publish", backend=backend, stores=stores, templates=TEMPLATES,
                 tasks=stores * TEMPLATES, runs=runs, publish_median_s=round(publish_s, 3),
                 publish_runs_s=[round(t, 3) for t in publish_times],
                 floor_median_s=round(floor_s, 3), ratio_to_floor=round(publish_s / floor_s, 2),
                 tasks_per_s=round(stores * TEMPLATES / publish_s))
            session.close()
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--stores", default="1000,5000,10000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.stores.split(",")]
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        run(backend, sizes, args.runs)


if __name__ == "__main__":
    main()
