"""Sync push v2 (set-based): concurrent phones on one task, the register under concurrency,
the SAVEPOINT fallback on a database error, identical task JSON, script feedback, claims
by token only, and the commit guard — on SQLite and PostgreSQL."""

import datetime as dt
import threading

import pytest
from sqlalchemy import text

from backend import db
from backend.tasks.models import StoreTask, TaskChecklistItem, TaskNote
from recommend.models import Script
from sync.models import SyncMutation

NOW = dt.datetime.now(dt.timezone.utc)
SLOTS = [f"slot{i}" for i in range(10)]


def push(client, headers, client_id, mutations):
    return client.post("/api/v1/sync/push", headers=headers,
                       json={"client_id": client_id, "schema_version": 1, "mutations": mutations})


def m(id_, name, client_time=None, **args):
    mutation = {"id": id_, "name": name, "args": args}
    if client_time is not None:
        mutation["client_time"] = client_time.isoformat()
    return mutation


def _ten_clerks_on_one_task(make, w):
    """A task with ten checklist items held by ten clerks of store S001."""
    clerks = [make.user(f"clerk_s1_{i}", store=w.s1) for i in range(10)]
    campaign = make.campaign(w.admin, "TEN", targeting={"stores": ["S001"]}, tasks=[{
        "title": "Ten items", "checklist": [{"id": slot, "label": slot} for slot in SLOTS],
        "max_claimants": 10}])
    task_id = make.task_id(campaign.id, w.s1, "Ten items")
    client = make.app.test_client()
    for clerk in clerks:
        assert client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": clerk.username},
                           headers=w.h["admin"]).status_code == 200
    return task_id, clerks, {clerk.username: make.headers(clerk) for clerk in clerks}


def _run_threads(count, target):
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads)


def test_ten_phones_editing_different_items_of_one_task_all_land(make, app):
    w = make.world()
    task_id, clerks, headers = _ten_clerks_on_one_task(make, w)
    version_before = app.test_client().get(f"/api/v1/tasks/{task_id}", headers=w.h["admin"]).json["version"]
    barrier = threading.Barrier(10)
    answers = []  # checked after the threads: an assert inside a thread would be swallowed

    def phone(index):
        clerk = clerks[index]
        http = app.test_client()  # its own requests, its own database session
        barrier.wait()
        for round_ in range(3):  # tick, untick, tick: the last one must stand
            response = push(http, headers[clerk.username], f"phone-ten-{index:02d}", [
                m(round_ + 1, "set_checklist_item", NOW + dt.timedelta(seconds=round_),
                  task_id=task_id, item_id=SLOTS[index], done=round_ != 1)])
            answers.append((index, response.status_code,
                            [r["status"] for r in (response.get_json() or {}).get("results", [])]))

    _run_threads(10, phone)
    assert sorted(answers) == sorted((i, 200, ["applied"]) for i in range(10) for _ in range(3)), answers
    task = app.test_client().get(f"/api/v1/tasks/{task_id}", headers=w.h["admin"]).json
    assert {slot: (item["done"], item["by"]) for slot, item in task["checklist"].items()} == \
        {SLOTS[i]: (True, clerks[i].username) for i in range(10)}
    assert task["version"] == version_before + 30  # once per task per push
    history = app.test_client().get(f"/api/v1/tasks/{task_id}?include=history",
                                    headers=w.h["admin"]).json["history"]
    assert sum(event["action"] == "checklist_set" for event in history) == 30


def test_register_under_concurrency_keeps_the_latest_client_time(make, app):
    """Ten phones edit the SAME item at once with distinct client times: whatever the arrival
    order, the latest client time stands and every other edit is superseded or overwritten."""
    w = make.world()
    task_id, clerks, headers = _ten_clerks_on_one_task(make, w)
    barrier = threading.Barrier(10)
    answers = {}

    def phone(index):
        http = app.test_client()
        barrier.wait()
        answers[index] = push(http, headers[clerks[index].username], f"phone-same-{index:02d}", [
            m(1, "set_checklist_item", NOW - dt.timedelta(minutes=30 - index),
              task_id=task_id, item_id="slot0", done=index % 2 == 1)]).get_json()

    _run_threads(10, phone)
    task = app.test_client().get(f"/api/v1/tasks/{task_id}", headers=w.h["admin"]).json
    assert task["checklist"]["slot0"]["by"] == clerks[9].username and task["checklist"]["slot0"]["done"]
    assert answers[9]["results"][0]["status"] == "applied"
    for index in range(9):
        result = answers[index]["results"][0]
        if result["status"] == "rejected":  # arrived after a later edit
            assert result["error"] == "superseded" and result["details"]["lost"]["by"] == clerks[index].username


def _refuse_note(database_url, text_):
    """A real database error on one mutation: a trigger that refuses one note text."""
    engine = db.build_engine(database_url)
    with engine.begin() as connection:
        if database_url.startswith("postgresql"):
            connection.execute(text(
                "CREATE OR REPLACE FUNCTION refuse_note() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.text = '{text_}' THEN RAISE EXCEPTION 'refused note'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"))
            connection.execute(text("CREATE TRIGGER refuse_note BEFORE INSERT ON task_notes "
                                    "FOR EACH ROW EXECUTE FUNCTION refuse_note()"))
        else:
            connection.execute(text(
                "CREATE TRIGGER refuse_note BEFORE INSERT ON task_notes "
                f"WHEN NEW.text = '{text_}' BEGIN SELECT RAISE(ABORT, 'refused note'); END"))
    return engine


def _drop_refusal(engine):
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER refuse_note" + (
            " ON task_notes" if engine.dialect.name == "postgresql" else "")))
    engine.dispose()


def test_a_database_error_on_one_mutation_falls_back_to_savepoints(make, client, database_url):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1"}, headers=w.h["admin"])
    engine = _refuse_note(database_url, "boom")
    try:
        mutations = [m(1, "add_note", task_id=task_id, text="before"),
                     m(2, "set_checklist_item", NOW, task_id=task_id, item_id="shelf", done=True),
                     m(3, "add_note", task_id=task_id, text="boom"),
                     m(4, "record_sale", task_id=task_id, sku="LIP-01", quantity=2),
                     m(5, "add_note", task_id=task_id, text="after")]
        for _ in range(2):  # the retry is answered from storage, identically
            response = push(client, w.h["clerk1"], "phone-fallback-1", mutations)
            assert response.status_code == 200, response.json
            results = response.json["results"]
            assert [r["status"] for r in results] == ["applied", "applied", "rejected", "applied", "applied"]
            assert results[2]["error"] == "storage_refused" and results[2]["entity"]["id"] == task_id
        task = client.get(f"/api/v1/tasks/{task_id}", headers=w.h["clerk1"]).json
        assert [note["text"] for note in task["notes"]] == ["before", "after"]
        assert task["checklist"]["shelf"]["done"] and task["sales"] == {"LIP-01": 2}
        assert make.count(SyncMutation) == 5 and make.count(TaskNote) == 2
    finally:
        _drop_refusal(engine)


def test_a_task_submitted_under_a_push_is_not_written_past(make, client):
    """A rejected edit writes nothing; a closed task keeps its checklist."""
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1"}, headers=w.h["admin"])
    client.post(f"/api/v1/tasks/{task_id}/cancel", json={}, headers=w.h["admin"])
    response = push(client, w.h["clerk1"], "phone-closed-1", [
        m(1, "set_checklist_item", NOW, task_id=task_id, item_id="shelf", done=True),
        m(2, "record_sale", task_id=task_id, sku="LIP-01", quantity=1)])
    assert [r["error"] for r in response.json["results"]] == ["task_locked", "task_locked"]
    assert response.json["results"][1]["entity"]["status"] == "cancelled"
    assert make.count(TaskChecklistItem) == 0


def test_get_task_and_pull_send_identical_task_json(make, client):
    import hashlib
    from seed.demo import tiny_png
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1"}, headers=w.h["admin"])
    png = tiny_png(5)
    sha = hashlib.sha256(png).hexdigest()
    client.put(f"/api/v1/blobs/{sha}", data=png, content_type="image/png", headers=w.h["clerk1"])
    push(client, w.h["clerk1"], "phone-same-json", [
        m(1, "set_checklist_item", NOW, task_id=task_id, item_id="shelf", done=True),
        m(2, "record_sale", task_id=task_id, sku="LIP-01", quantity=3),
        m(3, "record_sale", task_id=task_id, sku="LIP-02", quantity=1),
        m(4, "add_note", NOW, task_id=task_id, text="端架完成"),
        m(5, "attach_photo", task_id=task_id, sha256=sha)])
    client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"],
                json={"checklist": {"poster": True}, "note": "via REST"})
    pulled = client.post("/api/v1/sync/pull", headers=w.h["clerk1"], json={
        "client_id": "phone-same-json", "cursor": None, "schema_version": 1, "limit": 1000}).json
    by_id = {c["id"]: c["data"] for c in pulled["changes"] if c["entity"] == "task"}
    assert len(by_id) == 2
    for some_id, data in by_id.items():
        detail = client.get(f"/api/v1/tasks/{some_id}", headers=w.h["clerk1"]).json
        assert data == detail
    assert by_id[task_id]["status"] == "submitted" and by_id[task_id]["sales"] == {"LIP-01": 3, "LIP-02": 1}
    assert [n["text"] for n in by_id[task_id]["notes"]] == ["端架完成", "via REST"]


def test_script_feedback_counts_once_and_claims_by_token_only(make, client):
    w = make.world()
    session = make.session
    script = Script(product_id=w.lip.id, locale="zh-CN", text="试试这个", source="hq", status="approved")
    session.add(script)
    session.commit()
    task_id = make.task_id(w.campaign.id, w.s1)
    other = make.task_id(w.campaign.id, w.s1, "Price check")
    token = client.get(f"/api/v1/tasks/{task_id}/qr", headers=w.h["admin"]).json["token"]
    mutations = [m(1, "script_feedback", script_id=script.id, outcome="converted"),
                 m(2, "script_feedback", script_id=script.id, outcome="sold"),
                 m(3, "script_feedback", script_id=999999, outcome="used"),
                 m(4, "claim_task", task_id=other, qr_token=token),
                 m(5, "claim_task", qr_token=token)]
    for _ in range(3):  # retries count nothing twice
        results = push(client, w.h["clerk1"], "phone-feedback-1", mutations).json["results"]
        assert [r["status"] for r in results] == ["applied", "rejected", "rejected", "rejected", "applied"]
        assert [r.get("error") for r in results] == [None, "invalid_args", "not_found", "invalid_qr", None]
        assert results[4]["entity"]["id"] == task_id and results[4]["entity"]["status"] == "claimed"
    session.refresh(script)
    assert script.conversions == 1
    session.commit()


def test_a_service_commit_inside_a_caller_owned_transaction_fails_loudly(app, make):
    make.world()
    with app.app_context():
        session = db.new_session()
        try:
            with db.caller_owns_transaction(session):
                session.get(StoreTask, 1)
                db.commit(session)  # the one way: only flushes here
                with pytest.raises(db.CommitInsideCallerTransaction):
                    session.commit()
        finally:
            session.rollback()
            session.close()


def test_a_typed_short_code_claims_offline_like_a_scan(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    code = client.get(f"/api/v1/tasks/{task_id}/qr", headers=w.h["admin"]).json["short_code"]
    s2_code = client.get(f"/api/v1/tasks/{make.task_id(w.campaign.id, w.s2)}/qr",
                         headers=w.h["admin"]).json["short_code"]
    mutations = [m(1, "claim_task", short_code="nonsense"),
                 m(2, "claim_task", short_code=s2_code),
                 m(3, "claim_task", short_code=code, qr_token="ZD1:AAAA"),
                 m(4, "claim_task", short_code=code.lower(), task_id=task_id + 1),
                 m(5, "claim_task", short_code=code.lower().replace("-", ""))]
    results = push(client, w.h["clerk1"], "phone-shortcode-1", mutations).json["results"]
    assert [r.get("error") for r in results] == ["invalid_qr", "wrong_store", "invalid_args", "invalid_qr", None]
    assert results[4]["entity"]["id"] == task_id and results[4]["entity"]["status"] == "claimed"
    assert [c["username"] for c in results[4]["entity"]["claimants"]] == ["clerk1"]
