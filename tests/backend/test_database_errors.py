"""Which database errors a client is told to retry (503) and which are bugs (500), on real
errors from both databases."""

import sqlite3

import pytest
from sqlalchemy import bindparam, column, make_url, select, text
from sqlalchemy.exc import OperationalError

from backend.db import build_engine
from backend.errors import is_transient


def test_a_statement_that_can_never_succeed_is_not_transient(database_url):
    engine = build_engine(database_url)
    with engine.connect() as connection, pytest.raises(OperationalError) as caught:
        if engine.dialect.name == "postgresql":  # beyond the protocol's 65,535 parameters
            values = range(70_000)
            statement = (select(text("1")).select_from(text("(SELECT 1 AS x) AS t"))
                         .where(column("x").in_([bindparam(f"p{i}") for i in values])))
            connection.execute(statement, {f"p{i}": i for i in values})
        else:  # SQLite reports a missing table as an OperationalError
            connection.execute(text("SELECT * FROM no_such_table"))
    assert not is_transient(caught.value), caught.value
    engine.dispose()


def test_a_lock_that_is_not_granted_is_transient(database_url):
    if make_url(database_url).get_backend_name() == "sqlite":
        path = make_url(database_url).database
        holder = sqlite3.connect(path, isolation_level=None)
        waiting = sqlite3.connect(path, isolation_level=None, timeout=0.05)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(sqlite3.OperationalError) as raw:
                waiting.execute("BEGIN IMMEDIATE")
        finally:
            holder.rollback()
            holder.close()
            waiting.close()
        assert is_transient(OperationalError("BEGIN IMMEDIATE", (), raw.value))
        return
    engine = build_engine(database_url)
    try:
        with engine.connect() as holder:
            holder.execute(text("CREATE TABLE IF NOT EXISTS lock_probe (id int)"))
            holder.commit()
            holder.execute(text("LOCK TABLE lock_probe IN ACCESS EXCLUSIVE MODE"))
            with engine.connect() as waiting, pytest.raises(OperationalError) as caught:
                waiting.execute(text("SET lock_timeout = '50ms'"))
                waiting.execute(text("SELECT * FROM lock_probe"))
            holder.rollback()
            holder.execute(text("DROP TABLE lock_probe"))
            holder.commit()
        assert is_transient(caught.value), caught.value
    finally:
        engine.dispose()
