"""Streaming, idempotent import of POS sales lines with per-line errors."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from typing import Callable, Iterable, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import db
from backend.catalog.models import Product
from backend.db import insert_skipping_conflicts
from backend.errors import ValidationFailed
from backend.org.models import Store, User
from backend.sales.models import SalesLine

COLUMNS = ("transaction_id", "store_code", "sku", "quantity", "sold_at")
BATCH = 5000
MAX_REPORTED_ERRORS = 100


def _parse_line(row: dict, stores: dict[str, int], products: dict[str, int],
                unknown: Counter) -> tuple[dict | None, str | None]:
    """A row ready to insert, or the reason it is rejected."""
    transaction_id = (row.get("transaction_id") or "").strip()
    if not transaction_id or len(transaction_id) > 64:
        return None, "transaction_id: 1-64 characters required."
    store_id = stores.get((row.get("store_code") or "").strip())
    if store_id is None:
        unknown[f"store:{(row.get('store_code') or '').strip()}"] += 1
        return None, "store_code: unknown store."
    product_id = products.get((row.get("sku") or "").strip())
    if product_id is None:
        unknown[f"sku:{(row.get('sku') or '').strip()}"] += 1
        return None, "sku: unknown product."
    try:
        quantity = int(row.get("quantity") or "")
        if not 1 <= quantity <= 10_000:
            raise ValueError
    except ValueError:
        return None, "quantity: a whole number from 1 to 10000."
    try:
        sold_at = dt.datetime.fromisoformat((row.get("sold_at") or "").strip())
        if sold_at.tzinfo is None or not 2000 <= sold_at.astimezone(dt.timezone.utc).year <= 2200:
            raise ValueError
    except (ValueError, OverflowError):
        return None, "sold_at: an ISO time with its timezone (e.g. 2026-11-11T10:05:00+08:00)."
    return {"transaction_id": transaction_id, "store_id": store_id, "product_id": product_id,
            "quantity": quantity, "sold_at": sold_at}, None


def import_sales(*, session: Session, actor: User | None, stream: TextIO,
                 progress: Callable[[int], None] | None = None) -> dict:
    """Import a CSV stream batch by batch (never the whole file in memory).

    Good lines are imported even when others are rejected; every rejected line is counted
    and the first ones are named with their line number. Lines already imported (same
    transaction and SKU) are skipped, so importing a file twice adds nothing.
    """
    reader = csv.DictReader(stream)
    missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise ValidationFailed(f"Missing column(s): {', '.join(missing)}.", error="invalid_csv",
                               errors={"header": [f"Expected {', '.join(COLUMNS)}."]})
    stores = {code: store_id for code, store_id in session.execute(select(Store.code, Store.id))}
    products = {sku: product_id for sku, product_id in session.execute(select(Product.sku, Product.id))}
    unknown: Counter = Counter()
    errors: dict[str, list[str]] = {}
    counts = Counter()
    batch: list[dict] = []
    try:
        for row in reader:
            counts["lines"] += 1
            parsed, problem = _parse_line(row, stores, products, unknown)
            if problem:
                counts["rejected"] += 1
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors[f"line {reader.line_num}"] = [problem]
            else:
                batch.append(parsed)
            if len(batch) >= BATCH:
                counts["imported"] += _insert(session, batch)
                batch = []
                if progress:
                    progress(counts["lines"])
    except csv.Error as exc:
        session.rollback()
        raise ValidationFailed(f"Unreadable CSV near line {reader.line_num}: {exc}.",
                               error="invalid_csv", errors={f"line {reader.line_num}": [str(exc)]})
    counts["imported"] += _insert(session, batch)
    db.commit(session)
    return {"lines": counts["lines"], "imported": counts["imported"],
            "duplicates": counts["lines"] - counts["rejected"] - counts["imported"],
            "rejected": counts["rejected"],
            "unknown_stores": {key[6:]: n for key, n in unknown.items() if key.startswith("store:")},
            "unknown_skus": {key[4:]: n for key, n in unknown.items() if key.startswith("sku:")},
            "errors": errors}


def _insert(session: Session, rows: Iterable[dict]) -> int:
    """Insert, skipping (transaction, product) pairs already present; the number inserted."""
    rows = list({(row["transaction_id"], row["product_id"]): row for row in rows}.values())
    if not rows:
        return 0
    statement = insert_skipping_conflicts(session, SalesLine.__table__,
                                          ["transaction_id", "product_id"]).returning(SalesLine.id)
    return len(session.execute(statement, rows).all())
