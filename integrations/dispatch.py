"""Webhooks as an outbox channel: POST each signed event, judge the receiver's answer.

Claiming, pipelining, retries and settling are the outbox's (``outbox/dispatcher.py``, the same
loop that sends pushes): at least once — a worker that dies mid-send leaves its lease to expire
and the delivery is sent again. Failures are retried with exponential backoff and full jitter
until 24 h after the event; ``410 Gone`` disables the endpoint.
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
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from backend.db import utcnow
from integrations import addresses, pinning, signing
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from outbox import dispatcher
from outbox.dispatcher import Prepared, Verdict
from outbox.retry import RetryPolicy

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


class WebhookChannel:
    """The outbox's ``webhook`` rows: one signed POST of an event to an endpoint."""

    name, sent_state, dead_state = "webhook", "delivered", "failed"
    pipelined = False

    def __init__(self, settings: WebhookSettings):
        self.settings = settings
        self.batch_size, self.lease_seconds = settings.batch_size, settings.lease_seconds
        self.policy = RetryPolicy(base_seconds=settings.backoff_base_seconds,
                                  cap_seconds=settings.backoff_cap_seconds, rng=settings.rng)

    def read(self, claimed):
        """The claimed rows with their endpoint and event."""
        endpoint, event = WebhookEndpoint.__table__, WebhookEvent.__table__
        return (select(claimed.c.id, claimed.c.attempts, claimed.c.give_up_at, endpoint.c.id.label("endpoint_id"),
                       endpoint.c.url, endpoint.c.secret, endpoint.c.active, event.c.public_id, event.c.type,
                       event.c.data, event.c.created_at)
                .join(endpoint, endpoint.c.id == claimed.c.endpoint_id)
                .join(event, event.c.id == claimed.c.event_id))

    def prepare(self, session: Session, rows: list, now: dt.datetime) -> Prepared:
        """Each claimed row's body (the same bytes on every attempt; it is signed at POST time);
        a disabled endpoint ends its rows unsent."""
        prepared = Prepared()
        for row in rows:
            if not row.active:  # disabled meanwhile: nothing to send to
                prepared.held.append((row, Verdict("failed", error="endpoint disabled")))
            else:
                prepared.rows.append(row)
                prepared.messages.append(body_of(row))
        prepared.work = list(zip(prepared.rows, prepared.messages))
        return prepared

    def send(self, work: list) -> list[Answer]:
        """POST each (a few at once); no transaction is open meanwhile."""
        def one(item) -> Answer:
            row, body = item
            return post(row.url, body, row.secret, event_id=row.public_id, settings=self.settings)

        with concurrent.futures.ThreadPoolExecutor(max_workers=self.settings.concurrency,
                                                   thread_name_prefix="webhook-post") as pool:
            return list(pool.map(one, work))

    def judge(self, row, body: bytes, answer: Answer) -> Verdict:
        """2xx delivers; 410 disables the endpoint; a refused address fails; anything else retries."""
        if answer.ok:
            return Verdict("delivered", ok=True, status=answer.status, duration_ms=answer.duration_ms)
        if answer.status == 410:
            return Verdict("disabled", status=answer.status, error=answer.error, duration_ms=answer.duration_ms)
        refused = (answer.error or "").startswith("refused:")
        return Verdict("failed", retry=not refused, retry_after=answer.retry_after, status=answer.status,
                       error=answer.error, duration_ms=answer.duration_ms)

    def after_settle(self, session: Session, settled: list[tuple[object, Verdict]], now: dt.datetime) -> None:
        """The delivery log (one row per POST), and endpoints that answered 410 disabled with
        their pending deliveries."""
        attempts = [dict(delivery_id=row.id, attempted_at=now, status=verdict.status, error=verdict.error,
                         duration_ms=verdict.duration_ms) for row, verdict in settled
                    if verdict.duration_ms is not None]  # held back without a POST: nothing to log
        if attempts:
            session.execute(insert(WebhookAttempt), attempts)
        for endpoint_id in sorted({row.endpoint_id for row, verdict in settled if verdict.outcome == "disabled"}):
            session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(
                active=False, disabled_at=now, disabled_reason="the receiver answered 410 Gone"))
            session.execute(update(WebhookDelivery).where(
                WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.state == "pending").values(
                state="failed", last_error="endpoint disabled (410 Gone)"))


def drain(session_factory: Callable[[], Session], *, worker_id: str, settings: WebhookSettings,
          now: Callable[[], dt.datetime] = utcnow, max_batches: int | None = None) -> dict[str, int]:
    """Deliver every webhook due now; counts per outcome (delivered, retry, failed, disabled)."""
    return dispatcher.drain(session_factory, WebhookChannel(settings), worker_id=worker_id, now=now,
                            max_batches=max_batches)
