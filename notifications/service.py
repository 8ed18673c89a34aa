"""Devices (push addresses) and the user's inbox."""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend import changefeed, db
from backend.common.paging import Page, paginate
from backend.db import utcnow
from backend.errors import Forbidden, NotFound
from backend.org.models import User
from notifications.content import Facts
from notifications.models import Delivery, Device, Notification
from notifications.schemas import NotificationSchema

# A Firebase installation id: 22 characters of base64url (FCM registration tokens are ~150+).
_FID = re.compile(r"^[cdef][A-Za-z0-9_-]{21}$")


def token_kind_of(push_token: str, declared: str | None) -> str:
    """How to address the device: as the client says, else by the shape of the token."""
    if declared:
        return declared
    return "fid" if _FID.match(push_token) else "registration_token"


def register_device(*, session: Session, actor: User, client_id: str, platform: str,
                    push_token: str | None, locale: str | None = None,
                    token_kind: str | None = None, app_version: str | None = None) -> Device:
    """Register or refresh this install's push address. A client id belongs to the user who
    registered it first (as in sync): another user naming it gets 403 and changes nothing —
    a phone shared by clerks uses one client id per signed-in user."""
    now = utcnow()
    session.execute(db.insert_skipping_conflicts(session, Device.__table__, ["client_id"]).values(
        client_id=client_id, user_id=actor.id, platform=platform, locale=locale or actor.locale,
        token_kind="registration_token", created_at=now, updated_at=now))
    device = session.scalar(select(Device).where(Device.client_id == client_id).with_for_update()
                            .execution_options(populate_existing=True))
    if device.user_id != actor.id:
        raise Forbidden("This client id belongs to another user.", error="client_id_taken")
    device.platform, device.updated_at = platform, now
    device.locale = locale or device.locale or actor.locale
    device.app_version = app_version or device.app_version
    device.push_token = push_token
    device.token_kind = token_kind_of(push_token, token_kind) if push_token else "registration_token"
    device.token_dropped_reason = None
    db.commit(session)
    return device


def _end_pending(session: Session, device: Device, reason: str) -> None:
    session.execute(update(Delivery).where(Delivery.device_id == device.id,
                                           Delivery.state.in_(("pending", "sending")))
                    .values(state="dead", last_error=reason, lease_owner=None, leased_until=None))


def unregister_device(*, session: Session, actor: User, client_id: str) -> None:
    """Logout: forget the push address; pending pushes to it are dropped (the inbox keeps them)."""
    device = session.scalar(select(Device).where(Device.client_id == client_id).with_for_update())
    if device is None:
        raise NotFound("No device with this client id.", error="unknown_device")
    if device.user_id != actor.id:
        raise Forbidden("This device belongs to another user.", error="not_your_device")
    device.push_token, device.token_dropped_reason, device.updated_at = None, "unregistered", utcnow()
    _end_pending(session, device, "device unregistered")
    db.commit(session)


def list_notifications(*, session: Session, actor: User, page: int, page_size: int,
                       unread: bool | None = None, locale: str | None = None) -> Page:
    """The actor's inbox, newest first, rendered in their locale."""
    statement = select(Notification).where(Notification.user_id == actor.id)
    if unread is True:
        statement = statement.where(Notification.read_at.is_(None))
    elif unread is False:
        statement = statement.where(Notification.read_at.is_not(None))
    result = paginate(session, statement.order_by(Notification.id.desc()), page=page, page_size=page_size)
    result.items = inbox_items(session=session, notifications=result.items, locale=locale or actor.locale)
    return result


def inbox_items(*, session: Session, notifications: list[Notification], locale: str | None) -> list[dict]:
    """Notifications as the inbox shows them, in that locale (their facts read once for all)."""
    facts = Facts(session)
    facts.preload(notifications)
    return [facts.inbox_item(n, locale) for n in notifications]


_NOTIFICATION_JSON = NotificationSchema()


def inbox_json(*, session: Session, notifications: list[Notification], locale: str | None) -> dict[int, dict]:
    """The same items serialised exactly as the inbox endpoint answers them, by id: what sync
    pull sends as the ``notification`` entity (one renderer for both)."""
    return {item["id"]: _NOTIFICATION_JSON.dump(item)
            for item in inbox_items(session=session, notifications=notifications, locale=locale)}


def mark_read(*, session: Session, actor: User, notification_id: int) -> Notification:
    """Mark one of the actor's notifications read (idempotent: the first read time stays)."""
    notification = session.scalar(select(Notification).where(
        Notification.id == notification_id, Notification.user_id == actor.id).with_for_update())
    if notification is None:
        raise NotFound("No such notification in your inbox.", error="unknown_notification")
    if notification.read_at is None:
        notification.read_at = utcnow()
        changefeed.mark_personal(session, "notification", select(Notification.id, Notification.user_id)
                                 .where(Notification.id == notification.id))
    db.commit(session)
    return notification


def read_and_render(*, session: Session, actor: User, notification_id: int) -> dict:
    """Mark read, then the notification as the inbox shows it."""
    notification = mark_read(session=session, actor=actor, notification_id=notification_id)
    return inbox_items(session=session, notifications=[notification], locale=actor.locale)[0]


def recent_deliveries(*, session: Session, username: str, limit: int) -> list[dict]:
    """The user's latest pushes, newest first, as an operator reads them (`flask notify
    deliveries`): state, when the next attempt is due (quiet hours push it to the morning), the
    provider's message id and the message's title."""
    rows = session.execute(
        select(Delivery).join(Device, Device.id == Delivery.device_id)
        .join(User, User.id == Device.user_id).where(User.username == username)
        .order_by(Delivery.id.desc()).limit(limit)).scalars()
    return [{"id": row.id, "state": row.state, "attempts": row.attempts,
             "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
             "provider_message_id": row.provider_message_id,
             "title": _title(row.payload)} for row in rows]


def _title(message: dict | None) -> str | None:
    """The title of a recorded FCM message ({"message": {...}} or the message itself)."""
    message = (message or {}).get("message", message or {})
    return (message.get("notification") or {}).get("title")
