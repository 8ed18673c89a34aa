"""Stored top-k pairings per product, rewritten by each training run."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, utcnow


class ProductPairing(Base):
    """The rank-th partner of a product: learned from baskets, or from its category's."""

    __tablename__ = "product_pairings"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            primary_key=True)
    rank: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    paired_product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    support: Mapped[int] = mapped_column()
    source: Mapped[str] = mapped_column(String(20))
    trained_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
