"""A simulated Double-11 promotion with known true effects (`flask --app wsgi seed double11`).

The chain's stores sell the two featured lipsticks every day. Each store has its own size
(featured transactions a day) and its own attach probability (how often a featured basket also
holds one of the lipstick's usual partners). The model is additive, so the difference in
differences recovers the campaign's effect exactly in expectation:

    attach probability = store base + SEASON_ATTACH (every store, during)
                                    + CAMPAIGN_ATTACH (targeted stores, during)
    featured transactions a day = store size + SEASON_DAILY (every store, during)
                                             + CAMPAIGN_DAILY (targeted stores, during)

Half the stores of each region are targeted. Their tasks are worked through the real task
services (assign, start, submit, review): most are approved, a few are late (their due time is
moved into the past before submitting) and a few report an off-promo price. Sales go in through
the POS import, pairings through the recommender's training, as in production. The dates are
fixed (Double-11 2025), so the same seed gives the same rows whenever it runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from tqdm import tqdm

from backend.campaigns import service as campaigns
from backend.campaigns.models import Campaign
from backend.catalog.models import Product
from backend.org.models import Region, Store, User
from backend.sales.service import import_sales
from backend.tasks import blobs
from backend.tasks import service as tasks
from backend.tasks.models import StoreTask
from recommend.pairing_service import train_pairings
from seed.demo import (SeedReport, seed_products, seed_regions, seed_stores, seed_users, store_code,
                       tiny_png)

SEED = 20251111
CODE = "D11-SIM"
STORES = 120
CHINA = dt.timezone(dt.timedelta(hours=8))
STARTS_AT = dt.datetime(2025, 10, 28, tzinfo=CHINA)
ENDS_AT = dt.datetime(2025, 11, 12, tzinfo=CHINA)
WINDOW_DAYS = (ENDS_AT - STARTS_AT).days  # 15; the before window is as long

# The true effects the report must recover (see the module docstring).
SEASON_ATTACH = 0.05
CAMPAIGN_ATTACH = 0.0675  # +27 % of the targeted stores' expected 0.25 without the campaign
SEASON_DAILY = 2.5
CAMPAIGN_DAILY = 1.5
BASE_ATTACH = (0.14, 0.26)
BASE_DAILY = (3.0, 7.0)
OTHER_DAILY = 3.0  # baskets without a featured SKU, every store, every day
NOISE_ITEM = 0.3  # a featured basket without a partner sometimes holds some other product

# Execution of the targeted stores' tasks.
SUBMIT_ODDS, APPROVE_ODDS, LATE_ODDS, OFF_PRICE_ODDS = 0.99, 0.985, 0.06, 0.05


@dataclass(frozen=True)
class TrueEffects:
    """What the simulation put in: the numbers the impact report should find."""

    attach_points: float = CAMPAIGN_ATTACH
    season_attach_points: float = SEASON_ATTACH
    featured_units_per_store: float = CAMPAIGN_DAILY * WINDOW_DAYS
    season_units_per_store: float = SEASON_DAILY * WINDOW_DAYS


def _catalog(session: Session) -> tuple[list[Product], dict[str, list[Product]], list[Product]]:
    """The two featured lipsticks, three usual partners of each, and the other products."""
    products = list(session.scalars(select(Product).order_by(Product.sku)))
    by_category: dict[str, list[Product]] = {}
    for product in products:
        by_category.setdefault(product.category, []).append(product)
    featured = by_category["lipstick"][4:6]
    partners = {item.sku: [by_category[category][index] for category in ("cleanser", "tools", "mascara")]
                for index, item in enumerate(featured)}
    taken = {item.sku for item in featured} | {p.sku for group in partners.values() for p in group}
    return featured, partners, [product for product in products if product.sku not in taken]


def _targeted(stores: list[tuple[str, str]], rng: np.random.Generator) -> list[str]:
    """Half the stores of each region (rounded down), drawn at random."""
    chosen = []
    for region in sorted({region for _code, region in stores}):
        codes = [code for code, store_region in stores if store_region == region]
        chosen += [codes[i] for i in sorted(rng.permutation(len(codes))[: len(codes) // 2])]
    return sorted(chosen)


def sales_csv(stores: list[tuple[str, str]], targeted: set[str], featured: list[Product],
              partners: dict[str, list[Product]], others: list[Product], seed: int = SEED,
              progress: bool = False) -> str:
    """Thirty days of POS lines (fifteen before the campaign, fifteen during) for every store."""
    rng = np.random.default_rng(seed)
    before_start = STARTS_AT - dt.timedelta(days=WINDOW_DAYS)
    lines = ["transaction_id,store_code,sku,quantity,sold_at"]
    for code, _region in tqdm(stores, desc="simulated sales", unit="store", disable=not progress):
        base_attach, base_daily = rng.uniform(*BASE_ATTACH), rng.uniform(*BASE_DAILY)
        number = 0
        for day in range(2 * WINDOW_DAYS):
            during = day >= WINDOW_DAYS
            treated = during and code in targeted
            attach = base_attach + SEASON_ATTACH * during + CAMPAIGN_ATTACH * treated
            daily = base_daily + SEASON_DAILY * during + CAMPAIGN_DAILY * treated
            day_start = before_start + dt.timedelta(days=day)
            for featured_basket in [True] * rng.poisson(daily) + [False] * rng.poisson(OTHER_DAILY):
                number += 1
                if featured_basket:
                    item = featured[rng.integers(len(featured))]
                    basket = [item.sku]
                    if rng.random() < attach:
                        basket.append(partners[item.sku][rng.integers(3)].sku)
                    elif rng.random() < NOISE_ITEM:
                        basket.append(others[rng.integers(len(others))].sku)
                else:
                    size = 1 + rng.integers(3)
                    basket = sorted({others[i].sku for i in rng.integers(len(others), size=size)})
                sold_at = day_start + dt.timedelta(seconds=int(rng.integers(10 * 3600, 22 * 3600)))
                lines += [f"SIM-{code}-{number:05d},{code},{sku},1,{sold_at.isoformat()}"
                          for sku in basket]
    return "\n".join(lines) + "\n"


def _campaign_spec(featured: list[Product], targeted: list[str]) -> dict:
    return {
        "code": CODE, "title": "双11 口红节（模拟）Double-11 Lipstick Festival (simulation)",
        "description": "模拟活动：已知真实效果，用于检验影响报告。A simulation with known true effects.",
        "starts_at": STARTS_AT, "ends_at": ENDS_AT,
        "featured_skus": [item.sku for item in featured],
        "promo_prices": {item.sku: float(round(item.price * 8 / 10, 2)) for item in featured},
        "targeting": {"regions": [], "stores": targeted, "tags": []},
        "tasks": [
            {"title": "主推端架陈列 End-cap display", "kind": "display_setup",
             "instructions": "按陈列图布置端架。", "checklist": [{"id": "shelf", "label": "端架 Shelf"}],
             "proof": {"photos": 1, "quantity": False, "observed_price": False},
             "due_in_hours": 48, "max_claimants": 1, "script_hint": "先试色，再推荐卸妆油。"},
            {"title": "价签核查 Price-tag check", "kind": "price_check",
             "instructions": "核对促销价签。", "checklist": [{"id": "tags", "label": "价签 Tags"}],
             "proof": {"photos": 0, "quantity": False, "observed_price": True},
             "due_in_hours": 24, "max_claimants": 1, "script_hint": ""},
        ]}


def _work_tasks(session: Session, campaign: Campaign, rng: np.random.Generator, progress: bool) -> None:
    """Each targeted store's clerk works its tasks through the task services."""
    supervisors = {region.id: user for user in session.scalars(select(User).where(User.role == "supervisor"))
                   for region in user.regions}
    task_rows = session.execute(select(StoreTask.id, StoreTask.store_id, Store.region_id)
                                .join(Store, StoreTask.store_id == Store.id)
                                .where(StoreTask.campaign_id == campaign.id)
                                .order_by(StoreTask.id)).all()
    for task_id, store_id, region_id in tqdm(task_rows, desc="tasks", unit="task", disable=not progress):
        clerk = session.scalar(select(User).where(User.store_id == store_id, User.role == "clerk")
                               .order_by(User.username))
        supervisor = supervisors[region_id]
        submits, approves, late, off_price = rng.random(4) < (SUBMIT_ODDS, APPROVE_ODDS, LATE_ODDS,
                                                            OFF_PRICE_ODDS)
        tasks.assign(session=session, actor=supervisor, task_id=task_id, username=clerk.username)
        tasks.start(session=session, actor=clerk, task_id=task_id)
        if not submits:
            continue
        task = session.get(StoreTask, task_id)
        if late:  # simulated: the clerk submits after the due time
            session.execute(update(StoreTask).where(StoreTask.id == task_id)
                            .values(due_at=task.created_at - dt.timedelta(hours=1)))
            session.commit()
        proof = {"checklist": {item: True for item in task.template.checklist_ids}}
        if task.template.proof.get("photos"):
            photo = tiny_png(store_id)  # each store's own shelf photo
            sha = hashlib.sha256(photo).hexdigest()
            blobs.put_blob(session=session, actor=clerk, sha256=sha, content_type="image/png",
                           data=photo, max_bytes=5 * 1024 * 1024)
            proof["photos"] = [sha]
        if task.template.proof.get("observed_price"):
            proof["observed_prices"] = {sku: float(price) - (10.0 if off_price else 0.0)
                                        for sku, price in campaign.promo_prices.items()}
        tasks.submit(session=session, actor=clerk, task_id=task_id, **proof)
        if approves:
            tasks.review(session=session, actor=supervisor, task_id=task_id, decision="approve",
                         comment="")


def seed_double11(session: Session, *, stores: int = STORES, progress: bool = True,
                  seed: int = SEED) -> tuple[SeedReport, int, TrueEffects]:
    """The simulated chain and its Double-11 campaign (idempotent: an existing one is kept)."""
    report = SeedReport()
    regions = seed_regions(session, report)
    seed_stores(session, report, regions, stores, progress)
    seed_users(session, report, regions, stores, progress)
    seed_products(session, report)
    session.commit()
    existing = session.scalar(select(Campaign.id).where(Campaign.code == CODE))
    if existing:
        return report, existing, TrueEffects()
    rng = np.random.default_rng(seed)
    codes = [store_code(number) for number in range(1, stores + 1)]
    chain = [(code, region) for code, region in session.execute(
        select(Store.code, Region.code).join(Region).where(Store.code.in_(codes)).order_by(Store.code))]
    targeted = _targeted(chain, rng)
    featured, partners, others = _catalog(session)
    text = sales_csv(chain, set(targeted), featured, partners, others, seed, progress)
    with tqdm(total=text.count("\n") - 1, desc="sales import", unit="line", unit_scale=True,
              disable=not progress) as bar:
        result = import_sales(session=session, actor=None, stream=io.StringIO(text),
                              progress=lambda lines: bar.update(lines - bar.n))
        bar.update(bar.total - bar.n)
    report.add("sales lines", result["imported"])
    with tqdm(total=1, desc="pairings", unit="training", disable=not progress) as bar:
        train_pairings(session=session, tune=False)  # defaults: the seed stays fast and fixed
        bar.update(1)
    admin = session.scalar(select(User).where(User.username == "admin"))
    campaign = campaigns.create_campaign(session=session, actor=admin, **_campaign_spec(featured, targeted))
    published = campaigns.publish(session=session, actor=admin, campaign_id=campaign.id)
    report.add("campaigns", 1)
    report.add("store tasks", published["tasks_created"])
    _work_tasks(session, campaign, rng, progress)
    campaigns.close(session=session, actor=admin, campaign_id=campaign.id)
    return report, campaign.id, TrueEffects()
