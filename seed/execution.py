"""Ten months of campaign execution for benchmarks: 10,000 stores × 100 campaigns = 1,000,000 store tasks.

Deterministic for a seed and a reference time. Rows go in with PostgreSQL's COPY or SQLite
executemany, one campaign (10,000 tasks) per chunk, instead of through the publish/claim/submit
services (which would take hours for a million tasks); the figures they produce follow the same
rules (a claim row per first claim, `late` when submitted after due, `deviates` on submission).
"""

from __future__ import annotations

import datetime as dt
import math
import random

from sqlalchemy import select, text
from sqlalchemy.orm import Session
from tqdm import tqdm

from backend.analytics import rollups
from backend.campaigns.models import Campaign, TaskTemplate
from backend.org.models import Region, Store, User
from backend.tasks.models import StoreTask
from seed.demo import SeedReport, seed_regions, seed_stores, seed_users

SEED = 20270101
DUE_HOURS = (24, 48, 72, 120, 168)
KINDS = ("display_setup", "price_check", "product_push", "photo_audit", "training")
# Regions differ a little in how diligent their stores are (a supervisor effect).
REGION_DILIGENCE = {"EAST": 0.06, "NORTH": 0.0, "SOUTH": 0.03, "WEST": -0.05, "CENTRAL": -0.02}
TASK_COLUMNS = ("campaign_id", "template_id", "store_id", "template_version", "status", "due_at",
                "max_claimants", "claimant_count", "observed_prices",
                "quantity", "review", "late", "submitted_after_cancel",
                "instructions_changed", "deviates", "version", "qr_nonce", "created_at", "updated_at",
                "first_claimed_at", "submitted_at", "reviewed_at")


def _lognormal_hours(rng: random.Random, median_hours: float, sigma: float) -> dt.timedelta:
    return dt.timedelta(hours=median_hours * math.exp(rng.gauss(0.0, sigma)))


def _task_row(rng: random.Random, campaign: dict, store_id: int, diligence: float,
              now: dt.datetime) -> tuple:
    """One store task's life so far: claim, work, submission and review times drawn per store."""
    published, due = campaign["published_at"], campaign["due_at"]
    status, claimed, submitted, reviewed = "open", None, None, None
    late = deviates = False
    if rng.random() < 0.015:  # HQ cancelled it for this store (closed for refit, no stock, ...)
        status = "cancelled"
    elif rng.random() < 0.80 + 0.18 * diligence:
        # Diligent stores claim sooner (median ≈ 2 h after publish) and finish more often.
        claimed = published + _lognormal_hours(rng, 2.0 * (1.6 - diligence), 1.1)
        if claimed > now:
            claimed = None
        elif rng.random() < 0.85 + 0.13 * diligence:
            submitted = claimed + _lognormal_hours(rng, 16.0 * (1.5 - diligence), 0.9)
    if claimed is not None:
        status = "in_progress" if rng.random() < 0.6 else "claimed"
        if submitted is not None and submitted > now:
            submitted = None
    if submitted is not None:
        status, late = "submitted", submitted > due
        deviates = rng.random() < campaign["deviation_odds"]
        reviewed = submitted + _lognormal_hours(rng, 8.0, 0.8)
        if reviewed < now and rng.random() < 0.97:
            status = "approved"
        else:
            reviewed = None
    updated = reviewed or submitted or claimed or published
    review = ('{"decision": "approve", "comment": "", "by": "sup_bench", "at": "%s"}'
              % reviewed.isoformat()) if reviewed else None
    version = 1 + (claimed is not None) + 2 * (submitted is not None) + (reviewed is not None)
    return (campaign["id"], campaign["template_id"], store_id, 1, status, due, 1,
            int(claimed is not None), "{}", None, review, late, False, False, deviates, version, rng.getrandbits(31), published, updated,
            claimed, submitted, reviewed)


def _insert_tasks(session: Session, rows: list[tuple]) -> None:
    """COPY on PostgreSQL (the fastest bulk path), executemany on SQLite."""
    if session.bind.dialect.name == "postgresql":
        cursor = session.connection().connection.driver_connection.cursor()
        with cursor.copy(f"COPY store_tasks ({', '.join(TASK_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.close()
        return
    session.execute(StoreTask.__table__.insert(), [dict(zip(TASK_COLUMNS, row)) for row in rows])


# The claim of each claimed task, by one of the store's clerks (seat chosen by task id).
_CLAIMS_SQL = text("""
INSERT INTO task_claims (task_id, user_id, claimed_at, scanned_at)
SELECT t.id, c.id, t.first_claimed_at, t.first_claimed_at
FROM store_tasks t
JOIN (SELECT id, store_id,
             ROW_NUMBER() OVER (PARTITION BY store_id ORDER BY id) - 1 AS seat,
             COUNT(*) OVER (PARTITION BY store_id) AS seats
      FROM users WHERE role = 'clerk') c
  ON c.store_id = t.store_id AND c.seat = t.id % c.seats
WHERE t.campaign_id = :campaign AND t.first_claimed_at IS NOT NULL
""")


def _create_campaigns(session: Session, count: int, now: dt.datetime, seed: int) -> list[dict]:
    """`count` campaigns published every three days up to yesterday, one task template each;
    those already there are left alone (and get no new tasks)."""
    admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    existing = set(session.scalars(select(Campaign.code).where(Campaign.code.like("BENCH-%"))))
    specs = []
    for number in range(count):
        code = f"BENCH-{number:03d}"
        if code in existing:
            continue
        rng = _campaign_rng(seed, number)
        published = now - dt.timedelta(days=3 * (count - number) - 2, hours=rng.randrange(12))
        kind = KINDS[number % len(KINDS)]
        hours = DUE_HOURS[rng.randrange(len(DUE_HOURS))]
        campaign = Campaign(code=code, title=f"Benchmark campaign {number}", description="",
                            starts_at=published, ends_at=published + dt.timedelta(days=14),
                            status="live" if published + dt.timedelta(days=14) > now else "closed",
                            featured_skus=[], promo_prices={},
                            targeting={"regions": [], "stores": [], "tags": []},
                            published_at=published, created_by_id=admin_id, created_at=published,
                            updated_at=published)
        campaign.templates = [TaskTemplate(position=0, title=f"{kind} {number}", kind=kind,
                                           checklist=[{"id": "shelf", "label": "Shelf"}],
                                           proof={"photos": 1, "quantity": False,
                                                  "observed_price": kind == "price_check"},
                                           due_offset_hours=hours)]
        session.add(campaign)
        specs.append({"campaign": campaign, "rng": rng, "published_at": published,
                      "due_at": published + dt.timedelta(hours=hours),
                      "deviation_odds": 0.15 if kind == "price_check" else 0.05})
    session.flush()
    for spec in specs:
        spec["id"], spec["template_id"] = spec["campaign"].id, spec["campaign"].templates[0].id
    return specs


def _campaign_rng(seed: int, number: int) -> random.Random:
    """Each campaign's history stands alone: the same whatever else is seeded."""
    return random.Random(seed * 1000 + number)


def seed_execution(session: Session, *, stores: int = 10_000, campaigns: int = 100,
                   now: dt.datetime | None = None, seed: int = SEED, progress: bool = True) -> SeedReport:
    """The demo org at `stores` stores, then `campaigns` published campaigns with their history
    (idempotent: campaigns already seeded are skipped)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    rng = random.Random(seed)
    report = SeedReport()
    regions = seed_regions(session, report)
    seed_stores(session, report, regions, stores, progress)
    seed_users(session, report, regions, stores, progress)
    session.commit()
    diligence = {store_id: min(0.99, max(0.05, rng.betavariate(5, 2) + REGION_DILIGENCE.get(code, 0.0)))
                 for store_id, code in session.execute(
                     select(Store.id, Region.code).join(Region).order_by(Store.id))}
    specs = _create_campaigns(session, campaigns, now, seed)
    session.commit()
    report.add("campaigns", len(specs))
    bar = tqdm(total=len(specs) * len(diligence), desc="store tasks", unit="task", unit_scale=True,
               disable=not progress)
    # A million rows through row triggers would take minutes: the rollups are rebuilt once after.
    with rollups.suspended(session):
        for spec in specs:
            chunk_rng = spec["rng"]
            _insert_tasks(session, [_task_row(chunk_rng, spec, store_id, store_diligence, now)
                                    for store_id, store_diligence in diligence.items()])
            session.execute(_CLAIMS_SQL, {"campaign": spec["id"]})
            session.commit()
            bar.update(len(diligence))
    bar.close()
    report.add("store tasks", len(specs) * len(diligence))
    return report
