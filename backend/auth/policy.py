"""The single place that answers "may this user do this?" — roles and scope.

Views declare the roles they admit with ``@allow(...)``; services call the scope
checks below before they read or write anything of a store.
"""

from __future__ import annotations

import functools

from flask import current_app, g, request, session
from sqlalchemy import ColumnElement, bindparam, false, select, true
from sqlalchemy.orm import lazyload

from backend import db
from backend.auth import api_keys
from backend.auth.tokens import InvalidAccessToken, read_access_token
from backend.db import utcnow
from backend.errors import Forbidden, Unauthorized
from backend.org.models import ROLES, Region, Store, User

HQ, SUPERVISOR, CLERK = "hq_admin", "supervisor", "clerk"
ANY_ROLE = ROLES
SESSION_USER_KEY = "user_id"
SESSION_EPOCH_KEY = "epoch"

# The caller of every request in one statement, the user's row alone. Their store (with its
# region and tags) and a supervisor's regions, eager elsewhere, load only if a request asks for
# them: most requests need the ids on the row only, and each would be one more round trip, or
# three more ORM objects, on every request.
_CALLER = (select(User).where(User.id == bindparam("user_id"))
           .options(lazyload(User.regions), lazyload(User.store)))


def _load_caller(user_id: int) -> User | None:
    return db.session().execute(_CALLER, {"user_id": user_id}).unique().scalar_one_or_none()


def _authenticate() -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Sign in and send 'Authorization: Bearer <access_token>'.",
                           error="missing_token")
    if api_keys.looks_like_key(token.strip()):
        return _authenticate_key(token.strip())
    try:
        user_id, epoch = read_access_token(token.strip(), secret=current_app.config["SECRET_KEY"])
    except InvalidAccessToken:
        raise Unauthorized("The access token is invalid or expired.", error="invalid_token")
    user = _load_caller(user_id)
    if user is None or not user.active:
        raise Unauthorized("The account is unknown or deactivated.", error="invalid_token")
    if user.session_epoch != epoch:
        raise Unauthorized("This sign-in has ended (signed out or password changed).",
                           error="invalid_token")
    return user


def _authenticate_key(key: str) -> User:
    """An API key: a principal with exactly its scopes, acting for the HQ admin who made it."""
    found = api_keys.lookup(db.engine(), key, utcnow())
    if found is None:
        raise Unauthorized("The API key is unknown or revoked.", error="invalid_token")
    key_id, scopes, creator_id = found
    creator = _load_caller(creator_id)
    if creator is None or not creator.active or creator.role != HQ:
        raise Unauthorized("The API key's owner is no longer an active HQ admin.", error="invalid_token")
    rule = request.url_rule.rule if request.url_rule is not None else None
    if not api_keys.scope_admits(scopes, request.method, rule):
        raise Forbidden("This API key's scopes do not include this request.", error="forbidden_scope",
                        scopes=scopes)
    g.api_key_id = key_id
    return creator


def signed_in_user() -> User | None:
    """The active user of the console session cookie, if any."""
    user_id = session.get(SESSION_USER_KEY)
    user = db.session().get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or session.get(SESSION_EPOCH_KEY) != user.session_epoch:
        return None  # a replayed cookie of an ended sign-in is no sign-in
    return user


def _authenticate_session() -> User:
    user = signed_in_user()
    if user is None:
        raise Unauthorized("Sign in to the console.", error="not_signed_in")
    return user


def _admitting(roles: tuple[str, ...], authenticate):
    """A view decorator: authenticate, then admit only these roles."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {unknown}")

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = authenticate()
            if user.role not in roles:
                raise Forbidden(f"The role '{user.role}' may not do this.", error="forbidden_role")
            g.current_user = user
            return view(*args, **kwargs)

        wrapper.allowed_roles = tuple(roles)
        return wrapper

    return decorator


def allow(*roles: str):
    """Decorate an API view: authenticate the bearer token and admit only these roles."""
    return _admitting(roles, _authenticate)


def allow_signed_in(*roles: str):
    """Decorate a console page: authenticate the session cookie and admit only these roles."""
    return _admitting(roles, _authenticate_session)


def start_session(user: User) -> None:
    """Sign the user in to the console: a fresh session (no fixation), one user id in it."""
    session.clear()
    session.permanent = True
    session[SESSION_USER_KEY] = user.id
    session[SESSION_EPOCH_KEY] = user.session_epoch


def end_session() -> None:
    """Sign out of the console."""
    session.clear()


def public(view):
    """Mark a view as reachable without signing in (login, refresh, health)."""
    view.allowed_roles = None
    return view


def current_user() -> User:
    """The authenticated caller of this request."""
    return g.current_user


def current_device() -> str | None:
    """The calling phone's client id (``X-Client-Id`` header), recorded in task events."""
    value = request.headers.get("X-Client-Id", "").strip()
    return value if value and len(value) <= 64 and value.isprintable() else None


# ---- scope --------------------------------------------------------------------------------

def store_scope(user: User, store_id_column) -> ColumnElement[bool]:
    """A SQL condition keeping rows of stores the user may see."""
    if user.role == HQ:
        return true()
    if user.role == SUPERVISOR:
        region_ids = sorted(user.region_ids)
        if not region_ids:
            return false()
        return store_id_column.in_(select(Store.id).where(Store.region_id.in_(region_ids)))
    if user.store_id is None:
        return false()
    return store_id_column == user.store_id


def region_scope(user: User, region_id_column) -> ColumnElement[bool]:
    """A SQL condition keeping rows of regions the user may see."""
    if user.role == HQ:
        return true()
    if user.role == SUPERVISOR:
        return region_id_column.in_(sorted(user.region_ids)) if user.region_ids else false()
    if user.store is None:
        return false()
    return region_id_column == user.store.region_id


def can_see_store(user: User, store: Store) -> bool:
    """HQ sees all stores, supervisors their regions', clerks their own."""
    if user.role == HQ:
        return True
    if user.role == SUPERVISOR:
        return store.region_id in user.region_ids
    return user.store_id == store.id


def ensure_store_in_scope(user: User, store: Store) -> None:
    """Raise 403 out_of_scope unless the user may see the store."""
    if not can_see_store(user, store):
        raise Forbidden(f"Store {store.code} is outside your scope.", error="out_of_scope")


def ensure_region_in_scope(user: User, region: Region) -> None:
    """Raise 403 out_of_scope unless the user is HQ or a supervisor of the region."""
    if user.role == HQ or (user.role == SUPERVISOR and region.id in user.region_ids):
        return
    raise Forbidden(f"Region {region.code} is outside your scope.", error="out_of_scope")


def ensure_can_manage_store(user: User, store: Store) -> None:
    """HQ, or the supervisor of the store's region (reviews, assignments, QR codes)."""
    if user.role == HQ or (user.role == SUPERVISOR and store.region_id in user.region_ids):
        return
    raise Forbidden(f"Only HQ or the supervisor of store {store.code}'s region may do this.",
                    error="forbidden_role" if user.role == CLERK else "out_of_scope")


def ensure_user_visible(viewer: User, user: User) -> None:
    """HQ sees every user; supervisors the users of their regions; clerks only themselves."""
    if viewer.role == HQ or viewer.id == user.id:
        return
    if viewer.role == SUPERVISOR and user.store is not None and \
            user.store.region_id in viewer.region_ids:
        return
    raise Forbidden("This user is outside your scope.", error="out_of_scope")


def user_scope(viewer: User):
    """A SQL condition over users the viewer may list."""
    if viewer.role == HQ:
        return true()
    if viewer.role == SUPERVISOR:
        return (User.id == viewer.id) | store_scope(viewer, User.store_id)
    return User.id == viewer.id


# ---- sales scripts (recommend/) -------------------------------------------------------------

def new_script_status(user: User) -> str:
    """HQ's scripts are approved as written; a clerk's contribution waits for moderation."""
    if user.role == HQ:
        return "approved"
    if user.role == CLERK:
        return "pending"
    raise Forbidden("Only HQ and clerks write sales scripts.", error="forbidden_role")


def ensure_can_contribute_script(user: User, *, featured_in_scope: bool) -> None:
    """A clerk contributes scripts only for a product that a running campaign with tasks in their
    store features (what they actually sell); HQ for any product."""
    if user.role == HQ:
        return
    if user.role != CLERK:
        raise Forbidden("Only HQ and clerks write sales scripts.", error="forbidden_role")
    if not featured_in_scope:
        raise Forbidden("Clerks contribute scripts for products featured in a running campaign "
                        "of their store.", error="product_not_featured")


def ensure_can_moderate_script(user: User, *, author: User | None) -> None:
    """HQ moderates any script; a supervisor contributions of clerks of stores in their regions;
    clerks never."""
    if user.role == HQ:
        return
    if user.role != SUPERVISOR:
        raise Forbidden("Only HQ and supervisors moderate scripts.", error="forbidden_role")
    store = author.store if author is not None and author.role == CLERK else None
    if store is None or store.region_id not in user.region_ids:
        raise Forbidden("This script's author is outside your regions.", error="out_of_scope")


def may_take_down_script(user: User) -> bool:
    """Only HQ may reject a script that is already approved (it stops being served)."""
    return user.role == HQ


def script_author_scope(user: User, author_id_column) -> ColumnElement[bool]:
    """A SQL condition over scripts by author: HQ all, a supervisor those of clerks of stores in
    their regions, a clerk their own."""
    if user.role == HQ:
        return true()
    if user.role == SUPERVISOR:
        return author_id_column.in_(select(User.id).where(User.role == CLERK,
                                                           store_scope(user, User.store_id)))
    return author_id_column == user.id
