"""The one retry policy of the outbox: exponential backoff with full jitter, never sooner than
the receiver's Retry-After, until an attempt cap or a deadline (pure)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field


def backoff_seconds(attempt: int, retry_after: float | None, *, base: float, cap: float,
                    rng: random.Random) -> float:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    delay = rng.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


@dataclass
class RetryPolicy:
    """When a failed attempt is tried again, if at all."""

    base_seconds: float = 5.0
    cap_seconds: float = 3600.0
    max_attempts: int | None = None  # None: only the row's give_up_at stops retries
    rng: random.Random = field(default_factory=random.Random)

    def next_attempt(self, attempts: int, retry_after: float | None, *, now: dt.datetime,
                     give_up_at: dt.datetime | None = None) -> dt.datetime | None:
        """The time of the next attempt after ``attempts`` failed ones; None: give up."""
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return None
        delay = backoff_seconds(attempts, retry_after, base=self.base_seconds, cap=self.cap_seconds,
                                rng=self.rng)
        next_at = now + dt.timedelta(seconds=delay)
        if give_up_at is not None and next_at > give_up_at:
            return None
        return next_at
