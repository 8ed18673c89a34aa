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
                    "median_claim_minutes": 20.0, "deviation_rate": 0.5, "attach_rate": None,
                    "attach_rate_before": None, "attach_uplift": None}  # no sales lines yet
    assert north == {"group": "NORTH", "tasks": 2, "claimed": 1, "submitted": 0, "approved": 0,
                     "overdue": 0, "completion_rate": 0.0, "on_time_rate": None,
                     "median_claim_minutes": 60.0, "deviation_rate": None, "attach_rate": None,
                     "attach_rate_before": None, "attach_uplift": None}


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
                        "on_time_rate,median_claim_minutes,deviation_rate,attach_rate,"
                        "attach_rate_before,attach_uplift")
    assert lines[1] == "S001,2,2,2,1,0,0.5,1.0,20.0,0.5,,,"
    board = client.get("/api/v1/analytics/leaderboard?level=store", headers=w.h["admin"]).json
    assert [row["group"] for row in board] == ["S001", "S002", "S003"]
    overdue = client.get("/api/v1/analytics/overdue", headers=w.h["sup_east"]).json
    assert [task["id"] for task in overdue] == [tid[("s3", "Price check")]]
    assert client.get("/api/v1/analytics/overdue", headers=w.h["sup_north"]).json == []
    assert client.get("/api/v1/analytics/execution?group_by=week", headers=w.h["admin"]).status_code == 422


def test_attach_rate_and_uplift_on_a_small_fixture(make, client, runner):
    """S001: 1 of 4 LIP-01 baskets held LIP-02 before the campaign, 2 of 4 during: 0.25 → 0.5,
    uplift +100 %. S002: 0 of 2 during, nothing before."""
    w = make.world()
    start = w.campaign.starts_at
    before, during = start - dt.timedelta(hours=12), start + dt.timedelta(hours=12)
    lines = ["transaction_id,store_code,sku,quantity,sold_at"]
    baskets = [("B1", "S001", before, True), ("B2", "S001", before, False), ("B3", "S001", before, False),
               ("B4", "S001", before, False), ("D1", "S001", during, True), ("D2", "S001", during, True),
               ("D3", "S001", during, False), ("D4", "S001", during, False),
               ("N1", "S002", during, False), ("N2", "S002", during, False)]
    for tid, store, when, attached in baskets:
        lines.append(f"{tid},{store},LIP-01,1,{when.isoformat()}")
        if attached:
            lines.append(f"{tid},{store},LIP-02,1,{when.isoformat()}")
    imported = client.post("/api/v1/sales/import", data=("\n".join(lines) + "\n").encode(),
                           content_type="text/csv", headers=w.h["admin"]).json
    assert imported["imported"] == 13
    assert runner.invoke(args=["recommend", "train"]).exit_code == 0
    rows = {r["group"]: r for r in client.get(
        f"/api/v1/analytics/execution?campaign={w.campaign.id}&group_by=store",
        headers=w.h["admin"]).json["rows"]}
    assert (rows["S001"]["attach_rate"], rows["S001"]["attach_rate_before"],
            rows["S001"]["attach_uplift"]) == (0.5, 0.25, 1.0)
    assert (rows["S002"]["attach_rate"], rows["S002"]["attach_rate_before"],
            rows["S002"]["attach_uplift"]) == (0.0, None, None)
    assert rows["S003"]["attach_rate"] is None          # no sales there
    by_region = {r["group"]: r for r in client.get(
        f"/api/v1/analytics/execution?campaign={w.campaign.id}&group_by=region",
        headers=w.h["sup_east"]).json["rows"]}
    assert list(by_region) == ["EAST"] and by_region["EAST"]["attach_rate"] == 0.5
    no_campaign = client.get("/api/v1/analytics/execution?group_by=store", headers=w.h["admin"]).json
    assert all(r["attach_rate"] is None for r in no_campaign["rows"])
