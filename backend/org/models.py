"""Regions, stores (with tags), and users bound to a store or to regions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Float, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow

ROLES = ("hq_admin", "supervisor", "clerk")
LOCALES = ("zh-CN", "en")

supervisor_regions = Table(
    "supervisor_regions",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("region_id", ForeignKey("regions.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)


class Region(Base):
    """A sales region, the scope of a supervisor."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Store(Base):
    """A shop of the chain; store tasks are made for it at publish."""

    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    region: Mapped[Region] = relationship(lazy="joined", innerjoin=True)
    tag_rows: Mapped[list[StoreTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="StoreTag.tag")

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]

    def set_tags(self, tags: list[str]) -> None:
        """Replace the tags, keeping rows that stay."""
        wanted = sorted(set(tags))
        self.tag_rows = [row for row in self.tag_rows if row.tag in wanted] + [
            StoreTag(tag=tag) for tag in wanted if tag not in self.tags]


class StoreTag(Base):
    """A tag of a store (mall, flagship, ...): one row each, so targeting filters by index."""

    __tablename__ = "store_tags"
    __table_args__ = (Index("ix_store_tags_tag", "tag", "store_id"),)

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"),
                                          primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)


class User(Base):
    """A person who signs in: HQ admin, regional supervisor or store clerk."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("username"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(10), default="zh-CN")
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Moved on by a password change, a deactivation or a sign-out: every access token, refresh
    # token and console session issued before it stops working.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    store: Mapped[Store | None] = relationship(lazy="joined")
    regions: Mapped[list[Region]] = relationship(secondary=supervisor_regions, lazy="selectin",
                                                 order_by=Region.code)

    @property
    def region_ids(self) -> set[int]:
        return {region.id for region in self.regions}
