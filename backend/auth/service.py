"""Sign-in, refresh-token rotation with reuse detection, and sign-out."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend import db
from backend.auth.models import RefreshToken
from backend.auth.passwords import verify_password
from backend.auth.throttle import SignInThrottle
from backend.auth.tokens import hash_refresh_token, issue_access_token, new_refresh_token
from backend.db import utcnow
from backend.errors import Forbidden, Unauthorized
from backend.org.models import User


@dataclass
class TokenSettings:
    """What issuing tokens needs from the configuration."""

    secret: str
    access_ttl: int
    refresh_ttl: int


@dataclass
class IssuedTokens:
    """The answer to a login or a refresh."""

    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    token_type: str = "Bearer"


def _issue(session: Session, user: User, settings: TokenSettings, family_id: str,
           now: dt.datetime) -> IssuedTokens:
    refresh = new_refresh_token()
    session.add(RefreshToken(user_id=user.id, family_id=family_id,
                             token_hash=hash_refresh_token(refresh), issued_at=now,
                             expires_at=now + dt.timedelta(seconds=settings.refresh_ttl)))
    access = issue_access_token(user_id=user.id, role=user.role, secret=settings.secret,
                                ttl_seconds=settings.access_ttl, now=now, epoch=user.session_epoch)
    return IssuedTokens(access_token=access, refresh_token=refresh,
                        expires_in=settings.access_ttl, user=user)


@dataclass(frozen=True)
class Attempt:
    """A sign-in or refresh attempt, counted by the throttle before anything is checked."""

    throttle: SignInThrottle
    action: str
    username: str | None
    address: str | None

    def count(self) -> None:
        self.throttle.check(action=self.action, username=self.username, address=self.address)


def authenticate(*, session: Session, username: str, password: str,
                 attempt: Attempt | None = None) -> User:
    """The active user with this password (API login and console sign-in alike); every attempt
    is counted first, so guessing is throttled per username and per address."""
    if attempt is not None:
        attempt.count()
    user = session.scalar(select(User).where(User.username == username))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthorized("Wrong username or password.", error="invalid_credentials")
    if not user.active:
        raise Forbidden("This account is deactivated.", error="account_inactive")
    return user


def login(*, session: Session, settings: TokenSettings, username: str, password: str,
          attempt: Attempt | None = None) -> IssuedTokens:
    """Check the password and start a new refresh-token family."""
    user = authenticate(session=session, username=username, password=password, attempt=attempt)
    issued = _issue(session, user, settings, str(uuid.uuid4()), utcnow())
    db.commit(session)
    return issued


def _revoke_family(session: Session, family_id: str, now: dt.datetime) -> None:
    session.execute(update(RefreshToken)
                    .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now))


def refresh(*, session: Session, settings: TokenSettings, refresh_token: str,
            attempt: Attempt | None = None) -> IssuedTokens:
    """Rotate a refresh token; presenting a spent one revokes its whole family."""
    if attempt is not None:
        attempt.count()
    now = utcnow()
    row = session.scalar(select(RefreshToken)
                         .where(RefreshToken.token_hash == hash_refresh_token(refresh_token))
                         .with_for_update())
    if row is None:
        raise Unauthorized("Unknown refresh token.", error="invalid_token")
    if row.revoked_at is not None and row.used_at is None:
        raise Unauthorized("This sign-in has ended (signed out, password changed or account "
                           "deactivated); sign in again.", error="session_ended")
    if row.used_at is not None:
        # A spent token shows up again: someone holds a copy. End every session of the family.
        _revoke_family(session, row.family_id, now)
        db.commit(session)
        raise Unauthorized("This refresh token was already used; sign in again.",
                           error="refresh_token_reused")
    if row.expires_at <= now:
        raise Unauthorized("The refresh token has expired; sign in again.", error="token_expired")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("The account is unknown or deactivated.", error="invalid_token")
    row.used_at = now
    issued = _issue(session, user, settings, row.family_id, now)
    db.commit(session)
    return issued


def logout(*, session: Session, actor: User, refresh_token: str) -> None:
    """Sign out: every refresh token, access token and console session of the user ends
    (SPEC §15)."""
    row = session.scalar(select(RefreshToken)
                         .where(RefreshToken.token_hash == hash_refresh_token(refresh_token)))
    if row is None or row.user_id != actor.id:
        raise Unauthorized("Unknown refresh token.", error="invalid_token")
    end_every_session(session, actor)
    db.commit(session)


def sign_out_of_console(*, session: Session, actor: User | None) -> None:
    """The console's sign-out: the same as the API's (a copied cookie stops working too)."""
    if actor is not None:
        end_every_session(session, actor)
        db.commit(session)


def end_every_session(session: Session, user: User) -> None:
    """Revoke the user's refresh tokens and move the session epoch on (access tokens and
    console cookies of before stop working). The caller commits."""
    session.execute(update(RefreshToken)
                    .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=utcnow()))
    user.session_epoch += 1
