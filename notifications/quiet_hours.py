"""Quiet hours: local hours, in each store's timezone, during which pushes wait (pure)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class QuietHours:
    """Local hours during which pushes wait (start inclusive, end exclusive; may wrap midnight)."""

    start: int = 22
    end: int = 8

    @classmethod
    def parse(cls, text: str) -> "QuietHours | None":
        """'22-8' → QuietHours(22, 8); '' or 'off' → None."""
        if not text or text.strip().lower() == "off":
            return None
        start, end = (int(part) for part in text.split("-"))
        if not (0 <= start < 24 and 0 <= end < 24) or start == end:
            raise ValueError(f"quiet hours must be 'H-H' with different hours 0–23, not {text!r}")
        return cls(start, end)

    def _quiet(self, hour: int) -> bool:
        if self.start < self.end:
            return self.start <= hour < self.end
        return hour >= self.start or hour < self.end

    def release_time(self, now: dt.datetime, timezone: str) -> dt.datetime | None:
        """When a push due now may go out in that timezone: None if now is not quiet."""
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("Asia/Shanghai")
        local = now.astimezone(zone)
        if not self._quiet(local.hour):
            return None
        release = local.replace(hour=self.end, minute=0, second=0, microsecond=0)
        if release <= local:
            release += dt.timedelta(days=1)
        return release.astimezone(dt.timezone.utc)
