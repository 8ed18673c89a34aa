"""Sync protocol v1 over HTTP (SPEC §5): push semantics, each conflict rule, pull and the cursor."""

import datetime as dt
import hashlib
import threading

import pytest
from sqlalchemy import text

from backend.changefeed import Change
from backend.tasks.models import StoreTask, TaskNote
from seed.demo import tiny_png
from sync.models import SyncMutation
from tests.sync_helpers import local_inbox, local_view, phone, server_inbox, server_view

NOW = dt.datetime.now(dt.timezone.utc)


def qr_of(client, w, task_id):
    return client.get(f"/api/v1/tasks/{task_id}/qr", headers=w.h["admin"]).json["token"]


def push(client, headers, client_id, mutations):
    return client.post("/api/v1/sync/push", headers=headers,
                       json={"client_id": client_id, "schema_version": 1, "mutations": mutations})


def m(id_, name, **args):
    return {"id": id_, "name": name, "args": args}


def test_offline_claim_work_and_submit_then_pull(make, client, app):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    device = phone(client, w.h["clerk1"], "phone-clerk1-a")
    device.pull()
    assert set(device.view()) == {make.task_id(w.campaign.id, w.s1),
                                  make.task_id(w.campaign.id, w.s1, "Price check")}
    png = tiny_png(3)
    sha = hashlib.sha256(png).hexdigest()
    client.put(f"/api/v1/blobs/{sha}", data=png, content_type="image/png", headers=w.h["clerk1"])
    device.enqueue("claim_task", task_id=task_id, qr_token=qr_of(client, w, task_id))
    device.enqueue("start_task", task_id=task_id)
    device.enqueue("set_checklist_item", task_id=task_id, item_id="shelf", done=True)
    device.enqueue("set_checklist_item", task_id=task_id, item_id="poster", done=True)
    device.enqueue("attach_photo", task_id=task_id, sha256=sha)
    device.enqueue("record_sale", task_id=task_id, sku="LIP-01", quantity=2)
    device.enqueue("add_note", task_id=task_id, text="端架完成")
    device.enqueue("submit_task", task_id=task_id)
    results = device.push()
    assert [r["status"] for r in results] == ["applied"] * 8, results
    assert results[-1]["entity"]["status"] == "submitted"
    assert device.pending() == []
    device.pull()
    assert local_view(device) == server_view(app, w.clerk1.id)
    history = client.get(f"/api/v1/tasks/{task_id}?include=history", headers=w.h["clerk1"]).json["history"]
    assert {e["client_id"] for e in history} == {"phone-clerk1-a"}


def test_retry_after_lost_response_is_exactly_once(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Price check")
    client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1"}, headers=w.h["admin"])
    device = phone(client, w.h["clerk1"], "phone-clerk1-b")
    device.enqueue("record_sale", task_id=task_id, sku="LIP-01", quantity=3)
    device.push(lose_response=True)
    assert device.pending() == [1]        # the phone never heard back
    device.enqueue("record_sale", task_id=task_id, sku="LIP-01", quantity=1)
    results = device.push()               # retry 1 with 2: 1 answered from storage
    assert [r["status"] for r in results] == ["applied", "applied"]
    sales = client.get(f"/api/v1/tasks/{task_id}", headers=w.h["clerk1"]).json["sales"]
    assert sales == {"LIP-01": 4}         # 3 + 1, not 3 + 3 + 1
    again = push(client, w.h["clerk1"], "phone-clerk1-b",
                 [{"id": 1, "name": "record_sale", "args": {"task_id": task_id, "sku": "LIP-01", "quantity": 3}}])
    assert again.json["results"][0]["status"] == "applied" and again.json["last_mutation_id"] == 2
    assert client.get(f"/api/v1/tasks/{task_id}", headers=w.h["clerk1"]).json["sales"] == {"LIP-01": 4}
    assert make.count(SyncMutation) == 2


def test_rejection_returns_reason_and_state_and_never_blocks(make, client):
    w = make.world()
    mine = make.task_id(w.campaign.id, w.s1)
    other_store = make.task_id(w.campaign.id, w.s2)
    response = push(client, w.h["clerk1"], "phone-clerk1-c", [
        m(1, "start_task", task_id=mine),                                  # not claimed: rejected
        m(2, "claim_task", task_id=mine, qr_token=qr_of(client, w, mine)),
        m(3, "record_sale", task_id=other_store, sku="LIP-01", quantity=1),  # other store
        m(4, "set_checklist_item", task_id=mine, item_id="nope", done=True),
        m(5, "record_sale", task_id=mine, sku="LIP-01", quantity=0),         # invalid args
        m(6, "teleport", task_id=mine),
        m(7, "start_task", task_id=mine),
    ])
    assert response.status_code == 200
    results = response.json["results"]
    assert [r["status"] for r in results] == ["rejected", "applied", "rejected", "rejected",
                                              "rejected", "rejected", "applied"]
    # entity: the task as the server holds it once the push committed (after mutation 7)
    assert results[0]["error"] == "not_claimant" and results[0]["entity"]["status"] == "in_progress"
    assert results[1]["entity"] is None                  # a later mutation of the task carries it
    assert results[2]["error"] == "out_of_scope" and results[2]["entity"] is None  # no leak
    assert results[3]["error"] == "unknown_item"
    assert results[4]["error"] == "invalid_args" and "quantity" in results[4]["details"]["errors"]
    assert results[5]["error"] == "unknown_mutation"
    assert results[6]["entity"]["status"] == "in_progress"
    assert response.json["last_mutation_id"] == 7


def test_gap_size_and_client_binding(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    gap = push(client, w.h["clerk1"], "phone-clerk1-d", [m(2, "start_task", task_id=task_id)])
    assert gap.status_code == 409 and gap.json["error"] == "mutation_gap"
    assert gap.json["last_mutation_id"] == 0
    too_many = push(client, w.h["clerk1"], "phone-clerk1-d",
                    [m(i, "add_note", task_id=task_id, text="x") for i in range(1, 502)])
    assert too_many.status_code == 413
    huge = push(client, w.h["clerk1"], "phone-clerk1-d",
                [m(1, "add_note", task_id=task_id, text="x" * 4000)] * 300)
    assert huge.status_code == 413
    assert make.count(SyncMutation) == 0
    assert push(client, w.h["clerk1"], "phone-clerk1-d", [m(1, "add_note", task_id=task_id, text="hi")]).status_code == 200
    stolen = push(client, w.h["clerk1b"], "phone-clerk1-d", [m(2, "add_note", task_id=task_id, text="x")])
    assert stolen.status_code == 403 and stolen.json["error"] == "client_id_taken"
    pull = client.post("/api/v1/sync/pull", headers=w.h["clerk1b"],
                       json={"client_id": "phone-clerk1-d", "cursor": None, "schema_version": 1})
    assert pull.status_code == 403


def test_checklist_register_later_client_time_wins_and_loser_is_kept(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Price check")
    template = w.campaign.templates[1]
    from backend.campaigns.models import TaskTemplate
    t = make.session.get(TaskTemplate, template.id)
    t.checklist = [{"id": "tags", "label": "Tags"}]
    make.session.commit()
    for name in ("clerk1", "clerk1b"):
        client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": name}, headers=w.h["admin"])
    late, early = NOW - dt.timedelta(minutes=5), NOW - dt.timedelta(minutes=30)
    a = push(client, w.h["clerk1"], "phone-aaaaaaaa", [
        {**m(1, "set_checklist_item", task_id=task_id, item_id="tags", done=True),
         "client_time": late.isoformat()}]).json["results"][0]
    assert a["status"] == "applied"
    # clerk1b was offline and ticked it off earlier: it arrives later but loses
    b = push(client, w.h["clerk1b"], "phone-bbbbbbbb", [
        {**m(1, "set_checklist_item", task_id=task_id, item_id="tags", done=False),
         "client_time": early.isoformat()}]).json["results"][0]
    assert b["status"] == "rejected" and b["error"] == "superseded"
    assert b["details"]["kept"]["by"] == "clerk1" and b["details"]["lost"]["done"] is False
    assert b["entity"]["checklist"]["tags"]["done"] is True
    history = client.get(f"/api/v1/tasks/{task_id}?include=history", headers=w.h["clerk1"]).json["history"]
    assert history[-1]["action"] == "checklist_edit_lost" and history[-1]["after"]["lost"]["by"] == "clerk1b"
    # a phone whose clock runs a day ahead cannot win the future: it is clamped to server time
    future = push(client, w.h["clerk1b"], "phone-bbbbbbbb", [
        {**m(2, "set_checklist_item", task_id=task_id, item_id="tags", done=False),
         "client_time": (NOW + dt.timedelta(days=1)).isoformat()}]).json["results"][0]
    assert future["status"] == "applied" and future["entity"] is None  # the phone holds its edit
    stored = client.get(f"/api/v1/tasks/{task_id}", headers=w.h["clerk1"]).json["checklist"]["tags"]
    assert stored["done"] is False


def test_concurrent_sales_from_several_phones_all_count(make, app):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Price check")
    app.test_client().post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1"}, headers=w.h["admin"])
    app.test_client().post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1b"}, headers=w.h["admin"])
    barrier = threading.Barrier(6)
    answers = []  # checked after the threads: an assert inside a thread would be swallowed

    def phone_pushes(index):
        headers = w.h["clerk1"] if index % 2 else w.h["clerk1b"]
        http = app.test_client()
        barrier.wait()
        for batch in range(3):
            ids = range(batch * 5 + 1, batch * 5 + 6)
            response = push(http, headers, f"phone-sales-{index:02d}",
                            [m(i, "record_sale", task_id=task_id, sku="LIP-01", quantity=1) for i in ids])
            answers.append((response.status_code,
                            [r["status"] for r in (response.get_json() or {}).get("results", [])]))

    threads = [threading.Thread(target=phone_pushes, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert answers == [(200, ["applied"] * 5)] * 18, answers
    sales = app.test_client().get(f"/api/v1/tasks/{task_id}", headers=w.h["clerk1"]).json["sales"]
    assert sales == {"LIP-01": 6 * 15}


def test_submit_rules_late_and_after_cancel(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Price check")
    client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1"}, headers=w.h["admin"])
    missing = push(client, w.h["clerk1"], "phone-clerk1-e", [m(1, "submit_task", task_id=task_id)])
    result = missing.json["results"][0]
    assert result["error"] == "proof_missing" and set(result["details"]["errors"]) == {"quantity", "observed_prices"}
    client.post(f"/api/v1/tasks/{task_id}/cancel", json={}, headers=w.h["admin"])
    after_cancel = push(client, w.h["clerk1"], "phone-clerk1-e", [
        m(2, "submit_task", task_id=task_id, quantity=2, observed_prices={"LIP-01": 150.0})])
    entity = after_cancel.json["results"][0]["entity"]
    assert after_cancel.json["results"][0]["status"] == "applied"
    assert entity["status"] == "cancelled" and entity["submitted_after_cancel"] is True
    assert entity["quantity"] == 2


def test_bootstrap_pages_deltas_and_read_your_writes(make, client, app):
    w = make.world()
    for i in range(4):
        make.campaign(w.admin, f"EXTRA{i}", targeting={"stores": ["S001"]},
                      tasks=[{"title": f"T{i}a"}, {"title": f"T{i}b"}])
    device = phone(client, w.h["clerk1"], "phone-clerk1-f")
    pages = device.pull(limit=3)
    # 10 tasks, then the 10 "new task" notifications of clerk1's inbox, 3 per page
    assert pages == 7 and len(device.view()) == 10
    assert len(device.view("notification")) == 10
    assert local_inbox(device) == server_inbox(app, w.clerk1.id)
    assert local_view(device) == server_view(app, w.clerk1.id)
    task_id = make.task_id(w.campaign.id, w.s1)
    device.enqueue("claim_task", task_id=task_id, qr_token=qr_of(client, w, task_id))
    device.push(lose_response=True)
    assert device.pending() == [1]
    device.pull()
    assert device.view()[task_id]["status"] == "claimed"   # read-your-writes through pull
    assert device.pending() == [1]                     # applied, but its result never arrived
    assert device.push()[0]["status"] == "applied"     # the retry fetches the stored result
    assert device.pending() == []
    client.post(f"/api/v1/tasks/{make.task_id(w.campaign.id, w.s2)}/assign",
                json={"username": "clerk2"}, headers=w.h["admin"])  # another store: not sent
    response = client.post("/api/v1/sync/pull", headers=w.h["clerk1"], json={
        "client_id": "phone-clerk1-f", "cursor": device._meta("cursor"), "schema_version": 1})
    assert response.json["changes"] == [] and response.json["has_more"] is False


def test_scope_exit_reaches_supervisors_and_reset_after_purge(make, client, app):
    w = make.world()
    east = phone(client, w.h["sup_east"], "phone-sup-east")
    north = phone(client, w.h["sup_north"], "phone-sup-north")
    east.pull(), north.pull()
    s3_tasks = {make.task_id(w.campaign.id, w.s3), make.task_id(w.campaign.id, w.s3, "Price check")}
    assert s3_tasks <= set(east.view()) and not s3_tasks & set(north.view())
    client.patch("/api/v1/stores/S003", json={"region": "NORTH"}, headers=w.h["admin"])
    east.pull(), north.pull()
    assert not s3_tasks & set(east.view())             # the store left EAST: deletes arrived
    assert s3_tasks <= set(north.view())
    assert local_view(east) == server_view(app, w.sup_east.id)
    assert local_view(north) == server_view(app, w.sup_north.id)
    # tombstones purged: an old cursor gets reset + a fresh snapshot
    clerk = phone(client, w.h["clerk1"], "phone-clerk1-g")
    clerk.pull()
    old_cursor = clerk._meta("cursor")
    client.post(f"/api/v1/tasks/{make.task_id(w.campaign.id, w.s1)}/assign",
                json={"username": "clerk1"}, headers=w.h["admin"])
    with app.app_context():
        from backend import db
        from backend.changefeed import purge_older_than
        session = db.new_session()
        assert purge_older_than(session, dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)) > 0
        session.close()
    response = client.post("/api/v1/sync/pull", headers=w.h["clerk1"], json={
        "client_id": "phone-clerk1-g", "cursor": old_cursor, "schema_version": 1})
    assert response.json["reset"] is True
    assert sorted(c["entity"] for c in response.json["changes"]) == ["notification"] * 2 + ["task"] * 2
    clerk.pull()
    assert local_view(clerk) == server_view(app, w.clerk1.id)


def test_cursor_follows_commit_order(make, app, database_url):
    """A writer that started first but commits last is not skipped by a reader in between.

    On SQLite writers are serialized, so the late writer holds the write lock while the reader
    reads (reads begin DEFERRED and are not blocked by it)."""
    sqlite = database_url.startswith("sqlite")
    w = make.world()
    first, second = make.task_id(w.campaign.id, w.s1), make.task_id(w.campaign.id, w.s2)
    from backend import db
    with app.app_context():
        t1, t2 = db.new_session(), db.new_session()
        task1 = t1.get(StoreTask, first)
        task1.note_entries.append(TaskNote(text="slow writer", added_at=NOW))
        task1.version += 1
        t1.flush()                                        # T1 has written, not committed
        if not sqlite:
            task2 = t2.get(StoreTask, second)
            task2.note_entries.append(TaskNote(text="fast writer", added_at=NOW))
            task2.version += 1
            t2.commit()                                   # T2 commits first
        client = app.test_client()
        device = phone(client, w.h["admin"], "phone-hq-admin")
        device.pull()
        cursor_after_t2 = device._meta("cursor")
        if not sqlite:
            assert [n["text"] for n in device.view()[second]["notes"]] == ["fast writer"]
        assert device.view()[first]["notes"] == []       # T1 not committed: not seen yet
        t1.commit()                                       # T1 commits last
        response = client.post("/api/v1/sync/pull", headers=w.h["admin"], json={
            "client_id": "phone-hq-admin", "cursor": cursor_after_t2, "schema_version": 1})
        changed = {change["id"]: change for change in response.json["changes"]}
        assert first in changed and [n["text"] for n in changed[first]["data"]["notes"]] == ["slow writer"]
        t1.close(), t2.close()
    with app.app_context():
        from backend import db as db_module
        session = db_module.new_session()
        keys = [tuple(row) for row in session.execute(text("SELECT txid, seq FROM changes"))]
        assert len(set(keys)) == len(keys) and len({seq for _, seq in keys}) == len(keys)
        session.close()
    assert make.count(Change) > 0
