"""Migration 0012 moves task progress out of JSON into rows and back, losing nothing (both databases)."""

import datetime as dt
import json

from sqlalchemy import text

from backend import migrate
from backend.db import build_engine
from tests.sync_helpers import server_view

NOW = dt.datetime.now(dt.timezone.utc)


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def test_progress_rows_fold_into_json_and_back(make, client, app, database_url):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1"}, headers=w.h["admin"])
    results = client.post("/api/v1/sync/push", headers=w.h["clerk1"], json={
        "client_id": "phone-migrate-1", "schema_version": 1, "mutations": [
            {"id": 1, "name": "set_checklist_item", "client_time": NOW.isoformat(),
             "args": {"task_id": task_id, "item_id": "shelf", "done": True}},
            {"id": 2, "name": "record_sale", "args": {"task_id": task_id, "sku": "LIP-01", "quantity": 3}},
            {"id": 3, "name": "add_note", "args": {"task_id": task_id, "text": "端架完成"}}]}).json["results"]
    assert [r["status"] for r in results] == ["applied"] * 3
    before = server_view(app, w.admin.id)
    engine = build_engine(database_url)
    try:
        migrate.downgrade(engine, "0011")
        with engine.connect() as connection:
            row = connection.execute(text("SELECT checklist_state, sales, notes FROM store_tasks "
                                          "WHERE id = :id"), {"id": task_id}).one()
            connection.rollback()
        state, sales, notes = (_json(value) for value in row)
        assert state["shelf"]["done"] is True and state["shelf"]["by"] == "clerk1"
        assert state["shelf"]["client_id"] == "phone-migrate-1"
        assert sales == {"LIP-01": 3} and [n["text"] for n in notes] == ["端架完成"]
        migrate.upgrade(engine)
    finally:
        migrate.upgrade(engine)  # leave the shared test database at head whatever happened
        engine.dispose()
    assert server_view(app, w.admin.id) == before
    assert client.get(f"/api/v1/tasks/{task_id}", headers=w.h["clerk1"]).json["claimants"][0]["username"] == "clerk1"
