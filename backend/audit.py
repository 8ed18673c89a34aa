"""The append-only event log: who changed what, from which device, when, before → after."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from backend import events
from backend.db import Base, BigId, UTCDateTime, utcnow
from backend.org.models import User


class Event(Base):
    """One state change of a task or a campaign. Rows are only ever inserted."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_entity", "entity", "entity_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    client_id: Mapped[str | None] = mapped_column(String(64))
    server_time: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    client_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

    user: Mapped[User | None] = relationship(lazy="joined")


def record(session: Session, *, entity: str, entity_id: int, action: str, actor: User | None,
           before: dict | None = None, after: dict | None = None, client_id: str | None = None,
           client_time: dt.datetime | None = None, at: dt.datetime | None = None) -> Event:
    """Append one event row to the session (committed with the change it describes)."""
    event = Event(entity=entity, entity_id=entity_id, action=action,
                  user_id=actor.id if actor else None, client_id=client_id,
                  server_time=at or utcnow(), client_time=client_time, before=before, after=after)
    session.add(event)
    events.announce_recorded(session, event)
    return event


def record_many(session: Session, rows: list[dict]) -> None:
    """Bulk-append events (one per task of a campaign-wide change)."""
    if rows:
        session.execute(Event.__table__.insert(), rows)
