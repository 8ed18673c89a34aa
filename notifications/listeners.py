"""Listeners of backend's domain events: the notifications each event writes, in its transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from backend import events
from notifications import outbox, schedule


def _on_tasks_event(kind: str, *, session: Session, condition, now: dt.datetime, **details) -> None:
    if kind == "review_result":
        outbox.insert_for_tasks(session, kind, condition=condition, recipients=outbox.claimants(), now=now,
                                params={"decision": details.get("decision", ""),
                                        "comment": (details.get("comment") or "")[:500]})
    else:
        outbox.insert_for_tasks(session, kind, condition=condition, recipients=outbox.clerks_of_store(),
                                now=now)


def _on_campaign_event(kind: str, *, session: Session, campaign, now: dt.datetime) -> None:
    if kind == "campaign_closed":
        schedule.summarize_campaign(session, campaign, now)


def listen() -> None:
    """Subscribe to backend's domain events (called by create_app)."""
    events.tasks_event.connect(_on_tasks_event, weak=False)
    events.campaign_event.connect(_on_campaign_event, weak=False)
