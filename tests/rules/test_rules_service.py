"""Rules as a service (SPEC §13): validation, firing from events and from the schedule, once per
(rule, subject, period), A/B arms, dry-run, and the effect on a seeded history."""

import datetime as dt

import pytest
from sqlalchemy import select

from backend.db import utcnow
from backend.tasks.models import StoreTask
from integrations.models import WebhookEvent
from notifications.models import Notification
from notifications.worker import Worker
from rules import definition, effect
from rules.models import Rule, RuleFiring

OVERDUE = {"name": "overdue to supervisor", "trigger": {"type": "task.overdue", "after_hours": 2},
           "condition": {}, "action": {"type": "notify", "to": "supervisor",
                                       "message": "$task_title at $store_code is 2 h late"},
           "variant_share": 1.0}


def create(client, headers, body):
    return client.post("/api/v1/rules", headers=headers, json=body)


def test_rules_are_data_checked_against_the_schema(make, client):
    w = make.world()
    assert create(client, w.h["admin"], OVERDUE).status_code == 201
    for bad in ({**OVERDUE, "trigger": {"type": "task.overdue"}},
                {**OVERDUE, "trigger": {"type": "eval", "code": "__import__('os')"}},
                {**OVERDUE, "action": {"type": "notify", "to": "everyone"}},
                {**OVERDUE, "action": {"type": "notify", "to": "hq", "message": "${__class__}"}},
                {**OVERDUE, "condition": {"sql": "1=1"}},
                {**OVERDUE, "variant_share": 1.5},
                {**OVERDUE, "condition": {"regions": ["NOWHERE"]}}):
        response = create(client, w.h["admin"], bad)
        assert response.status_code == 422, (bad, response.json)
    assert make.count(Rule) == 1


def test_schema_errors_name_the_field_in_the_api_s_usual_sentences(make, client):
    w = make.world()
    cases = [({"type": "task.overdue"}, {"trigger.after_hours": ["Missing data for required field."]}),
             ({"type": "task.overdue", "after_hours": "soon"}, {"trigger.after_hours": ["Not a valid number."]}),
             ({"type": "task.rejected", "nth": 0}, {"trigger.nth": ["Must be greater than or equal to 1."]}),
             ({"type": "store.completion", "below": 0.5, "hours_before_due": 0},
              {"trigger.hours_before_due": ["Must be greater than 0."]}),
             ({"type": "eval", "code": "x"},
              {"trigger.type": ["Must be one of: task.overdue, task.rejected, task.submitted, "
                                "store.attach_rate, store.completion."]}),
             ({"type": "task.overdue", "after_hours": 1, "code": "x"}, {"trigger.code": ["Unknown field."]})]
    for trigger, errors in cases:
        response = create(client, w.h["admin"], {**OVERDUE, "trigger": trigger})
        assert response.status_code == 422 and response.json["errors"] == errors, (trigger, response.json)
    long = create(client, w.h["admin"], {**OVERDUE, "action": {"type": "escalate", "message": "x" * 600}})
    assert long.json["errors"] == {"action.message": ["Longer than maximum length 500."]}
    assert make.count(Rule) == 0


def test_supervisors_make_rules_for_their_regions_only(make, client):
    w = make.world()
    mine = create(client, w.h["sup_east"], {**OVERDUE, "condition": {"regions": ["EAST"]}})
    assert mine.status_code == 201
    assert create(client, w.h["sup_east"], {**OVERDUE, "condition": {"regions": ["NORTH"]}}).status_code == 403
    assert client.get(f"/api/v1/rules/{mine.json['id']}", headers=w.h["sup_north"]).status_code == 403
    hq_rule = create(client, w.h["admin"], OVERDUE).json
    assert [r["id"] for r in client.get("/api/v1/rules", headers=w.h["sup_east"]).json] == [mine.json["id"]]
    assert client.patch(f"/api/v1/rules/{hq_rule['id']}", headers=w.h["sup_east"],
                        json={"active": False}).status_code == 403


def test_overdue_rule_fires_once_from_the_schedule_with_its_dry_run(make, client, app):
    w = make.world()
    rule = create(client, w.h["admin"], OVERDUE).json
    task_id = make.task_id(w.campaign.id, w.s1)
    make.session.execute(StoreTask.__table__.update().where(StoreTask.id == task_id)
                         .values(due_at=utcnow() - dt.timedelta(hours=3)))
    make.session.commit()
    dry = client.post(f"/api/v1/rules/{rule['id']}/dry-run", headers=w.h["admin"])
    assert dry.status_code == 200, dry.json
    dry = dry.json
    assert dry["would_fire"] == [{"task_id": task_id, "store_code": "S001", "campaign_id": w.campaign.id,
                                  "subject": f"task:{task_id}", "period": "overdue", "arm": "treatment",
                                  "action": "notify", "value": None}]
    assert make.count(RuleFiring) == 0  # a dry run writes nothing
    worker = Worker(app)
    worker.run_schedule()
    worker.run_schedule()
    firings = make.session.scalars(select(RuleFiring)).all()
    assert [(f.task_id, f.period, f.arm, f.action_taken) for f in firings] == [(task_id, "overdue", "treatment", "notified")]
    notes = make.session.scalars(select(Notification).where(Notification.kind == "rule")).all()
    assert [n.user_id for n in notes] == [w.sup_east.id]
    assert notes[0].params["message"] == "Display at S001 is 2 h late"
    make.session.commit()  # end the read: SQLite takes its write lock at BEGIN
    assert client.post(f"/api/v1/rules/{rule['id']}/dry-run", headers=w.h["admin"]).json["would_fire"] == []
    # disabled: fires no more
    assert client.patch(f"/api/v1/rules/{rule['id']}", headers=w.h["admin"], json={"active": False}).json["active"] is False


def test_second_rejection_creates_a_follow_up_task_and_a_rule_fired_webhook(make, client, app):
    w = make.world()
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    assert client.post("/api/v1/webhooks", headers=w.h["admin"],
                       json={"url": "http://127.0.0.1:9/x", "events": ["rule.fired"]}).status_code == 201
    create(client, w.h["admin"], {"name": "second rejection", "trigger": {"type": "task.rejected", "nth": 2},
                                  "condition": {"store_tags": ["mall"]},
                                  "action": {"type": "create_task", "title": "Coach $store_code on $task_title",
                                             "due_in_hours": 8}, "variant_share": 1.0})
    task_id = make.task_id(w.campaign.id, w.s1, "Price check")
    client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1"}, headers=w.h["sup_east"])
    for round_ in range(2):
        assert client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"], json={
            "quantity": 1, "observed_prices": {"LIP-01": 159.0}}).status_code == 200
        assert client.post(f"/api/v1/tasks/{task_id}/review", headers=w.h["sup_east"],
                           json={"decision": "reject", "comment": f"round {round_}"}).status_code == 200
    firing = make.scalar(select(RuleFiring))
    assert (firing.task_id, firing.period, firing.action_taken) == (task_id, "rejected:2", "task_created")
    titles = [t["title"] for t in client.get("/api/v1/tasks?page_size=200", headers=w.h["clerk1"]).json["items"]]
    assert "Coach S001 on Price check" in titles
    assert make.count(RuleFiring) == 1
    assert make.scalar(select(WebhookEvent.type)) == "rule.fired"


def test_control_stores_record_would_have_fired_and_arms_are_stable():
    shares = [definition.arm_of(7, store, 0.5) for store in range(1, 2001)]
    assert shares == [definition.arm_of(7, store, 0.5) for store in range(1, 2001)]
    assert 900 < shares.count("treatment") < 1100
    assert all(definition.arm_of(7, s, 0.0) == "control" for s in range(50))
    assert all(definition.arm_of(7, s, 1.0) == "treatment" for s in range(50))


def test_a_control_store_records_without_acting(make, client, app):
    w = make.world()
    rule = create(client, w.h["admin"], {**OVERDUE, "variant_share": 0.0}).json
    make.session.execute(StoreTask.__table__.update().values(due_at=utcnow() - dt.timedelta(hours=3)))
    make.session.commit()
    Worker(app).run_schedule()
    firings = make.session.scalars(select(RuleFiring).where(RuleFiring.rule_id == rule["id"])).all()
    make.session.commit()
    assert firings and {f.arm for f in firings} == {"control"} and {f.action_taken for f in firings} == {"would_have_fired"}
    assert make.session.scalars(select(Notification).where(Notification.kind == "rule")).all() == []


def test_effect_on_a_seeded_history_with_a_known_difference(make, client):
    """40 tasks per arm; treatment tasks: 30 submitted within 24 h of firing, control: 10."""
    w = make.world()
    rule = create(client, w.h["admin"], {**OVERDUE, "variant_share": 0.5}).json
    campaign = make.campaign(w.admin, "AB", targeting={"regions": ["EAST", "NORTH"]},
                             tasks=[{"title": f"T{i}"} for i in range(20)])  # 3 stores × 20 = 60 tasks
    more = make.campaign(w.admin, "AB2", targeting={"regions": ["EAST", "NORTH"]},
                         tasks=[{"title": f"U{i}"} for i in range(10)])  # 30 more
    tasks = make.session.scalars(select(StoreTask).where(StoreTask.campaign_id.in_([campaign.id, more.id]))
                                 .order_by(StoreTask.id)).all()
    fired_at = utcnow() - dt.timedelta(days=3)
    seeded = {"treatment": [], "control": []}
    for index, task in enumerate(tasks[:80]):
        arm = "treatment" if index % 2 == 0 else "control"
        seeded[arm].append(task)
        make.session.add(RuleFiring(rule_id=rule["id"], subject=f"task:{task.id}", period="overdue",
                                    store_id=task.store_id, task_id=task.id, arm=arm,
                                    action_taken="notified" if arm == "treatment" else "would_have_fired",
                                    fired_at=fired_at))
    for arm, done in (("treatment", 30), ("control", 10)):
        for position, task in enumerate(seeded[arm]):
            if position < done:
                task.submitted_at = fired_at + dt.timedelta(hours=5)
            elif position < done + 3:  # submitted, but after the window: not counted
                task.submitted_at = fired_at + dt.timedelta(hours=30)
    make.session.commit()
    result = client.get(f"/api/v1/rules/{rule['id']}/effect?hours=24", headers=w.h["admin"]).json
    assert result["arms"]["treatment"] == {"firings": 40, "completed": 30, "rate": 0.75}
    assert result["arms"]["control"] == {"firings": 40, "completed": 10, "rate": 0.25}
    assert result["difference"] == pytest.approx(0.5)
    low, high = result["ci95"]
    margin = 1.959964 * (0.75 * 0.25 / 40 + 0.25 * 0.75 / 40) ** 0.5
    assert low == pytest.approx(0.5 - margin, abs=1e-4) and high == pytest.approx(0.5 + margin, abs=1e-4)
    assert low > 0  # the difference is significant
    longer = client.get(f"/api/v1/rules/{rule['id']}/effect?hours=48", headers=w.h["admin"]).json
    assert longer["arms"]["treatment"]["completed"] == 33


def test_effect_without_both_arms_has_no_interval():
    result = effect.compare((5, 10), (0, 0))
    assert result["difference"] is None and result["ci95"] is None and result["arms"]["treatment"]["rate"] == 0.5
