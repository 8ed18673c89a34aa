"""The script library: HQ scripts, clerk contributions, moderation scope, bad input, and the
recommendations in the task detail."""

import pytest
from sqlalchemy import event, select

from backend import db
from backend.db import Base
from recommend.library import recommendations_for_task
from recommend.models import Script
from tests.recommend.test_pairings import sales_csv, seed_catalog

URL = "/api/v1/scripts"


def write(client, headers, **body):
    return client.post(URL, json={"sku": "LIP-01", "locale": "zh-CN", **body}, headers=headers)


def test_hq_script_is_served_at_once_a_clerks_waits_for_moderation(make, client):
    w = make.world()
    hq = write(client, w.h["admin"], text="先试色，再推荐同系列唇釉叠涂。")
    assert hq.status_code == 201, hq.json
    assert hq.json | {"id": 0, "created_at": None} == {
        "id": 0, "sku": "LIP-01", "campaign_id": None, "locale": "zh-CN", "text": "先试色，再推荐同系列唇釉叠涂。",
        "source": "hq", "status": "approved", "author": "admin", "created_at": None,
        "moderated_by": None, "moderated_at": None, "comment": None}
    mine = write(client, w.h["clerk1"], text="  这支口红今天活动价，顾客都说显白。 ", campaign=w.campaign.id)
    assert mine.status_code == 201, mine.json
    assert mine.json["status"] == "pending" and mine.json["source"] == "clerk"
    assert mine.json["text"] == "这支口红今天活动价，顾客都说显白。" and mine.json["campaign_id"] == w.campaign.id
    served = client.get(URL + "?sku=LIP-01", headers=w.h["clerk1"]).json
    assert [s["id"] for s in served] == [hq.json["id"]]  # pending ones are never served
    # The queue: the author sees their own, HQ and the EAST supervisor see it, others do not.
    queue = URL + "?status=pending"
    assert [s["id"] for s in client.get(queue, headers=w.h["clerk1"]).json] == [mine.json["id"]]
    assert client.get(queue, headers=w.h["clerk1b"]).json == []
    assert client.get(queue, headers=w.h["sup_north"]).json == []
    assert [s["author"] for s in client.get(queue, headers=w.h["sup_east"]).json] == ["clerk1"]
    assert [s["id"] for s in client.get(queue + "&sku=LIP-01&locale=zh-CN",
                                        headers=w.h["admin"]).json] == [mine.json["id"]]
    assert client.get(queue + "&locale=en", headers=w.h["admin"]).json == []


def test_moderation_scope_and_rules(make, client):
    w = make.world()
    script_id = write(client, w.h["clerk1"], text="今天买口红送小样，搭配唇釉更好看。").json["id"]
    moderate = f"{URL}/{script_id}/moderate"
    before = make.row_counts()
    north = client.post(moderate, json={"decision": "approve"}, headers=w.h["sup_north"])
    assert north.status_code == 403 and north.json["error"] == "out_of_scope"
    clerk = client.post(moderate, json={"decision": "approve"}, headers=w.h["clerk1b"])
    assert clerk.status_code == 403 and clerk.json["error"] == "forbidden_role"
    no_reason = client.post(moderate, json={"decision": "reject", "comment": "  "}, headers=w.h["sup_east"])
    assert no_reason.status_code == 422 and "comment" in no_reason.json["errors"]
    assert client.post(f"{URL}/999999/moderate", json={"decision": "approve"},
                       headers=w.h["admin"]).status_code == 404
    assert make.row_counts() == before
    assert make.scalar(select(Script.status).where(Script.id == script_id)) == "pending"

    approved = client.post(moderate, json={"decision": "approve", "comment": "好"}, headers=w.h["sup_east"])
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "approved" and approved.json["moderated_by"] == "sup_east"
    assert approved.json["comment"] == "好" and approved.json["moderated_at"]
    assert [s["id"] for s in client.get(URL + "?sku=LIP-01", headers=w.h["clerk2"]).json] == [script_id]
    again = client.post(moderate, json={"decision": "reject", "comment": "no"}, headers=w.h["sup_east"])
    assert again.status_code == 409 and again.json["error"] == "script_not_pending"
    assert again.json["script_status"] == "approved" and again.json["status"] == "Conflict"
    # HQ may take an approved script down: it stops being served and stops taking feedback.
    down = client.post(moderate, json={"decision": "reject", "comment": "Off-brand."}, headers=w.h["admin"])
    assert down.status_code == 200 and down.json["status"] == "rejected"
    assert client.get(URL + "?sku=LIP-01", headers=w.h["clerk1"]).json == []
    assert client.post(f"{URL}/{script_id}/feedback", json={"outcome": "used"},
                       headers=w.h["clerk1"]).status_code == 404
    rejected = client.get(URL + "?status=rejected", headers=w.h["clerk1"]).json
    assert [(s["id"], s["comment"], s["moderated_by"]) for s in rejected] == [(script_id, "Off-brand.", "admin")]
    assert client.post(moderate, json={"decision": "approve"}, headers=w.h["admin"]).status_code == 409


def test_north_supervisor_moderates_north_clerks_only(make, client):
    w = make.world()
    north_script = write(client, w.h["clerk2"], text="Try it on first, then add the gloss.",
                         locale="en").json["id"]
    east_script = write(client, w.h["clerk3"], text="Try it on first, then add the balm.",
                        locale="en").json["id"]
    assert [s["id"] for s in client.get(URL + "?status=pending", headers=w.h["sup_north"]).json] == [north_script]
    assert [s["id"] for s in client.get(URL + "?status=pending", headers=w.h["sup_east"]).json] == [east_script]
    assert client.post(f"{URL}/{east_script}/moderate", json={"decision": "reject", "comment": "x"},
                       headers=w.h["sup_north"]).status_code == 403
    assert client.post(f"{URL}/{north_script}/moderate", json={"decision": "reject", "comment": "Too vague."},
                       headers=w.h["sup_north"]).json["status"] == "rejected"
    assert len(client.get(URL + "?status=pending", headers=w.h["admin"]).json) == 1


def test_clerks_contribute_only_for_products_featured_in_their_store(make, client):
    w = make.world()
    before = make.row_counts()
    not_featured = write(client, w.h["clerk1"], sku="LIP-02", text="这款唇釉很水润。")
    assert not_featured.status_code == 403 and not_featured.json["error"] == "product_not_featured"
    make.campaign(w.admin, "GLOSS", featured_skus=["LIP-02"], targeting={"regions": ["NORTH"]})
    before = make.row_counts()
    assert write(client, w.h["clerk1"], sku="LIP-02", text="这款唇釉很水润。").status_code == 403
    assert make.row_counts() == before
    assert write(client, w.h["clerk2"], sku="LIP-02", text="这款唇釉很水润。").json["status"] == "pending"
    other_store = write(client, w.h["clerk1"], sku="LIP-01", text="口红试色。",
                        campaign=make.scalar(select(Base.metadata.tables["campaigns"].c.id)
                                             .where(Base.metadata.tables["campaigns"].c.code == "GLOSS")))
    assert other_store.status_code == 422  # GLOSS does not feature LIP-01
    # HQ writes for any product, and any campaign that features it.
    assert write(client, w.h["admin"], sku="LIP-02", text="唇釉叠涂更亮。").json["status"] == "approved"


@pytest.mark.parametrize("body,field", [
    ({"text": "这是全网最好的口红。"}, "text"),
    ({"text": "It cures dry lips, guaranteed.", "locale": "en"}, "text"),
    ({"text": "１００％ 显白"}, "text"),  # full-width look-alikes are caught too
    ({"text": "好" * 301}, "text"),
    ({"text": "   "}, "text"),
    ({"text": "bad\x00byte"}, "text"),
    ({"text": "bell\x07"}, "text"),
    ({"text": "ok", "sku": "NOPE"}, "sku"),
    ({"text": "ok", "campaign": 999999}, "campaign"),
    ({"text": "ok", "locale": "fr"}, "locale"),
    ({"text": "ok", "status": "approved"}, "status"),
    ({"sku": None, "text": "ok"}, "sku"),
])
def test_bad_scripts_are_refused_and_nothing_is_written(make, client, body, field):
    w = make.world()
    before = make.row_counts()
    for who in ("admin", "clerk1"):
        response = write(client, w.h[who], **body)
        assert response.status_code == 422, (who, response.json)
        assert field in response.json["errors"], response.json
    assert make.row_counts() == before


def test_configured_banned_words_and_duplicates(make, client, app):
    w = make.world()
    app.config["SCRIPT_BANNED_WORDS"] = ("cheap",)
    refused = write(client, w.h["admin"], locale="en", text="A cheap trick that works.")
    assert refused.status_code == 422 and "cheap" in refused.json["errors"]["text"][0]
    first = write(client, w.h["admin"], locale="en", text="Try it on with the gloss.")
    assert first.status_code == 201
    twin = write(client, w.h["clerk1"], locale="en", text="Try it on with the gloss.")
    assert twin.status_code == 409 and twin.json["script_id"] == first.json["id"]
    # A contribution written before a word was banned cannot be approved afterwards.
    pending = write(client, w.h["clerk1"], locale="en", text="Pricey but worth it.").json["id"]
    app.config["SCRIPT_BANNED_WORDS"] = ("pricey",)
    late = client.post(f"{URL}/{pending}/moderate", json={"decision": "approve"}, headers=w.h["admin"])
    assert late.status_code == 422
    assert client.get(URL, headers=w.h["admin"]).status_code == 422  # neither sku nor status


def test_task_detail_carries_pairings_and_the_best_script(make, client, runner):
    w = seed_catalog(make)
    client.post("/api/v1/sales/import", data=sales_csv().encode(), content_type="text/csv",
                headers=w.h["admin"])
    assert runner.invoke(args=["recommend", "train"]).exit_code == 0
    task_id = make.task_id(w.campaign.id, w.s1)
    detail = client.get(f"/api/v1/tasks/{task_id}", headers=w.h["clerk1"]).json
    [lip] = detail["recommendations"]
    assert lip["sku"] == "LIP-01" and lip["name"] == "Product LIP-01"
    assert lip["pairings"][0] == {"sku": "LIP-02", "name": "Product LIP-02"} and len(lip["pairings"]) <= 3
    assert lip["script"]["source"] == "generated" and "159" in lip["script"]["text"]
    assert not lip["script"]["text"].isascii()  # clerk1's locale is zh-CN
    english = client.get(f"/api/v1/tasks/{task_id}", headers={**w.h["clerk1"], "Accept-Language": "en-US,en;q=0.8"})
    assert english.json["recommendations"][0]["script"]["text"].isascii()
    # HQ bans the top partner and writes a script that converts: the detail follows.
    client.post("/api/v1/products/LIP-01/pairings/bans", json={"sku": "LIP-02"}, headers=w.h["admin"])
    hq = write(client, w.h["admin"], text="先试色，再叠涂唇釉。", campaign=w.campaign.id).json["id"]
    for outcome in ("used", "converted", "used", "converted"):
        client.post(f"{URL}/{hq}/feedback", json={"outcome": outcome}, headers=w.h["clerk1"])
    again = client.get(f"/api/v1/tasks/{task_id}", headers=w.h["clerk1"]).json["recommendations"][0]
    assert "LIP-02" not in [p["sku"] for p in again["pairings"]]
    assert again["script"] == {"id": hq, "text": "先试色，再叠涂唇釉。", "source": "hq"}
    # Sync pull sends the same shape as the detail, recommendations included (SPEC §11).
    pulled = client.post("/api/v1/sync/pull", json={"client_id": "4b7b1c9e-1111-4f5e-9a0e-000000000001",
                                                    "cursor": None, "schema_version": 1},
                         headers=w.h["clerk1"]).json
    [synced] = [c["data"] for c in pulled["changes"] if c["entity"] == "task" and c["id"] == task_id]
    assert synced["recommendations"] == [again]
    # A pin announces the change: the next pull re-sends the campaign's tasks with it.
    assert client.post("/api/v1/products/LIP-01/pairings/pins", json={"sku": "SER-01"}, headers=w.h["admin"]).status_code == 200
    later = client.post("/api/v1/sync/pull", json={"client_id": "4b7b1c9e-1111-4f5e-9a0e-000000000001",
                                                   "cursor": pulled["cursor"], "schema_version": 1},
                        headers=w.h["clerk1"]).json
    [resent] = [c["data"] for c in later["changes"] if c["entity"] == "task" and c["id"] == task_id]
    assert resent["recommendations"][0]["pairings"][0]["sku"] == "SER-01"


def test_recommendations_for_task_is_cheap_and_tolerates_missing_data(make, app):
    w = make.world()
    no_featured = make.campaign(w.admin, "PLAIN")
    session = make.session
    from backend.tasks.models import StoreTask
    task = session.get(StoreTask, make.task_id(w.campaign.id, w.s1))
    plain = session.get(StoreTask, make.task_id(no_featured.id, w.s1))
    _ = task.campaign, plain.campaign
    statements = []
    engine = db.engine()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        result = recommendations_for_task(session, task, "en")
        assert recommendations_for_task(session, plain, "en") == []
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert result == [{"sku": "LIP-01", "name": "Product LIP-01", "pairings": [], "script": None}]
    assert len(statements) <= 4, statements
