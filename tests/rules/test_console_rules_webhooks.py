"""The console's rules and webhooks pages: forms build exactly what the API accepts, dry-run writes
nothing, enable/disable, the effect with its counts; endpoints with the secret shown once, disable,
the delivery log and redeliver."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from backend.db import utcnow
from backend.tasks.models import StoreTask
from integrations import outbox as webhook_outbox
from integrations.models import WebhookDelivery, WebhookEndpoint
from rules.models import Rule, RuleFiring
from tests.backend.console.test_console import sign_in

RULE_FORM = {"name": "Late displays", "trigger_type": "task.overdue", "after_hours": "2", "action_type": "notify",
             "to": "supervisor", "message": "$task_title at $store_code is late", "variant_share": "50",
             "regions": ["EAST"], "store_tags": "mall, flagship", "campaign_codes": ""}


def test_a_rule_made_in_the_form_is_what_the_api_would_store(make, client):
    w = make.world()
    token = sign_in(client, "admin")
    bad = client.post("/console/rules", data={**RULE_FORM, "csrf_token": token, "after_hours": "soon",
                                              "action_type": "create_task", "title": ""})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="form-errors"' in page
    assert "Hours past due" in page or "逾期小时数" in page
    assert make.count(Rule) == 0
    created = client.post("/console/rules", data={**RULE_FORM, "csrf_token": token})
    assert created.status_code == 302, created.get_data(as_text=True)
    rule_id = int(created.location.rsplit("/", 1)[1])
    api = client.get(f"/api/v1/rules/{rule_id}", headers=w.h["admin"]).json
    assert (api["trigger"], api["condition"], api["action"], api["variant_share"]) == (
        {"type": "task.overdue", "after_hours": 2}, {"regions": ["EAST"], "store_tags": ["mall", "flagship"]},
        {"type": "notify", "to": "supervisor", "message": "$task_title at $store_code is late"}, 0.5)
    listed = client.get("/console/rules").get_data(as_text=True)
    assert f'data-rule="{rule_id}"' in listed and "Late displays" in listed


def test_the_rule_form_s_errors_are_in_the_reader_s_language(make, client):
    make.world()
    token = sign_in(client, "admin")
    bad = {**RULE_FORM, "csrf_token": token, "after_hours": "soon", "to": "boss", "message": "$nope late"}
    chinese = client.post("/console/rules", data=bad, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    for sentence in ("请输入数字", "请从以下选项中选择：clerks, supervisor, hq。", "未知的占位符 nope"):
        assert sentence in chinese, sentence
    assert "is not of type" not in chinese and "Not a valid number" not in chinese
    missing = client.post("/console/rules", data={**RULE_FORM, "csrf_token": token, "action_type": "create_task",
                                                   "title": ""}, headers={"Accept-Language": "zh-CN"})
    summary = re.findall(r"<li><strong>([^<]*)</strong>: ([^<]*)</li>", missing.get_data(as_text=True))
    assert missing.status_code == 422 and summary == [("任务标题", "必填。")], summary
    english = client.post("/console/rules", data=bad, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Enter a number." in english and "Unknown placeholder(s) nope" in english
    assert make.count(Rule) == 0


def test_store_metric_rules_from_the_form(make, client):
    make.world()
    token = sign_in(client, "admin")
    response = client.post("/console/rules", data={
        "csrf_token": token, "name": "Attach falling", "trigger_type": "store.attach_rate", "below": "25",
        "days": "7", "min_transactions": "", "action_type": "escalate", "variant_share": "100"})
    assert response.status_code == 302, response.get_data(as_text=True)
    rule = make.scalar(select(Rule))
    assert rule.trigger == {"type": "store.attach_rate", "below": 0.25, "days": 7}
    assert rule.action == {"type": "escalate"} and rule.variant_share == 1.0


def test_a_supervisor_cannot_make_a_rule_for_another_region(make, client):
    make.world()
    token = sign_in(client, "sup_east")
    response = client.post("/console/rules", data={**RULE_FORM, "csrf_token": token, "regions": ["NORTH"]})
    assert response.status_code == 403 and 'id="form-errors"' in response.get_data(as_text=True)
    assert make.count(Rule) == 0


def test_dry_run_enable_disable_and_the_effect(make, client):
    w = make.world()
    token = sign_in(client, "admin")
    rule_id = int(client.post("/console/rules", data={**RULE_FORM, "csrf_token": token, "variant_share": "100"})
                  .location.rsplit("/", 1)[1])
    task_id = make.task_id(w.campaign.id, w.s1)
    make.session.execute(StoreTask.__table__.update().where(StoreTask.id == task_id)
                         .values(due_at=utcnow() - dt.timedelta(hours=3)))
    make.session.commit()
    page = client.post(f"/console/rules/{rule_id}/dry-run", data={"csrf_token": token})
    assert page.status_code == 200
    assert f'data-subject="task:{task_id}"' in page.get_data(as_text=True)
    assert make.count(RuleFiring) == 0  # a dry run writes nothing
    assert client.post(f"/console/rules/{rule_id}/active", data={"csrf_token": token, "active": "0"}).status_code == 302
    assert make.scalar(select(Rule.active).where(Rule.id == rule_id)) is False
    assert client.post(f"/console/rules/{rule_id}/active", data={"csrf_token": token, "active": "1"}).status_code == 302
    assert make.scalar(select(Rule.active).where(Rule.id == rule_id)) is True
    # A seeded history: 3 treatment firings (2 submitted within 24 h), 3 control (1 submitted).
    tasks = make.session.scalars(select(StoreTask).order_by(StoreTask.id)).all()
    fired_at = utcnow() - dt.timedelta(days=2)
    assert len(tasks) == 6
    for index, task in enumerate(tasks):
        arm = "treatment" if index < 3 else "control"
        make.session.add(RuleFiring(rule_id=rule_id, subject=f"task:{task.id}", period="overdue", arm=arm,
                                    store_id=task.store_id, task_id=task.id, action_taken="notified",
                                    fired_at=fired_at))
        if index in (0, 1, 3):
            task.submitted_at = fired_at + dt.timedelta(hours=3)
    make.session.commit()
    page = client.get(f"/console/rules/{rule_id}?hours=24").get_data(as_text=True)
    treatment = re.search(r'data-arm="treatment"><td>[^<]*</td><td>(\d+)</td><td>(\d+)</td><td>([^<]+)</td>', page)
    control = re.search(r'data-arm="control"><td>[^<]*</td><td>(\d+)</td><td>(\d+)</td><td>([^<]+)</td>', page)
    assert treatment.groups() == ("3", "2", "66.7%") and control.groups() == ("3", "1", "33.3%")
    assert "+33.3" in page  # the difference in points, with its interval after it
    assert page.count('data-firing="') == 6


def test_webhook_endpoints_from_the_console(make, client, app):
    w = make.world()
    token = sign_in(client, "admin")
    refused = client.post("/console/webhooks", data={"csrf_token": token, "url": "http://127.0.0.1:9/x",
                                                     "events": ["task.claimed"]})
    assert refused.status_code == 422 and make.count(WebhookEndpoint) == 0
    missing = client.post("/console/webhooks", data={"csrf_token": token, "url": "https://erp.example.com/x"})
    assert missing.status_code == 422 and make.count(WebhookEndpoint) == 0
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    created = client.post("/console/webhooks", data={"csrf_token": token, "url": "http://127.0.0.1:9/x",
                                                     "events": ["task.approved", "rule.fired"], "description": "ERP"})
    assert created.status_code == 201
    secret = re.search(r'<code id="secret">(whsec_[^<]+)</code>', created.get_data(as_text=True)).group(1)
    endpoint = make.scalar(select(WebhookEndpoint))
    assert endpoint.secret == secret and endpoint.events == ["rule.fired", "task.approved"]
    assert secret not in client.get("/console/webhooks").get_data(as_text=True)  # shown once
    webhook_outbox.publish(make.session, "task.approved", {"task_id": 1}, now=utcnow())
    make.session.commit()
    delivery = make.scalar(select(WebhookDelivery))
    make.session.execute(WebhookDelivery.__table__.update().values(state="failed", attempts=9, last_status=500))
    make.session.commit()
    log = client.get(f"/console/webhooks/{endpoint.id}").get_data(as_text=True)
    assert f'data-delivery="{delivery.id}" data-state="failed"' in log
    assert client.post(f"/console/webhooks/{endpoint.id}/deliveries/{delivery.id}/redeliver",
                       data={"csrf_token": token}).status_code == 302
    assert make.scalar(select(WebhookDelivery.state)) == "pending"
    assert client.post(f"/console/webhooks/{endpoint.id}/active", data={"csrf_token": token, "active": "0"}) \
        .status_code == 302
    assert make.scalar(select(WebhookEndpoint.active)) is False
    refused = client.post(f"/console/webhooks/{endpoint.id}/deliveries/{delivery.id}/redeliver",
                          data={"csrf_token": token}, follow_redirects=True)
    assert "flash-error" in refused.get_data(as_text=True)
    api = client.patch(f"/api/v1/webhooks/{endpoint.id}", headers=w.h["admin"], json={"active": True})
    assert api.status_code == 200 and api.json["active"] is True and api.json["disabled_reason"] is None
