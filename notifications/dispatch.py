"""Draining the outbox: lease a batch, build the messages, send, record each outcome.

Several workers may drain at once: a lease (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL,
the database write lock on SQLite) gives each delivery to one worker, so nothing is sent twice
in normal operation. A worker that dies after sending but before recording leaves its leases to
expire; the deliveries are then sent again (at least once: nothing is lost).
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from backend.db import utcnow
from notifications import content as contents
from notifications.messages import build_push
from notifications.models import Delivery, Device, Notification
from notifications.quiet_hours import QuietHours
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


def _due_ids(session: Session, now: dt.datetime, limit: int) -> list[int]:
    """Pending deliveries whose time has come (an index range scan on state, next attempt),
    then deliveries whose worker's lease expired (a crashed worker's batch)."""
    def take(statement, n):
        statement = statement.limit(n)
        if session.bind.dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        return list(session.scalars(statement))

    ids = take(select(Delivery.id).where(Delivery.state == "pending", Delivery.next_attempt_at <= now)
               .order_by(Delivery.next_attempt_at), limit)
    if len(ids) < limit:
        ids += take(select(Delivery.id).where(Delivery.state == "sending", Delivery.leased_until < now)
                    .order_by(Delivery.next_attempt_at), limit - len(ids))
    return ids


def lease(session: Session, *, worker_id: str, now: dt.datetime, limit: int, lease_seconds: int) -> list[int]:
    """Take up to ``limit`` due deliveries for this worker and commit the lease."""
    ids = _due_ids(session, now, limit)
    if ids:
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(
            state="sending", lease_owner=worker_id, attempts=Delivery.attempts + 1,
            leased_until=now + dt.timedelta(seconds=lease_seconds)))
    session.commit()
    return ids


_TABLE = Delivery.__table__
# One executemany per batch: each delivery's new state, only while this worker holds its lease.
_SETTLE = (update(_TABLE).where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.lease_owner == bindparam("b_owner"))
           .values(state=bindparam("b_state"), attempts=bindparam("b_attempts"),
                   next_attempt_at=bindparam("b_next"), sent_at=bindparam("b_sent_at"),
                   provider_message_id=bindparam("b_message_id"), last_error=bindparam("b_error"),
                   payload=bindparam("b_payload"), lease_owner=None, leased_until=None))


def _settlement(row, outcome: Outcome, message: dict | None, now: dt.datetime,
                settings: DispatchSettings) -> tuple[str, dict]:
    """(what happened, the delivery's new columns) for one provider answer."""
    values = {"b_id": row.delivery_id, "b_attempts": row.attempts, "b_next": now, "b_sent_at": None,
              "b_message_id": None, "b_payload": None,
              "b_error": None if outcome.ok else f"{outcome.error}: {outcome.detail}"[:500]}
    if outcome.ok:
        return "sent", {**values, "b_state": "sent", "b_sent_at": now, "b_message_id": outcome.message_id,
                        "b_payload": message}
    if outcome.drop_token:
        return "token_dropped", {**values, "b_state": "dead"}
    if outcome.retry and row.attempts < settings.max_attempts:
        delay = backoff_seconds(row.attempts, outcome.retry_after, base=settings.backoff_base_seconds,
                                cap=settings.backoff_cap_seconds, rng=settings.rng)
        return "retry", {**values, "b_state": "pending", "b_next": now + dt.timedelta(seconds=delay)}
    return "dead", {**values, "b_state": "dead"}


def _drop_tokens(session: Session, dropped: list[tuple[int, str]], now: dt.datetime) -> None:
    """Forget dead addresses, and end what was still waiting for them."""
    for device_id, reason in dropped:
        session.execute(update(Device).where(Device.id == device_id).values(
            push_token=None, token_dropped_reason=reason, updated_at=now))
        session.execute(update(Delivery).where(Delivery.device_id == device_id, Delivery.state == "pending")
                        .values(state="dead", last_error=f"{reason}: token dropped"))


_COLUMNS = (Delivery.id.label("delivery_id"), Delivery.attempts, Device.id.label("device_id"),
            Device.push_token, Device.token_kind, Device.locale, Notification.id, Notification.kind,
            Notification.task_id, Notification.campaign_id, Notification.store_id, Notification.params)


@dataclass
class Prepared:
    """A leased batch, built and ready to send, and what was already decided without sending."""

    batch: list[tuple[Target, dict]]
    rows: list
    counts: dict[str, int]
    encoded: object = None  # the batch as the transport sends it

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


def _held_back(row, worker_id: str, state: str, attempts: int, next_at: dt.datetime, error) -> dict:
    return {"b_id": row.delivery_id, "b_owner": worker_id, "b_state": state, "b_attempts": attempts,
            "b_next": next_at, "b_sent_at": None, "b_message_id": None, "b_payload": None, "b_error": error}


def prepare(session_factory: Callable[[], Session], transport, *, worker_id: str,
            settings: DispatchSettings, now: Callable[[], dt.datetime] = utcnow) -> Prepared | None:
    """Lease due deliveries and build their messages; deferrals and dead addresses are settled
    here. None when nothing is due."""
    with session_factory() as session:
        ids = lease(session, worker_id=worker_id, now=now(), limit=settings.batch_size,
                    lease_seconds=settings.lease_seconds)
    if not ids:
        return None
    prepared = Prepared(batch=[], rows=[], counts={})
    with session_factory() as session:
        # Plain rows, not ORM objects: a batch is read once and settled with one executemany.
        rows = session.execute(select(*_COLUMNS).join(Device, Device.id == Delivery.device_id)
                               .join(Notification, Notification.id == Delivery.notification_id)
                               .where(Delivery.id.in_(ids)).order_by(Delivery.id)).all()
        started = now()
        held_back = []
        facts = contents.Facts(session, default_timezone=settings.default_timezone)
        facts.preload(rows)
        for row in rows:
            quiet_until = (settings.quiet_hours.release_time(started, facts.timezone_of(row))
                           if settings.quiet_hours else None)
            if row.push_token is None:  # dropped meanwhile: nothing to send to
                held_back.append(_held_back(row, worker_id, "dead", row.attempts, started,
                                            "device has no push address"))
                prepared.count("dead")
            elif quiet_until is not None:  # quiet hours defer, never drop; not an attempt
                held_back.append(_held_back(row, worker_id, "pending", row.attempts - 1, quiet_until, None))
                prepared.count("deferred")
            else:
                message = build_push(facts.push_content(row, row.locale))
                prepared.batch.append((Target(row.push_token, row.token_kind), message))
                prepared.rows.append(row)
        if held_back:
            session.execute(_SETTLE, held_back)
        session.commit()  # no transaction stays open during the network wait
    prepared.encoded = transport.encode(prepared.batch) if prepared.batch else []
    return prepared


def settle(session_factory: Callable[[], Session], prepared: Prepared, outcomes: list[Outcome], *,
           worker_id: str, settings: DispatchSettings, keep_payload: bool,
           now: Callable[[], dt.datetime] = utcnow) -> dict[str, int]:
    """Record every provider answer of a sent batch; returns the batch's counts."""
    finished = now()
    settled, dropped = [], []
    for row, (_, message), outcome in zip(prepared.rows, prepared.batch, outcomes):
        what, values = _settlement(row, outcome, message if keep_payload else None, finished, settings)
        settled.append({**values, "b_owner": worker_id})
        if outcome.drop_token:
            dropped.append((row.device_id, outcome.error))
        prepared.count(what)
    with session_factory() as session:
        # A delivery whose lease expired meanwhile belongs to another worker: the lease_owner
        # condition leaves it to them.
        session.execute(_SETTLE, settled)
        _drop_tokens(session, dropped, finished)
        session.commit()
    return prepared.counts


def deliver_batch(session_factory: Callable[[], Session], transport, *, worker_id: str,
                  settings: DispatchSettings, now: Callable[[], dt.datetime] = utcnow) -> dict[str, int]:
    """One lease → send → record round; returns counts per outcome (empty when nothing is due)."""
    prepared = prepare(session_factory, transport, worker_id=worker_id, settings=settings, now=now)
    if prepared is None:
        return {}
    if not prepared.batch:
        return prepared.counts
    return settle(session_factory, prepared, transport.send(prepared.encoded), worker_id=worker_id,
                  settings=settings, keep_payload=getattr(transport, "keeps_payload", True), now=now)


def _add(totals: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        totals[key] = totals.get(key, 0) + value


def drain(session_factory: Callable[[], Session], transport, *, worker_id: str,
          settings: DispatchSettings, now: Callable[[], dt.datetime] = utcnow,
          max_batches: int | None = None) -> dict[str, int]:
    """Deliver batches until nothing is due; returns the summed counts.

    Pipelined: while one batch is on the network (a sender thread), the next one is leased and
    built, and the previous one settled — the database work hides behind the provider's latency.
    """
    totals: dict[str, int] = {}
    keep_payload = getattr(transport, "keeps_payload", True)
    batches = 0

    def next_batch() -> Prepared | None:
        nonlocal batches
        while max_batches is None or batches < max_batches:
            prepared = prepare(session_factory, transport, worker_id=worker_id, settings=settings, now=now)
            if prepared is None:
                return None
            batches += 1
            if prepared.batch:
                return prepared
            _add(totals, prepared.counts)  # all deferred or dead: nothing to send
            if set(prepared.counts) == {"deferred"}:
                return None  # what is due now is quiet-hours mail: stop until later
        return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="push-send") as sender:
        current = next_batch()
        while current is not None:
            in_flight = sender.submit(transport.send, current.encoded)
            following = next_batch()
            outcomes = in_flight.result()
            _add(totals, settle(session_factory, current, outcomes, worker_id=worker_id,
                                settings=settings, keep_payload=keep_payload, now=now))
            current = following
    return totals
