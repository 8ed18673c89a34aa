"""Opaque pull cursors: where a client is in the change feed (or in its bootstrap snapshot).

``c2.`` cursors hold a feed position (``backend.changefeed.Position``: a horizon and a paging
key). ``c1.`` cursors of the counter-row feed still decode, as ``legacy``: the pull answers
``reset: true`` with a fresh snapshot. Anything else, or any field of the wrong type, is
``400 invalid_cursor``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

from backend.changefeed import Position
from backend.errors import DomainError
from backend.org.models import User

PREFIX = "c2."
LEGACY_PREFIX = "c1."
SNAPSHOT_ENTITIES = ("task", "notification")
_LIMIT = 2**62


class InvalidCursor(DomainError):
    status_code, error = 400, "invalid_cursor"


@dataclass(frozen=True)
class Cursor:
    """position: the feed position. During a bootstrap, snapshot_after is the last id sent of the
    snapshot's current entity (tasks first, then notifications) and position is where the feed
    stood when the snapshot started. legacy: a cursor of the old feed, to be reset."""

    position: Position
    scope: str
    snapshot_after: int | None = None
    snapshot_entity: str = "task"
    legacy: bool = False


def scope_of(user: User) -> str:
    """A fingerprint of what the user may see; a cursor from another scope starts over."""
    regions = ",".join(str(region_id) for region_id in sorted(user.region_ids))
    raw = f"{user.id}|{user.role}|{user.store_id}|{regions}"
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def encode(cursor: Cursor) -> str:
    payload = {"h": cursor.position.horizon, "k": cursor.scope}
    if cursor.position.after is not None:
        payload["p"] = list(cursor.position.after)
    if cursor.snapshot_after is not None:
        payload["a"] = cursor.snapshot_after
        if cursor.snapshot_entity != "task":
            payload["e"] = cursor.snapshot_entity
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _count(value) -> bool:
    """A non-negative integer in range; JSON's true/false are not numbers here."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _LIMIT


def _payload(body: str) -> dict:
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if not isinstance(payload, dict):
        raise ValueError
    return payload


def decode(text: str) -> Cursor:
    for prefix, reader in ((PREFIX, _current), (LEGACY_PREFIX, _legacy)):
        if text.startswith(prefix):
            try:
                return reader(_payload(text[len(prefix):]))
            except (binascii.Error, ValueError, KeyError, TypeError):
                raise InvalidCursor("The cursor is damaged; pull with cursor null to start over.")
    raise InvalidCursor("Unknown cursor; pull with cursor null to start over.")


def _current(payload: dict) -> Cursor:
    horizon, scope, after = payload["h"], payload["k"], payload.get("a")
    page_key, entity = payload.get("p"), payload.get("e", "task")
    if not (_count(horizon) and isinstance(scope, str) and (after is None or _count(after))
            and (page_key is None or (isinstance(page_key, list) and len(page_key) == 2
                                      and all(_count(part) for part in page_key)))
            and isinstance(entity, str) and entity in SNAPSHOT_ENTITIES):
        raise ValueError
    return Cursor(position=Position(horizon, tuple(page_key) if page_key else None), scope=scope,
                  snapshot_after=after, snapshot_entity=entity)


def _legacy(payload: dict) -> Cursor:
    seq, scope, after = payload["s"], payload["k"], payload.get("a")
    if not (_count(seq) and isinstance(scope, str) and (after is None or _count(after))):
        raise ValueError
    return Cursor(position=Position(0), scope=scope, legacy=True)
