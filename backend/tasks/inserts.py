"""Inserting many new store tasks at once (publish, bulk import): one COPY on PostgreSQL.

PostgreSQL keeps the analytics rollups with a statement trigger over the inserted rows
(``backend.analytics.rollup_sql``): one COPY is one statement, summed once, and it is also the
fastest way in. An ``executemany`` would be one statement, and one trigger run, per task. SQLite
has row triggers only and no COPY: ``executemany`` there.
"""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from backend.tasks.models import StoreTask


def insert_tasks(session: Session, rows: list[dict]) -> None:
    """Insert new task rows (dicts of the same columns, ``campaigns.service.store_task_row``)."""
    if not rows:
        return
    if session.bind.dialect.name != "postgresql":
        session.execute(StoreTask.__table__.insert(), rows)
        return
    columns = list(rows[0])
    json_columns = {name for name in columns if name in ("observed_prices", "review")}
    session.flush()
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        with cursor.copy(f"COPY store_tasks ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([json.dumps(row[name]) if name in json_columns and row[name] is not None
                                else row[name] for name in columns])
    finally:
        cursor.close()
