"""Zhida-Signature (SPEC §13): ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``.

Pure functions; ``verify`` is what a receiver does (docs/integrations.md shows it standalone).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Zhida-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A signing secret for a new endpoint."""
    return "whsec_" + secrets.token_urlsafe(32)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


class InvalidSignature(Exception):
    """The header is missing, malformed, stale or does not match the body."""


def verify(secret: str, header: str, body: bytes, *, now: int,
           tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> int:
    """The signed timestamp when the header matches the body and is fresh; raises otherwise."""
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise InvalidSignature("no timestamp") from None
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature("stale timestamp")
    expected = _digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", [])):
        raise InvalidSignature("signature mismatch")
    return timestamp
