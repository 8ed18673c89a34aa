"""Products: create, read, update, and all-or-nothing CSV import."""

from __future__ import annotations

import csv
import io
import json

import marshmallow as ma
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from backend import db
from backend.catalog.models import Product
from backend.catalog.schemas import ProductCreateSchema
from backend.common.paging import Page, paginate
from backend.common.schemas import line_problems
from backend.db import utcnow
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.org.models import User

IMPORT_COLUMNS = ("sku", "name", "category", "brand", "price")
IMPORT_BATCH = 5000


def product_by_sku(session: Session, sku: str) -> Product:
    """The product with this SKU or 404."""
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise NotFound(f"No product '{sku}'.")
    return product


def list_products(*, session: Session, actor: User, page: int, page_size: int,
                  category: str | None = None, brand: str | None = None,
                  q: str | None = None) -> Page:
    """The catalog, filtered by category, brand or a name/SKU fragment."""
    statement = select(Product).order_by(Product.sku)
    if category:
        statement = statement.where(Product.category == category)
    if brand:
        statement = statement.where(Product.brand == brand)
    if q:
        pattern = f"%{q}%"
        statement = statement.where(Product.name.ilike(pattern) | Product.sku.ilike(pattern))
    return paginate(session, statement, page=page, page_size=page_size)


def get_product(*, session: Session, actor: User, sku: str) -> Product:
    """One product."""
    return product_by_sku(session, sku)


def product_names(*, session: Session, actor: User, skus) -> dict[str, str]:
    """{sku: name} of the products with these SKUs."""
    skus = sorted({sku for sku in skus if sku})
    if not skus:
        return {}
    return dict(session.execute(select(Product.sku, Product.name)
                                .where(Product.sku.in_(skus))).all())


def create_product(*, session: Session, actor: User, **fields) -> Product:
    """Add a product (HQ)."""
    if session.scalar(select(Product.id).where(Product.sku == fields["sku"])):
        raise Conflict(f"Product '{fields['sku']}' already exists.", error="already_exists")
    product = Product(**fields)
    session.add(product)
    db.commit(session)
    return product


def update_product(*, session: Session, actor: User, sku: str, changes: dict) -> Product:
    """Change a product's facts (HQ)."""
    product = product_by_sku(session, sku)
    for key, value in changes.items():
        setattr(product, key, value)
    db.commit(session)
    return product


def _parse_import(text: str) -> tuple[list[dict], dict]:
    """Rows validated by the product schema, and errors keyed 'line N'."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in IMPORT_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        return [], {"header": [f"Missing column(s): {', '.join(missing)}."]}
    schema = ProductCreateSchema()
    rows, errors, seen = [], {}, {}
    for row in reader:
        line = reader.line_num
        raw = {key: (value or "").strip() for key, value in row.items() if key in IMPORT_COLUMNS}
        try:
            if row.get("attributes"):
                raw["attributes"] = json.loads(row["attributes"])
            loaded = schema.load(raw)
        except ma.ValidationError as exc:
            errors[f"line {line}"] = line_problems(exc)
            continue
        except (json.JSONDecodeError, RecursionError):
            errors[f"line {line}"] = ["attributes: not valid JSON."]
            continue
        if loaded["sku"] in seen:
            errors[f"line {line}"] = [f"sku: duplicate of line {seen[loaded['sku']]}."]
            continue
        seen[loaded["sku"]] = line
        rows.append(loaded)
    return rows, errors


def import_products(*, session: Session, actor: User, text: str) -> dict:
    """Create or update products from CSV; any bad line rejects the whole file."""
    try:
        rows, errors = _parse_import(text)
    except csv.Error as exc:  # e.g. a field over the csv module's limit, a stray carriage return
        raise ValidationFailed(f"The file is not readable CSV: {exc}.", error="invalid_csv",
                               errors={"file": [str(exc)]})
    if errors:
        raise ValidationFailed(f"{len(errors)} line(s) of the CSV are invalid; nothing was imported.",
                               error="invalid_csv", errors=errors)
    existing = dict(session.execute(select(Product.sku, Product.id)).all())
    now = utcnow()
    new_rows = [{"attributes": {}, **row, "created_at": now, "updated_at": now}
                for row in rows if row["sku"] not in existing]
    changed = [{**row, "id": existing[row["sku"]], "updated_at": now}
               for row in rows if row["sku"] in existing]
    # Batches keep every statement under PostgreSQL's 65,535 bound parameters per statement.
    for start in range(0, len(new_rows), IMPORT_BATCH):
        session.execute(insert(Product), new_rows[start:start + IMPORT_BATCH])
    for start in range(0, len(changed), IMPORT_BATCH):
        session.execute(update(Product), changed[start:start + IMPORT_BATCH])  # by primary key
    created = len(new_rows)
    db.commit(session)
    return {"imported": len(rows), "created": created, "updated": len(rows) - created}
