"""Serving pairings: the stored ranking with HQ's pins first and its bans removed, for many
products in two queries; for one product, filled up when short."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

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


def pairings_filled(session: Session, product: Product, k: int) -> list[dict]:
    """One product's served list, filled up to k when what was stored for it falls short (a
    product added since training, or bans): first with what its category's products were
    learned to sell with, then with the products most often first in any stored list (the
    best-sellers, as training saw them). Pins, bans and the product itself are respected."""
    partners = top_pairings(session, [product.id], k).get(product.id, [])
    if len(partners) >= k:
        return partners
    taken = {product.sku} | {partner["sku"] for partner in partners}
    banned = set(session.scalars(select(Product.sku).join(PairingRule, PairingRule.other_id == Product.id)
                                 .where(PairingRule.product_id == product.id, PairingRule.kind == "ban")))
    floor = min((p["score"] for p in partners if p["score"] is not None), default=None)
    wanted = k - len(partners) + len(taken) + len(banned)
    owner, partner = aliased(Product), aliased(Product)
    category = (select(partner.sku, partner.name, func.avg(ProductPairing.score))
                .select_from(ProductPairing)
                .join(owner, owner.id == ProductPairing.product_id)
                .join(partner, partner.id == ProductPairing.paired_product_id)
                .where(owner.category == product.category, owner.id != product.id,
                       ProductPairing.source == "learned")
                .group_by(partner.sku, partner.name)
                .order_by(func.sum(ProductPairing.score).desc(), partner.sku).limit(wanted))
    popular = (select(partner.sku, partner.name, func.count())
               .select_from(ProductPairing)
               .join(partner, partner.id == ProductPairing.paired_product_id)
               .where(ProductPairing.rank <= 3)
               .group_by(partner.sku, partner.name)
               .order_by(func.count().desc(), partner.sku).limit(wanted))
    for source, statement in (("category", category), ("popular", popular)):
        for sku, name, value in session.execute(statement):
            if len(partners) >= k:
                return partners
            if sku in taken or sku in banned:
                continue
            score = float(value) if source == "category" else 0.0
            floor = score if floor is None else min(floor, score)
            taken.add(sku)
            partners.append({"sku": sku, "name": name, "score": round(floor, 6), "support": 0,
                             "source": source})
    return partners
