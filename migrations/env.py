"""Alembic environment: runs migrations on the engine handed over by backend.migrate."""

from alembic import context

import backend.models  # noqa: F401  (fills the metadata)
import integrations.models  # noqa: F401
import notifications.models  # noqa: F401
import outbox.models  # noqa: F401
import recommend.models  # noqa: F401
import rules.models  # noqa: F401
import sync.models  # noqa: F401
from backend.db import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    # SQLite alters a table by copying it and dropping the old one: with foreign keys on, that
    # DROP would cascade into the rows pointing at it (every store task of a task template).
    # The pragma only takes effect outside a transaction, so it is set on the raw connection
    # first, the keys are checked before commit, and the pooled connection gets them back.
    raw = connection.connection.driver_connection if sqlite else None
    if sqlite:
        raw.execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            context.configure(connection=connection, target_metadata=Base.metadata,
                              render_as_batch=sqlite, compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
            if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                raise RuntimeError("a migration left rows whose foreign keys point nowhere")
    finally:
        if sqlite:
            raw.execute("PRAGMA foreign_keys=ON")
