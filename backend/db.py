"""Database engine and session per app, the declarative base, and shared column types."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import BigInteger, DateTime, Integer, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC (the only clock the server trusts)."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; attach a timezone")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


# 64-bit ids on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    """Declarative base of every model."""


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and write-ahead locking with BEGIN IMMEDIATE.

    BEGIN IMMEDIATE takes the write lock at the start of a transaction, so two
    read-then-write transactions queue up instead of failing on lock upgrade.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def build_engine(database_url: str, pool_size: int = 5) -> Engine:
    """Create the engine for a URL, with the SQLite settings the embedded default needs."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("", "psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True)


def init_app(app: Flask) -> None:
    """Attach an engine and a session factory to the app; close the request session on teardown."""
    engine = build_engine(app.config["DATABASE_URL"], app.config["DB_POOL_SIZE"])
    app.extensions["zhida.engine"] = engine
    app.extensions["zhida.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)

    def _close_session(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    # Per request (a test client may share one app context across requests) and per app context.
    app.teardown_request(_close_session)
    app.teardown_appcontext(_close_session)


def dialect_insert(session: Session, table):
    """An INSERT of the session's database dialect (with ``on_conflict_…`` and ``excluded``)."""
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def insert_skipping_conflicts(session: Session, table, index_elements: list[str]):
    """INSERT … ON CONFLICT (columns) DO NOTHING, for the session's database."""
    return dialect_insert(session, table).on_conflict_do_nothing(index_elements=index_elements)


_CALLER_OWNS = "zhida.caller_owns_transaction"


def commit(session: Session) -> None:
    """End a write service: commit, or only flush when a caller owns the transaction.

    Sync push applies a whole batch of mutations in one transaction, each inside its own
    SAVEPOINT; the services it calls then leave the commit to it.
    """
    if session.info.get(_CALLER_OWNS):
        session.flush()
    else:
        session.commit()


class CommitInsideCallerTransaction(RuntimeError):
    """A service called ``session.commit()`` while its caller owned the transaction: that would
    commit the caller's half-done work (a sync push's earlier mutations) behind its back."""


def _refuse_foreign_commit(session: Session) -> None:
    # A SAVEPOINT being released is the caller's own business; only the real commit is refused.
    if session.info.get(_CALLER_OWNS) and not session.in_nested_transaction():
        raise CommitInsideCallerTransaction(
            "A service committed inside a caller-owned transaction; end writes with db.commit().")


@contextlib.contextmanager
def caller_owns_transaction(session: Session):
    """Within this block, services flush instead of committing (``commit``), and a direct
    ``session.commit()`` raises CommitInsideCallerTransaction."""
    if not event.contains(Session, "before_commit", _refuse_foreign_commit):
        event.listen(Session, "before_commit", _refuse_foreign_commit)
    session.info[_CALLER_OWNS] = True
    try:
        yield session
    finally:
        session.info.pop(_CALLER_OWNS, None)


def engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions["zhida.engine"]


def new_session() -> Session:
    """A fresh session outside the request one (CLI jobs, workers, threads)."""
    return current_app.extensions["zhida.sessionmaker"]()


def session() -> Session:
    """The session of the current request or app context (created on first use)."""
    if "db_session" not in g:
        g.db_session = new_session()
    return g.db_session
