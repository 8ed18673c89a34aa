"""Opaque pull cursors: where a client is in the change feed (or in its bootstrap snapshot)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

from backend.errors import DomainError
from backend.org.models import User

PREFIX = "c1."
SNAPSHOT_ENTITIES = ("task", "notification")


class InvalidCursor(DomainError):
    status_code, error = 400, "invalid_cursor"


@dataclass(frozen=True)
class Cursor:
    """seq: feed position. During a bootstrap, snapshot_after is the last id sent of the
    snapshot's current entity (tasks first, then notifications) and seq is the feed position
    the snapshot started at."""

    seq: int
    scope: str
    snapshot_after: int | None = None
    snapshot_entity: str = "task"


def scope_of(user: User) -> str:
    """A fingerprint of what the user may see; a cursor from another scope starts over."""
    regions = ",".join(str(region_id) for region_id in sorted(user.region_ids))
    raw = f"{user.id}|{user.role}|{user.store_id}|{regions}"
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def encode(cursor: Cursor) -> str:
    payload = {"s": cursor.seq, "k": cursor.scope}
    if cursor.snapshot_after is not None:
        payload["a"] = cursor.snapshot_after
        if cursor.snapshot_entity != "task":
            payload["e"] = cursor.snapshot_entity
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str) -> Cursor:
    if not text.startswith(PREFIX):
        raise InvalidCursor("Unknown cursor; pull with cursor null to start over.")
    body = text[len(PREFIX):]
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        seq, scope, after = payload["s"], payload["k"], payload.get("a")
        entity = payload.get("e", "task")
        if not (isinstance(seq, int) and 0 <= seq < 2**62 and isinstance(scope, str)
                and (after is None or (isinstance(after, int) and 0 <= after < 2**62))
                and entity in SNAPSHOT_ENTITIES):
            raise ValueError
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidCursor("The cursor is damaged; pull with cursor null to start over.")
    return Cursor(seq=seq, scope=scope, snapshot_after=after, snapshot_entity=entity)
