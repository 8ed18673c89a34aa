"""The store-task lifecycle of SPEC §3 over HTTP, with its event trail."""

import datetime as dt
import hashlib

from backend.audit import Event
from backend.tasks.models import StoreTask, TaskClaim
from seed.demo import tiny_png


def upload(client, headers, seed=1):
    png = tiny_png(seed)
    sha = hashlib.sha256(png).hexdigest()
    response = client.put(f"/api/v1/blobs/{sha}", data=png, content_type="image/png", headers=headers)
    assert response.status_code == 201, response.json
    return sha


def assign(client, w, task_id, username="clerk1"):
    response = client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": username},
                           headers=w.h["admin"])
    assert response.status_code == 200, response.json
    return response.json


def test_full_lifecycle_with_history(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    claimed = assign(client, w, task_id)
    assert claimed["status"] == "claimed"
    assert [c["username"] for c in claimed["claimants"]] == ["clerk1"]
    started = client.post(f"/api/v1/tasks/{task_id}/start",
                          headers={**w.h["clerk1"], "X-Client-Id": "phone-7f3a"}).json
    assert started["status"] == "in_progress"
    sha = upload(client, w.h["clerk1"])
    submitted = client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"], json={
        "checklist": {"shelf": True, "poster": True}, "photos": [sha], "note": "done"})
    assert submitted.status_code == 200, submitted.json
    body = submitted.json
    assert body["status"] == "submitted" and body["late"] is False
    assert body["photos"][0]["sha256"] == sha and body["notes"][0]["text"] == "done"
    assert body["checklist"]["shelf"] == {"label": "Shelf", "done": True, "by": "clerk1",
                                          "at": body["checklist"]["shelf"]["at"]}
    rejected = client.post(f"/api/v1/tasks/{task_id}/review", headers=w.h["sup_east"],
                           json={"decision": "reject", "comment": "Poster is crooked"}).json
    assert rejected["status"] == "claimed" and rejected["review"]["comment"] == "Poster is crooked"
    client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"], json={})
    approved = client.post(f"/api/v1/tasks/{task_id}/review", headers=w.h["sup_east"],
                           json={"decision": "approve"}).json
    assert approved["status"] == "approved"
    history = client.get(f"/api/v1/tasks/{task_id}?include=history", headers=w.h["clerk1"]).json["history"]
    assert [e["action"] for e in history] == ["assigned", "started", "submitted", "rejected",
                                              "submitted", "approved"]
    assert history[0]["by"] == "admin" and history[1]["by"] == "clerk1"
    assert history[1]["client_id"] == "phone-7f3a" and history[0]["client_id"] is None
    assert history[1]["before"]["status"] == "claimed" and history[1]["after"]["status"] == "in_progress"
    assert all(e["server_time"] for e in history)
    versions = [e["after"]["version"] for e in history]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


def test_missing_proof_is_422_naming_each_item_and_writes_nothing(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Price check")
    assign(client, w, task_id)
    before = (make.count(Event), client.get(f"/api/v1/tasks/{task_id}", headers=w.h["clerk1"]).json)
    response = client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"],
                           json={"observed_prices": {"LIP-02": 120.0}, "note": "half done"})
    assert response.status_code == 422
    assert response.json["error"] == "proof_missing"
    assert set(response.json["errors"]) == {"quantity", "observed_prices"}
    assert "LIP-01" in response.json["errors"]["observed_prices"][0]
    after = client.get(f"/api/v1/tasks/{task_id}", headers=w.h["clerk1"]).json
    assert (make.count(Event), after) == before
    ok = client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"],
                     json={"observed_prices": {"LIP-01": 159.0}, "quantity": 4})
    assert ok.status_code == 200 and ok.json["quantity"] == 4


def test_photo_requirement_and_unknown_photos(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    assign(client, w, task_id)
    missing = client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"],
                          json={"checklist": {"shelf": True, "poster": True}})
    assert missing.json["errors"] == {"photos": ["1 photo(s) required, 0 attached."]}
    unknown = client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"],
                          json={"checklist": {"shelf": True, "poster": True}, "photos": ["a" * 64]})
    assert unknown.status_code == 422 and unknown.json["error"] == "unknown_photo"
    bad_item = client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"],
                           json={"checklist": {"nope": True}})
    assert bad_item.status_code == 422 and "checklist.nope" in bad_item.json["errors"]


def test_late_submission_is_accepted_and_marked(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Price check")
    task = make.session.get(StoreTask, task_id)
    task.due_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    make.session.commit()
    overdue = client.get("/api/v1/tasks?overdue=true", headers=w.h["clerk1"]).json
    assert [t["id"] for t in overdue["items"]] == [task_id] and overdue["items"][0]["overdue"]
    assign(client, w, task_id)
    response = client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"],
                           json={"observed_prices": {"LIP-01": 150.0}, "quantity": 1})
    assert response.status_code == 200
    assert response.json["late"] is True and response.json["overdue"] is False
    not_overdue = client.get("/api/v1/tasks?overdue=false", headers=w.h["clerk1"]).json
    assert task_id in [t["id"] for t in not_overdue["items"]]


def test_submission_after_cancel_is_kept(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    assign(client, w, task_id)
    client.post(f"/api/v1/tasks/{task_id}/cancel", json={"reason": "shelf broken"}, headers=w.h["admin"])
    response = client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"],
                           json={"checklist": {"shelf": True}, "note": "did it anyway"})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "cancelled"
    assert response.json["submitted_after_cancel"] is True
    assert response.json["notes"][0]["text"] == "did it anyway"


def test_capacity_and_idempotent_assignment(make, client):
    w = make.world()
    single = make.task_id(w.campaign.id, w.s1)
    assign(client, w, single, "clerk1")
    again = assign(client, w, single, "clerk1")
    assert len(again["claimants"]) == 1
    full = client.post(f"/api/v1/tasks/{single}/assign", json={"username": "clerk1b"},
                       headers=w.h["admin"])
    assert full.status_code == 409 and full.json["error"] == "task_already_claimed"
    assert full.json["held_by"][0]["username"] == "clerk1" and full.json["since"]
    double = make.task_id(w.campaign.id, w.s1, "Price check")
    assign(client, w, double, "clerk1")
    assert len(assign(client, w, double, "clerk1b")["claimants"]) == 2
    wrong_store = client.post(f"/api/v1/tasks/{double}/assign", json={"username": "clerk2"},
                              headers=w.h["admin"])
    assert wrong_store.status_code == 422
    assert make.count(TaskClaim) == 3


def test_unclaim_reopens_and_is_refused_after_submit(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Price check")
    assign(client, w, task_id, "clerk1")
    assign(client, w, task_id, "clerk1b")
    left = client.post(f"/api/v1/tasks/{task_id}/unclaim", json={}, headers=w.h["clerk1b"]).json
    assert left["status"] == "claimed" and [c["username"] for c in left["claimants"]] == ["clerk1"]
    removed = client.post(f"/api/v1/tasks/{task_id}/unclaim", json={"username": "clerk1"},
                          headers=w.h["sup_east"]).json
    assert removed["status"] == "open" and removed["claimants"] == []
    assign(client, w, task_id, "clerk1")
    client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"],
                json={"observed_prices": {"LIP-01": 159.0}, "quantity": 2})
    refused = client.post(f"/api/v1/tasks/{task_id}/unclaim", json={}, headers=w.h["clerk1"])
    assert refused.status_code == 409 and refused.json["error"] == "invalid_transition"
    assert refused.json["current_status"] == "submitted"


def test_invalid_transitions_are_409_and_write_nothing(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    events = make.count(Event)
    not_mine = client.post(f"/api/v1/tasks/{task_id}/start", headers=w.h["clerk1"])
    assert not_mine.status_code == 403 and not_mine.json["error"] == "not_claimant"
    review_open = client.post(f"/api/v1/tasks/{task_id}/review", headers=w.h["admin"],
                              json={"decision": "approve"})
    assert review_open.status_code == 409 and review_open.json["current_status"] == "open"
    assign(client, w, task_id)
    events += 1
    reject_no_comment = client.post(f"/api/v1/tasks/{task_id}/review", headers=w.h["admin"],
                                    json={"decision": "reject"})
    assert reject_no_comment.status_code == 422
    client.post(f"/api/v1/tasks/{task_id}/cancel", json={}, headers=w.h["admin"])
    events += 1
    twice = client.post(f"/api/v1/tasks/{task_id}/cancel", json={}, headers=w.h["admin"])
    assert twice.status_code == 409 and twice.json["current_status"] == "cancelled"
    start_cancelled = client.post(f"/api/v1/tasks/{task_id}/start", headers=w.h["clerk1"])
    assert start_cancelled.status_code == 409
    assert make.count(Event) == events


def test_list_filters_and_pagination(make, client):
    w = make.world()
    listing = client.get("/api/v1/tasks?page_size=2&page=1", headers=w.h["admin"]).json
    assert listing["total"] == 6 and len(listing["items"]) == 2
    page3 = client.get("/api/v1/tasks?page_size=2&page=3", headers=w.h["admin"]).json
    assert len(page3["items"]) == 2
    ids = {t["id"] for t in listing["items"]} | {t["id"] for t in page3["items"]}
    assert len(ids) == 4
    assign(client, w, make.task_id(w.campaign.id, w.s2), "clerk2")
    claimed = client.get("/api/v1/tasks?status=claimed", headers=w.h["admin"]).json
    assert [t["store"] for t in claimed["items"]] == ["S002"]
    assert client.get("/api/v1/tasks?page_size=201", headers=w.h["admin"]).status_code == 422
    by_store = client.get("/api/v1/tasks?store=S003", headers=w.h["sup_east"]).json
    assert by_store["total"] == 2
