"""Training, storing, serving and evaluating product pairings (scripts: recommend/library.py)."""

from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend import db
from backend.catalog.models import Product, ProductPairing
from backend.catalog.service import product_by_sku
from backend.db import utcnow
from backend.errors import NotFound, ValidationFailed
from backend.org.models import User
from backend.sales.models import SalesLine
from recommend import library, pairings
from recommend.announce import announce_products
from recommend.llm import ScriptGenerator
from recommend.models import PairingRule
from recommend.partners import top_pairings

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


def train_pairings(*, session: Session, progress: Callable[[str], None] | None = None,
                   generator: ScriptGenerator | None = None) -> dict:
    """Learn pairings from all sales lines, replace the stored top-k of every product, then
    generate scripts for products without (the templates unless an LLM generator is given)."""
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
    announce_products(session, None)
    db.commit(session)
    learned = len({row["product_id"] for row in rows if row["source"] == "learned"})
    say("scripts")
    generated = library.generate_scripts(session=session, generator=generator)
    return {"transactions": baskets.shape[0], "products": len(products),
            "with_learned_pairings": learned, "with_category_fallback": fallback,
            "scripts_generated": generated["scripts"], "script_generation": generated["outcomes"]}


def pairings_for(*, session: Session, actor: User, sku: str, k: int) -> dict:
    """The product's pairings, best first: HQ's pins, then the stored ranking without bans."""
    product = product_by_sku(session, sku)
    return {"sku": product.sku, "pairings": top_pairings(session, [product.id], k).get(product.id, [])}


def set_pairing_rule(*, session: Session, actor: User, sku: str, other_sku: str, kind: str) -> dict:
    """Pin or ban a partner for a product (HQ); a pin replaces a ban and the other way round."""
    product, other = product_by_sku(session, sku), product_by_sku(session, other_sku)
    if product.id == other.id:
        raise ValidationFailed("A product cannot pair with itself.", errors={"sku": ["Same product."]})
    rule = session.get(PairingRule, (product.id, other.id))
    if rule is None:
        session.add(PairingRule(product_id=product.id, other_id=other.id, kind=kind,
                                created_by_id=actor.id))
    else:
        rule.kind = kind
    announce_products(session, {product.sku})
    db.commit(session)
    return pairings_for(session=session, actor=actor, sku=sku, k=10)


def remove_pairing_rule(*, session: Session, actor: User, sku: str, other_sku: str, kind: str) -> dict:
    """Lift a pin or a ban (HQ)."""
    product, other = product_by_sku(session, sku), product_by_sku(session, other_sku)
    rule = session.get(PairingRule, (product.id, other.id))
    if rule is None or rule.kind != kind:
        raise NotFound(f"No {kind} of {other_sku} on {sku}.")
    session.delete(rule)
    announce_products(session, {product.sku})
    db.commit(session)
    return pairings_for(session=session, actor=actor, sku=sku, k=10)


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
    result = {"k": k, "holdout": holdout, "seed": seed, "train_transactions": train_baskets.shape[0],
              "model": ours, "popularity": popularity}
    try:
        rules = pairings.association_rules_recommender(train_baskets)
    except ImportError:  # mlxtend is a development dependency (requirements-dev.txt)
        return result
    result["association_rules"] = pairings.leave_one_out(test_baskets, rules, k=k, seed=seed)
    return result
