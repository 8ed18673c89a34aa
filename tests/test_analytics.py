"""Execution analytics: numbers checked against values worked out by hand (SPEC §8)."""

import datetime as dt
import hashlib

from backend.tasks.models import StoreTask
from seed.demo import tiny_png

HOUR = dt.timedelta(hours=1)


def build_history(make, client):
    """S001: one approved, one submitted off-price; S002: one claimed; S003: one cancelled, one overdue."""
    w = make.world()
    tid = {(store, title): make.task_id(w.campaign.id, getattr(w, store), title)
           for store in ("s1", "s2", "s3") for title in ("Display", "Price check")}
    admin = w.h["admin"]

    def assign(key, who):
        assert client.post(f"/api/v1/tasks/{tid[key]}/assign", json={"username": who},
                           headers=admin).status_code == 200

    png = tiny_png(5)
    sha = hashlib.sha256(png).hexdigest()
    client.put(f"/api/v1/blobs/{sha}", data=png, content_type="image/png", headers=w.h["clerk1"])
    assign(("s1", "Display"), "clerk1")
    client.post(f"/api/v1/tasks/{tid[('s1', 'Display')]}/submit", headers=w.h["clerk1"],
                json={"checklist": {"shelf": True, "poster": True}, "photos": [sha]})
    client.post(f"/api/v1/tasks/{tid[('s1', 'Display')]}/review", headers=admin, json={"decision": "approve"})
    assign(("s1", "Price check"), "clerk1")
    off_price = client.post(f"/api/v1/tasks/{tid[('s1', 'Price check')]}/submit", headers=w.h["clerk1"],
                            json={"observed_prices": {"LIP-01": 150.0}, "quantity": 1})
    assert off_price.status_code == 200, off_price.json
    assign(("s2", "Display"), "clerk2")
    client.post(f"/api/v1/tasks/{tid[('s3', 'Display')]}/cancel", json={}, headers=admin)
    session = make.session
    session.get(StoreTask, tid[("s3", "Price check")]).due_at = dt.datetime.now(dt.timezone.utc) - HOUR
    # Claim delays of 30, 10 and 60 minutes after publish.
    for key, minutes in ((("s1", "Display"), 30), (("s1", "Price check"), 10), (("s2", "Display"), 60)):
        task = session.get(StoreTask, tid[key])
        task.created_at = task.first_claimed_at - dt.timedelta(minutes=minutes)
    session.commit()
    return w, tid


def test_rates_by_region_match_hand_computed_values(make, client):
    w, _ = build_history(make, client)
    body = client.get(f"/api/v1/analytics/execution?campaign={w.campaign.id}&group_by=region",
                      headers=w.h["admin"]).json
    assert body["group_by"] == "region"
    east, north = body["rows"]
    assert east == {"group": "EAST", "tasks": 3, "claimed": 2, "submitted": 2, "approved": 1,
                    "overdue": 1, "completion_rate": 0.3333, "on_time_rate": 1.0,
                    "median_claim_minutes": 20.0, "deviation_rate": 0.5}
    assert north == {"group": "NORTH", "tasks": 2, "claimed": 1, "submitted": 0, "approved": 0,
                     "overdue": 0, "completion_rate": 0.0, "on_time_rate": None,
                     "median_claim_minutes": 60.0, "deviation_rate": None}


def test_other_groupings_and_supervisor_scope(make, client):
    w, _ = build_history(make, client)
    by_store = client.get("/api/v1/analytics/execution?group_by=store", headers=w.h["admin"]).json["rows"]
    assert [(r["group"], r["tasks"], r["approved"]) for r in by_store] == [
        ("S001", 2, 1), ("S002", 2, 0), ("S003", 1, 0)]
    by_clerk = client.get("/api/v1/analytics/execution?group_by=clerk", headers=w.h["admin"]).json["rows"]
    assert [(r["group"], r["tasks"], r["submitted"]) for r in by_clerk] == [("clerk1", 2, 2), ("clerk2", 1, 0)]
    by_day = client.get("/api/v1/analytics/execution?group_by=day", headers=w.h["admin"]).json["rows"]
    assert sum(r["tasks"] for r in by_day) == 5
    east_only = client.get("/api/v1/analytics/execution?group_by=store", headers=w.h["sup_east"]).json["rows"]
    assert [r["group"] for r in east_only] == ["S001", "S003"]
    asked_north = client.get("/api/v1/analytics/execution?region=NORTH", headers=w.h["sup_east"]).json["rows"]
    assert asked_north == []


def test_csv_leaderboard_and_overdue_list(make, client):
    w, tid = build_history(make, client)
    csv = client.get("/api/v1/analytics/execution?group_by=store&format=csv", headers=w.h["admin"])
    assert csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0] == ("group,tasks,claimed,submitted,approved,overdue,completion_rate,"
                        "on_time_rate,median_claim_minutes,deviation_rate")
    assert lines[1].startswith("S001,2,2,2,1,0,0.5,1.0,20.0,0.5")
    board = client.get("/api/v1/analytics/leaderboard?level=store", headers=w.h["admin"]).json
    assert [row["group"] for row in board] == ["S001", "S002", "S003"]
    overdue = client.get("/api/v1/analytics/overdue", headers=w.h["sup_east"]).json
    assert [task["id"] for task in overdue] == [tid[("s3", "Price check")]]
    assert client.get("/api/v1/analytics/overdue", headers=w.h["sup_north"]).json == []
    assert client.get("/api/v1/analytics/execution?group_by=week", headers=w.h["admin"]).status_code == 422
