"""One line of a POS transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, BigId, UTCDateTime, utcnow


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


IMPORT_STATES = ("queued", "running", "done", "failed")


class SalesImport(Base):
    """A POS file uploaded in the console, imported by the worker: its progress, then its report.

    The file waits in ``data`` until the import ends (then it is dropped); a worker holds the
    import for ``lease_until`` and moves the lease on as it goes, so a crashed worker's import is
    taken up again (importing twice adds nothing)."""

    __tablename__ = "sales_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    total_lines: Mapped[int] = mapped_column(default=0)
    lines_done: Mapped[int] = mapped_column(default=0)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    report: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[dict | None] = mapped_column(JSON)
    worker_id: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
