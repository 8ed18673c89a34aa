"""The change feed without a global lock, its cursors, and reads that writes do not block."""

import base64
import json

import pytest
from flask import jsonify
from sqlalchemy import text

from backend import db
from backend.db import utcnow
from backend.tasks.models import StoreTask, TaskNote
from tests.sync_helpers import phone


def pull(client, headers, client_id, cursor, limit=200):
    return client.post("/api/v1/sync/pull", headers=headers, json={
        "client_id": client_id, "cursor": cursor, "schema_version": 1, "limit": limit})


def encoded(prefix, payload):
    return prefix + base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _note(session, task_id, text_):
    """A note written the way the ORM services write one (a row, and the task's version)."""
    task = session.get(StoreTask, task_id)
    task.note_entries.append(TaskNote(text=text_, added_at=utcnow()))
    task.version += 1


def test_earlier_transaction_committing_after_a_delta_pull_is_not_skipped(make, app, database_url):
    """T1 takes its transaction id first; T2 writes and commits; a reader pulls; only then T1
    writes and commits. The reader's next pull brings both (PostgreSQL: writers run at once)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite writers are serialized: the commit-order test covers it")
    w = make.world()
    first, second = make.task_id(w.campaign.id, w.s1), make.task_id(w.campaign.id, w.s2)
    client = app.test_client()
    device = phone(client, w.h["admin"], "phone-hq-feed")
    device.pull()                                          # bootstrap, then deltas from here
    cursor = device._meta("cursor")
    with app.app_context():
        t1, t2 = db.new_session(), db.new_session()
        early_txid = t1.scalar(text("SELECT pg_current_xact_id()::text::bigint"))
        _note(t2, second, "later transaction")
        t2.commit()
        held = pull(client, w.h["admin"], "phone-hq-feed", cursor).json
        # T2 is committed but T1 (an older transaction id) still runs: the feed waits for it.
        assert held["changes"] == [] and held["has_more"] is False
        _note(t1, first, "earlier transaction")
        t1.commit()
        txids = dict(t2.execute(text("SELECT entity_id, txid FROM changes WHERE entity_id IN (:a, :b)"),
                                {"a": first, "b": second}).all())
        assert txids[first] == early_txid < txids[second]
        t1.close(), t2.close()
    after = pull(client, w.h["admin"], "phone-hq-feed", held["cursor"]).json
    notes = {change["id"]: [n["text"] for n in change["data"]["notes"]] for change in after["changes"]}
    assert notes == {first: ["earlier transaction"], second: ["later transaction"]}
    again = pull(client, w.h["admin"], "phone-hq-feed", after["cursor"]).json
    assert again["changes"] == []


def test_delta_pages_follow_the_paging_key(make, client):
    """Changes of one transaction span several pages; nothing is repeated or skipped."""
    w = make.world()
    device = phone(client, w.h["admin"], "phone-hq-pages")
    device.pull()
    cursor = device._meta("cursor")
    make.campaign(w.admin, "MANY", tasks=[{"title": f"T{i}"} for i in range(4)])  # 12 tasks at once
    seen, pages, has_more = [], 0, True
    while has_more:
        page = pull(client, w.h["admin"], "phone-hq-pages", cursor, limit=5).json
        seen += [(c["entity"], c["id"]) for c in page["changes"]]
        cursor, has_more, pages = page["cursor"], page["has_more"], pages + 1
    tasks = [entity_id for entity, entity_id in seen if entity == "task"]
    assert len(tasks) == len(set(tasks)) == 12 and pages >= 3


@pytest.mark.parametrize("payload,prefix", [
    ({"s": True, "k": "abc"}, "c1."), ({"h": True, "k": "abc"}, "c2."),
    ({"h": 1, "k": "abc", "p": [True, 1]}, "c2."), ({"h": 1, "k": "abc", "a": 1.5}, "c2."),
    ({"h": "7", "k": "abc"}, "c2."), ([], "c2.")])
def test_forged_cursor_is_invalid_cursor_not_500(make, client, payload, prefix):
    w = make.world()
    response = pull(client, w.h["clerk1"], "phone-clerk1-forge", encoded(prefix, payload))
    assert response.status_code == 400 and response.json["error"] == "invalid_cursor"


def test_cursor_of_the_counter_feed_gets_a_reset(make, client):
    w = make.world()
    device = phone(client, w.h["clerk1"], "phone-clerk1-old")
    device.pull()
    scope = json.loads(base64.urlsafe_b64decode(device._meta("cursor")[3:] + "=="))["k"]
    response = pull(client, w.h["clerk1"], "phone-clerk1-old", encoded("c1.", {"s": 42, "k": scope}))
    assert response.status_code == 200 and response.json["reset"] is True
    assert {c["entity"] for c in response.json["changes"]} == {"task", "notification"}


def test_reads_complete_while_another_connection_holds_the_write_lock(make, app, client):
    """GET pages and sync pull are read transactions: a writer holding the lock (SQLite's
    BEGIN IMMEDIATE, a row lock on PostgreSQL) does not make them wait."""
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    with app.app_context():
        writer = db.new_session()
        _note(writer, task_id, "uncommitted")
        writer.flush()                                     # holds the write lock, not committed
        try:
            detail = client.get(f"/api/v1/tasks/{task_id}", headers=w.h["clerk1"])
            assert detail.status_code == 200 and detail.json["notes"] == []
            bootstrap = pull(client, w.h["clerk1"], "phone-clerk1-read", None)
            assert bootstrap.status_code == 200 and bootstrap.json["changes"]
            delta = pull(client, w.h["clerk1"], "phone-clerk1-read", bootstrap.json["cursor"])
            assert delta.status_code == 200
        finally:
            writer.rollback(), writer.close()


def test_a_read_request_that_writes_after_another_commit_is_retried_as_a_write(make, app, database_url):
    """SQLite: a deferred (read) transaction whose snapshot went stale cannot write
    (SQLITE_BUSY_SNAPSHOT); the request runs once more as a write and succeeds."""
    w = make.world()
    first, second = make.task_id(w.campaign.id, w.s1), make.task_id(w.campaign.id, w.s2)
    attempts = []

    def read_then_write():
        session = db.session()
        attempts.append(session.get(StoreTask, first).notes)        # the read opens the snapshot
        if len(attempts) == 1:
            other = db.new_session()
            _note(other, second, "someone else")
            other.commit(), other.close()
        _note(session, first, "written by a GET")
        session.commit()
        return jsonify(attempts=len(attempts))

    app.add_url_rule("/test/read-then-write", view_func=read_then_write)
    response = app.test_client().get("/test/read-then-write")
    assert response.status_code == 200
    assert response.json["attempts"] == (2 if database_url.startswith("sqlite") else 1)
    with app.app_context():
        session = db.new_session()
        assert [n["text"] for n in session.get(StoreTask, first).notes] == ["written by a GET"]
        session.close()


def test_after_a_purge_a_fresh_snapshot_is_not_reset_again(make, app, client):
    """The purge stops below the horizon, so the snapshot that follows a reset starts above it."""
    import datetime as dt
    from backend.changefeed import purge_older_than
    w = make.world()
    old = phone(client, w.h["clerk1"], "phone-clerk1-purge")
    old.pull()
    client.post(f"/api/v1/tasks/{make.task_id(w.campaign.id, w.s1)}/assign",
                json={"username": "clerk1"}, headers=w.h["admin"])
    with app.app_context():
        session = db.new_session()
        assert purge_older_than(session, dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)) > 0
        session.close()
    reset = pull(client, w.h["clerk1"], "phone-clerk1-purge", old._meta("cursor")).json
    assert reset["reset"] is True and reset["has_more"] is False
    after = pull(client, w.h["clerk1"], "phone-clerk1-purge", reset["cursor"]).json
    assert after["reset"] is False and after["changes"] == []
    fresh = phone(client, w.h["clerk1"], "phone-clerk1-new")
    fresh.pull()
    again = pull(client, w.h["clerk1"], "phone-clerk1-new", fresh._meta("cursor")).json
    assert again["reset"] is False
