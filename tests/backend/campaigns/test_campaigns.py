"""Campaigns: drafts, targeting, publish fan-out, idempotent re-publish, edits after publish."""

import datetime as dt

from backend.audit import Event
from backend.tasks.models import StoreTask, TaskChecklistItem

NOW = dt.datetime.now(dt.timezone.utc)


def campaign_body(**overrides):
    body = {
        "code": "SPRING", "title": "Spring", "description": "New season",
        "starts_at": (NOW - dt.timedelta(hours=1)).isoformat(),
        "ends_at": (NOW + dt.timedelta(days=7)).isoformat(),
        "featured_skus": ["LIP-01"], "promo_prices": {"LIP-01": 99.0},
        "targeting": {"regions": ["EAST"], "stores": [], "tags": []},
        "tasks": [{"title": "Display", "instructions": "Build the end-cap", "kind": "display_setup",
                   "checklist": [{"id": "shelf", "label": "Shelf"}, {"id": "tester", "label": "Tester"}],
                   "proof": {"photos": 1, "quantity": False, "observed_price": True},
                   "due_in_hours": 48, "max_claimants": 1}],
    }
    body.update(overrides)
    return body


def test_create_preview_publish_and_republish(make, client):
    w = make.world()
    created = client.post("/api/v1/campaigns", json=campaign_body(), headers=w.h["admin"])
    assert created.status_code == 201, created.json
    campaign = created.json
    assert campaign["status"] == "draft" and campaign["tasks"][0]["due_in_hours"] == 48
    preview = client.get(f"/api/v1/campaigns/{campaign['id']}/preview", headers=w.h["admin"]).json
    assert preview == {"stores": 2, "tasks": 2, "by_region": {"EAST": 2}}
    tasks_before = make.count(StoreTask)
    published = client.post(f"/api/v1/campaigns/{campaign['id']}/publish", headers=w.h["admin"])
    assert published.status_code == 200
    assert published.json["stores"] == 2 and published.json["tasks_created"] == 2
    assert published.json["status"] == "live"
    assert make.count(StoreTask) == tasks_before + 2
    again = client.post(f"/api/v1/campaigns/{campaign['id']}/publish", headers=w.h["admin"]).json
    assert again["tasks_created"] == 0 and again["stores"] == 2
    assert make.count(StoreTask) == tasks_before + 2
    task = client.get(f"/api/v1/tasks?campaign={campaign['id']}&store=S001",
                      headers=w.h["clerk1"]).json["items"][0]
    published_at = dt.datetime.fromisoformat(
        client.get(f"/api/v1/campaigns/{campaign['id']}", headers=w.h["admin"]).json["published_at"])
    assert dt.datetime.fromisoformat(task["due_at"]) == published_at + dt.timedelta(hours=48)
    assert task["campaign"]["promo_prices"] == {"LIP-01": 99.0}
    assert list(task["checklist"]) == ["shelf", "tester"]


def test_targeting_union_of_regions_and_stores_intersected_with_tags(make, client):
    w = make.world()

    def count(targeting):
        response = client.post("/api/v1/campaigns/targeting-preview", json={"targeting": targeting},
                               headers=w.h["admin"])
        assert response.status_code == 200, response.json
        return response.json["stores"]

    assert count({"regions": ["EAST"]}) == 2                      # S001, S003
    assert count({"regions": ["EAST"], "stores": ["S002"]}) == 3  # union
    assert count({"regions": ["EAST"], "stores": ["S002"], "tags": ["mall"]}) == 2  # S001, S002
    assert count({"tags": ["flagship"]}) == 1                     # tags alone: every store with it
    assert count({}) == 0                                         # nothing asked, nothing selected
    bad = client.post("/api/v1/campaigns/targeting-preview",
                      json={"targeting": {"regions": ["MARS"]}}, headers=w.h["admin"])
    assert bad.status_code == 200 and bad.json["stores"] == 0


def test_publish_reaches_stores_added_to_the_targeting_later(make, client):
    w = make.world()
    campaign = client.post("/api/v1/campaigns", json=campaign_body(), headers=w.h["admin"]).json
    client.post(f"/api/v1/campaigns/{campaign['id']}/publish", headers=w.h["admin"])
    current = client.get(f"/api/v1/campaigns/{campaign['id']}", headers=w.h["admin"]).json
    edited = client.patch(f"/api/v1/campaigns/{campaign['id']}", headers=w.h["admin"],
                          json={"version": current["version"],
                                "targeting": {"regions": ["EAST"], "stores": ["S002"], "tags": []}})
    assert edited.status_code == 200, edited.json
    result = client.post(f"/api/v1/campaigns/{campaign['id']}/publish", headers=w.h["admin"]).json
    assert result == {"stores": 3, "tasks_created": 1, "status": "live"}


def test_publish_refusals_write_nothing(make, client):
    w = make.world()
    empty = client.post("/api/v1/campaigns", headers=w.h["admin"],
                        json=campaign_body(code="EMPTY", targeting={"regions": [], "stores": [], "tags": ["none"]})).json
    notasks = client.post("/api/v1/campaigns", headers=w.h["admin"],
                          json=campaign_body(code="NOTASKS", tasks=[])).json
    before = (make.count(StoreTask), make.count(Event))
    response = client.post(f"/api/v1/campaigns/{empty['id']}/publish", headers=w.h["admin"])
    assert response.status_code == 422 and response.json["error"] == "no_targeted_stores"
    response = client.post(f"/api/v1/campaigns/{notasks['id']}/publish", headers=w.h["admin"])
    assert response.status_code == 422 and "tasks" in response.json["errors"]
    assert client.post("/api/v1/campaigns/999999/publish", headers=w.h["admin"]).status_code == 404
    assert (make.count(StoreTask), make.count(Event)) == before
    draft = client.get(f"/api/v1/campaigns/{empty['id']}", headers=w.h["admin"]).json
    assert draft["status"] == "draft" and draft["published_at"] is None


def test_create_validation(make, client):
    w = make.world()
    cases = [
        ({"featured_skus": ["NOPE"], "promo_prices": {}}, "featured_skus"),
        ({"ends_at": (NOW - dt.timedelta(days=2)).isoformat()}, "ends_at"),
        ({"promo_prices": {"LIP-02": 10.0}}, "promo_prices"),
        ({"targeting": {"regions": ["MARS"]}}, "targeting.regions"),
        ({"starts_at": "2026-11-11T00:00:00"}, "starts_at"),  # naive time: timezone required
        ({"tasks": [{"title": "x", "checklist": [{"id": "a", "label": "A"}, {"id": "a", "label": "B"}]}]},
         "tasks"),
        ({"tasks": [{"title": "x", "kind": "dance"}]}, "tasks"),
        ({"surprise": 1}, "surprise"),
    ]
    for overrides, field in cases:
        response = client.post("/api/v1/campaigns", json=campaign_body(**overrides), headers=w.h["admin"])
        assert response.status_code == 422, (overrides, response.json)
        assert field in response.json["errors"], (overrides, response.json)
    duplicate = client.post("/api/v1/campaigns", json=campaign_body(code="D11"), headers=w.h["admin"])
    assert duplicate.status_code == 409 and duplicate.json["error"] == "already_exists"


def test_stale_version_is_refused(make, client):
    w = make.world()
    campaign = client.post("/api/v1/campaigns", json=campaign_body(), headers=w.h["admin"]).json
    ok = client.patch(f"/api/v1/campaigns/{campaign['id']}", headers=w.h["admin"],
                      json={"version": campaign["version"], "title": "Spring!"})
    assert ok.status_code == 200 and ok.json["version"] == campaign["version"] + 1
    stale = client.patch(f"/api/v1/campaigns/{campaign['id']}", headers=w.h["admin"],
                         json={"version": campaign["version"], "title": "Lost update"})
    assert stale.status_code == 409 and stale.json["error"] == "version_conflict"
    assert stale.json["current_version"] == campaign["version"] + 1


def test_structural_fields_fixed_after_publish(make, client):
    w = make.world()
    campaign = client.get(f"/api/v1/campaigns/{w.campaign.id}", headers=w.h["admin"]).json
    response = client.patch(f"/api/v1/campaigns/{w.campaign.id}", headers=w.h["admin"],
                            json={"version": campaign["version"], "tasks": []})
    assert response.status_code == 409 and response.json["error"] == "campaign_published"


def test_template_edit_after_publish_follows_spec(make, client):
    """Unclaimed tasks take the new text; claimed ones are flagged and keep surviving progress."""
    w = make.world()
    claimed_id = make.task_id(w.campaign.id, w.s1)
    open_id = make.task_id(w.campaign.id, w.s2)
    client.post(f"/api/v1/tasks/{claimed_id}/assign", json={"username": "clerk1"}, headers=w.h["admin"])
    client.post(f"/api/v1/tasks/{claimed_id}/start", headers=w.h["clerk1"])
    # Tick both items through a submit that fails only for the missing photo: nothing is kept.
    failed = client.post(f"/api/v1/tasks/{claimed_id}/submit", headers=w.h["clerk1"],
                         json={"checklist": {"shelf": True, "poster": True}})
    assert failed.status_code == 422
    unchanged = client.get(f"/api/v1/tasks/{claimed_id}", headers=w.h["clerk1"]).json
    assert not any(item["done"] for item in unchanged["checklist"].values())
    template = w.campaign.templates[0]
    session = make.session
    task = session.get(StoreTask, claimed_id)
    task.checklist_items = [TaskChecklistItem(item_id=item, done=True, by_username="clerk1", edited_at=NOW)
                            for item in ("shelf", "poster")]
    session.commit()
    response = client.patch(
        f"/api/v1/campaigns/{w.campaign.id}/templates/{template.id}", headers=w.h["admin"],
        json={"version": template.version, "instructions": "New planogram",
              "checklist": [{"id": "shelf", "label": "Shelf v2"}, {"id": "price", "label": "Price"}]})
    assert response.status_code == 200, response.json
    assert response.json["version"] == template.version + 1
    claimed = client.get(f"/api/v1/tasks/{claimed_id}", headers=w.h["clerk1"]).json
    assert claimed["instructions_changed"] is True
    assert claimed["instructions"] == "New planogram"
    assert claimed["template_version"] == template.version + 1
    assert claimed["checklist"]["shelf"]["done"] is True and claimed["checklist"]["shelf"]["label"] == "Shelf v2"
    assert claimed["checklist"]["price"]["done"] is False
    assert "poster" not in claimed["checklist"]
    unclaimed = client.get(f"/api/v1/tasks/{open_id}", headers=w.h["clerk2"]).json
    assert unclaimed["instructions_changed"] is False
    assert unclaimed["template_version"] == template.version + 1
    assert unclaimed["instructions"] == "New planogram"
    stale = client.patch(f"/api/v1/campaigns/{w.campaign.id}/templates/{template.id}",
                         headers=w.h["admin"], json={"version": template.version, "title": "X"})
    assert stale.status_code == 409


def test_cancel_campaign_cancels_unfinished_tasks(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Price check")
    client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1"}, headers=w.h["admin"])
    response = client.post(f"/api/v1/campaigns/{w.campaign.id}/cancel", json={"reason": "recall"},
                           headers=w.h["admin"])
    assert response.status_code == 200 and response.json["tasks_cancelled"] == 6
    statuses = {t["status"] for t in client.get(f"/api/v1/tasks?campaign={w.campaign.id}",
                                                headers=w.h["admin"]).json["items"]}
    assert statuses == {"cancelled"}
    history = client.get(f"/api/v1/tasks/{task_id}?include=history", headers=w.h["admin"]).json["history"]
    assert history[-1]["action"] == "cancelled" and history[-1]["before"] == {"status": "claimed"}
    again = client.post(f"/api/v1/campaigns/{w.campaign.id}/cancel", json={}, headers=w.h["admin"])
    assert again.status_code == 409
    assert client.post(f"/api/v1/campaigns/{w.campaign.id}/publish",
                       headers=w.h["admin"]).json["error"] == "campaign_not_publishable"


def test_close_campaign(make, client):
    w = make.world()
    closed = client.post(f"/api/v1/campaigns/{w.campaign.id}/close", headers=w.h["admin"])
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    draft = make.campaign(w.admin, "DRAFT2", publish=False)
    refused = client.post(f"/api/v1/campaigns/{draft.id}/close", headers=w.h["admin"])
    assert refused.status_code == 409 and refused.json["current_status"] == "draft"
