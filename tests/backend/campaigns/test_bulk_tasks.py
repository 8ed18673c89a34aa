"""Store-specific tasks by CSV (SPEC §13): per-line errors, nothing written on a bad file,
idempotent re-import, draft and published campaigns."""

from sqlalchemy import select

from backend.campaigns.models import TaskTemplate
from backend.tasks.models import StoreTask

GOOD = ("store_code,title,instructions,kind,due_at\n"
        "S001,Fix the broken shelf,Left aisle,display_setup,2031-05-01T10:00:00+08:00\n"
        "S002,Count the testers,,photo_audit,\n")


def post_csv(client, w, campaign_id, text):
    return client.post(f"/api/v1/campaigns/{campaign_id}/tasks/import", headers=w.h["admin"],
                       data=text.encode(), content_type="text/csv")


def test_a_published_campaign_gets_the_store_tasks_once(make, client):
    w = make.world()
    first = post_csv(client, w, w.campaign.id, GOOD)
    assert first.status_code == 200, first.json
    assert first.json == {"lines": 2, "added": 2, "existing": 0, "tasks_created": 2}
    again = post_csv(client, w, w.campaign.id, GOOD)
    assert again.json == {"lines": 2, "added": 0, "existing": 2, "tasks_created": 0}
    shelf = make.scalar(select(StoreTask).join(TaskTemplate, TaskTemplate.id == StoreTask.template_id)
                        .where(TaskTemplate.title == "Fix the broken shelf"))
    assert shelf.store_id == w.s1.id and shelf.due_at.isoformat() == "2031-05-01T02:00:00+00:00"
    # the clerk of S001 sees it like any other task; S002's clerk does not
    titles = {t["title"] for t in client.get("/api/v1/tasks?page_size=200", headers=w.h["clerk1"]).json["items"]}
    assert "Fix the broken shelf" in titles and "Count the testers" not in titles
    assert client.get(f"/api/v1/tasks/{shelf.id}", headers=w.h["clerk2"]).status_code == 403
    # publishing again gives no store another store's task
    assert client.post(f"/api/v1/campaigns/{w.campaign.id}/publish", headers=w.h["admin"]).json["tasks_created"] == 0


def test_a_draft_gets_templates_and_publish_gives_each_only_to_its_store(make, client):
    w = make.world()
    draft = make.campaign(w.admin, "DRAFTCSV", publish=False, targeting={"regions": ["EAST", "NORTH"]},
                          tasks=[{"title": "Everyone"}])
    assert post_csv(client, w, draft.id, GOOD).json["tasks_created"] == 0
    published = client.post(f"/api/v1/campaigns/{draft.id}/publish", headers=w.h["admin"]).json
    assert published["tasks_created"] == 3 + 2  # "Everyone" in 3 stores, one task each for S001, S002
    owners = dict(make.session.execute(
        select(TaskTemplate.title, StoreTask.store_id).join(StoreTask, StoreTask.template_id == TaskTemplate.id)
        .where(TaskTemplate.campaign_id == draft.id, TaskTemplate.store_id.is_not(None))).all())
    assert owners == {"Fix the broken shelf": w.s1.id, "Count the testers": w.s2.id}


def test_bad_lines_are_reported_each_and_nothing_is_written(make, client):
    w = make.world()
    before = (make.count(TaskTemplate), make.count(StoreTask))
    bad = ("store_code,title,instructions,kind,due_at\n"
           "S001,Fine line,,other,\n"
           "S999,Unknown store,,other,\n"
           "S001,,no title,other,\n"
           "S002,Bad kind,,dance,\n"
           "S002,Naive time,,other,2031-05-01T10:00:00\n"
           "S001,Fine line,,other,\n"
           "S001,Too many,,other,,extra\n")
    response = post_csv(client, w, w.campaign.id, bad)
    assert response.status_code == 422 and response.json["error"] == "invalid_csv"
    assert set(response.json["errors"]) == {"line 3", "line 4", "line 5", "line 6", "line 7", "line 8"}
    assert "S999" in response.json["errors"]["line 3"][0]
    assert "line 2" in response.json["errors"]["line 7"][0]
    assert (make.count(TaskTemplate), make.count(StoreTask)) == before
    header = post_csv(client, w, w.campaign.id, "store,title\nS001,x\n")
    assert header.status_code == 422 and "header" in header.json["errors"]
    assert post_csv(client, w, w.campaign.id, "store_code,title\n").status_code == 422
    assert client.post(f"/api/v1/campaigns/{w.campaign.id}/tasks/import", headers=w.h["admin"],
                       json={"x": 1}).status_code == 415
    closed = client.post(f"/api/v1/campaigns/{w.campaign.id}/close", headers=w.h["admin"])
    assert closed.status_code == 200
    assert post_csv(client, w, w.campaign.id, GOOD).status_code == 409
    assert (make.count(TaskTemplate), make.count(StoreTask)) == before
