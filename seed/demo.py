"""Build the demo cosmetics chain: deterministic (fixed seed) and idempotent (upserts by code)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import random
import struct
import zlib
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session
from tqdm import tqdm

from backend.auth.passwords import hash_password
from backend.campaigns import service as campaigns
from backend.campaigns.models import Campaign
from backend.catalog.models import Product
from backend.db import utcnow
from backend.org.models import Region, Store, StoreTag, User
from backend.sales.service import import_sales
from backend.tasks import blobs
from backend.tasks import service as tasks
from backend.tasks.models import StoreTask
from recommend.pairing_service import train_pairings
from seed.catalog_data import (BRANDS, CITIES, CITY_TIMEZONES, PRODUCT_LINES, REGIONS, SHADES,
                               SHOPPING_MISSIONS, STORE_KINDS)

ADMIN_PASSWORD = "zhida-admin-2026"
DEMO_PASSWORD = "zhida-demo-2026"
NAMED_STORES = 30
SEED = 20261111
DEMO_RECEIPTS = 30_000  # 60 days of 30 shops, about 17 receipts a shop a day


@dataclass
class SeedReport:
    """What the seed created and the logins it prints."""

    created: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, kind: str, count: int) -> None:
        if count:
            self.created[kind] = self.created.get(kind, 0) + count


def store_code(number: int) -> str:
    return f"S{number:03d}" if number < 1000 else f"S{number}"


def _store_specs(count: int):
    """(code, name, region code, tags, timezone) of store 1..count, the same every run."""
    rng = random.Random(SEED)
    for number in range(1, count + 1):
        region_code = REGIONS[(number - 1) % len(REGIONS)][0]
        city = CITIES[region_code][rng.randrange(len(CITIES[region_code]))]
        suffix, tags = STORE_KINDS[rng.randrange(len(STORE_KINDS))]
        name = f"{city}{suffix}" if number <= NAMED_STORES else f"{city}{suffix} #{number}"
        yield store_code(number), name, region_code, tags, CITY_TIMEZONES.get(city, "Asia/Shanghai")


def _product_specs():
    """About 200 products across categories and brands, deterministic."""
    rng = random.Random(SEED + 1)
    number = 0
    for category, (lines, (low, high)) in PRODUCT_LINES.items():
        for line in lines:
            for brand in BRANDS[: 6 + rng.randrange(3)]:
                number += 1
                shade = SHADES[rng.randrange(len(SHADES))] if category in (
                    "lipstick", "foundation", "eyeshadow") else ""
                price = Decimal(rng.randrange(low, high)) - Decimal("0.10")
                yield {"sku": f"{category[:3].upper()}-{number:04d}",
                       "name": f"{brand} {line} {shade}".strip(), "category": category,
                       "brand": brand, "price": price,
                       "attributes": {"shade": shade} if shade else {}}


def tiny_png(seed: int) -> bytes:
    """A valid 2×2 PNG whose colour depends on the seed (demo shelf photos)."""
    red, green, blue = (seed * 73) % 256, (seed * 151) % 256, (seed * 199) % 256
    raw = b"".join(b"\x00" + bytes([red, green, blue]) * 2 for _ in range(2))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def seed_regions(session: Session, report: SeedReport) -> dict[str, Region]:
    regions = {region.code: region for region in session.scalars(select(Region))}
    for code, name in REGIONS:
        if code not in regions:
            regions[code] = Region(code=code, name=name)
            session.add(regions[code])
            report.add("regions", 1)
    session.flush()
    return regions


def seed_stores(session: Session, report: SeedReport, regions: dict[str, Region], count: int,
                progress: bool) -> None:
    """Bulk-insert missing stores and their tags in chunks (10,000 stores take seconds)."""
    existing = set(session.scalars(select(Store.code)))
    missing = [spec for spec in _store_specs(count) if spec[0] not in existing]
    bar = tqdm(total=len(missing), desc="stores", unit="store", disable=not progress or not missing)
    for start in range(0, len(missing), 2000):
        chunk = missing[start:start + 2000]
        session.execute(Store.__table__.insert(), [
            {"code": code, "name": name, "region_id": regions[region].id, "timezone": tz,
             "created_at": utcnow()} for code, name, region, _tags, tz in chunk])
        ids = {code: store_id for code, store_id in session.execute(
            select(Store.code, Store.id).where(Store.code.in_([spec[0] for spec in chunk])))}
        session.execute(StoreTag.__table__.insert(), [
            {"store_id": ids[code], "tag": tag} for code, _n, _r, tags, _tz in chunk for tag in tags])
        bar.update(len(chunk))
    bar.close()
    report.add("stores", len(missing))


def seed_users(session: Session, report: SeedReport, regions: dict[str, Region], stores: int,
               progress: bool) -> None:
    """An HQ admin, a supervisor per region, two clerks in each of the first 30 stores and one
    in every other store. One shared hash: Argon2 per user would take minutes at 10,000 stores."""
    existing = set(session.scalars(select(User.username)))
    demo_hash = hash_password(DEMO_PASSWORD)
    if "admin" not in existing:
        session.add(User(username="admin", display_name="HQ 运营 Admin", role="hq_admin",
                         password_hash=hash_password(ADMIN_PASSWORD), locale="zh-CN"))
        report.add("users", 1)
    for index, (code, name) in enumerate(REGIONS):
        username = f"sup_{code.lower()}"
        if username not in existing:
            session.add(User(username=username, display_name=f"{name} 督导", role="supervisor",
                             password_hash=demo_hash, locale="en" if index == 0 else "zh-CN",
                             regions=[regions[code]]))
            report.add("users", 1)
    session.flush()
    store_ids = {code: store_id for code, store_id in session.execute(select(Store.code, Store.id))}
    rows = []
    for number in tqdm(range(1, stores + 1), desc="clerks", unit="store",
                       disable=not progress or stores <= NAMED_STORES):
        code = store_code(number)
        for seat in (1, 2) if number <= NAMED_STORES else (1,):
            username = f"clerk_{code.lower()}_{seat}"
            if username not in existing:
                rows.append({"username": username, "display_name": f"{code} 店员 {seat}",
                             "role": "clerk", "password_hash": demo_hash, "locale": "zh-CN",
                             "store_id": store_ids[code], "active": True, "created_at": utcnow()})
    for start in range(0, len(rows), 5000):
        session.execute(User.__table__.insert(), rows[start:start + 5000])
    report.add("users", len(rows))


def seed_products(session: Session, report: SeedReport) -> None:
    existing = set(session.scalars(select(Product.sku)))
    for spec in _product_specs():
        if spec["sku"] not in existing:
            session.add(Product(**spec))
            report.add("products", 1)


def _campaign_specs(now: dt.datetime, featured: list[str], prices: dict[str, Decimal]) -> list[dict]:
    double11 = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        {"code": "D11-2026", "title": "双11 口红节 Double-11 Lipstick Festival",
         "description": "全国门店双11口红主推：陈列、价签、连带销售。",
         "starts_at": double11 - dt.timedelta(days=3), "ends_at": double11 + dt.timedelta(days=10),
         "featured_skus": featured[:2],
         "promo_prices": {sku: float(prices[sku] * Decimal("0.8")) for sku in featured[:2]},
         "targeting": {"regions": ["EAST", "NORTH", "SOUTH", "WEST", "CENTRAL"], "stores": [],
                       "tags": []},
         "tasks": [
             {"title": "主推端架陈列 End-cap display", "kind": "display_setup",
              "instructions": "按陈列图布置端架，主推色号放在视线高度。",
              "checklist": [{"id": "shelf", "label": "端架按陈列图摆放"},
                            {"id": "tester", "label": "试用装就位并清洁"},
                            {"id": "poster", "label": "活动海报张贴"}],
              "proof": {"photos": 1, "quantity": False, "observed_price": False},
              "due_in_hours": 48, "max_claimants": 1,
              "script_hint": "先请顾客试色，再推荐同系列唇釉叠涂。"},
             {"title": "价签核查 Price-tag check", "kind": "price_check",
              "instructions": "核对主推商品促销价签与系统价格一致。",
              "checklist": [{"id": "tags", "label": "价签已更换"}],
              "proof": {"photos": 0, "quantity": False, "observed_price": True},
              "due_in_hours": 24, "max_claimants": 1, "script_hint": ""},
             {"title": "连带销售冲刺 Attach-sale push", "kind": "product_push",
              "instructions": "每位购买主推口红的顾客推荐一款搭配商品。",
              "checklist": [{"id": "briefing", "label": "班前会讲解话术"}],
              "proof": {"photos": 0, "quantity": True, "observed_price": False},
              "due_in_hours": 240, "max_claimants": 2,
              "script_hint": "口红+唇釉组合立减，顺带介绍卸妆油。"},
         ]},
        {"code": "SPRING-2027", "title": "春季焕新 Spring Skincare Refresh",
         "description": "春季护肤新品上市准备（草稿）。",
         "starts_at": double11 + dt.timedelta(days=100), "ends_at": double11 + dt.timedelta(days=130),
         "featured_skus": featured[2:3], "promo_prices": {},
         "targeting": {"regions": ["EAST"], "stores": [], "tags": ["mall"]},
         "tasks": [{"title": "新品培训 New-line training", "kind": "training",
                    "instructions": "完成新品精华的产品知识培训。",
                    "checklist": [{"id": "quiz", "label": "培训测验通过"}],
                    "proof": {"photos": 0, "quantity": False, "observed_price": False},
                    "due_in_hours": 72, "max_claimants": 2, "script_hint": ""}]},
    ]


def seed_campaigns(session: Session, report: SeedReport, now: dt.datetime) -> None:
    """Two campaigns through the real services; the live one gets some history."""
    admin = session.scalar(select(User).where(User.username == "admin"))
    products = session.scalars(select(Product).order_by(Product.sku)).all()
    lipsticks = [p.sku for p in products if p.category == "lipstick"][:2]
    serum = [p.sku for p in products if p.category == "serum"][:1]
    prices = {p.sku: p.price for p in products}
    for spec in _campaign_specs(now, lipsticks + serum, prices):
        if session.scalar(select(Campaign.id).where(Campaign.code == spec["code"])):
            continue
        campaign = campaigns.create_campaign(session=session, actor=admin, **spec)
        report.add("campaigns", 1)
        if spec["code"] == "D11-2026":
            result = campaigns.publish(session=session, actor=admin, campaign_id=campaign.id)
            report.add("store tasks", result["tasks_created"])
            _seed_history(session, campaign, admin)


def _seed_history(session: Session, campaign: Campaign, admin: User) -> None:
    """Clerks of the first stores claim, work and submit; supervisors approve some."""
    display = campaign.templates[0]
    store_tasks = session.scalars(select(StoreTask).where(StoreTask.template_id == display.id)
                                  .order_by(StoreTask.store_id).limit(12)).all()
    for index, task in enumerate(store_tasks):
        clerk = session.scalar(select(User).where(User.store_id == task.store_id,
                                                  User.role == "clerk").order_by(User.username))
        supervisor = session.scalar(select(User).where(User.role == "supervisor",
                                                       User.regions.contains(task.store.region)))
        tasks.assign(session=session, actor=supervisor, task_id=task.id, username=clerk.username)
        if index % 4 == 3:
            continue
        tasks.start(session=session, actor=clerk, task_id=task.id)
        if index % 4 == 2:
            continue
        photo = tiny_png(task.id)
        sha = hashlib.sha256(photo).hexdigest()
        blobs.put_blob(session=session, actor=clerk, sha256=sha, content_type="image/png",
                       data=photo, max_bytes=5 * 1024 * 1024)
        tasks.submit(session=session, actor=clerk, task_id=task.id,
                     checklist={item: True for item in display.checklist_ids}, photos=[sha],
                     note="端架已完成 Done")
        if index % 4 == 0:
            tasks.review(session=session, actor=supervisor, task_id=task.id, decision="approve",
                         comment="陈列规范 Good display")


def _demo_sales_csv(products: list[Product], store_codes: list[str], now: dt.datetime,
                    transactions: int) -> str:
    """Seeded POS history from a shopper model, not from planted pairs: each receipt is one
    shopping mission (SHOPPING_MISSIONS: a skincare routine, a base make-up, an eye look, lip
    shopping, a gift, a single refill) by a shopper who favours one brand (brand shares skewed,
    loyalty per mission); each step of the mission is bought with its probability, from the
    favoured brand at the mission's loyalty rate, otherwise by the category's own popularity
    (hero product lines sell far more). Cheap tools ride along at the till; some receipts get an
    impulse buy by overall popularity."""
    rng = random.Random(SEED + 2)
    by_category: dict[str, list[Product]] = {}
    for product in products:
        by_category.setdefault(product.category, []).append(product)
    line_rank = {product.sku: index for category in by_category.values()
                 for index, product in enumerate(sorted(category, key=lambda item: item.name))}
    popularity = {product.sku: 1.0 / (1 + line_rank[product.sku] % 9) ** 1.1 for product in products}
    brands = sorted({product.brand for product in products})
    brand_share = [1.0 / (rank + 1) ** 0.8 for rank in range(len(brands))]
    missions = list(SHOPPING_MISSIONS.items())
    mission_weights = [mission["weight"] for _, mission in missions]
    till = sorted(by_category.get("tools", []), key=lambda product: (product.price, product.sku))[:2]
    everything = [popularity[product.sku] for product in products]

    def pick(category: str, brand: str, loyalty: float) -> Product | None:
        shelf = by_category.get(category)
        if not shelf:
            return None
        own = [product for product in shelf if product.brand == brand]
        choice = own if own and rng.random() < loyalty else shelf
        return rng.choices(choice, [popularity[product.sku] for product in choice])[0]

    lines = ["transaction_id,store_code,sku,quantity,sold_at"]
    for number in range(transactions):
        _, mission = rng.choices(missions, mission_weights)[0]
        brand = rng.choices(brands, brand_share)[0]
        basket: set[str] = set()
        for category, chance in mission["steps"]:
            if rng.random() < chance:
                product = pick(category, brand, mission["loyalty"])
                if product:
                    basket.add(product.sku)
        if not basket:  # a mission ends in at least its most likely step
            product = pick(max(mission["steps"], key=lambda step: step[1])[0], brand, mission["loyalty"])
            if product:
                basket.add(product.sku)
        for add_on, share in zip(till, (0.12, 0.06)):
            if rng.random() < share:
                basket.add(add_on.sku)
        if rng.random() < 0.15:
            basket.add(rng.choices(products, everything)[0].sku)
        sold_at = now - dt.timedelta(days=rng.randrange(60), minutes=rng.randrange(600))
        store = store_codes[number % len(store_codes)]
        lines += [f"D{number:06d},{store},{sku},1,{sold_at.isoformat()}" for sku in sorted(basket)]
    return "\n".join(lines) + "\n"


def seed_sales(session: Session, report: SeedReport, now: dt.datetime, transactions: int) -> None:
    """Demo sales lines (idempotent: the same transaction ids every run), then pairings."""
    products = list(session.scalars(select(Product).order_by(Product.sku)))
    store_codes = list(session.scalars(select(Store.code).order_by(Store.code).limit(NAMED_STORES)))
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    result = import_sales(session=session, actor=None,
                          stream=io.StringIO(_demo_sales_csv(products, store_codes, day, transactions)))
    report.add("sales lines", result["imported"])
    if result["imported"]:
        trained = train_pairings(session=session)
        report.add("products with pairings", trained["with_learned_pairings"])


def seed_demo(session: Session, *, stores: int = NAMED_STORES, progress: bool = True,
              now: dt.datetime | None = None) -> SeedReport:
    """The whole demo chain; running it again adds nothing."""
    report = SeedReport()
    now = now or dt.datetime.now(dt.timezone.utc)
    regions = seed_regions(session, report)
    seed_stores(session, report, regions, stores, progress)
    seed_users(session, report, regions, stores, progress)
    seed_products(session, report)
    session.commit()
    seed_campaigns(session, report, now)
    seed_sales(session, report, now, transactions=DEMO_RECEIPTS)
    report.logins = [("admin", ADMIN_PASSWORD, "hq_admin"),
                     ("sup_east", DEMO_PASSWORD, "supervisor of EAST"),
                     ("clerk_s001_1", DEMO_PASSWORD, "clerk of S001 (EAST)"),
                     ("clerk_s002_1", DEMO_PASSWORD, "clerk of S002 (NORTH)")]
    return report
