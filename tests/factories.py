"""Row factories and an auth helper for tests (real rows in the real database, no mocks)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

from flask import Flask
from sqlalchemy import func, select

from backend import db
from backend.auth.passwords import hash_password
from backend.auth.tokens import issue_access_token
from backend.campaigns import service as campaigns
from backend.catalog.models import Product
from backend.db import Base, utcnow
from backend.org.models import Region, Store, User

PASSWORD = "password-123"
PASSWORD_HASH = hash_password(PASSWORD)  # hashed once: Argon2 per test user would be slow


class Factory:
    """Builds rows through the ORM and the services, committing each."""

    def __init__(self, app: Flask):
        self.app = app
        self.session = db.new_session()

    def close(self) -> None:
        self.session.close()

    def _save(self, row):
        self.session.add(row)
        self.session.commit()
        return row

    def region(self, code: str = "EAST", name: str | None = None) -> Region:
        return self._save(Region(code=code, name=name or code.title()))

    def store(self, code: str, region: Region, tags: tuple[str, ...] = (),
              timezone: str = "Asia/Shanghai") -> Store:
        store = Store(code=code, name=f"Store {code}", region=region, timezone=timezone)
        store.set_tags(list(tags))
        return self._save(store)

    def user(self, username: str, role: str = "clerk", store: Store | None = None,
             regions: list[Region] | None = None, active: bool = True) -> User:
        return self._save(User(username=username, display_name=username.title(), role=role,
                               password_hash=PASSWORD_HASH, store=store, regions=regions or [],
                               active=active, locale="zh-CN"))

    def product(self, sku: str, category: str = "lipstick", price: str = "199.00") -> Product:
        return self._save(Product(sku=sku, name=f"Product {sku}", category=category, brand="Acme",
                                  price=Decimal(price), attributes={}))

    def campaign(self, admin: User, code: str = "C1", *, tasks: list[dict] | None = None,
                 targeting: dict | None = None, featured_skus: list[str] | None = None,
                 promo_prices: dict | None = None, publish: bool = True):
        now = utcnow()
        template_defaults = {"instructions": "Do it well.", "kind": "display_setup",
                             "checklist": [{"id": "shelf", "label": "Shelf set"}],
                             "proof": {"photos": 0, "quantity": False, "observed_price": False},
                             "max_claimants": 1, "script_hint": ""}
        tasks = tasks or [{"title": "Display"}]
        campaign = campaigns.create_campaign(
            session=self.session, actor=admin, code=code, title=f"Campaign {code}",
            description="", starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=10),
            featured_skus=featured_skus or [], promo_prices=promo_prices or {},
            targeting=targeting or {"regions": ["EAST", "NORTH"], "stores": [], "tags": []},
            tasks=[{**template_defaults, **task} for task in tasks])
        if publish:
            campaigns.publish(session=self.session, actor=admin, campaign_id=campaign.id)
        return campaign

    def headers(self, user: User) -> dict:
        """A valid bearer token of the user as the database knows them now (session epoch)."""
        self.session.refresh(user)
        token = issue_access_token(user_id=user.id, role=user.role,
                                   secret=self.app.config["SECRET_KEY"], ttl_seconds=900,
                                   now=utcnow(), epoch=user.session_epoch)
        self.session.commit()
        return {"Authorization": f"Bearer {token}"}

    def scalar(self, statement):
        """Read one value and end the transaction: SQLite takes its write lock at BEGIN.

        commit, not rollback: a rollback would expire loaded rows and the next attribute
        access would silently open a new transaction.
        """
        try:
            return self.session.scalar(statement)
        finally:
            self.session.commit()

    def count(self, model, *where) -> int:
        """Rows of a table or model (matching the conditions), read in a fresh transaction."""
        self.session.commit()
        return self.scalar(select(func.count()).select_from(model).where(*where))

    def row_counts(self) -> dict[str, int]:
        """Rows per table: equal before and after a refused request proves it wrote nothing."""
        return {table.name: self.count(table) for table in Base.metadata.sorted_tables}

    def world(self) -> SimpleNamespace:
        """Two regions, three stores, a user of every kind, products, a published campaign."""
        east, north = self.region("EAST"), self.region("NORTH")
        s1 = self.store("S001", east, ("mall",))
        s2 = self.store("S002", north, ("mall", "flagship"))
        s3 = self.store("S003", east, ("street",))
        admin = self.user("admin", "hq_admin")
        w = SimpleNamespace(east=east, north=north, s1=s1, s2=s2, s3=s3, admin=admin,
                            sup_east=self.user("sup_east", "supervisor", regions=[east]),
                            sup_north=self.user("sup_north", "supervisor", regions=[north]),
                            clerk1=self.user("clerk1", store=s1), clerk1b=self.user("clerk1b", store=s1),
                            clerk2=self.user("clerk2", store=s2), clerk3=self.user("clerk3", store=s3),
                            lip=self.product("LIP-01"), gloss=self.product("LIP-02", price="129.00"))
        w.campaign = self.campaign(
            admin, "D11", featured_skus=["LIP-01"], promo_prices={"LIP-01": 159.0},
            tasks=[{"title": "Display", "checklist": [{"id": "shelf", "label": "Shelf"},
                                                      {"id": "poster", "label": "Poster"}],
                    "proof": {"photos": 1, "quantity": False, "observed_price": False}},
                   {"title": "Price check", "kind": "price_check", "checklist": [],
                    "proof": {"photos": 0, "quantity": True, "observed_price": True},
                    "max_claimants": 2}])
        w.h = {name: self.headers(getattr(w, name)) for name in
               ("admin", "sup_east", "sup_north", "clerk1", "clerk1b", "clerk2", "clerk3")}
        return w

    def task_id(self, campaign_id: int, store: Store, title: str = "Display") -> int:
        from backend.campaigns.models import TaskTemplate
        from backend.tasks.models import StoreTask
        return self.scalar(
            select(StoreTask.id).join(TaskTemplate, StoreTask.template_id == TaskTemplate.id)
            .where(StoreTask.campaign_id == campaign_id, StoreTask.store_id == store.id,
                   TaskTemplate.title == title))
