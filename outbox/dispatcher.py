"""Draining the outbox: one claim-and-send loop for every channel (pushes, webhooks).

A channel (``notifications/dispatch.py``: ``PushChannel``; ``integrations/dispatch.py``:
``WebhookChannel``) builds a claimed batch, sends it and judges each answer; this loop claims,
pipelines and settles, with the one retry policy (``outbox/retry.py``).

Several workers may drain at once: a claim (``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP
LOCKED) RETURNING …`` on PostgreSQL, the database write lock on SQLite) gives each row to one
worker, which commits the lease before any network wait. Settling is guarded by ``lease_owner``:
a worker whose lease expired cannot overwrite the next owner's result. A worker that dies after
sending but before settling leaves its leases to expire; the rows are then sent again — at least
once, nothing lost.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session

from backend.db import utcnow
from outbox.models import PENDING, SENDING, OutboxMessage
from outbox.retry import RetryPolicy

_TABLE = OutboxMessage.__table__


@dataclass(frozen=True)
class Verdict:
    """What one answer (or a decision taken without sending) means for its row."""

    outcome: str                      # what is counted: sent, delivered, dead, disabled, deferred, …
    ok: bool = False                  # sent: the channel's end state of success
    retry: bool = False               # worth another attempt, if the retry policy allows
    retry_after: float | None = None  # seconds the receiver asked us to wait
    error: str | None = None
    until: dt.datetime | None = None  # deferred (not an attempt) until then
    message_id: str | None = None     # push: the provider's id
    payload: dict | None = None       # push: the message, when the transport keeps it
    status: int | None = None         # webhook: the receiver's HTTP status
    duration_ms: int | None = None    # how long the attempt took (None: held back, not sent)


@dataclass
class Prepared:
    """A claimed batch as the channel built it: the rows to send (each with ``id``, ``attempts``
    and ``give_up_at``), what is sent for each, the work as the channel's sender takes it, and
    rows settled without sending (deferred, nothing to send to)."""

    rows: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    work: Any = None
    held: list[tuple[Any, Verdict]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


class Channel(Protocol):
    """One kind of outbox row and how to send it."""

    name: str          # the rows' ``channel``
    sent_state: str    # end state of success
    dead_state: str    # end state of failure
    batch_size: int
    lease_seconds: int
    policy: RetryPolicy
    # Claim the next batch while one is in flight (pushes: throughput). Off for webhooks: a
    # receiver's 410 must stop the deliveries behind it before they are claimed.
    pipelined: bool

    def read(self, claimed) -> Select:
        """A SELECT of what building needs, from ``claimed`` (the claimed outbox rows) joined to
        the channel's tables; it must name the outbox row's ``id``, ``attempts``, ``give_up_at``."""

    def prepare(self, session: Session, rows: list, now: dt.datetime) -> Prepared:
        """Build the claimed rows (read by ``read``) into what ``send`` takes."""

    def send(self, work: Any) -> list: ...

    def judge(self, row, message, answer) -> Verdict: ...

    def after_settle(self, session: Session, settled: list[tuple[Any, Verdict]], now: dt.datetime) -> None: ...


def claim(session: Session, channel: Channel, *, worker_id: str, now: dt.datetime) -> list:
    """Lease up to a batch of the channel's due rows to this worker, read them as the channel
    wants them (``channel.read``), and commit: pending rows whose time has come (an index range
    scan), then rows whose worker's lease expired (a dead worker's batch), the second only when
    the first left room. On PostgreSQL the lease and the read are one statement (the UPDATE …
    RETURNING is a CTE the channel's SELECT joins); SQLite reads the ids RETURNING gave."""
    postgres = session.bind.dialect.name == "postgresql"
    rows: list = []
    for state, due in ((PENDING, _TABLE.c.next_attempt_at <= now), (SENDING, _TABLE.c.leased_until < now)):
        wanted = channel.batch_size - len(rows)
        if wanted <= 0:
            break
        chosen = (select(_TABLE.c.id).where(_TABLE.c.channel == channel.name, _TABLE.c.state == state, due)
                  .order_by(_TABLE.c.next_attempt_at).limit(wanted))
        if postgres:
            chosen = chosen.with_for_update(skip_locked=True)
        lease = update(_TABLE).where(_TABLE.c.id.in_(chosen.scalar_subquery())).values(
            state=SENDING, lease_owner=worker_id, attempts=_TABLE.c.attempts + 1,
            leased_until=now + dt.timedelta(seconds=channel.lease_seconds))
        if postgres:
            claimed = lease.returning(*_TABLE.c).cte("claimed")
        else:
            ids = list(session.scalars(lease.returning(_TABLE.c.id)))
            if not ids:
                continue
            claimed = select(_TABLE).where(_TABLE.c.id.in_(ids)).subquery("claimed")
        rows += session.execute(channel.read(claimed).order_by(claimed.c.id)).all()
    session.commit()
    return rows


# Each row's new state, only while this worker holds its lease (the lease_owner condition).
_SETTLE = (update(_TABLE).where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.lease_owner == bindparam("b_owner"))
           .values(state=bindparam("b_state"), attempts=bindparam("b_attempts"),
                   next_attempt_at=bindparam("b_next"), sent_at=bindparam("b_sent_at"),
                   last_error=bindparam("b_error"), provider_message_id=bindparam("b_message_id"),
                   payload=bindparam("b_payload"), last_status=bindparam("b_status"),
                   lease_owner=None, leased_until=None))


def settlement(row, verdict: Verdict, channel: Channel, *, worker_id: str,
               now: dt.datetime) -> tuple[str, dict]:
    """(what is counted, the row's new columns) for one verdict under the retry policy."""
    values = {"b_id": row.id, "b_owner": worker_id, "b_attempts": row.attempts, "b_next": now,
              "b_sent_at": None, "b_error": verdict.error[:500] if verdict.error else None,
              "b_message_id": None, "b_payload": None, "b_status": verdict.status}
    if verdict.ok:
        return verdict.outcome, {**values, "b_state": channel.sent_state, "b_sent_at": now,
                                 "b_message_id": verdict.message_id, "b_payload": verdict.payload}
    if verdict.until is not None:  # deferred, never dropped: not an attempt
        return verdict.outcome, {**values, "b_state": PENDING, "b_attempts": row.attempts - 1,
                                 "b_next": verdict.until}
    if verdict.retry:
        next_at = channel.policy.next_attempt(row.attempts, verdict.retry_after, now=now,
                                              give_up_at=row.give_up_at)
        if next_at is not None:
            return "retry", {**values, "b_state": PENDING, "b_next": next_at}
    return verdict.outcome, {**values, "b_state": channel.dead_state}


def _count(counts: dict[str, int], what: str, n: int = 1) -> None:
    counts[what] = counts.get(what, 0) + n


def _settle(session: Session, channel: Channel, judged: list[tuple[Any, Verdict]], counts: dict[str, int],
            *, worker_id: str, now: dt.datetime) -> None:
    """Record every verdict in one statement, then the channel's consequences (in the caller's
    transaction)."""
    changes = []
    for row, verdict in judged:
        what, columns = settlement(row, verdict, channel, worker_id=worker_id, now=now)
        changes.append(columns)
        _count(counts, what)
    if changes:
        session.execute(_SETTLE, changes)  # psycopg pipelines the executemany: one round trip
        channel.after_settle(session, judged, now)


def prepare(session_factory: Callable[[], Session], channel: Channel, *, worker_id: str,
            now: Callable[[], dt.datetime] = utcnow) -> Prepared | None:
    """Claim due rows and let the channel build them; rows it holds back are settled here.
    None when nothing is due."""
    with session_factory() as session:
        rows = claim(session, channel, worker_id=worker_id, now=now())
        if not rows:
            return None
        prepared = channel.prepare(session, rows, now())
        _settle(session, channel, prepared.held, prepared.counts, worker_id=worker_id, now=now())
        session.commit()  # no transaction stays open during the network wait
    return prepared


def settle(session_factory: Callable[[], Session], channel: Channel, prepared: Prepared, answers: list, *,
           worker_id: str, now: Callable[[], dt.datetime] = utcnow) -> dict[str, int]:
    """Record every answer of a sent batch; the batch's counts."""
    judged = [(row, channel.judge(row, message, answer))
              for row, message, answer in zip(prepared.rows, prepared.messages, answers)]
    with session_factory() as session:
        _settle(session, channel, judged, prepared.counts, worker_id=worker_id, now=now())
        session.commit()
    return prepared.counts


def _add(totals: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        _count(totals, key, value)


def drain(session_factory: Callable[[], Session], channel: Channel, *, worker_id: str,
          now: Callable[[], dt.datetime] = utcnow, max_batches: int | None = None) -> dict[str, int]:
    """Send the channel's batches until nothing is due; the summed counts.

    Pipelined (when the channel is) so the network never waits for the database: as soon as a batch's answers are in,
    the next batch (claimed and built meanwhile) goes out, and only then is the answered batch
    settled and the one after claimed and built.
    """
    totals: dict[str, int] = {}
    batches = 0

    def next_batch() -> Prepared | None:
        nonlocal batches
        while max_batches is None or batches < max_batches:
            prepared = prepare(session_factory, channel, worker_id=worker_id, now=now)
            if prepared is None:
                return None
            batches += 1
            if prepared.rows:
                return prepared
            _add(totals, prepared.counts)  # all held back: nothing to send
            if set(prepared.counts) == {"deferred"}:
                return None  # what is due now waits for quiet hours to end: stop until later
        return None

    if not channel.pipelined:
        while (current := next_batch()) is not None:
            _add(totals, settle(session_factory, channel, current, channel.send(current.work),
                                worker_id=worker_id, now=now))
        return totals
    current = next_batch()
    if current is None:
        return totals
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{channel.name}-send") as sender:
        in_flight = sender.submit(channel.send, current.work)
        following = next_batch()
        while current is not None:
            answers = in_flight.result()
            if following is not None:
                in_flight = sender.submit(channel.send, following.work)
            _add(totals, settle(session_factory, channel, current, answers, worker_id=worker_id, now=now))
            current = following
            following = next_batch() if current is not None else None
    return totals
