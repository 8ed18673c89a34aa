"""Recurring task templates (SPEC §13): an RFC 5545 RRULE subset, evaluated in a store's timezone.

Pure functions over python-dateutil's ``rrule``. Accepted: ``FREQ=DAILY|WEEKLY``, ``INTERVAL``,
``BYDAY`` (MO…SU), ``BYHOUR``, ``BYMINUTE`` — e.g. ``FREQ=DAILY;BYHOUR=9``,
``FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=10``. Occurrences are local wall-clock times: 09:00 stays 09:00
across a DST change (the UTC instant moves instead).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dateutil import rrule

_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_ALLOWED = {"FREQ", "INTERVAL", "BYDAY", "BYHOUR", "BYMINUTE"}


class InvalidRecurrence(ValueError):
    """The text is not in the accepted RRULE subset; the message says why."""


def _numbers(text: str, low: int, high: int, name: str) -> list[int]:
    values = []
    for part in text.split(","):
        if not part.isdigit() or not low <= int(part) <= high:
            raise InvalidRecurrence(f"{name} takes numbers {low}–{high}, not {part!r}")
        values.append(int(part))
    return values


def parse(text: str) -> dict:
    """The rule's parts as rrule keyword arguments; raises InvalidRecurrence."""
    if not text or len(text) > 200:
        raise InvalidRecurrence("a rule such as FREQ=DAILY;BYHOUR=9 is required (at most 200 characters)")
    parts: dict[str, str] = {}
    for item in text.strip().upper().removeprefix("RRULE:").split(";"):
        key, sep, value = item.partition("=")
        if not sep or not value:
            raise InvalidRecurrence(f"{item!r} is not KEY=VALUE")
        if key not in _ALLOWED:
            raise InvalidRecurrence(f"{key} is not supported (use {', '.join(sorted(_ALLOWED))})")
        if key in parts:
            raise InvalidRecurrence(f"{key} appears twice")
        parts[key] = value
    if parts.get("FREQ") not in ("DAILY", "WEEKLY"):
        raise InvalidRecurrence("FREQ must be DAILY or WEEKLY")
    if "BYHOUR" not in parts:
        raise InvalidRecurrence("BYHOUR is required (the local hour the task appears)")
    kwargs: dict = {"freq": rrule.DAILY if parts["FREQ"] == "DAILY" else rrule.WEEKLY,
                    "byhour": _numbers(parts["BYHOUR"], 0, 23, "BYHOUR"),
                    "byminute": _numbers(parts.get("BYMINUTE", "0"), 0, 59, "BYMINUTE"),
                    "bysecond": [0],
                    "interval": _numbers(parts.get("INTERVAL", "1"), 1, 366, "INTERVAL")[0]}
    if "BYDAY" in parts:
        days = parts["BYDAY"].split(",")
        unknown = [day for day in days if day not in _DAYS]
        if unknown:
            raise InvalidRecurrence(f"BYDAY takes {','.join(_DAYS)}, not {','.join(unknown)}")
        kwargs["byweekday"] = [_DAYS.index(day) for day in days]
    if len(kwargs["byhour"]) * len(kwargs["byminute"]) > 24:
        raise InvalidRecurrence("at most 24 occurrences a day")
    return kwargs


def validate(text: str) -> str:
    """The rule, normalised to upper case; raises InvalidRecurrence."""
    parse(text)
    return text.strip().upper().removeprefix("RRULE:")


def occurrences(text: str, timezone: str, *, since: dt.datetime, until: dt.datetime,
                anchor: dt.datetime) -> list[tuple[str, dt.datetime]]:
    """(local wall time "YYYY-MM-DDTHH:MM", UTC instant) of each occurrence in [since, until),
    counting INTERVAL from the local day of ``anchor`` (the campaign's start)."""
    zone = ZoneInfo(timezone)
    start = anchor.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    rule = rrule.rrule(dtstart=start, **parse(text))
    # Walk local wall times from a day before ``since`` (UTC offsets are at most ±14 h).
    window_start = max(start, since.astimezone(zone).replace(tzinfo=None) - dt.timedelta(days=1))
    window_end = until.astimezone(zone).replace(tzinfo=None) + dt.timedelta(days=1)
    found = []
    for local in rule.between(window_start, window_end, inc=True):
        instant = local.replace(tzinfo=zone).astimezone(dt.timezone.utc)
        if since <= instant < until:
            found.append((local.strftime("%Y-%m-%dT%H:%M"), instant))
    return found
