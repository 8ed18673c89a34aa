"""Reading every sales line as a basket matrix in bulk: columns, not ORM rows.

A receipt is (store, transaction id). PostgreSQL streams three integer columns with a binary
``COPY … TO STDOUT`` — the store, a 64-bit hash of the transaction id (``hashtextextended``;
two ids of one store colliding is a 1-in-10¹³ event at a million receipts) and the product —
that NumPy reads in place. SQLite walks the unique index (store, transaction, product) in order,
so a new receipt starts wherever the key changes.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sqlalchemy.orm import Session

from recommend.pairings import basket_matrix

# One tuple of the binary COPY: field count (int16), then (length int32, value) per field.
_COPY_ROW = np.dtype([("fields", ">i2"), ("store_len", ">i4"), ("store", ">i4"),
                      ("hash_len", ">i4"), ("hash", ">i8"), ("product_len", ">i4"), ("product", ">i4")])
_COPY_HEADER = 19  # signature (11), flags (4), header extension length (4)


def load_baskets(session: Session, product_ids: np.ndarray) -> sparse.csr_matrix:
    """Transactions × products (columns in the order of ``product_ids``) of every sales line."""
    if session.bind.dialect.name == "postgresql":
        receipt, product = _columns_postgresql(session)
    else:
        receipt, product = _columns_sqlite(session)
    column = np.full(int(product_ids.max()) + 1 if product_ids.size else 1, -1, dtype=np.int64)
    column[product_ids] = np.arange(product_ids.size)
    items = column[product] if product.size else product
    return basket_matrix(receipt, items, product_ids.size,
                         n_transactions=int(receipt.max()) + 1 if receipt.size else 0)


def _columns_postgresql(session: Session) -> tuple[np.ndarray, np.ndarray]:
    raw = session.connection().connection.driver_connection
    buffer = bytearray()
    with raw.cursor() as cursor:
        with cursor.copy("COPY (SELECT store_id, hashtextextended(transaction_id, 0), product_id "
                         "FROM sales_lines) TO STDOUT (FORMAT binary)") as copy:
            for chunk in copy:
                buffer += chunk
    body = memoryview(buffer)[_COPY_HEADER:len(buffer) - 2]  # the trailer is int16 -1
    rows = np.frombuffer(body, dtype=_COPY_ROW)
    keys = np.empty(rows.size, dtype=[("store", "<i8"), ("hash", "<i8")])
    keys["store"], keys["hash"] = rows["store"], rows["hash"]
    _, receipt = np.unique(keys, return_inverse=True)
    return receipt.astype(np.int64), rows["product"].astype(np.int64)


def _columns_sqlite(session: Session) -> tuple[np.ndarray, np.ndarray]:
    raw = session.connection().connection.driver_connection
    cursor = raw.execute("SELECT store_id, transaction_id, product_id FROM sales_lines "
                         "ORDER BY store_id, transaction_id")
    receipts, products = [], []
    previous, number = None, -1
    while batch := cursor.fetchmany(100_000):
        for store_id, transaction_id, product_id in batch:
            key = (store_id, transaction_id)
            if key != previous:
                previous, number = key, number + 1
            receipts.append(number)
            products.append(product_id)
    return np.array(receipts, dtype=np.int64), np.array(products, dtype=np.int64)
