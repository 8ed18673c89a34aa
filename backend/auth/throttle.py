"""Throttling of sign-in and refresh (SPEC §15), per username and per client address, with the
`limits` library (moving windows). Its storage is a URI: `memory://` keeps counts in the process
(the embedded default, one process); several API processes share `redis://host:6379` or
`memcached://host:11211` (THROTTLE_STORAGE_URI)."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many, storage, strategies

from backend.errors import TooManyRequests


@dataclass(frozen=True)
class ThrottleRules:
    """Limits in the `limits` notation, e.g. "10/minute;50/hour"."""

    per_username: str
    per_address: str


class SignInThrottle:
    """Counts every attempt (right or wrong: no answer tells an existing username apart)."""

    def __init__(self, storage_uri: str, rules: ThrottleRules):
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))
        self._per_username = parse_many(rules.per_username)
        self._per_address = parse_many(rules.per_address)

    def _hit_all(self, limits: list[RateLimitItem], *keys: str) -> int:
        """0 when every limit admits one more hit (and counts it), else seconds to wait."""
        wait = 0
        for limit in limits:
            if not self._limiter.hit(limit, *keys):
                reset_at = self._limiter.get_window_stats(limit, *keys).reset_time
                wait = max(wait, math.ceil(reset_at - time.time()), 1)
        return wait

    def check(self, *, action: str, username: str | None, address: str | None) -> None:
        """Count one attempt; TooManyRequests (with Retry-After) beyond a limit."""
        waits = [self._hit_all(self._per_address, action, "address", address or "unknown")]
        if username:
            # Hashed: the storage never holds usernames, and any text makes a fixed-size key.
            digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
            waits.append(self._hit_all(self._per_username, action, "user", digest))
        wait = max(waits)
        if wait:
            raise TooManyRequests(f"Too many attempts; try again in {wait} seconds.",
                                  retry_after=wait)
