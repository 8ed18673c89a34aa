"""Access tokens (short-lived JWT) and refresh tokens (opaque, stored as SHA-256)."""

import datetime as dt
import hashlib
import re
import secrets

import jwt

ALGORITHM = "HS256"


class InvalidAccessToken(Exception):
    """The bearer token is missing, malformed, forged or expired."""


def issue_access_token(*, user_id: int, role: str, secret: str, ttl_seconds: int,
                       now: dt.datetime, epoch: int = 0) -> str:
    """A signed JWT naming the user, role and the user's session epoch (a password change or a
    sign-out moves the epoch on, which ends every token of before), valid for ttl_seconds."""
    claims = {"sub": str(user_id), "role": role, "typ": "access", "sep": epoch,
              "iat": int(now.timestamp()), "exp": int(now.timestamp()) + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


USER_ID = re.compile(r"[1-9][0-9]{0,17}")  # ASCII digits only, within a BIGINT


def read_access_token(token: str, *, secret: str) -> tuple[int, int]:
    """(user id, session epoch) of a valid access token; raises InvalidAccessToken otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp", "typ"]})
    except jwt.PyJWTError as exc:
        raise InvalidAccessToken(str(exc)) from exc
    if claims.get("typ") != "access" or not USER_ID.fullmatch(str(claims["sub"])):
        raise InvalidAccessToken("not an access token")
    epoch = claims.get("sep", 0)
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        raise InvalidAccessToken("bad session epoch")
    return int(claims["sub"]), epoch


def new_refresh_token() -> str:
    """An unguessable opaque refresh token."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """What the database keeps instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()
