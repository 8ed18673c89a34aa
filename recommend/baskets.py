"""Reading every sales line as a basket matrix in bulk: columns, not ORM rows.

A receipt is (store, transaction id). PostgreSQL packs three integer columns of every line into
one ``bytea`` value — the store, a 64-bit hash of the transaction id (``hashtextextended``; two
ids of one store colliding is a 1-in-10¹³ event at a million receipts) and the product — that
NumPy reads in place. SQLite walks the unique index (store, transaction, product) in order,
so a new receipt starts wherever the key changes.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sqlalchemy.orm import Session

from recommend.pairings import basket_matrix

# One receipt line as PostgreSQL packs it: store (int4), transaction hash (int8), product (int4).
_PACKED_LINE = np.dtype([("store", ">i4"), ("hash", ">i8"), ("product", ">i4")])
_MIX = np.uint64(0x9E3779B97F4A7C15)


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
    # One value: every line packed into 16 bytes, so no per-row work in Python or the driver.
    packed = session.connection().exec_driver_sql(
        "SELECT string_agg(int4send(store_id) || int8send(hashtextextended(transaction_id, 0)) "
        "|| int4send(product_id), ''::bytea) FROM sales_lines").scalar()
    rows = np.frombuffer(packed or b"", dtype=_PACKED_LINE)
    # One 64-bit key per receipt: the hash mixed with the store (an odd multiplier spreads it).
    keys = rows["hash"].astype(np.uint64) ^ (rows["store"].astype(np.uint64) * _MIX)
    _, receipt = np.unique(keys, return_inverse=True)
    return receipt.astype(np.int64).ravel(), rows["product"].astype(np.int64)


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
