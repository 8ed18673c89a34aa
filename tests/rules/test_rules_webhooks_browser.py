"""The rules and webhooks pages in a real browser (Debian's Chromium through Playwright), on SQLite
and PostgreSQL: HQ builds a store-metric rule in Chinese and dry-runs it, the worker fires it, HQ
reads an A/B effect in English; an endpoint registered from the console gets a real delivery that
fails, is redelivered and arrives. Screenshots land in test-artifacts/screenshots/<database>/rules/."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select, update

from backend.db import utcnow
from backend.tasks.models import StoreTask
from integrations import outbox as webhook_outbox
from integrations.models import WebhookDelivery
from notifications.worker import Worker
from rules.models import Rule, RuleFiring
from tests.backend.console.test_console_browser import LAPTOP, Camera, api, api_login, other_language, sign_in
from tests.browser import SCREENSHOTS, chromium, playwright  # noqa: F401  (fixtures)
from tests.live_server import live_server  # noqa: F401  (the fixture)
from tests.webhook_receiver import WebhookReceiver


def _watch(page, blocked: list):
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    return page


def test_rules_and_webhooks_pages_in_a_real_browser(app, make, live_server, chromium, database_url):
    base = live_server
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    camera = Camera(SCREENSHOTS / backend / "rules")
    w = make.world()
    now = utcnow()
    # S001's two tasks are due in 10 h and not done: a completion rule (below 50 % 12 h before) sees it.
    make.session.execute(update(StoreTask).values(due_at=now + dt.timedelta(hours=40)))
    make.session.execute(update(StoreTask).where(StoreTask.store_id == w.s1.id).values(due_at=now + dt.timedelta(hours=10)))
    make.session.commit()
    blocked: list[str] = []

    # ---- HQ, in Chinese: a store-metric rule from the form, a dry run, the worker fires it ------
    hq = chromium.new_context(locale="zh-CN", viewport=LAPTOP)
    page = _watch(hq.new_page(), blocked)
    sign_in(page, base, "admin")
    page.click("nav a[href$='/console/rules']")
    assert page.locator("h1").inner_text().startswith("规则")
    page.fill("#rule-form input[name=name]", "截止前完成率偏低")
    page.select_option("#rule-form select[name=trigger_type]", "store.completion")
    page.fill("#rule-form input[name=below]", "50")
    page.fill("#rule-form input[name=hours_before_due]", "12")
    page.select_option("#rule-form select[name=action_type]", "notify")
    page.select_option("#rule-form select[name=to]", "supervisor")
    page.fill("#rule-form input[name=message]", "$store_code 完成率 $value，低于 $threshold")
    page.fill("#rule-form input[name=variant_share]", "100")
    page.check("#rule-form input[name=regions][value=EAST]")
    camera.shoot(page, "01-rules-form-zh")
    page.click("#rule-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "已创建规则" in page.locator(".flash-success").inner_text()
    rule_id = int(re.search(r"/console/rules/(\d+)", page.url).group(1))
    rule = make.scalar(select(Rule).where(Rule.id == rule_id))
    assert rule.trigger == {"type": "store.completion", "below": 0.5, "hours_before_due": 12}
    page.click("#dry-run-form button")
    page.wait_for_load_state("networkidle")
    subject = f"campaign:{w.campaign.id}:store:{w.s1.id}"
    row = page.locator(f"#dry-run tr[data-subject='{subject}']")
    assert row.count() == 1 and "0%" in row.inner_text() and "实验组" in row.inner_text()
    assert page.locator("#dry-run tbody tr").count() == 1  # S003 is due later, S002 is NORTH
    assert make.count(RuleFiring) == 0
    camera.shoot(page, "02-rule-dry-run-zh")
    Worker(app).run_schedule()
    Worker(app).run_schedule()  # twice: still one firing
    page.goto(f"{base}/console/rules/{rule_id}")
    assert page.locator("#firings tbody tr[data-firing]").count() == 1
    assert "已通知" in page.locator("#firings tbody").inner_text()
    page.click("#active-form button")
    page.wait_for_load_state("networkidle")
    assert "已停用" in page.locator("h1").inner_text()
    camera.shoot(page, "03-rule-fired-and-disabled-zh")

    # ---- an A/B rule with a seeded history, read in English -----------------------------------
    token = api_login(base, "admin")
    ab = api(base, "POST", "/rules", token, json={
        "name": "Overdue to supervisor (A/B)", "trigger": {"type": "task.overdue", "after_hours": 2},
        "condition": {}, "action": {"type": "notify", "to": "supervisor"}, "variant_share": 0.5}).json()
    campaign = make.campaign(w.admin, "AB", tasks=[{"title": f"T{i}"} for i in range(20)])
    tasks = make.session.scalars(select(StoreTask).where(StoreTask.campaign_id == campaign.id)
                                 .order_by(StoreTask.id)).all()
    fired_at = now - dt.timedelta(days=2)
    for index, task in enumerate(tasks[:60]):
        arm = "treatment" if index % 2 == 0 else "control"
        make.session.add(RuleFiring(rule_id=ab["id"], subject=f"task:{task.id}", period="overdue", arm=arm,
                                    store_id=task.store_id, task_id=task.id, fired_at=fired_at,
                                    action_taken="notified" if arm == "treatment" else "would_have_fired"))
        if (arm == "treatment" and index < 44) or (arm == "control" and index < 16):  # 22/30 and 8/30
            task.submitted_at = fired_at + dt.timedelta(hours=6)
    make.session.commit()
    other_language(hq, base, "en")
    page.goto(f"{base}/console/rules/{ab['id']}?hours=24")
    assert page.locator("h1").inner_text().startswith("Overdue to supervisor (A/B)")
    assert page.locator("#effect-arms tr[data-arm=treatment]").inner_text().split("\t")[1:] == ["30", "22", "73.3%"]
    assert page.locator("#effect-arms tr[data-arm=control]").inner_text().split("\t")[1:] == ["30", "8", "26.7%"]
    difference = page.locator("#effect-difference").inner_text()
    assert "+46.7 points" in difference and "significant" in difference
    camera.shoot(page, "04-rule-effect-en")
    page.goto(f"{base}/console/rules")
    assert page.locator("#rules tbody tr[data-rule]").count() == 2
    camera.shoot(page, "05-rules-list-en")

    # ---- webhooks: register from the console, a real delivery fails, is redelivered, arrives ----
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    receiver = WebhookReceiver(statuses=[500])
    try:
        other_language(hq, base, "zh_CN")
        page.click("nav a[href$='/console/webhooks']")
        page.fill("#webhook-form input[name=url]", receiver.url)
        page.check("#webhook-form input[name=events][value='task.approved']")
        page.fill("#webhook-form input[name=description]", "ERP 任务同步")
        page.click("#webhook-form button[type=submit]")
        page.wait_for_load_state("networkidle")
        secret = page.locator("#secret").inner_text()
        assert secret.startswith("whsec_") and "只显示这一次" in page.locator("#webhook-secret").inner_text()
        camera.shoot(page, "06-webhook-registered-zh")
        page.goto(f"{base}/console/webhooks")
        assert secret not in page.content()
        webhook_outbox.publish(make.session, "task.approved", {"task_id": 1, "store_code": "S001"}, now=utcnow())
        make.session.commit()
        worker = Worker(app)
        worker.dispatch_webhooks()  # the receiver answers 500: retried later
        other_language(hq, base, "en")
        page.click("#endpoints a[href*='/console/webhooks/']")
        delivery = page.locator("#deliveries tr[data-delivery]")
        assert delivery.get_attribute("data-state") == "pending" and "HTTP 500" in delivery.inner_text()
        page.click("#deliveries tr[data-delivery] button")  # redeliver now
        page.wait_for_load_state("networkidle")
        assert "will be sent again" in page.locator(".flash-success").inner_text()
        worker.dispatch_webhooks()
        page.reload()
        assert page.locator("#deliveries tr[data-delivery]").get_attribute("data-state") == "delivered"
        page.click("#deliveries details summary")
        camera.shoot(page, "07-webhook-deliveries-en")
        assert len(receiver.received) == 2
        assert make.scalar(select(WebhookDelivery.attempts)) == 2
    finally:
        receiver.close()
    assert blocked == []
