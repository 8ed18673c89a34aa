"""Database engine and session per app, the declarative base, and shared column types."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import sqlite3
from pathlib import Path
from typing import Callable

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import BigInteger, DateTime, Integer, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.expression import Executable
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


READS_ONLY = "zhida_reads_only"  # execution option of the engine that read-only sessions use
_SQLITE_BUSY_SNAPSHOT = 517


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and the transaction rule of the embedded default.

    A write transaction begins IMMEDIATE: the write lock is taken at the start, so two
    read-then-write transactions queue up instead of failing on lock upgrade. A read-only
    session (``new_session(reads_only=True)``, GET requests, views marked ``reads_only``)
    begins DEFERRED: in WAL mode it reads its snapshot while a writer holds the lock.
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
        reads_only = connection.get_execution_options().get(READS_ONLY)
        connection.exec_driver_sql("BEGIN" if reads_only else "BEGIN IMMEDIATE")


def is_stale_read_snapshot(exc: BaseException) -> bool:
    """SQLite refused a write of a deferred transaction: another writer committed after it read
    (SQLITE_BUSY_SNAPSHOT, or a plain SQLITE_BUSY on the upgrade). Retrying as a write works."""
    original = getattr(exc, "orig", None)
    return (isinstance(exc, OperationalError) and isinstance(original, sqlite3.OperationalError)
            and getattr(original, "sqlite_errorcode", None) in (_SQLITE_BUSY_SNAPSHOT, 5))


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
    """Attach an engine and session factories to the app; close the request session on teardown."""
    engine = build_engine(app.config["DATABASE_URL"], app.config["DB_POOL_SIZE"])
    app.extensions["zhida.engine"] = engine
    app.extensions["zhida.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.extensions["zhida.read_sessionmaker"] = sessionmaker(
        bind=engine.execution_options(**{READS_ONLY: True}), expire_on_commit=False)

    # Per request (a test client may share one app context across requests) and per app context.
    app.teardown_request(_close_request_session)
    app.teardown_appcontext(_close_request_session)
    _retry_stale_reads(app)


def _close_request_session(_exc=None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def _retry_stale_reads(app: Flask) -> None:
    """A request run as a read that turned out to write, and lost its snapshot to another writer
    (SQLite only), runs once more as a write: from the start, in a fresh IMMEDIATE transaction."""
    dispatch = app.dispatch_request

    def dispatch_request():
        try:
            return dispatch()
        except OperationalError as exc:
            if not (g.get("db_reads_only") and is_stale_read_snapshot(exc)):
                raise
            _close_request_session()
            g.db_writes = True
            return dispatch()

    app.dispatch_request = dispatch_request


def dialect_insert(session: Session | str, table):
    """An INSERT of the session's database dialect (or of a dialect by name), with
    ``on_conflict_…`` and ``excluded``."""
    name = session if isinstance(session, str) else session.bind.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def built_once(build: Callable[[str], Executable]) -> Callable[[Session], Executable]:
    """Decorate ``build(dialect name) -> statement``: the statement is built once per dialect and
    reused (its values go in as bound parameters). A hot path's statements cost more to build —
    SQLAlchemy coerces every clause — than to run once their SQL is compiled and cached."""
    built: dict[str, Executable] = {}

    @functools.wraps(build)
    def statement(session: Session) -> Executable:
        name = session.bind.dialect.name
        if name not in built:
            built[name] = build(name)
        return built[name]

    return statement


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


def reads_only(view_class):
    """Mark a view class whose POST only reads (like sync pull): its session is a read session."""
    view_class.reads_only = True
    return view_class


def _request_reads_only() -> bool:
    if not has_request_context() or g.get("db_writes"):
        return False
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return True
    view = current_app.view_functions.get(request.endpoint)
    return bool(getattr(getattr(view, "view_class", view), "reads_only", False))


def new_session(*, reads_only: bool = False) -> Session:
    """A fresh session outside the request one (CLI jobs, workers, threads); a write session
    unless ``reads_only`` (which only matters on SQLite: BEGIN instead of BEGIN IMMEDIATE)."""
    key = "zhida.read_sessionmaker" if reads_only else "zhida.sessionmaker"
    return current_app.extensions[key]()


def session() -> Session:
    """The session of the current request or app context (created on first use): a read session
    for GET/HEAD requests and views marked ``reads_only``, a write session otherwise."""
    if "db_session" not in g:
        g.db_reads_only = _request_reads_only()
        g.db_session = new_session(reads_only=g.db_reads_only)
    return g.db_session
