"""Pushes as an outbox channel: build each claimed delivery's message, send the batch through the
transport, judge FCM's answers. Claiming, pipelining, retries and settling are the outbox's
(``outbox/dispatcher.py``), the same loop that sends webhooks.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.db import utcnow
from notifications import content as contents
from notifications.messages import build_push
from notifications.models import Delivery, Device, Notification
from notifications.quiet_hours import QuietHours
from notifications.transports import Outcome, Target
from outbox import dispatcher
from outbox.dispatcher import Prepared, Verdict
from outbox.retry import RetryPolicy


@dataclass
class DispatchSettings:
    """How the worker drains pushes (from the app config, see backend/config.py)."""

    batch_size: int = 500
    lease_seconds: int = 120
    max_attempts: int = 8
    backoff_base_seconds: float = 5.0
    backoff_cap_seconds: float = 3600.0
    quiet_hours: QuietHours | None = None
    default_timezone: str = "Asia/Shanghai"
    rng: random.Random = field(default_factory=random.Random)


class _Notification:
    """The notification columns of a claimed row, under the names content.Facts reads."""

    __slots__ = ("id", "kind", "task_id", "campaign_id", "store_id", "params")

    def __init__(self, row):
        self.id, self.kind, self.task_id = row.notification_id, row.kind, row.task_id
        self.campaign_id, self.store_id, self.params = row.campaign_id, row.store_id, row.params


class PushChannel:
    """The outbox's ``push`` rows: one notification to one device through a transport
    (the embedded recorder or FCM)."""

    name, sent_state, dead_state = "push", "sent", "dead"
    pipelined = True

    def __init__(self, transport, settings: DispatchSettings):
        self.transport, self.settings = transport, settings
        self.batch_size, self.lease_seconds = settings.batch_size, settings.lease_seconds
        self.keep_payload = getattr(transport, "keeps_payload", True)
        self.policy = RetryPolicy(base_seconds=settings.backoff_base_seconds,
                                  cap_seconds=settings.backoff_cap_seconds,
                                  max_attempts=settings.max_attempts, rng=settings.rng)

    def read(self, claimed):
        """The claimed rows with their device's address and locale and their notification."""
        device, notification = Device.__table__, Notification.__table__
        return (select(claimed.c.id, claimed.c.attempts, claimed.c.give_up_at, device.c.id.label("device_id"),
                       device.c.push_token, device.c.token_kind, device.c.locale,
                       notification.c.id.label("notification_id"), notification.c.kind, notification.c.task_id,
                       notification.c.campaign_id, notification.c.store_id, notification.c.params)
                .join(device, device.c.id == claimed.c.device_id)
                .join(notification, notification.c.id == claimed.c.notification_id))

    def prepare(self, session: Session, rows: list, now: dt.datetime) -> Prepared:
        """Read the facts behind the claimed rows and build each message in its device's locale;
        quiet hours defer, a device without address ends."""
        notifications = [_Notification(row) for row in rows]
        facts = contents.Facts(session, default_timezone=self.settings.default_timezone)
        facts.preload(notifications)
        quiet, prepared, targets = self.settings.quiet_hours, Prepared(), []
        for row, notification in zip(rows, notifications):
            quiet_until = quiet.release_time(now, facts.timezone_of(notification)) if quiet else None
            if row.push_token is None:  # dropped meanwhile: nothing to send to
                prepared.held.append((row, Verdict("dead", error="device has no push address")))
            elif quiet_until is not None:
                prepared.held.append((row, Verdict("deferred", until=quiet_until)))
            else:
                message = build_push(facts.push_content(notification, row.locale))
                targets.append((Target(row.push_token, row.token_kind), message))
                prepared.rows.append(row)
                prepared.messages.append(message)
        prepared.work = self.transport.encode(targets) if targets else []
        return prepared

    def send(self, work) -> list[Outcome]:
        return self.transport.send(work)

    def judge(self, row, message: dict, outcome: Outcome) -> Verdict:
        """Success keeps FCM's id; dead addresses end the delivery; quota and server errors retry."""
        if outcome.ok:
            return Verdict("sent", ok=True, message_id=outcome.message_id,
                           payload=message if self.keep_payload else None)
        error = f"{outcome.error}: {outcome.detail}"
        if outcome.drop_token:
            return Verdict("token_dropped", error=error)
        return Verdict("dead", retry=outcome.retry, retry_after=outcome.retry_after, error=error)

    def after_settle(self, session: Session, settled: list[tuple[object, Verdict]], now: dt.datetime) -> None:
        """Forget dead addresses, and end what was still waiting for them."""
        for row, verdict in settled:
            if verdict.outcome != "token_dropped":
                continue
            reason = verdict.error.split(":", 1)[0]
            session.execute(update(Device).where(Device.id == row.device_id).values(
                push_token=None, token_dropped_reason=reason, updated_at=now))
            session.execute(update(Delivery).where(Delivery.device_id == row.device_id,
                                                   Delivery.state == "pending")
                            .values(state="dead", last_error=f"{reason}: token dropped"))


def drain(session_factory: Callable[[], Session], transport, *, worker_id: str,
          settings: DispatchSettings, now: Callable[[], dt.datetime] = utcnow,
          max_batches: int | None = None) -> dict[str, int]:
    """Send every push due now; counts per outcome (sent, retry, dead, token_dropped, deferred)."""
    return dispatcher.drain(session_factory, PushChannel(transport, settings), worker_id=worker_id,
                            now=now, max_batches=max_batches)
