"""Domain events the store-operations services announce, for packages outside backend to hear.

Receivers run synchronously INSIDE the writing transaction, before it commits: that is what
lets notifications write their outbox rows atomically with the event (a rollback drops both,
a commit keeps both). A receiver must therefore only add rows to the given session — no I/O,
no commit. Delivery happens later, from the outbox, in the worker.

Each task event names the affected store tasks by a SQL condition on StoreTask (publish and
campaign-wide edits touch thousands of tasks; receivers fan out with INSERT … SELECT).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: sender: the event kind ("task_published", "task_changed", "task_cancelled", "review_result");
#: kwargs: session, condition (SQL on StoreTask), now, and for reviews decision + comment.
tasks_event = _signals.signal("tasks-event")

#: sender: "campaign_closed"; kwargs: session, campaign, now.
campaign_event = _signals.signal("campaign-event")

#: sender: the entity ("task", "campaign"); kwargs: session, event (the audit row just added,
#: with entity_id, action, actor and after). Every state change a service explains in the
#: audit log is announced here, whatever the entry point (REST, sync, QR).
recorded = _signals.signal("recorded")


def announce_tasks(kind: str, *, session, condition, now, **details) -> None:
    """Tell listeners that the tasks matching ``condition`` went through ``kind``."""
    tasks_event.send(kind, session=session, condition=condition, now=now, **details)


def announce_campaign(kind: str, *, session, campaign, now) -> None:
    """Tell listeners that a campaign went through ``kind``."""
    campaign_event.send(kind, session=session, campaign=campaign, now=now)


def announce_recorded(session, event) -> None:
    """Tell listeners that an audit row was added (the change it explains commits with it)."""
    recorded.send(event.entity, session=session, event=event)
