"""Regions, stores and users: create, read (scoped), update."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import changefeed, db
from backend.auth import policy
from backend.auth import service as auth
from backend.auth.passwords import hash_password
from backend.common.paging import Page, paginate
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.org.models import Region, Store, StoreTag, User
from backend.tasks.models import StoreTask, TaskClaim


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors={field: [message]})


def region_by_code(session: Session, code: str, *, field: str | None = None) -> Region:
    """The region with this code: 404 for a path, 422 naming the field for a body reference."""
    region = session.scalar(select(Region).where(Region.code == code))
    if region is None:
        if field:
            raise _invalid(field, f"Unknown region '{code}'.")
        raise NotFound(f"No region '{code}'.")
    return region


def store_by_code(session: Session, code: str, *, field: str | None = None) -> Store:
    """The store with this code: 404 for a path, 422 naming the field for a body reference."""
    store = session.scalar(select(Store).where(Store.code == code))
    if store is None:
        if field:
            raise _invalid(field, f"Unknown store '{code}'.")
        raise NotFound(f"No store '{code}'.")
    return store


# ---- regions --------------------------------------------------------------------------------

def list_regions(*, session: Session, actor: User) -> list[Region]:
    """Regions the actor may see, by code."""
    return list(session.scalars(select(Region).where(policy.region_scope(actor, Region.id))
                                .order_by(Region.code)))


def create_region(*, session: Session, actor: User, code: str, name: str) -> Region:
    """Add a region (HQ)."""
    if session.scalar(select(Region.id).where(Region.code == code)):
        raise Conflict(f"Region '{code}' already exists.", error="already_exists")
    region = Region(code=code, name=name)
    session.add(region)
    db.commit(session)
    return region


# ---- stores ---------------------------------------------------------------------------------

def list_stores(*, session: Session, actor: User, page: int, page_size: int,
                region: str | None = None, tag: str | None = None,
                q: str | None = None) -> Page:
    """Stores in the actor's scope, filtered by region code, tag and a name/code fragment."""
    statement = select(Store).where(policy.store_scope(actor, Store.id)).order_by(Store.code)
    if q:
        pattern = f"%{q}%"
        statement = statement.where(Store.name.ilike(pattern) | Store.code.ilike(pattern))
    if region:
        statement = statement.join(Region).where(Region.code == region)
    if tag:
        statement = statement.where(Store.id.in_(select(StoreTag.store_id).where(StoreTag.tag == tag)))
    return paginate(session, statement, page=page, page_size=page_size)


def get_store(*, session: Session, actor: User, code: str) -> Store:
    """One store, if in scope."""
    store = store_by_code(session, code)
    policy.ensure_store_in_scope(actor, store)
    return store


def store_names(*, session: Session, actor: User, codes) -> dict[str, str]:
    """{code: name} of the stores with these codes that the actor may see."""
    codes = sorted({code for code in codes if code})
    if not codes:
        return {}
    return dict(session.execute(select(Store.code, Store.name).where(
        Store.code.in_(codes), policy.store_scope(actor, Store.id))).all())


def create_store(*, session: Session, actor: User, code: str, name: str, region: str,
                 tags: list[str], timezone: str, lat: float | None = None,
                 lng: float | None = None) -> Store:
    """Open a store in a region (HQ)."""
    if session.scalar(select(Store.id).where(Store.code == code)):
        raise Conflict(f"Store '{code}' already exists.", error="already_exists")
    store = Store(code=code, name=name, region=region_by_code(session, region, field="region"),
                  timezone=timezone, lat=lat, lng=lng)
    store.set_tags(tags)
    session.add(store)
    db.commit(session)
    return store


def update_store(*, session: Session, actor: User, code: str, changes: dict) -> Store:
    """Rename, move to another region, retag or relocate a store (HQ)."""
    store = store_by_code(session, code)
    if "region" in changes:
        old_region_id = store.region_id
        store.region = region_by_code(session, changes.pop("region"), field="region")
        if store.region.id != old_region_id:
            # Supervisors of the old region lose these tasks, the new region's gain them.
            changefeed.mark_tasks_where(session, StoreTask.store_id == store.id, op="delete",
                                        region_id=old_region_id)
            changefeed.mark_tasks_where(session, StoreTask.store_id == store.id)
    if "tags" in changes:
        store.set_tags(changes.pop("tags"))
    for key, value in changes.items():
        setattr(store, key, value)
    db.commit(session)
    return store


# ---- users ----------------------------------------------------------------------------------

def _bind_user(session: Session, user: User, role: str, store: str | None,
               regions: list[str] | None) -> None:
    """Clerks belong to one store, supervisors to regions, HQ to neither."""
    if role == policy.CLERK:
        if not store:
            raise _invalid("store", "A clerk needs a store.")
        if regions:
            raise _invalid("regions", "Clerks have a store, not regions.")
        user.store = store_by_code(session, store, field="store")
        user.regions = []
    elif role == policy.SUPERVISOR:
        if store:
            raise _invalid("store", "Supervisors have regions, not a store.")
        if not regions:
            raise _invalid("regions", "A supervisor needs at least one region.")
        user.store = None
        user.regions = [region_by_code(session, code, field="regions") for code in sorted(set(regions))]
    else:
        if store or regions:
            raise _invalid("role", "HQ admins have neither a store nor regions.")
        user.store = None
        user.regions = []


def create_user(*, session: Session, actor: User, username: str, password: str,
                display_name: str, role: str, locale: str = "zh-CN", store: str | None = None,
                regions: list[str] | None = None) -> User:
    """Add an HQ admin, a supervisor (with regions) or a clerk (with a store)."""
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"User '{username}' already exists.", error="already_exists")
    user = User(username=username, password_hash=hash_password(password),
                display_name=display_name, role=role, locale=locale, active=True)
    _bind_user(session, user, role, store, regions)
    session.add(user)
    db.commit(session)
    return user


def user_by_username(session: Session, username: str) -> User:
    """The user with this username or 404."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user '{username}'.")
    return user


def get_user(*, session: Session, actor: User, username: str) -> User:
    """One user, if the actor may see them."""
    user = user_by_username(session, username)
    policy.ensure_user_visible(actor, user)
    return user


def list_users(*, session: Session, actor: User, page: int, page_size: int,
               role: str | None = None, store: str | None = None) -> Page:
    """Users the actor may see."""
    statement = select(User).where(policy.user_scope(actor)).order_by(User.username)
    if role:
        statement = statement.where(User.role == role)
    if store:
        statement = statement.join(Store, User.store_id == Store.id).where(Store.code == store)
    return paginate(session, statement, page=page, page_size=page_size)


def update_user(*, session: Session, actor: User, username: str, changes: dict) -> User:
    """Change a user's profile, password, role, binding or active flag (HQ). A new role needs the
    binding of that role (a store for clerks, regions for supervisors) in the same change."""
    user = user_by_username(session, username)
    role = changes.pop("role", user.role)
    if "password" in changes or changes.get("active") is False or role != user.role:
        # Stolen tokens and cookies die with the change; a new role signs in anew.
        auth.end_every_session(session, user)
    if "password" in changes:
        user.password_hash = hash_password(changes.pop("password"))
    if "store" in changes or "regions" in changes or role != user.role:
        _bind_user(session, user, role,
                   changes.pop("store", user.store.code if user.store else None),
                   changes.pop("regions", [region.code for region in user.regions]))
        user.role = role
    if changes.get("display_name", user.display_name) != user.display_name:
        # Claimant names travel inside the tasks they hold.
        changefeed.mark_tasks_where(session, StoreTask.id.in_(
            select(TaskClaim.task_id).where(TaskClaim.user_id == user.id)))
    for key, value in changes.items():
        setattr(user, key, value)
    db.commit(session)
    return user
