"""Products of the chain's catalog."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, Float, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, utcnow


class Product(Base):
    """A sellable item identified by its SKU."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), index=True)
    brand: Mapped[str] = mapped_column(String(100), default="")
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ProductPairing(Base):
    """The rank-th partner of a product, written by recommend's training: learned from baskets,
    or from its category's. Catalog data, so analytics can read it without importing recommend."""

    __tablename__ = "product_pairings"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            primary_key=True)
    rank: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    paired_product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    support: Mapped[int] = mapped_column()
    source: Mapped[str] = mapped_column(String(20))
    trained_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
