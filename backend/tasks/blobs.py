"""Photo blobs: content-addressed uploads, checked for type, size and hash."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import db
from backend.auth import policy
from backend.errors import Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from backend.org.models import User
from backend.tasks.models import Blob, StoreTask, TaskPhoto

SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAGIC = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",),
         "image/webp": (b"RIFF",)}


def sniff_image_type(data: bytes) -> str | None:
    """The image type the bytes really are (JPEG, PNG or WebP), whatever the header says."""
    for content_type, prefixes in MAGIC.items():
        if any(data.startswith(prefix) for prefix in prefixes):
            if content_type == "image/webp" and data[8:12] != b"WEBP":
                continue
            return content_type
    return None


def put_blob(*, session: Session, actor: User, sha256: str, content_type: str, data: bytes,
             max_bytes: int) -> tuple[Blob, bool]:
    """Store an image under its SHA-256; (blob, created). Uploading the same bytes again is a no-op."""
    if not SHA256.match(sha256):
        raise ValidationFailed("The blob id must be 64 lowercase hex digits (SHA-256).",
                               errors={"sha256": ["Not a SHA-256 hex digest."]})
    if content_type not in MAGIC:
        raise UnsupportedMediaType("Photos must be image/jpeg, image/png or image/webp.")
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"Photos are at most {max_bytes} bytes.")
    if not data or sniff_image_type(data) != content_type:
        raise ValidationFailed("The body is not a valid image of the declared type.",
                               error="invalid_image", errors={"body": ["Not a " + content_type + "."]})
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValidationFailed("The body does not hash to the SHA-256 in the path.",
                               error="hash_mismatch", errors={"sha256": ["Does not match the body."]})
    existing = session.get(Blob, sha256)
    if existing is not None:
        return existing, False
    blob = Blob(sha256=sha256, content_type=content_type, size=len(data), data=data,
                uploaded_by_id=actor.id)
    session.add(blob)
    db.commit(session)
    return blob, True


def get_blob(*, session: Session, actor: User, sha256: str) -> Blob:
    """A photo, for its uploader or anyone who can see a task it is attached to."""
    blob = session.get(Blob, sha256) if SHA256.match(sha256) else None
    if blob is None:
        raise NotFound("No such blob.")
    if actor.role == policy.HQ or blob.uploaded_by_id == actor.id:
        return blob
    in_scope = session.scalar(select(TaskPhoto.id).join(StoreTask, TaskPhoto.task_id == StoreTask.id)
                              .where(TaskPhoto.sha256 == sha256,
                                     policy.store_scope(actor, StoreTask.store_id)).limit(1))
    if in_scope is None:
        raise Forbidden("This photo belongs to no task in your scope.", error="out_of_scope")
    return blob
