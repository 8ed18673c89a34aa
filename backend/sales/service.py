"""Streaming, idempotent import of POS sales lines with per-line errors."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from typing import Callable, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import db
from backend.catalog.models import Product
from backend.errors import ValidationFailed
from backend.org.models import Store, User

COLUMNS = ("transaction_id", "store_code", "sku", "quantity", "sold_at")
BATCH = 20_000
MAX_REPORTED_ERRORS = 100


class _Times:
    """sold_at texts parsed once each (a receipt's lines share one): (aware time, the text each
    database's bulk path writes), or None when invalid."""

    def __init__(self):
        self.known: dict[str, tuple | None] = {}

    def parse(self, text: str) -> tuple | None:
        if text in self.known:
            return self.known[text]
        if len(self.known) > 100_000:
            self.known.clear()
        try:
            when = dt.datetime.fromisoformat(text.strip())
            if when.tzinfo is None or not 2000 <= when.astimezone(dt.timezone.utc).year <= 2200:
                raise ValueError
            utc = when.astimezone(dt.timezone.utc)
            parsed = (when, utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M:%S.%f"))
        except (ValueError, OverflowError):
            parsed = None
        self.known[text] = parsed
        return parsed


def _parse_line(row: list[str], position: dict[str, int], stores: dict[str, int],
                products: dict[str, int], times: _Times,
                unknown: Counter) -> tuple[tuple | None, str | None]:
    """(transaction id, store id, product id, quantity, parsed time) ready to insert, or the
    reason the line is rejected."""
    transaction_id, store_code, sku, quantity_text, sold_at = (
        row[position[column]].strip() for column in COLUMNS)
    if not transaction_id or len(transaction_id) > 64 or not transaction_id.isprintable():
        return None, "transaction_id: 1-64 printable characters required."
    store_id = stores.get(store_code)
    if store_id is None:
        unknown[f"store:{store_code}"] += 1
        return None, "store_code: unknown store."
    product_id = products.get(sku)
    if product_id is None:
        unknown[f"sku:{sku}"] += 1
        return None, "sku: unknown product."
    try:
        quantity = int(quantity_text)
        if not 1 <= quantity <= 10_000:
            raise ValueError
    except ValueError:
        return None, "quantity: a whole number from 1 to 10000."
    when = times.parse(sold_at)
    if when is None:
        return None, "sold_at: an ISO time with its timezone (e.g. 2026-11-11T10:05:00+08:00)."
    return (transaction_id, store_id, product_id, quantity, when), None


def import_sales(*, session: Session, actor: User | None, stream: TextIO,
                 progress: Callable[[int], None] | None = None) -> dict:
    """Import a CSV stream batch by batch (never the whole file in memory), in one transaction.

    Good lines are imported even when others are rejected; every rejected line is counted
    and the first ones are named with their line number. A receipt is (store, transaction id):
    lines already imported (same store, transaction and SKU) are skipped, so importing a file
    twice adds nothing, and two stores' receipts with the same id stay apart. A file that is not
    UTF-8 text is refused whole (422 invalid_encoding), as unreadable CSV is (invalid_csv).
    """
    reader = csv.reader(stream)
    try:
        fieldnames = [name.strip() for name in next(reader, [])]
    except UnicodeDecodeError:
        raise _not_utf8(1)
    except csv.Error as exc:
        raise ValidationFailed(f"Unreadable CSV header: {exc}.", error="invalid_csv",
                               errors={"header": [str(exc)]})
    missing = [column for column in COLUMNS if column not in fieldnames]
    if missing:
        raise ValidationFailed(f"Missing column(s): {', '.join(missing)}.", error="invalid_csv",
                               errors={"header": [f"Expected {', '.join(COLUMNS)}."]})
    stores = {code: store_id for code, store_id in session.execute(select(Store.code, Store.id))}
    products = {sku: product_id for sku, product_id in session.execute(select(Product.sku, Product.id))}
    position = {column: fieldnames.index(column) for column in COLUMNS}
    width = len(fieldnames)
    times = _Times()
    unknown: Counter = Counter()
    errors: dict[str, list[str]] = {}
    counts = Counter()
    writer = _BulkWriter(session)
    batch: list[tuple] = []
    try:
        for row in reader:
            if not row:
                continue  # a blank line is no line (as csv.DictReader had it)
            counts["lines"] += 1
            if len(row) < width:
                row += [""] * (width - len(row))
            parsed, problem = _parse_line(row, position, stores, products, times, unknown)
            if problem:
                counts["rejected"] += 1
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors[f"line {reader.line_num}"] = [problem]
            else:
                batch.append(parsed)
            if len(batch) >= BATCH:
                writer.write(batch)
                batch = []
                if progress:
                    progress(counts["lines"])
        writer.write(batch)
        counts["imported"] = writer.finish()
    except csv.Error as exc:
        session.rollback()
        raise ValidationFailed(f"Unreadable CSV near line {reader.line_num}: {exc}.",
                               error="invalid_csv", errors={f"line {reader.line_num}": [str(exc)]})
    except UnicodeDecodeError:
        session.rollback()
        raise _not_utf8(reader.line_num + 1)
    db.commit(session)
    return {"lines": counts["lines"], "imported": counts["imported"],
            "duplicates": counts["lines"] - counts["rejected"] - counts["imported"],
            "rejected": counts["rejected"],
            "unknown_stores": {key[6:]: n for key, n in unknown.items() if key.startswith("store:")},
            "unknown_skus": {key[4:]: n for key, n in unknown.items() if key.startswith("sku:")},
            "errors": errors}


def _not_utf8(line: int) -> ValidationFailed:
    return ValidationFailed(f"The file is not UTF-8 text (near line {line}); nothing was imported. "
                            "Save it as UTF-8 (CSV UTF-8) and send it again.",
                            error="invalid_encoding", errors={"file": ["Not UTF-8."]})


_COLUMNS_SQL = "transaction_id, store_id, product_id, quantity, sold_at"


def _copy_escaped(value: str) -> str:
    """A value in COPY's text format: backslash, tab and line breaks escaped."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return value


class _BulkWriter:
    """Writes parsed lines in bulk, skipping (store, transaction, product) already present.

    PostgreSQL: ``COPY`` into a temporary staging table, then one ``INSERT … SELECT … ON
    CONFLICT DO NOTHING``. SQLite: the driver's ``executemany`` of ``INSERT … ON CONFLICT DO
    NOTHING``, batch by batch. Both inside the caller's transaction."""

    def __init__(self, session: Session):
        self.postgresql = session.bind.dialect.name == "postgresql"
        self.connection = session.connection().connection.driver_connection
        self.inserted = 0
        if self.postgresql:
            with self.connection.cursor() as cursor:
                cursor.execute("CREATE TEMPORARY TABLE sales_import_staging (transaction_id text, "
                               "store_id integer, product_id integer, quantity integer, "
                               "sold_at timestamptz) ON COMMIT DROP")

    def write(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.postgresql:
            text = "".join(f"{_copy_escaped(t)}\t{s}\t{p}\t{q}\t{when[1]}\n" for t, s, p, q, when in rows)
            with self.connection.cursor() as cursor, cursor.copy(
                    f"COPY sales_import_staging ({_COLUMNS_SQL}) FROM STDIN") as copy:
                copy.write(text)
            return
        # The text SQLAlchemy's SQLite DateTime writes (UTC, no offset), so reads round-trip.
        cursor = self.connection.executemany(
            f"INSERT INTO sales_lines ({_COLUMNS_SQL}) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (store_id, transaction_id, product_id) DO NOTHING",
            [(t, s, p, q, when[2]) for t, s, p, q, when in rows])
        self.inserted += cursor.rowcount

    def finish(self) -> int:
        """The number of lines inserted."""
        if self.postgresql:
            with self.connection.cursor() as cursor:
                # DO NOTHING also skips a line repeated within the file (the first one stays).
                cursor.execute(
                    f"INSERT INTO sales_lines ({_COLUMNS_SQL}) SELECT {_COLUMNS_SQL} "
                    "FROM sales_import_staging "
                    "ON CONFLICT (store_id, transaction_id, product_id) DO NOTHING")
                self.inserted = cursor.rowcount
        return self.inserted
