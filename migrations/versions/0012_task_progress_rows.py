"""task progress in rows of its own: checklist registers, sale counters, notes

Revision ID: 0012
Revises: 0013
Create Date: 2026-11-29 20:20:00

The checklist state, the sales and the notes of a store task move out of JSON columns of
``store_tasks`` into ``task_checklist_items`` (one register per task and item),
``task_sales`` (one counter per task and SKU) and ``task_notes`` (one row per note), so
phones editing different items of one task no longer rewrite (and lock) the task row.
Existing JSON is copied over; the downgrade folds the rows back into JSON.
"""
import datetime as dt
import json

from alembic import op
import sqlalchemy as sa
import backend.db


revision = "0012"
down_revision = "0013"
branch_labels = None
depends_on = None

BATCH = 2000


def _moment(value):
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _json(value, default):
    if value is None:
        return default
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return default
    return value


def upgrade() -> None:
    op.create_table(
        "task_checklist_items",
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("by_username", sa.String(length=80), nullable=True),
        sa.Column("edited_at", backend.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("client_time", backend.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["store_tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "item_id"),
    )
    op.create_table(
        "task_sales",
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["store_tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "sku"),
    )
    op.create_table(
        "task_notes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("text", sa.String(length=4000), nullable=False),
        sa.Column("by_username", sa.String(length=80), nullable=True),
        sa.Column("added_at", backend.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("client_time", backend.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["store_tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_task_notes_task_id", "task_notes", ["task_id"], unique=False)

    bind = op.get_bind()
    tasks = sa.table("store_tasks", sa.column("id", sa.BigInteger()),
                     sa.column("checklist_state", sa.JSON()), sa.column("sales", sa.JSON()),
                     sa.column("notes", sa.JSON()), sa.column("updated_at", backend.db.UTCDateTime()))
    items = sa.table("task_checklist_items", *(sa.column(c) for c in (
        "task_id", "item_id", "done", "by_username")),
        sa.column("edited_at", backend.db.UTCDateTime()), sa.column("client_time", backend.db.UTCDateTime()),
        sa.column("client_id"))
    sales = sa.table("task_sales", sa.column("task_id"), sa.column("sku"), sa.column("quantity"))
    notes = sa.table("task_notes", sa.column("task_id"), sa.column("text"), sa.column("by_username"),
                     sa.column("added_at", backend.db.UTCDateTime()),
                     sa.column("client_time", backend.db.UTCDateTime()))
    last = 0
    while True:
        rows = bind.execute(sa.select(tasks).where(
            tasks.c.id > last,
            sa.or_(sa.cast(tasks.c.checklist_state, sa.Text) != "{}",
                   sa.cast(tasks.c.sales, sa.Text) != "{}",
                   sa.cast(tasks.c.notes, sa.Text) != "[]"))
            .order_by(tasks.c.id).limit(BATCH)).all()
        if not rows:
            break
        last = rows[-1].id
        item_rows, sale_rows, note_rows = [], [], []
        for row in rows:
            for item_id, entry in _json(row.checklist_state, {}).items():
                entry = entry if isinstance(entry, dict) else {"done": bool(entry)}
                item_rows.append(dict(task_id=row.id, item_id=str(item_id)[:40],
                                      done=bool(entry.get("done")), by_username=entry.get("by"),
                                      edited_at=_moment(entry.get("at")) or row.updated_at,
                                      client_time=_moment(entry.get("client_time")),
                                      client_id=entry.get("client_id")))
            for sku, quantity in _json(row.sales, {}).items():
                sale_rows.append(dict(task_id=row.id, sku=str(sku)[:64], quantity=int(quantity)))
            for note in _json(row.notes, []):
                note = note if isinstance(note, dict) else {"text": str(note)}
                note_rows.append(dict(task_id=row.id, text=str(note.get("text", ""))[:4000],
                                      by_username=note.get("by"),
                                      added_at=_moment(note.get("at")) or row.updated_at,
                                      client_time=_moment(note.get("client_time"))))
        for table, values in ((items, item_rows), (sales, sale_rows), (notes, note_rows)):
            if values:
                bind.execute(table.insert(), values)

    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 has it): batch mode would recreate
    # store_tasks, and dropping the old table with foreign keys on cascades to its children.
    for column in ("notes", "sales", "checklist_state"):
        op.execute(f"ALTER TABLE store_tasks DROP COLUMN {column}")


def downgrade() -> None:
    # ADD COLUMN needs no table rebuild on either database.
    op.add_column("store_tasks", sa.Column("checklist_state", sa.JSON(), nullable=False, server_default="{}"))
    op.add_column("store_tasks", sa.Column("sales", sa.JSON(), nullable=False, server_default="{}"))
    op.add_column("store_tasks", sa.Column("notes", sa.JSON(), nullable=False, server_default="[]"))
    bind = op.get_bind()
    tasks = sa.table("store_tasks", sa.column("id", sa.BigInteger()),
                     sa.column("checklist_state", sa.JSON()), sa.column("sales", sa.JSON()),
                     sa.column("notes", sa.JSON()))
    state: dict[int, dict] = {}
    for row in bind.execute(sa.text(
            "SELECT task_id, item_id, done, by_username, edited_at, client_time, client_id "
            "FROM task_checklist_items WHERE edited_at IS NOT NULL ORDER BY task_id, item_id")):
        entry = {"done": bool(row.done), "by": row.by_username, "at": _iso(row.edited_at)}
        if row.client_time is not None:
            entry.update(client_time=_iso(row.client_time), client_id=row.client_id)
        state.setdefault(row.task_id, {"checklist_state": {}, "sales": {}, "notes": []})[
            "checklist_state"][row.item_id] = entry
    for row in bind.execute(sa.text("SELECT task_id, sku, quantity FROM task_sales ORDER BY task_id, sku")):
        state.setdefault(row.task_id, {"checklist_state": {}, "sales": {}, "notes": []})[
            "sales"][row.sku] = int(row.quantity)
    for row in bind.execute(sa.text(
            "SELECT task_id, text, by_username, added_at, client_time FROM task_notes ORDER BY id")):
        state.setdefault(row.task_id, {"checklist_state": {}, "sales": {}, "notes": []})[
            "notes"].append({"text": row.text, "by": row.by_username, "at": _iso(row.added_at),
                             "client_time": _iso(row.client_time)})
    updates = [dict(b_id=task_id, b_state=values["checklist_state"], b_sales=values["sales"],
                    b_notes=values["notes"]) for task_id, values in state.items()]
    for start in range(0, len(updates), BATCH):
        bind.execute(tasks.update().where(tasks.c.id == sa.bindparam("b_id")).values(
            checklist_state=sa.bindparam("b_state", type_=sa.JSON()),
            sales=sa.bindparam("b_sales", type_=sa.JSON()),
            notes=sa.bindparam("b_notes", type_=sa.JSON())), updates[start:start + BATCH])
    op.drop_index("ix_task_notes_task_id", table_name="task_notes")
    op.drop_table("task_notes")
    op.drop_table("task_sales")
    op.drop_table("task_checklist_items")


def _iso(value):
    """A stored timestamp as the JSON of the old columns held it (ISO, UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat()
