"""API keys for machine clients (SPEC §13): stored as SHA-256, shown once, revocable, with the
time of last use. A key is a principal with exactly its scopes: it acts for the HQ admin who
created it, and only on the routes its scopes name (``ROUTES_OF_SCOPE``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import JSON, ForeignKey, String, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.db import Base, UTCDateTime, utcnow
from backend.errors import NotFound
from backend.org.models import User

PREFIX = "zk_"
API = "/api/v1"
# scope → (method, route rule) pairs it opens; a rule ending in "/" opens everything below it.
ROUTES_OF_SCOPE: dict[str, tuple[tuple[str, str], ...]] = {
    "sales:import": (("POST", f"{API}/sales/import"),),
    "products:import": (("POST", f"{API}/products/import"),),
    "analytics:read": (("GET", f"{API}/analytics/"),),
    "tasks:read": (("GET", f"{API}/tasks"), ("GET", f"{API}/tasks/<int:task_id>")),
    "campaigns:read": (("GET", f"{API}/campaigns"), ("GET", f"{API}/campaigns/<int:campaign_id>")),
}
SCOPES = tuple(ROUTES_OF_SCOPE)
LAST_USED_GRANULARITY = dt.timedelta(seconds=60)


class ApiKey(Base):
    """One issued key: its name, scopes, who made it, and its use."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def hash_key(key: str) -> str:
    """What the database keeps instead of the key (keys are 256-bit random: no stretching needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(token: str) -> bool:
    """An API key rather than a JWT access token."""
    return token.startswith(PREFIX)


def scope_admits(scopes: list[str], method: str, rule: str | None) -> bool:
    """Whether any of the scopes opens this route."""
    if rule is None:
        return False
    for scope in scopes:
        for allowed_method, allowed_rule in ROUTES_OF_SCOPE.get(scope, ()):
            if method == allowed_method and (
                    rule == allowed_rule or (allowed_rule.endswith("/") and rule.startswith(allowed_rule))):
                return True
    return False


def view(key: ApiKey) -> dict:
    """A key as listed (never the key itself)."""
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "scopes": key.scopes,
            "created_at": key.created_at, "last_used_at": key.last_used_at, "revoked_at": key.revoked_at,
            "active": key.revoked_at is None}


def create(*, session: Session, actor: User, name: str, scopes: list[str]) -> dict:
    """Issue a key; the answer is the only place the key ever appears."""
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, prefix=key[:11], key_hash=hash_key(key), scopes=sorted(set(scopes)),
                 created_by_id=actor.id, created_at=utcnow())
    session.add(row)
    session.commit()
    return {**view(row), "key": key}


def list_keys(*, session: Session) -> list[dict]:
    """Every key, newest first."""
    return [view(k) for k in session.scalars(select(ApiKey).order_by(ApiKey.id.desc()))]


def revoke(*, session: Session, key_id: int) -> None:
    """Stop a key from working (idempotent)."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key {key_id}.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.commit()


def lookup(engine: Engine, key: str, now: dt.datetime) -> tuple[int, list[str], int] | None:
    """(key id, scopes, creator's user id) of a live key, noting its use (at most once a minute,
    on its own short transaction: the request's session stays read-only); None if unknown or
    revoked."""
    table = ApiKey.__table__
    with engine.begin() as connection:
        row = connection.execute(select(table.c.id, table.c.scopes, table.c.created_by_id,
                                        table.c.last_used_at, table.c.revoked_at)
                                 .where(table.c.key_hash == hash_key(key))).first()
        if row is None or row.revoked_at is not None:
            return None
        last = row.last_used_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=dt.timezone.utc)
        if last is None or now - last >= LAST_USED_GRANULARITY:
            connection.execute(update(table).where(table.c.id == row.id).values(last_used_at=now))
    return row.id, list(row.scopes or []), row.created_by_id
