"""Serving pairings: the stored ranking with HQ's pins first and its bans removed, for many
products in two queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.catalog.models import Product, ProductPairing
from recommend.models import PairingRule


def top_pairings(session: Session, product_ids: list[int] | None, k: int) -> dict[int, list[dict]]:
    """Each product's partners, best first (pins, then learned/category without bans), at most k;
    ``product_ids=None`` means every product. Products without partners are absent."""
    rules = select(PairingRule.product_id, PairingRule.other_id, PairingRule.kind, Product.sku,
                   Product.name).join(Product, PairingRule.other_id == Product.id)
    stored = (select(ProductPairing.product_id, ProductPairing.paired_product_id, ProductPairing.score,
                     ProductPairing.support, ProductPairing.source, Product.sku, Product.name)
              .join(Product, ProductPairing.paired_product_id == Product.id)
              .order_by(ProductPairing.product_id, ProductPairing.rank))
    if product_ids is not None:
        ids = sorted(set(product_ids))
        if not ids:
            return {}
        rules = rules.where(PairingRule.product_id.in_(ids))
        stored = stored.where(ProductPairing.product_id.in_(ids))
    ruled: dict[int, set[int]] = {}
    result: dict[int, list[dict]] = {}
    for product_id, other_id, kind, sku, name in session.execute(rules.order_by(Product.sku)):
        ruled.setdefault(product_id, set()).add(other_id)
        if kind == "pin":
            result.setdefault(product_id, []).append(
                {"sku": sku, "name": name, "score": None, "support": None, "source": "pinned"})
    for product_id, other_id, score, support, source, sku, name in session.execute(stored):
        partners = result.setdefault(product_id, [])
        if other_id not in ruled.get(product_id, ()) and len(partners) < k:
            partners.append({"sku": sku, "name": name, "score": score, "support": support,
                             "source": source})
    return {product_id: partners[:k] for product_id, partners in result.items() if partners}
