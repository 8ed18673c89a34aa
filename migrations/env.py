"""Alembic environment: runs migrations on the engine handed over by backend.migrate."""

from alembic import context

import backend.models  # noqa: F401  (fills the metadata)
import integrations.models  # noqa: F401
import notifications.models  # noqa: F401
import recommend.models  # noqa: F401
import rules.models  # noqa: F401
import sync.models  # noqa: F401
from backend.db import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
