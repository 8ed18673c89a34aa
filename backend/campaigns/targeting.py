"""Which stores a campaign targets: (regions ∪ stores) ∩ tags."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from backend.errors import ValidationFailed
from backend.org.models import Region, Store, StoreTag


def targeting_select(targeting: dict) -> Select:
    """SELECT of the targeted store ids.

    Regions and explicit stores are united; tags, when given, intersect the result.
    Tags alone target every store carrying one of them.
    """
    regions, stores, tags = (targeting.get(key) or [] for key in ("regions", "stores", "tags"))
    statement = select(Store.id)
    if regions or stores:
        statement = statement.where(or_(
            Store.region_id.in_(select(Region.id).where(Region.code.in_(regions))),
            Store.code.in_(stores)))
    if tags:
        statement = statement.where(Store.id.in_(select(StoreTag.store_id)
                                                 .where(StoreTag.tag.in_(tags))))
    return statement


def validate_targeting(session: Session, targeting: dict) -> None:
    """Unknown region or store codes are a 422 naming them."""
    errors = {}
    regions = set(targeting.get("regions") or [])
    stores = set(targeting.get("stores") or [])
    if regions:
        known = set(session.scalars(select(Region.code).where(Region.code.in_(regions))))
        if regions - known:
            errors["targeting.regions"] = [f"Unknown region(s): {', '.join(sorted(regions - known))}."]
    if stores:
        known = set(session.scalars(select(Store.code).where(Store.code.in_(stores))))
        if stores - known:
            errors["targeting.stores"] = [f"Unknown store(s): {', '.join(sorted(stores - known))}."]
    if errors:
        raise ValidationFailed("The targeting names unknown regions or stores.", errors=errors)


def is_empty(targeting: dict) -> bool:
    """No region, store or tag: selects nothing (the whole chain must be asked for by tag/region)."""
    return not any(targeting.get(key) for key in ("regions", "stores", "tags"))


def targeted_store_ids(session: Session, targeting: dict) -> list[int]:
    """The targeted store ids, sorted."""
    if is_empty(targeting):
        return []
    return list(session.scalars(targeting_select(targeting).order_by(Store.id)))


def count_by_region(session: Session, targeting: dict) -> dict[str, int]:
    """How many targeted stores fall in each region (the console's live preview)."""
    if is_empty(targeting):
        return {}
    ids = targeting_select(targeting).subquery()
    rows = session.execute(select(Region.code, func.count())
                           .select_from(Store).join(Region)
                           .where(Store.id.in_(select(ids.c.id)))
                           .group_by(Region.code).order_by(Region.code))
    return {code: count for code, count in rows}
