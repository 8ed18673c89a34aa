"""Draining the outbox: lease a batch, build the messages, send, record each outcome.

Several workers may drain at once: a lease (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL,
the database write lock on SQLite) gives each delivery to one worker, so nothing is sent twice
in normal operation. A worker that dies after sending but before recording leaves its leases to
expire; the deliveries are then sent again (at least once: nothing is lost).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from backend.db import utcnow
from notifications import content as contents
from notifications.messages import build_push
from notifications.models import Delivery, Device, Notification
from notifications.schedule import QuietHours
from notifications.transports import Outcome, Target


@dataclass
class DispatchSettings:
    """How the worker drains (from the app config, see backend/config.py)."""

    batch_size: int = 500
    lease_seconds: int = 120
    max_attempts: int = 8
    backoff_base_seconds: float = 5.0
    backoff_cap_seconds: float = 3600.0
    quiet_hours: QuietHours | None = None
    default_timezone: str = "Asia/Shanghai"
    rng: random.Random = field(default_factory=random.Random)


def backoff_seconds(attempt: int, retry_after: float | None, *, base: float, cap: float,
                    rng: random.Random) -> float:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    delay = rng.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def _due(now: dt.datetime):
    return or_(and_(Delivery.state == "pending", Delivery.next_attempt_at <= now),
               and_(Delivery.state == "sending", Delivery.leased_until < now))


def lease(session: Session, *, worker_id: str, now: dt.datetime, limit: int, lease_seconds: int) -> list[int]:
    """Take up to ``limit`` due deliveries for this worker and commit the lease."""
    statement = select(Delivery.id).where(_due(now)).order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
    if session.bind.dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    ids = list(session.scalars(statement))
    if ids:
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(
            state="sending", lease_owner=worker_id, attempts=Delivery.attempts + 1,
            leased_until=now + dt.timedelta(seconds=lease_seconds)))
    session.commit()
    return ids


def _record(session: Session, delivery: Delivery, device: Device, outcome: Outcome, message: dict,
            now: dt.datetime, settings: DispatchSettings) -> str:
    delivery.lease_owner = delivery.leased_until = None
    if outcome.ok:
        delivery.state, delivery.sent_at = "sent", now
        delivery.provider_message_id, delivery.last_error, delivery.payload = outcome.message_id, None, message
        return "sent"
    delivery.last_error = f"{outcome.error}: {outcome.detail}"[:500]
    if outcome.drop_token:
        device.push_token, device.token_dropped_reason, device.updated_at = None, outcome.error, now
        delivery.state = "dead"
        session.execute(update(Delivery).where(Delivery.device_id == device.id,
                                               Delivery.state == "pending", Delivery.id != delivery.id)
                        .values(state="dead", last_error=f"{outcome.error}: token dropped"))
        return "token_dropped"
    if outcome.retry and delivery.attempts < settings.max_attempts:
        delivery.state = "pending"
        delivery.next_attempt_at = now + dt.timedelta(seconds=backoff_seconds(
            delivery.attempts, outcome.retry_after, base=settings.backoff_base_seconds,
            cap=settings.backoff_cap_seconds, rng=settings.rng))
        return "retry"
    delivery.state = "dead"
    return "dead"


def deliver_batch(session_factory: Callable[[], Session], transport, *, worker_id: str,
                  settings: DispatchSettings, now: Callable[[], dt.datetime] = utcnow) -> dict[str, int]:
    """One lease → send → record round; returns counts per outcome (empty when nothing is due)."""
    with session_factory() as session:
        ids = lease(session, worker_id=worker_id, now=now(), limit=settings.batch_size,
                    lease_seconds=settings.lease_seconds)
    if not ids:
        return {}
    counts: dict[str, int] = {}
    with session_factory() as session:
        rows = session.execute(select(Delivery, Device, Notification)
                               .join(Device, Device.id == Delivery.device_id)
                               .join(Notification, Notification.id == Delivery.notification_id)
                               .where(Delivery.id.in_(ids)).order_by(Delivery.id)).all()
        started = now()
        batch, sending, deferred = [], [], 0
        facts = contents.Facts(session, default_timezone=settings.default_timezone)
        facts.preload([notification for _, _, notification in rows])
        for delivery, device, notification in rows:
            quiet_until = (settings.quiet_hours.release_time(started, facts.timezone_of(notification))
                           if settings.quiet_hours else None)
            if device.push_token is None or quiet_until is not None:
                # Quiet hours defer (not drop); an address dropped meanwhile ends the delivery.
                delivery.lease_owner = delivery.leased_until = None
                if device.push_token is None:
                    delivery.state, delivery.last_error = "dead", "device has no push address"
                    counts["dead"] = counts.get("dead", 0) + 1
                else:
                    delivery.state, delivery.next_attempt_at = "pending", quiet_until
                    delivery.attempts -= 1
                    deferred += 1
                continue
            message = build_push(facts.push_content(notification, device.locale))
            batch.append((Target(device.push_token, device.token_kind), message))
            sending.append((delivery, device))
        session.commit()  # deferrals are final whatever the send does
        if deferred:
            counts["deferred"] = deferred
        if not batch:
            return counts
        outcomes = transport.send(batch)
        finished = now()
        for (delivery, device), (_, message), outcome in zip(sending, batch, outcomes):
            if delivery.lease_owner != worker_id:
                continue  # our lease expired and another worker owns it now
            result = _record(session, delivery, device, outcome, message, finished, settings)
            counts[result] = counts.get(result, 0) + 1
        session.commit()
    return counts


def drain(session_factory: Callable[[], Session], transport, *, worker_id: str,
          settings: DispatchSettings, now: Callable[[], dt.datetime] = utcnow,
          max_batches: int | None = None) -> dict[str, int]:
    """Deliver batches until nothing is due; returns the summed counts."""
    totals: dict[str, int] = {}
    batches = 0
    while max_batches is None or batches < max_batches:
        counts = deliver_batch(session_factory, transport, worker_id=worker_id, settings=settings, now=now)
        if not counts or set(counts) == {"deferred"}:
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
            break
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
        batches += 1
    return totals
