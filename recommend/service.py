"""Training, storing, serving and evaluating product pairings."""

from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.catalog.models import Product, ProductPairing
from backend.catalog.service import product_by_sku
from backend.db import utcnow
from backend.org.models import User
from backend.sales.models import SalesLine
from recommend import pairings

STORED_K = 10


def _load_baskets(session: Session, products: list[Product], keep: Callable[[str], bool] | None = None):
    """(basket matrix, item index → product) from every sales line, optionally some transactions."""
    position = {product.id: index for index, product in enumerate(products)}
    transactions, items = [], []
    for transaction_id, product_id in session.execute(
            select(SalesLine.transaction_id, SalesLine.product_id).execution_options(yield_per=50_000)):
        if keep is None or keep(transaction_id):
            transactions.append(transaction_id)
            items.append(position[product_id])
    if not transactions:
        return pairings.basket_matrix(np.array([], dtype=int), np.array([], dtype=int), len(products))
    _, transaction_index = np.unique(np.array(transactions, dtype=object), return_inverse=True)
    return pairings.basket_matrix(transaction_index, np.array(items), len(products))


def _category_partners(model: pairings.Model, products: list[Product], k: int) -> dict[str, list]:
    """Per category: what its products are bought with, for products with no data of their own."""
    members: dict[str, list[int]] = {}
    for index, product in enumerate(products):
        members.setdefault(product.category, []).append(index)
    partners = {}
    for category, items in members.items():
        combined = np.asarray(model.scores[items].sum(axis=0)).ravel()
        combined[items] = 0
        best = [int(i) for i in np.argsort(-combined, kind="stable")[:k] if combined[i] > 0]
        partners[category] = [(i, float(combined[i]), 0) for i in best]
    return partners


def train_pairings(*, session: Session, progress: Callable[[str], None] | None = None) -> dict:
    """Learn pairings from all sales lines and replace the stored top-k of every product."""
    say = progress or (lambda _step: None)
    products = list(session.scalars(select(Product).order_by(Product.id)))
    say("load")
    baskets = _load_baskets(session, products)
    say("train")
    model = pairings.train(baskets)
    say("store")
    now = utcnow()
    by_category = _category_partners(model, products, STORED_K)
    rows, fallback = [], 0
    for item, product in enumerate(products):
        partners = pairings.top_k(model, item, STORED_K)
        source = "learned"
        if not partners:
            partners, source = by_category[product.category], "category"
            fallback += bool(partners)
        rows.extend({"product_id": product.id, "rank": rank, "paired_product_id": products[other].id,
                     "score": round(score, 6), "support": support, "source": source, "trained_at": now}
                    for rank, (other, score, support) in enumerate(partners, start=1))
    session.execute(delete(ProductPairing))
    if rows:
        session.execute(ProductPairing.__table__.insert(), rows)
    session.commit()
    learned = len({row["product_id"] for row in rows if row["source"] == "learned"})
    return {"transactions": baskets.shape[0], "products": len(products),
            "with_learned_pairings": learned, "with_category_fallback": fallback}


def pairings_for(*, session: Session, actor: User, sku: str, k: int) -> dict:
    """The stored pairings of a product, best first."""
    product = product_by_sku(session, sku)
    rows = session.execute(select(ProductPairing, Product)
                           .join(Product, ProductPairing.paired_product_id == Product.id)
                           .where(ProductPairing.product_id == product.id)
                           .order_by(ProductPairing.rank).limit(k)).all()
    return {"sku": product.sku, "pairings": [
        {"sku": paired.sku, "name": paired.name, "score": pairing.score, "support": pairing.support,
         "source": pairing.source} for pairing, paired in rows]}


def _in_holdout(transaction_id: str, holdout: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{transaction_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < holdout


def evaluate(*, session: Session, holdout: float = 0.2, k: int = 5, seed: int = 7) -> dict:
    """Train on most transactions, hide one item of each held-out basket: hit-rate@k and
    precision@k for the model and for the popularity baseline, on the same split."""
    products = list(session.scalars(select(Product).order_by(Product.id)))
    train_baskets = _load_baskets(session, products, lambda t: not _in_holdout(t, holdout, seed))
    test_baskets = _load_baskets(session, products, lambda t: _in_holdout(t, holdout, seed))
    model = pairings.train(train_baskets)
    ours = pairings.leave_one_out(test_baskets, lambda b, n: pairings.recommend(model, b, n),
                                  k=k, seed=seed)
    popularity = pairings.leave_one_out(test_baskets, lambda b, n: pairings.popular(model.support, b, n),
                                        k=k, seed=seed)
    return {"k": k, "holdout": holdout, "seed": seed, "train_transactions": train_baskets.shape[0],
            "model": ours, "popularity": popularity}
