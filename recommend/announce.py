"""Telling phones that recommendations changed: the tasks of running campaigns that feature the
product are re-sent by sync pull (their data carries the recommendations).

Training, a moderation decision, an HQ script and a pin or ban announce; conversion feedback
does not (it moves scores all day long; phones get the new order with the next announcement).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import changefeed
from backend.campaigns.models import Campaign
from backend.tasks.models import StoreTask


def announce_products(session: Session, skus: set[str] | None) -> None:
    """Mark, for this transaction's commit, the tasks of scheduled or live campaigns featuring
    any of ``skus`` (every running campaign when None)."""
    running = session.execute(select(Campaign.id, Campaign.featured_skus)
                              .where(Campaign.status.in_(("scheduled", "live")))).all()
    ids = [campaign_id for campaign_id, featured in running
           if featured and (skus is None or skus & set(featured))]
    if ids:
        changefeed.mark_tasks_where(session, StoreTask.campaign_id.in_(ids))
