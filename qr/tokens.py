"""Compact signed QR tokens: pure functions, no app, no database.

Layout (before base32): key id (1 byte) | task id (8) | store id (4) | expiry in unix
minutes (4) | nonce (4) | HMAC-SHA256 truncated to 96 bits (12). 33 bytes become 53
base32 characters after the ``ZD1:`` prefix; every character is in the QR alphanumeric
set, so a code fits QR version 3 at error correction M. Nothing secret is inside: the
ids and the expiry are readable by anyone, only the key can make a valid MAC.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import struct
from dataclasses import dataclass

from backend.errors import DomainError, Gone

PREFIX = "ZD1:"
_BODY = struct.Struct(">BQIII")
MAC_BYTES = 12


class InvalidQr(DomainError):
    """Forged, tampered, truncated or unreadable token."""

    status_code, error = 400, "invalid_qr"


class QrExpired(Gone):
    """Validly signed, but past its expiry."""

    error = "qr_expired"


@dataclass(frozen=True)
class QrClaims:
    """What a token says: which task of which store, until when, with which nonce."""

    task_id: int
    store_id: int
    expires_at: dt.datetime
    nonce: int


@dataclass(frozen=True)
class Keyring:
    """Signing keys by id; the active one signs, every listed one verifies (rotation)."""

    active_id: int
    keys: dict[int, bytes]


def parse_keyring(spec: str) -> Keyring:
    """Read 'id:secret,id:secret' (first is active); ids 0-255, secrets at least 16 chars."""
    keys: dict[int, bytes] = {}
    order: list[int] = []
    for part in filter(None, (piece.strip() for piece in spec.split(","))):
        key_id, sep, secret = part.partition(":")
        if not sep or not key_id.isdigit() or not 0 <= int(key_id) <= 255 or len(secret) < 16:
            raise ValueError("QR keys are 'id:secret' pairs, id 0-255, secret ≥ 16 characters")
        keys[int(key_id)] = secret.encode()
        order.append(int(key_id))
    if not keys:
        raise ValueError("at least one QR signing key is needed")
    return Keyring(active_id=order[0], keys=keys)


def derived_keyring(secret_key: str) -> Keyring:
    """A single key derived from SECRET_KEY, for setups that configure no QR keys."""
    derived = hmac.new(secret_key.encode(), b"zhida-qr-signing-v1", hashlib.sha256).hexdigest()
    return Keyring(active_id=1, keys={1: derived.encode()})


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, PREFIX.encode() + body, hashlib.sha256).digest()[:MAC_BYTES]


def sign(claims: QrClaims, keyring: Keyring) -> str:
    """The token for these claims, signed with the active key."""
    minutes = int(claims.expires_at.timestamp() // 60)
    body = _BODY.pack(keyring.active_id, claims.task_id, claims.store_id, minutes, claims.nonce)
    raw = body + _mac(keyring.keys[keyring.active_id], body)
    return PREFIX + base64.b32encode(raw).decode().rstrip("=")


def verify(token: str, keyring: Keyring, now: dt.datetime) -> QrClaims:
    """The claims of a genuine, unexpired token; InvalidQr or QrExpired otherwise."""
    text = (token or "").strip().upper()
    if not text.startswith(PREFIX):
        raise InvalidQr("This is not a Zhida task code.")
    encoded = text[len(PREFIX):]
    try:
        raw = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
    except (binascii.Error, ValueError):
        raise InvalidQr("The code is unreadable.")
    if len(raw) != _BODY.size + MAC_BYTES:
        raise InvalidQr("The code is incomplete.")
    body, mac = raw[:_BODY.size], raw[_BODY.size:]
    key_id, task_id, store_id, minutes, nonce = _BODY.unpack(body)
    key = keyring.keys.get(key_id)
    if key is None or not hmac.compare_digest(mac, _mac(key, body)):
        raise InvalidQr("The code's signature is not valid.")
    expires_at = dt.datetime.fromtimestamp(minutes * 60, tz=dt.timezone.utc)
    if now >= expires_at:
        raise QrExpired("This code has expired; ask for a fresh sheet.",
                        expired_at=expires_at.isoformat())
    return QrClaims(task_id=task_id, store_id=store_id, expires_at=expires_at, nonce=nonce)


# ---- short codes: what a clerk types when the camera cannot read the QR -------------------------
#
# Crockford base32 of the task id followed by a 25-bit MAC over (task id, nonce), grouped by four:
# "3D2-K7M2Q" style, 8-10 characters for realistic ids. No expiry inside (the task's own
# expiry applies) and no key id (every key of the ring is tried). Rotating a task's QR changes
# its nonce, so a printed short code stops matching as the QR itself does.

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_MAC_CHARS = 5
_SHORT_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SHORT_BODY = struct.Struct(">QI")


def _crockford(value: int, width: int = 1) -> str:
    digits = []
    while value or len(digits) < width:
        value, digit = divmod(value, 32)
        digits.append(CROCKFORD[digit])
    return "".join(reversed(digits))


def _short_mac(key: bytes, task_id: int, nonce: int) -> str:
    digest = hmac.new(key, b"ZDS:" + _SHORT_BODY.pack(task_id, nonce), hashlib.sha256).digest()
    return _crockford(int.from_bytes(digest[:4], "big") >> 7, SHORT_MAC_CHARS)


def short_code(task_id: int, nonce: int, keyring: Keyring) -> str:
    """The code printed under a task's QR, signed with the active key (hyphens for reading)."""
    raw = _crockford(task_id) + _short_mac(keyring.keys[keyring.active_id], task_id, nonce)
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


@dataclass(frozen=True)
class ShortCode:
    """A typed short code, read but not yet checked against its task's current nonce."""

    task_id: int
    mac: str

    def matches(self, nonce: int, keyring: Keyring) -> bool:
        """True when some key of the ring made this code for the task's current nonce."""
        return any(hmac.compare_digest(self.mac, _short_mac(key, self.task_id, nonce))
                   for key in keyring.keys.values())


def parse_short_code(text: str) -> ShortCode:
    """Read a typed code (case, hyphens, spaces and O/I/L look-alikes forgiven); InvalidQr if
    it cannot be one."""
    raw = "".join((text or "").upper().split()).replace("-", "").translate(_SHORT_ALIASES)
    if not (SHORT_MAC_CHARS < len(raw) <= SHORT_MAC_CHARS + 13) or any(c not in CROCKFORD for c in raw):
        raise InvalidQr("This is not a task's short code.")
    task_id = 0
    for char in raw[:-SHORT_MAC_CHARS]:
        task_id = task_id * 32 + CROCKFORD.index(char)
    if not 0 < task_id < 2**62:
        raise InvalidQr("This is not a task's short code.")
    return ShortCode(task_id=task_id, mac=raw[-SHORT_MAC_CHARS:])
