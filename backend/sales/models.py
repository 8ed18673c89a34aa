"""One line of a POS transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, BigId, UTCDateTime


class SalesLine(Base):
    """A product sold in a receipt; a receipt is (store, transaction id), and (store, transaction,
    product) is unique, so re-imports add nothing and two stores' receipts never merge."""

    __tablename__ = "sales_lines"
    __table_args__ = (
        UniqueConstraint("store_id", "transaction_id", "product_id",
                         name="uq_sales_lines_store_transaction_product"),
        Index("ix_sales_lines_store_sold", "store_id", "sold_at"),
        Index("ix_sales_lines_product_sold", "product_id", "sold_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[str] = mapped_column(String(64))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column()
    sold_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
