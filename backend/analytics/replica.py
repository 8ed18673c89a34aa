"""Where analytics read: the primary database, or a read-only replica (ANALYTICS_DATABASE_URL).

Analytics only read, and their chain-wide aggregates are the heaviest reads there are; a
streaming replica of PostgreSQL takes them off the primary. Authentication and scope still read
the primary (the signed-in user is the primary's); the figures come from the replica, and every
analytics answer says how far behind the primary they may be (header ``X-Analytics-Lag``).
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from backend import db

LAG_HEADER = "X-Analytics-Lag"
# Seconds since the replica last applied a transaction of the primary; 0 on a primary. This
# overstates the lag while the primary is idle (nothing to replay), never understates it.
_LAG_SQL = text("SELECT CASE WHEN pg_is_in_recovery() "
                "THEN COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), -1) "
                "ELSE 0 END")


def init_app(app: Flask) -> None:
    """A second engine for analytics when ANALYTICS_DATABASE_URL is set."""
    url = app.config.get("ANALYTICS_DATABASE_URL")
    if not url:
        return
    engine = db.build_engine(url, app.config["DB_POOL_SIZE"])
    app.extensions["zhida.analytics_engine"] = engine
    app.extensions["zhida.analytics_sessionmaker"] = sessionmaker(
        bind=engine.execution_options(**{db.READS_ONLY: True}), expire_on_commit=False)
    app.teardown_request(_close_session)
    app.teardown_appcontext(_close_session)


def _close_session(_exc=None) -> None:
    session = g.pop("analytics_session", None)
    if session is not None:
        session.close()


def configured() -> bool:
    return "zhida.analytics_sessionmaker" in current_app.extensions


def session() -> Session:
    """The session analytics read through: the replica's when configured, else the request's."""
    if not configured():
        return db.session()
    if "analytics_session" not in g:
        g.analytics_session = current_app.extensions["zhida.analytics_sessionmaker"]()
    return g.analytics_session


def lag_header() -> dict[str, str]:
    """``X-Analytics-Lag``: "primary", the replica's lag in seconds, or "unknown" (a replica
    that has not replayed anything yet, or one that is not PostgreSQL)."""
    if not configured():
        return {LAG_HEADER: "primary"}
    reader = session()
    if reader.bind.dialect.name != "postgresql":
        return {LAG_HEADER: "unknown"}
    seconds = float(reader.scalar(_LAG_SQL))
    return {LAG_HEADER: "unknown" if seconds < 0 else f"{seconds:.3f}"}
