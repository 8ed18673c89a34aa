"""The outbox's one retry policy and how a verdict settles a row (pure: no app, no database)."""

import datetime as dt
import random
from types import SimpleNamespace

from outbox.dispatcher import Verdict, settlement
from outbox.retry import RetryPolicy

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)


def test_backoff_doubles_with_jitter_and_honours_retry_after():
    policy = RetryPolicy(base_seconds=10, cap_seconds=60, rng=random.Random(7))
    for attempts, low, high in ((1, 5, 10), (2, 10, 20), (3, 20, 40), (6, 30, 60)):
        wait = (policy.next_attempt(attempts, None, now=NOW) - NOW).total_seconds()
        assert low <= wait <= high
    assert policy.next_attempt(1, 300, now=NOW) == NOW + dt.timedelta(seconds=300)


def test_retries_stop_at_the_attempt_cap_or_the_deadline():
    capped = RetryPolicy(base_seconds=1, max_attempts=3)
    assert capped.next_attempt(2, None, now=NOW) is not None
    assert capped.next_attempt(3, None, now=NOW) is None
    deadline = RetryPolicy(base_seconds=60)
    assert deadline.next_attempt(1, None, now=NOW, give_up_at=NOW + dt.timedelta(hours=1)) is not None
    assert deadline.next_attempt(1, None, now=NOW, give_up_at=NOW + dt.timedelta(seconds=10)) is None


def test_a_verdict_settles_its_row_in_the_channels_words():
    channel = SimpleNamespace(sent_state="delivered", dead_state="failed",
                              policy=RetryPolicy(base_seconds=30, max_attempts=2, rng=random.Random(1)))
    row = SimpleNamespace(id=9, attempts=1, give_up_at=None)
    what, sent = settlement(row, Verdict("delivered", ok=True, status=200), channel, worker_id="w", now=NOW)
    assert what == "delivered" and sent["b_state"] == "delivered" and sent["b_sent_at"] == NOW
    what, retry = settlement(row, Verdict("failed", retry=True, error="HTTP 500"), channel, worker_id="w", now=NOW)
    assert what == "retry" and retry["b_state"] == "pending" and retry["b_next"] > NOW
    last = SimpleNamespace(id=9, attempts=2, give_up_at=None)
    what, dead = settlement(last, Verdict("failed", retry=True, error="HTTP 500"), channel, worker_id="w", now=NOW)
    assert what == "failed" and dead["b_state"] == "failed" and dead["b_error"] == "HTTP 500"
    later = NOW + dt.timedelta(hours=8)
    what, deferred = settlement(row, Verdict("deferred", until=later), channel, worker_id="w", now=NOW)
    assert what == "deferred" and deferred["b_state"] == "pending" and deferred["b_attempts"] == 0
    assert deferred["b_next"] == later
