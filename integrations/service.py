"""Webhook endpoints (HQ): register, list, delete; the delivery log and redeliver."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from backend.db import utcnow
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.org.models import User
from integrations import addresses, signing
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from integrations.outbox import RETRY_WINDOW


def create_endpoint(*, session: Session, actor: User, url: str, events: list[str],
                    description: str = "", allow_private: bool = False) -> dict:
    """Register an endpoint; the answer carries the signing secret, which is never shown again."""
    try:
        addresses.check_url(url, allow_private=allow_private)
    except addresses.AddressRefused as exc:
        raise ValidationFailed(f"This URL may not receive webhooks: {exc}.", error="url_not_allowed",
                               errors={"url": [str(exc)]}) from None
    endpoint = WebhookEndpoint(url=url, events=sorted(set(events)), description=description,
                               secret=signing.new_secret(), active=True, created_by_id=actor.id,
                               created_at=utcnow())
    session.add(endpoint)
    session.commit()
    return {**endpoint_view(endpoint), "secret": endpoint.secret}


def endpoint_view(endpoint: WebhookEndpoint) -> dict:
    """An endpoint as listed (no secret)."""
    return {"id": endpoint.id, "url": endpoint.url, "events": endpoint.events,
            "description": endpoint.description, "active": endpoint.active,
            "disabled_reason": endpoint.disabled_reason, "created_at": endpoint.created_at}


def list_endpoints(*, session: Session) -> list[dict]:
    """Every endpoint, oldest first."""
    return [endpoint_view(e) for e in session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))]


def _endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {endpoint_id}.")
    return endpoint


def get_endpoint(*, session: Session, endpoint_id: int) -> dict:
    """One endpoint as listed (no secret)."""
    return endpoint_view(_endpoint(session, endpoint_id))


def set_endpoint_active(*, session: Session, endpoint_id: int, active: bool) -> dict:
    """Disable an endpoint (its pending deliveries wait, the worker sends it nothing) or enable
    it again (after a 410 or a manual disable)."""
    endpoint = _endpoint(session, endpoint_id)
    if active and not endpoint.active:
        endpoint.active, endpoint.disabled_at, endpoint.disabled_reason = True, None, None
    elif not active and endpoint.active:
        endpoint.active, endpoint.disabled_at, endpoint.disabled_reason = False, utcnow(), "disabled by HQ"
    session.commit()
    return endpoint_view(endpoint)


def delete_endpoint(*, session: Session, endpoint_id: int) -> None:
    """Remove an endpoint with its deliveries and their log."""
    endpoint = _endpoint(session, endpoint_id)
    delivery_ids = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id)
    session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids)))
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    session.delete(endpoint)
    session.commit()


def _delivery_view(delivery: WebhookDelivery, event: WebhookEvent, attempts: list[WebhookAttempt]) -> dict:
    return {"id": delivery.id, "event_id": event.public_id, "type": event.type, "state": delivery.state,
            "attempts": delivery.attempts, "last_status": delivery.last_status,
            "last_error": delivery.last_error, "created_at": delivery.created_at,
            "next_attempt_at": delivery.next_attempt_at if delivery.state == "pending" else None,
            "delivered_at": delivery.delivered_at,
            "log": [{"at": a.attempted_at, "status": a.status, "error": a.error,
                     "duration_ms": a.duration_ms} for a in attempts]}


def list_deliveries(*, session: Session, endpoint_id: int, page: int, page_size: int,
                    state: str | None = None) -> dict:
    """An endpoint's deliveries, newest first, each with its attempt log."""
    endpoint = _endpoint(session, endpoint_id)
    where = [WebhookDelivery.endpoint_id == endpoint.id]
    if state:
        where.append(WebhookDelivery.state == state)
    total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(*where))
    rows = session.execute(select(WebhookDelivery, WebhookEvent)
                           .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                           .where(*where).order_by(WebhookDelivery.id.desc())
                           .limit(page_size).offset((page - 1) * page_size)).all()
    logs: dict[int, list] = {}
    if rows:
        for attempt in session.scalars(select(WebhookAttempt).where(
                WebhookAttempt.delivery_id.in_([d.id for d, _ in rows])).order_by(WebhookAttempt.id)):
            logs.setdefault(attempt.delivery_id, []).append(attempt)
    return {"items": [_delivery_view(d, e, logs.get(d.id, [])) for d, e in rows], "page": page,
            "page_size": page_size, "total": total}


def redeliver(*, session: Session, endpoint_id: int, delivery_id: int) -> dict:
    """Send a delivery again now (the same event id), with a fresh 24 h of retries."""
    endpoint = _endpoint(session, endpoint_id)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound(f"No delivery {delivery_id} for webhook endpoint {endpoint_id}.")
    if not endpoint.active:
        raise Conflict("This endpoint is disabled; register it again to receive events.",
                       error="endpoint_disabled", reason=endpoint.disabled_reason)
    if delivery.state == "sending":
        raise Conflict("This delivery is being sent right now.", error="delivery_in_flight")
    now = utcnow()
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(
        state="pending", next_attempt_at=now, give_up_at=now + RETRY_WINDOW, delivered_at=None))
    session.commit()
    session.refresh(delivery)
    event = session.get(WebhookEvent, delivery.event_id)
    attempts = list(session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
                                    .order_by(WebhookAttempt.id)))
    return _delivery_view(delivery, event, attempts)
