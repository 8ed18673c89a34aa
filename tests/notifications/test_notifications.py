"""Notifications (SPEC §6): outbox rows written with the event, devices, the inbox, the
worker with the embedded transport, reminders/escalations/summaries, quiet hours, two workers."""

import datetime as dt
import threading

from sqlalchemy import func, select, update

from backend.tasks.models import StoreTask
from notifications import dispatch
from notifications.models import Delivery, Device, Notification
from notifications.quiet_hours import QuietHours
from notifications.transports import Outcome, RecordTransport
from notifications.worker import Worker
from recommend.models import Script
from backend.catalog.models import ProductPairing

TOKEN = "reg-token-" + "x" * 140
FID = "cAbCdEfGhIjKlMnOpQrStU"  # 22 chars, a Firebase installation id


def register(client, headers, client_id, token=TOKEN, **extra):
    return client.post("/api/v1/devices", headers=headers, json={
        "client_id": client_id, "platform": "android", "push_token": token, **extra})


def inbox(client, headers, **query):
    return client.get("/api/v1/notifications", headers=headers, query_string=query).json


def with_recommendations(make, w):
    """A script and a pairing for the featured product LIP-01, so pushes carry them."""
    make.session.add(Script(product_id=w.lip.id, locale="zh-CN", text="这款口红显白，买二送一",
                            source="hq", status="approved"))
    make.session.add(ProductPairing(product_id=w.lip.id, paired_product_id=w.gloss.id, rank=1,
                                    score=0.4, support=12, source="learned"))
    make.session.commit()


def test_publish_fills_the_store_clerks_inboxes_and_the_worker_delivers(make, client, app):
    w = make.world()
    with_recommendations(make, w)
    assert register(client, w.h["clerk1"], "phone-clerk1-0001").status_code == 200
    assert register(client, w.h["clerk2"], "phone-clerk2-0001", token=FID).json["token_kind"] == "fid"
    campaign = make.campaign(w.admin, "WEEK", featured_skus=["LIP-01"], targeting={"stores": ["S001"]},
                             tasks=[{"title": "端架陈列"}])
    task_id = make.task_id(campaign.id, w.s1, "端架陈列")
    # one notification per clerk of S001 (not S002's clerk), written with the publish
    for name in ("clerk1", "clerk1b"):
        items = inbox(client, w.h[name])["items"]
        assert items[0]["task_id"] == task_id and items[0]["kind"] == "task_published"
        assert items[0]["title"] == "新任务：端架陈列"
        assert items[0]["script"] == "这款口红显白，买二送一" and items[0]["pairing_skus"] == ["LIP-02"]
    assert all(item["campaign_id"] != campaign.id for item in inbox(client, w.h["clerk2"])["items"])
    assert make.count(Delivery, Delivery.state == "pending") == 1  # only clerk1 has a device now

    counts = Worker(app, transport=RecordTransport()).dispatch()
    assert counts == {"sent": 1}
    delivery = make.scalar(select(Delivery))
    data = delivery.payload["data"]
    assert delivery.state == "sent" and delivery.provider_message_id.startswith("local:")
    assert data["task_id"] == str(task_id) and data["deep_link"] == f"zhida://tasks/{task_id}"
    assert data["script"] == "这款口红显白，买二送一" and data["pairing_skus"] == "LIP-02"
    assert delivery.payload["android"]["collapse_key"] == f"task-{task_id}"
    assert Worker(app, transport=RecordTransport()).dispatch() == {}  # nothing sent twice


def test_inbox_pages_locales_and_read_is_idempotent(make, client):
    w = make.world()
    items = inbox(client, w.h["clerk1"], page_size=1)
    assert items["total"] == 2 and len(items["items"]) == 1
    english = inbox(client, w.h["clerk1"], locale="en")["items"][0]
    assert english["title"].startswith("New task: ")
    first = client.post(f"/api/v1/notifications/{english['id']}/read", headers=w.h["clerk1"])
    again = client.post(f"/api/v1/notifications/{english['id']}/read", headers=w.h["clerk1"])
    assert first.status_code == again.status_code == 200
    assert first.json["read_at"] is not None and first.json["read_at"] == again.json["read_at"]
    assert inbox(client, w.h["clerk1"], unread="true")["total"] == 1
    # another clerk's notification does not exist for you, and nothing changes
    other = client.post(f"/api/v1/notifications/{english['id']}/read", headers=w.h["clerk1b"])
    assert other.status_code == 404 and other.json["error"] == "unknown_notification"
    assert make.count(Notification, Notification.read_at.is_not(None)) == 1


def test_devices_register_refresh_unregister_and_refuse_bad_input(make, client, app):
    w = make.world()
    assert register(client, w.h["clerk1"], "phone-clerk1-0002").json["token_kind"] == "registration_token"
    refreshed = register(client, w.h["clerk1"], "phone-clerk1-0002", token=FID, locale="en")
    assert refreshed.json["token_kind"] == "fid" and refreshed.json["locale"] == "en"
    assert make.count(Device) == 1
    versioned = client.post("/api/v1/devices", headers=w.h["clerk1"], json={
        "client_id": "phone-clerk1-0002", "platform": "web", "push_token": None, "app_version": "2.3.0"})
    assert versioned.status_code == 200 and versioned.json["app_version"] == "2.3.0", versioned.json
    assert register(client, w.h["clerk1"], "phone-clerk1-0002").json["app_version"] == "2.3.0"
    for body in ({"client_id": "phone-clerk1-0003", "platform": "nokia", "push_token": TOKEN},
                 {"client_id": "short", "platform": "android", "push_token": TOKEN},
                 {"client_id": "phone-clerk1-0003", "platform": "android", "push_token": "a\x00b"},
                 {"client_id": "phone-clerk1-0003", "platform": "android", "extra": 1},
                 {"client_id": "phone-clerk1-0003", "platform": "android", "app_version": "x" * 41}):
        response = client.post("/api/v1/devices", headers=w.h["clerk1"], json=body)
        assert response.status_code == 422, body
    assert make.count(Device) == 1
    # another user naming this client id (any store) neither takes the phone over nor ends its
    # owner's pushes: 403, nothing changed
    hijack = register(client, w.h["clerk2"], "phone-clerk1-0002", token="attacker-" + "y" * 140)
    assert (hijack.status_code, hijack.json["error"]) == (403, "client_id_taken")
    device = make.scalar(select(Device).where(Device.client_id == "phone-clerk1-0002"))
    assert device.user_id == w.clerk1.id and device.push_token == TOKEN
    # not yours: 403; unknown: 404
    assert client.delete("/api/v1/devices/phone-clerk1-0002", headers=w.h["clerk2"]).status_code == 403
    assert client.delete("/api/v1/devices/nope-nope-nope", headers=w.h["clerk1"]).status_code == 404
    # logout ends pending pushes; the inbox keeps the notifications
    make.campaign(w.admin, "AFTER", targeting={"stores": ["S001"]})
    assert make.count(Delivery, Delivery.state == "pending") == 1
    assert client.delete("/api/v1/devices/phone-clerk1-0002", headers=w.h["clerk1"]).status_code == 204
    assert make.count(Delivery, Delivery.state == "pending") == 0
    assert Worker(app, transport=RecordTransport()).dispatch() == {}
    assert inbox(client, w.h["clerk1"])["total"] == 3


def test_review_result_and_template_change_notify_the_right_clerks(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Price check")
    client.post(f"/api/v1/tasks/{task_id}/assign", headers=w.h["sup_east"], json={"username": "clerk1"})
    client.post(f"/api/v1/tasks/{task_id}/start", headers=w.h["clerk1"])
    submitted = client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"],
                            json={"quantity": 2, "observed_prices": {"LIP-01": 159.0}})
    assert submitted.status_code == 200, submitted.json
    client.post(f"/api/v1/tasks/{task_id}/review", headers=w.h["sup_east"],
                json={"decision": "reject", "comment": "价签不清楚"})
    review = inbox(client, w.h["clerk1"])["items"][0]
    assert review["kind"] == "review_result" and review["task_id"] == task_id
    assert review["title"] == "审核结果：需整改" and "价签不清楚" in review["body"]
    assert all(i["kind"] != "review_result" for i in inbox(client, w.h["clerk1b"])["items"])
    template = w.campaign.templates[0]
    template_id, version = template.id, template.version
    changed = client.patch(f"/api/v1/campaigns/{w.campaign.id}/templates/{template_id}",
                           headers=w.h["admin"], json={"instructions": "新的陈列图", "version": version})
    assert changed.status_code == 200, changed.json
    kinds = [i["kind"] for i in inbox(client, w.h["clerk3"])["items"]]
    assert kinds.count("task_changed") == 1


def _due_in(make, task_id, delta):
    make.session.execute(update(StoreTask).where(StoreTask.id == task_id)
                         .values(due_at=dt.datetime.now(dt.timezone.utc) + delta))
    make.session.commit()


def test_reminders_escalations_and_summaries_run_twice_without_duplicates(make, client, app):
    w = make.world()
    soon, late = make.task_id(w.campaign.id, w.s1), make.task_id(w.campaign.id, w.s2)
    _due_in(make, soon, dt.timedelta(hours=1))
    _due_in(make, late, -dt.timedelta(hours=2))
    worker = Worker(app, transport=RecordTransport())
    worker.run_schedule()
    worker.run_schedule()
    reminders = make.scalar(select(func.count()).select_from(Notification)
                            .where(Notification.kind == "reminder"))
    assert reminders == 2  # clerk1 and clerk1b, once each
    assert [i["task_id"] for i in inbox(client, w.h["sup_north"])["items"] if i["kind"] == "overdue"] == [late]
    assert not [i for i in inbox(client, w.h["sup_east"])["items"] if i["kind"] == "overdue"]
    # closing sends each supervisor their regions' summary once, and the schedule adds none
    client.post(f"/api/v1/campaigns/{w.campaign.id}/close", headers=w.h["admin"])
    worker.run_schedule()
    summaries = [i for i in inbox(client, w.h["sup_east"])["items"] if i["kind"] == "campaign_summary"]
    assert len(summaries) == 1 and "0%" in summaries[0]["body"] and "（0/4）" in summaries[0]["body"]


def test_quiet_hours_defer_and_never_drop(make, client, app):
    w = make.world()
    register(client, w.h["clerk1"], "phone-clerk1-0004")
    make.campaign(w.admin, "NIGHT", targeting={"stores": ["S001"]})
    settings = dispatch.DispatchSettings(quiet_hours=QuietHours(22, 8))
    # 23:30 in Shanghai tomorrow: after the delivery was queued, whenever the test runs
    tomorrow = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)
    night = dt.datetime.combine(tomorrow, dt.time(15, 30), tzinfo=dt.timezone.utc)
    sessions = app.extensions["zhida.sessionmaker"]
    counts = dispatch.drain(sessions, RecordTransport(), worker_id="w1", settings=settings, now=lambda: night)
    assert counts == {"deferred": 1}
    delivery = make.scalar(select(Delivery))
    assert delivery.state == "pending" and delivery.attempts == 0
    release = dt.datetime.combine(tomorrow + dt.timedelta(days=1), dt.time(0, 0), tzinfo=dt.timezone.utc)
    assert delivery.next_attempt_at == release  # 08:00 local
    morning = release + dt.timedelta(minutes=1)
    assert dispatch.drain(sessions, RecordTransport(), worker_id="w1", settings=settings,
                          now=lambda: morning) == {"sent": 1}


class CountingTransport(RecordTransport):
    """Records which notification each message was for (several workers share it)."""

    def __init__(self):
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, encoded):
        with self.lock:
            self.sent.extend(message["data"]["notification_id"] for _, message in encoded)
        return [Outcome(message_id=f"m-{i}") for i, _ in enumerate(encoded)]


def test_two_workers_draining_together_send_each_message_once(make, client, app):
    w = make.world()
    for n in range(3):
        register(client, w.h["clerk1"], f"phone-clerk1-10{n:02d}")
    for n in range(12):
        make.campaign(w.admin, f"BULK{n}", targeting={"stores": ["S001"]},
                      tasks=[{"title": f"T{n}-{k}"} for k in range(4)])
    total = make.count(Delivery)
    assert total == 12 * 4 * 3
    transport = CountingTransport()
    settings = dispatch.DispatchSettings(batch_size=20)
    sessions = app.extensions["zhida.sessionmaker"]
    threads = [threading.Thread(target=dispatch.drain, args=(sessions, transport),
                                kwargs={"worker_id": f"w{i}", "settings": settings}) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(transport.sent) == total and make.count(Delivery, Delivery.state == "sent") == total
    sent_pairs = make.session.execute(select(Delivery.notification_id, Delivery.device_id)).all()
    assert len(set(sent_pairs)) == total


def test_mark_read_through_sync_reaches_the_users_other_phone(make, client):
    from tests.sync_helpers import phone
    w = make.world()
    a, b = phone(client, w.h["clerk1"], "phone-clerk1-aaaa"), phone(client, w.h["clerk1"], "phone-clerk1-bbbb")
    a.pull()
    b.pull()
    notification_id = sorted(a.view("notification"))[0]
    a.enqueue("mark_read", notification_id=notification_id)
    a.enqueue("mark_read", notification_id=notification_id)
    a.enqueue("mark_read", notification_id=10**12)
    results = a.push()
    assert [r["status"] for r in results] == ["applied", "applied", "rejected"]
    assert results[2]["error"] == "unknown_notification"
    b.pull()
    assert b.view("notification")[notification_id]["read_at"] is not None


def test_a_new_campaign_after_training_pushes_a_general_script(make, client, runner):
    """Training writes general scripts for every product, so a campaign published later (with
    no scripts of its own yet) still sends one."""
    from tests.recommend.test_pairings import sales_csv, seed_catalog
    w = seed_catalog(make)
    client.post("/api/v1/sales/import", data=sales_csv().encode(), content_type="text/csv",
                headers=w.h["admin"])
    assert runner.invoke(args=["recommend", "train"]).exit_code == 0
    later = make.campaign(w.admin, "LATER", featured_skus=["LIP-01"], targeting={"stores": ["S001"]})
    item = next(i for i in inbox(client, w.h["clerk1"])["items"] if i["campaign_id"] == later.id)
    assert item["script"] and "159" not in item["script"]  # not D11's promo price
    assert item["pairing_skus"] and item["pairing_skus"][0] == "LIP-02"
