"""Delivering the webhook outbox: lease due deliveries, POST each signed event, record the answer.

At least once: a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite) gives
each delivery to one worker; a worker that dies mid-send leaves its lease to expire and the
delivery is sent again. Failures are retried with exponential backoff and full jitter until 24 h
after the event; ``410 Gone`` disables the endpoint.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.db import utcnow
from integrations import addresses, pinning, signing
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from notifications.dispatch import backoff_seconds

USER_AGENT = "Zhida-Webhooks/1"


@dataclass
class WebhookSettings:
    """How the worker delivers webhooks (from the app config, see backend/config.py)."""

    allow_private: bool = False
    timeout_seconds: float = 10.0
    batch_size: int = 50
    lease_seconds: int = 120
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0
    concurrency: int = 8
    rng: random.Random = field(default_factory=random.Random)
    # How host names are resolved (once per delivery) and TLS verified; replaceable in tests.
    resolver: addresses.Resolver = addresses.resolve
    verify: bool | str = True


@dataclass(frozen=True)
class Answer:
    """What one POST got: an HTTP status, or an error before any status."""

    status: int | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def body_of(event: WebhookEvent | object) -> bytes:
    """The raw body of an event's delivery (the same bytes on every attempt)."""
    return json.dumps({"id": event.public_id, "type": event.type,
                       "created_at": event.created_at.isoformat(), "data": event.data},
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def post(url: str, body: bytes, secret: str, *, event_id: str, settings: WebhookSettings,
         clock: Callable[[], float] = time.time) -> Answer:
    """One signed POST; never raises (network trouble is an answer without status)."""
    started = time.monotonic()
    try:
        # Resolved once, checked, and connected to exactly that address (no DNS rebinding).
        target = addresses.pinned_target(url, allow_private=settings.allow_private, resolver=settings.resolver)
        response = pinning.pinned_post(url, target, data=body, timeout=settings.timeout_seconds,
                                       verify=settings.verify,
                                       headers={"Content-Type": "application/json", "User-Agent": USER_AGENT,
                                                "Zhida-Event-Id": event_id,
                                                signing.HEADER: signing.sign(secret, int(clock()), body)})
        response.close()
        status, error, retry_after = response.status_code, None, _retry_after(response)
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except addresses.AddressRefused as exc:
        status, error, retry_after = None, f"refused: {exc}", None
    except requests.RequestException as exc:
        status, error, retry_after = None, f"{type(exc).__name__}: {exc}", None
    return Answer(status, error[:500] if error else None, int((time.monotonic() - started) * 1000),
                  retry_after)


def _due_ids(session: Session, now: dt.datetime, limit: int) -> list[int]:
    def take(statement, n):
        statement = statement.limit(n)
        if session.bind.dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        return list(session.scalars(statement))

    ids = take(select(WebhookDelivery.id).where(WebhookDelivery.state == "pending",
                                                WebhookDelivery.next_attempt_at <= now)
               .order_by(WebhookDelivery.next_attempt_at), limit)
    if len(ids) < limit:  # a dead worker's batch, once its lease ran out
        ids += take(select(WebhookDelivery.id).where(WebhookDelivery.state == "sending",
                                                     WebhookDelivery.leased_until < now)
                    .order_by(WebhookDelivery.next_attempt_at), limit - len(ids))
    return ids


def lease(session: Session, *, worker_id: str, now: dt.datetime, settings: WebhookSettings) -> list:
    """Take up to a batch of due deliveries for this worker, commit the lease, and return what
    sending them needs (plain rows)."""
    ids = _due_ids(session, now, settings.batch_size)
    if not ids:
        session.commit()
        return []
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).values(
        state="sending", lease_owner=worker_id, attempts=WebhookDelivery.attempts + 1,
        leased_until=now + dt.timedelta(seconds=settings.lease_seconds)))
    rows = session.execute(
        select(WebhookDelivery.id.label("delivery_id"), WebhookDelivery.attempts, WebhookDelivery.give_up_at,
               WebhookEndpoint.id.label("endpoint_id"), WebhookEndpoint.url, WebhookEndpoint.secret,
               WebhookEndpoint.active, WebhookEvent.public_id, WebhookEvent.type, WebhookEvent.data,
               WebhookEvent.created_at)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id.in_(ids)).order_by(WebhookDelivery.id)).all()
    session.commit()
    return rows


def _settle(session: Session, row, answer: Answer | None, *, worker_id: str, now: dt.datetime,
            settings: WebhookSettings) -> str:
    """Record one attempt and move the delivery on; returns what happened."""
    mine = (WebhookDelivery.id == row.delivery_id) & (WebhookDelivery.lease_owner == worker_id)
    released = dict(lease_owner=None, leased_until=None)
    if answer is None:  # the endpoint was disabled or deleted meanwhile: nothing to send to
        session.execute(update(WebhookDelivery).where(mine).values(
            state="failed", last_error="endpoint disabled", **released))
        return "failed"
    session.add(WebhookAttempt(delivery_id=row.delivery_id, attempted_at=now, status=answer.status,
                               error=answer.error, duration_ms=answer.duration_ms))
    values = dict(last_status=answer.status, last_error=answer.error, **released)
    if answer.ok:
        outcome, values = "delivered", dict(values, state="delivered", delivered_at=now)
    elif answer.status == 410:
        outcome, values = "disabled", dict(values, state="failed")
        session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == row.endpoint_id).values(
            active=False, disabled_at=now, disabled_reason="the receiver answered 410 Gone"))
        session.execute(update(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == row.endpoint_id, WebhookDelivery.state == "pending").values(
            state="failed", last_error="endpoint disabled (410 Gone)"))
    else:
        delay = backoff_seconds(row.attempts, answer.retry_after, base=settings.backoff_base_seconds,
                                cap=settings.backoff_cap_seconds, rng=settings.rng)
        next_at = now + dt.timedelta(seconds=delay)
        refused = (answer.error or "").startswith("refused:")
        if refused or next_at > row.give_up_at:
            outcome, values = "failed", dict(values, state="failed")
        else:
            outcome, values = "retry", dict(values, state="pending", next_attempt_at=next_at)
    session.execute(update(WebhookDelivery).where(mine).values(**values))
    return outcome


def deliver_batch(session_factory: Callable[[], Session], *, worker_id: str, settings: WebhookSettings,
                  now: Callable[[], dt.datetime] = utcnow) -> dict[str, int]:
    """One lease → POST → record round; counts per outcome (empty when nothing is due)."""
    with session_factory() as session:
        rows = lease(session, worker_id=worker_id, now=now(), settings=settings)
    if not rows:
        return {}

    def send(row) -> Answer | None:
        if not row.active:
            return None
        return post(row.url, body_of(row), row.secret, event_id=row.public_id, settings=settings)

    # No transaction stays open while receivers answer; a few POSTs run at once.
    with concurrent.futures.ThreadPoolExecutor(max_workers=settings.concurrency,
                                               thread_name_prefix="webhook-send") as pool:
        answers = list(pool.map(send, rows))
    counts: dict[str, int] = {}
    with session_factory() as session:
        finished = now()
        for row, answer in zip(rows, answers):
            outcome = _settle(session, row, answer, worker_id=worker_id, now=finished, settings=settings)
            counts[outcome] = counts.get(outcome, 0) + 1
        session.commit()
    return counts


def drain(session_factory: Callable[[], Session], *, worker_id: str, settings: WebhookSettings,
          now: Callable[[], dt.datetime] = utcnow, max_batches: int | None = None) -> dict[str, int]:
    """Deliver batches until nothing is due; the summed counts."""
    totals: dict[str, int] = {}
    batches = 0
    while max_batches is None or batches < max_batches:
        counts = deliver_batch(session_factory, worker_id=worker_id, settings=settings, now=now)
        if not counts:
            break
        batches += 1
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
    return totals
