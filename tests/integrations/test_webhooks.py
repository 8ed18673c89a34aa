"""Webhooks (SPEC §13): endpoints, events written with the change, signed deliveries to a real
local receiver, retries with backoff for 24 h, 410, the delivery log, redeliver, a killed worker,
the SSRF guard."""

import datetime as dt
import json
import signal
import time

import pytest
from sqlalchemy import func, select

from backend.db import utcnow
from integrations import addresses, signing
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from notifications.worker import Worker
from tests.processes import wait_until, worker_process
from tests.webhook_receiver import WebhookReceiver
from tests.paths import ROOT



@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
def private_ok(app):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    return app


def register(client, w, url, events):
    response = client.post("/api/v1/webhooks", headers=w.h["admin"],
                           json={"url": url, "events": events, "description": "ERP"})
    assert response.status_code == 201, response.json
    return response.json


def approve_a_task(client, make, w):
    """S001's price check: assigned, submitted with proof, approved by the region's supervisor."""
    task_id = make.task_id(w.campaign.id, w.s1, "Price check")
    assert client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1"},
                       headers=w.h["sup_east"]).status_code == 200
    assert client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"], json={
        "quantity": 3, "observed_prices": {"LIP-01": 159.0}}).status_code == 200
    assert client.post(f"/api/v1/tasks/{task_id}/review", headers=w.h["sup_east"],
                       json={"decision": "approve"}).status_code == 200
    return task_id


def test_endpoints_show_the_secret_once_and_refuse_bad_urls(make, client, private_ok):
    w = make.world()
    created = register(client, w, "https://erp.example.com/hooks", ["task.approved", "task.claimed"])
    assert created["secret"].startswith("whsec_") and created["events"] == ["task.approved", "task.claimed"]
    listed = client.get("/api/v1/webhooks", headers=w.h["admin"]).json
    assert listed == [{k: v for k, v in created.items() if k != "secret"}]
    for body in ({"url": "ftp://example.com/x", "events": ["task.claimed"]},
                 {"url": "https://example.com/x", "events": ["task.exploded"]},
                 {"url": "https://example.com/x", "events": []},
                 {"url": "https://user:pw@example.com/x", "events": ["task.claimed"]},
                 {"url": "https://example.com/x", "events": ["task.claimed"], "extra": 1}):
        before = make.count(WebhookEndpoint)
        response = client.post("/api/v1/webhooks", headers=w.h["admin"], json=body)
        assert response.status_code == 422, (body, response.json)
        assert make.count(WebhookEndpoint) == before
    assert client.delete(f"/api/v1/webhooks/{created['id']}", headers=w.h["admin"]).status_code == 204
    assert client.delete(f"/api/v1/webhooks/{created['id']}", headers=w.h["admin"]).status_code == 404


def test_without_allow_private_only_public_https_is_accepted(make, client, app):
    w = make.world()
    response = client.post("/api/v1/webhooks", headers=w.h["admin"],
                           json={"url": "http://127.0.0.1:9/x", "events": ["task.claimed"]})
    assert response.status_code == 422 and response.json["error"] == "url_not_allowed"
    response = client.post("/api/v1/webhooks", headers=w.h["admin"],
                           json={"url": "https://127.0.0.1/x", "events": ["task.claimed"]})
    assert response.status_code == 422 and "not a public address" in response.json["message"]


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.5", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fc00::5",
                                     "::ffff:127.0.0.1", "224.0.0.1"])
def test_the_ssrf_guard_refuses_private_addresses(address):
    with pytest.raises(addresses.AddressRefused):
        addresses.check_url("https://hooks.example.com/x", allow_private=False,
                            resolver=lambda host, port: ["93.184.216.34", address])
    addresses.check_url("http://hooks.example.com/x", allow_private=True,
                        resolver=lambda host, port: [address])


def test_the_ssrf_guard_accepts_public_https_only():
    public = lambda host, port: ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]  # noqa: E731
    addresses.check_url("https://hooks.example.com:8443/x", allow_private=False, resolver=public)
    with pytest.raises(addresses.AddressRefused):
        addresses.check_url("http://hooks.example.com/x", allow_private=False, resolver=public)


def test_signature_verifies_and_rejects_tampering_and_stale_timestamps():
    body = b'{"id":"evt_1"}'
    header = signing.sign("whsec_k", 1_700_000_000, body)
    assert signing.verify("whsec_k", header, body, now=1_700_000_100) == 1_700_000_000
    for secret, sent, now in (("whsec_other", body, 1_700_000_000), ("whsec_k", body + b" ", 1_700_000_000),
                              ("whsec_k", body, 1_700_000_000 + 301)):
        with pytest.raises(signing.InvalidSignature):
            signing.verify(secret, header, sent, now=now)
    with pytest.raises(signing.InvalidSignature):
        signing.verify("whsec_k", "v1=abc", body, now=1_700_000_000)


def test_task_events_are_written_with_the_change_and_delivered_signed(make, client, private_ok, receiver):
    w = make.world()
    endpoint = register(client, w, receiver.url, ["task.claimed", "task.submitted", "task.approved",
                                                 "task.rejected"])
    task_id = make.task_id(w.campaign.id, w.s1, "Price check")
    # a refused change writes no event
    assert client.post(f"/api/v1/tasks/{task_id}/review", headers=w.h["sup_east"],
                       json={"decision": "approve"}).status_code == 409
    assert make.count(WebhookEvent) == 0
    approve_a_task(client, make, w)
    types = list(make.session.scalars(select(WebhookEvent.type).order_by(WebhookEvent.id)))
    assert types == ["task.claimed", "task.submitted", "task.approved"]
    assert make.count(WebhookDelivery, WebhookDelivery.state == "pending") == 3

    assert Worker(private_ok).dispatch_webhooks() == {"delivered": 3}
    assert [json.loads(r.body)["type"] for r in sorted(receiver.received, key=lambda r: json.loads(r.body)["id"])]
    for request in receiver.received:
        signing.verify(endpoint["secret"], request.headers["Zhida-Signature"], request.body,
                       now=int(time.time()))
        event = json.loads(request.body)
        assert set(event) == {"id", "type", "created_at", "data"} and event["id"].startswith("evt_")
        assert event["data"]["task_id"] == task_id and event["data"]["store_code"] == "S001"
        assert request.headers["Zhida-Event-Id"] == event["id"]
    submitted = next(json.loads(r.body) for r in receiver.received if b"task.submitted" in r.body)
    assert submitted["data"]["actor"] == "clerk1" and submitted["data"]["late"] is False
    assert Worker(private_ok).dispatch_webhooks() == {}  # nothing twice


def test_campaign_events_and_only_subscribed_types(make, client, private_ok, receiver):
    w = make.world()
    register(client, w, receiver.url, ["campaign.published", "campaign.closed"])
    campaign = make.campaign(w.admin, "HOOK", targeting={"stores": ["S001", "S002"]}, tasks=[{"title": "A"}])
    assert client.post(f"/api/v1/campaigns/{campaign.id}/close", headers=w.h["admin"]).status_code == 200
    approve_a_task(client, make, w)  # task events: nobody subscribed, nothing written
    assert Worker(private_ok).dispatch_webhooks() == {"delivered": 2}
    events = sorted((json.loads(r.body) for r in receiver.received), key=lambda e: e["type"])
    assert [e["type"] for e in events] == ["campaign.closed", "campaign.published"]
    assert events[1]["data"]["code"] == "HOOK" and events[1]["data"]["tasks_created"] == 2


def test_a_receiver_failing_twice_gets_the_event_again_each_time_then_never(make, client, private_ok):
    receiver = WebhookReceiver([500, 503])
    try:
        w = make.world()
        register(client, w, receiver.url, ["task.approved"])
        approve_a_task(client, make, w)
        worker = Worker(private_ok)
        clock = [utcnow()]
        assert worker.dispatch_webhooks(now=lambda: clock[0]) == {"retry": 1}
        assert worker.dispatch_webhooks(now=lambda: clock[0]) == {}  # backing off
        delivery = make.scalar(select(WebhookDelivery))
        first_wait = (delivery.next_attempt_at - clock[0]).total_seconds()
        assert 15 <= first_wait <= 30  # base 30 s, full jitter over its upper half
        clock[0] = delivery.next_attempt_at
        assert worker.dispatch_webhooks(now=lambda: clock[0]) == {"retry": 1}
        make.session.expire_all()
        delivery = make.scalar(select(WebhookDelivery))
        assert 30 <= (delivery.next_attempt_at - clock[0]).total_seconds() <= 60
        clock[0] = delivery.next_attempt_at
        assert worker.dispatch_webhooks(now=lambda: clock[0]) == {"delivered": 1}
        clock[0] += dt.timedelta(hours=30)
        assert worker.dispatch_webhooks(now=lambda: clock[0]) == {}
        ids = [json.loads(r.body)["id"] for r in receiver.received]
        assert len(ids) == 3 and len(set(ids)) == 1  # the same event, three times, then never
        log = client.get("/api/v1/webhooks/1/deliveries", headers=w.h["admin"]).json["items"][0]
        assert log["state"] == "delivered" and log["attempts"] == 3
        assert [a["status"] for a in log["log"]] == [500, 503, 200]
    finally:
        receiver.close()


def test_retries_stop_after_24_hours(make, client, private_ok):
    receiver = WebhookReceiver([500] * 100)
    try:
        w = make.world()
        register(client, w, receiver.url, ["task.approved"])
        approve_a_task(client, make, w)
        worker = Worker(private_ok)
        start = utcnow()
        clock = [start]
        outcomes = []
        while True:
            counts = worker.dispatch_webhooks(now=lambda: clock[0])
            outcomes.append(counts)
            make.session.expire_all()
            delivery = make.scalar(select(WebhookDelivery))
            if delivery.state != "pending":
                break
            clock[0] = delivery.next_attempt_at
        assert delivery.state == "failed" and outcomes[-1] == {"failed": 1}
        assert clock[0] - start <= dt.timedelta(hours=24)
        assert len(receiver.received) == delivery.attempts >= 8  # 30 s doubling, capped at 1 h
    finally:
        receiver.close()


def test_410_disables_the_endpoint_and_redeliver(make, client, private_ok):
    receiver = WebhookReceiver([410] * 5)
    try:
        w = make.world()
        endpoint = register(client, w, receiver.url, ["task.claimed", "task.approved"])
        approve_a_task(client, make, w)
        private_ok.config["WEBHOOK_BATCH_SIZE"] = 1
        counts = Worker(private_ok).dispatch_webhooks()
        assert counts == {"disabled": 1} and len(receiver.received) == 1  # the other is never sent
        listed = client.get("/api/v1/webhooks", headers=w.h["admin"]).json[0]
        assert listed["active"] is False and "410" in listed["disabled_reason"]
        assert make.count(WebhookDelivery, WebhookDelivery.state != "failed") == 0
        delivery_id = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries",
                                 headers=w.h["admin"]).json["items"][0]["id"]
        response = client.post(f"/api/v1/webhooks/{endpoint['id']}/deliveries/{delivery_id}/redeliver",
                               headers=w.h["admin"])
        assert response.status_code == 409 and response.json["error"] == "endpoint_disabled"
    finally:
        receiver.close()


def test_redeliver_sends_the_same_event_again(make, client, private_ok, receiver):
    w = make.world()
    endpoint = register(client, w, receiver.url, ["task.approved"])
    approve_a_task(client, make, w)
    assert Worker(private_ok).dispatch_webhooks() == {"delivered": 1}
    delivery_id = make.scalar(select(WebhookDelivery.id))
    url = f"/api/v1/webhooks/{endpoint['id']}/deliveries/{delivery_id}/redeliver"
    again = client.post(url, headers=w.h["admin"])
    assert again.status_code == 200 and again.json["state"] == "pending"
    assert Worker(private_ok).dispatch_webhooks() == {"delivered": 1}
    assert len(receiver.received) == 2 and receiver.received[0].body == receiver.received[1].body
    assert client.post(f"/api/v1/webhooks/{endpoint['id']}/deliveries/99999/redeliver",
                       headers=w.h["admin"]).status_code == 404
    assert client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries?state=bogus",
                      headers=w.h["admin"]).status_code == 422


def test_overdue_events_are_queued_once_by_the_schedule(make, client, private_ok, receiver):
    from backend.tasks.models import StoreTask
    w = make.world()
    register(client, w, receiver.url, ["task.overdue"])
    make.session.execute(StoreTask.__table__.update().values(due_at=utcnow() - dt.timedelta(hours=1)))
    make.session.commit()
    worker = Worker(private_ok)
    worker.run_schedule()
    worker.run_schedule()  # a second run (or a second worker) adds nothing
    open_tasks = make.scalar(select(func.count()).select_from(StoreTask).where(StoreTask.status == "open"))
    assert make.count(WebhookEvent, WebhookEvent.type == "task.overdue") == open_tasks > 0
    assert worker.dispatch_webhooks() == {"delivered": open_tasks}
    assert {json.loads(r.body)["type"] for r in receiver.received} == {"task.overdue"}


def test_a_worker_killed_mid_send_loses_nothing(make, client, private_ok, receiver, database_url):
    w = make.world()
    register(client, w, receiver.url, ["task.claimed", "task.submitted", "task.approved"])
    approve_a_task(client, make, w)
    receiver.hold()  # the receiver gets the POSTs but does not answer
    first = worker_process(database_url, WEBHOOK_ALLOW_PRIVATE="1", WEBHOOK_LEASE_SECONDS="3")
    try:
        assert wait_until(lambda: len(receiver.received) >= 3, 60), "the worker never sent"
        first.send_signal(signal.SIGKILL)  # dies before recording any answer
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    receiver.release()
    assert make.count(WebhookDelivery, WebhookDelivery.state == "delivered") == 0
    second = worker_process(database_url, WEBHOOK_ALLOW_PRIVATE="1", WEBHOOK_LEASE_SECONDS="3")
    try:
        assert wait_until(lambda: make.count(WebhookDelivery, WebhookDelivery.state == "delivered") == 3, 60)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
    ids = {json.loads(r.body)["id"] for r in receiver.received}
    assert len(ids) == 3 and len(receiver.received) >= 6  # every event arrived, the killed batch twice
    assert make.count(WebhookAttempt) == 3  # the dead worker recorded nothing


def test_the_receiver_in_the_docs_accepts_a_real_signature_and_rejects_stale_or_forged_ones():
    """The `verified` function of docs/integrations.md, run as written, against our signer."""
    import re
    text = (ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")
    example = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    source = example[example.index("import hashlib"):example.index("class Receiver")]
    namespace: dict = {}
    exec(source.replace('SECRET = b"whsec_…"', 'SECRET = b"whsec_docs"'), namespace)  # noqa: S102
    body = b'{"id":"evt_1","type":"task.approved"}'
    now = int(time.time())
    assert namespace["verified"](signing.sign("whsec_docs", now, body), body)
    assert not namespace["verified"](signing.sign("whsec_docs", now - 301, body), body)
    assert not namespace["verified"](signing.sign("whsec_other", now, body), body)
    assert not namespace["verified"](signing.sign("whsec_docs", now, body), body + b" ")
    assert not namespace["verified"]("garbage", body)
