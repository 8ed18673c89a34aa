"""Sync clients (a phone's install) and the stored result of every mutation they pushed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, utcnow


class SyncClient(Base):
    """A client id, bound to the user who first pushed with it."""

    __tablename__ = "sync_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    last_mutation_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # The latest client time accepted from this client: later edits are clamped to it.
    last_client_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncMutation(Base):
    """The first and only result of one mutation: retries are answered from here."""

    __tablename__ = "sync_mutations"

    client_id: Mapped[str] = mapped_column(ForeignKey("sync_clients.client_id", ondelete="CASCADE"),
                                           primary_key=True)
    mutation_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10))
    error: Mapped[str | None] = mapped_column(String(60))
    message: Mapped[str | None] = mapped_column(String(500))
    entity_type: Mapped[str | None] = mapped_column(String(20))
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    client_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    details: Mapped[dict | None] = mapped_column(JSON)
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
