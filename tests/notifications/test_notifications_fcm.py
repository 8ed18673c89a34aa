"""The real firebase-admin code path against the local FCM imitation: success, UNREGISTERED,
429, 500, oversized payloads, the endpoint seam, and a worker killed mid-send."""

import json
import signal
import time

import firebase_admin
import pytest
from firebase_admin import messaging
from sqlalchemy import func, select

from notifications import fcm_seam
from notifications.fcm_imitation import FcmImitation, fake_service_account
from notifications.models import Delivery, Device
from notifications.transports import FcmTransport
from notifications.worker import Worker
from tests.processes import wait_until, worker_process
from recommend.models import Script


@pytest.fixture
def fcm():
    with FcmImitation(retry_after=1) as imitation:
        yield imitation


@pytest.fixture
def transport(fcm):
    sdk = FcmTransport(credentials_info=fake_service_account(fcm.token_uri), endpoint=fcm.base_url)
    yield sdk
    sdk.close()


def register(client, headers, client_id, token):
    response = client.post("/api/v1/devices", headers=headers, json={
        "client_id": client_id, "platform": "android", "push_token": token})
    assert response.status_code == 200, response.json


def states(make):
    return dict(make.session.execute(select(Device.client_id, Delivery.state)
                                     .join(Device, Device.id == Delivery.device_id)).all())


def test_the_seam_exists_in_the_pinned_firebase_admin():
    """Fails loudly when an upgrade moves the private names fcm_seam relies on."""
    assert firebase_admin.__version__ == fcm_seam.SEAM_VERSION
    assert callable(getattr(messaging, "_get_messaging_service", None))
    assert "_fcm_url" in messaging._MessagingService.__init__.__code__.co_names or \
        "_fcm_url" in open(messaging.__file__).read()


def test_success_dead_tokens_quota_and_server_errors(make, client, app, fcm, transport):
    w = make.world()
    register(client, w.h["clerk1"], "phone-good-0001", "good-token-" + "a" * 140)
    register(client, w.h["clerk1b"], "phone-dead-0001", "dead-token-" + "b" * 140)
    register(client, w.h["clerk3"], "phone-flaky-001", "flaky-token-" + "c" * 140)
    register(client, w.h["clerk2"], "phone-quota-001", "quota-token-" + "d" * 140)
    fcm.plan("flaky-token-" + "c" * 140, [500])          # the SDK retries a 500 by itself
    fcm.plan("quota-token-" + "d" * 140, [429] * 5)      # still 429 after the SDK's retries
    make.campaign(w.admin, "PUSH", targeting={"regions": ["EAST", "NORTH"]}, tasks=[{"title": "One"}])
    started = time.time()
    counts = Worker(app, transport=transport).dispatch(max_batches=1)
    assert counts == {"sent": 2, "token_dropped": 1, "retry": 1}
    assert states(make) == {"phone-good-0001": "sent", "phone-dead-0001": "dead",
                            "phone-flaky-001": "sent", "phone-quota-001": "pending"}
    # the dead token is forgotten; the quota one waits at least Retry-After
    dead = make.scalar(select(Device).where(Device.client_id == "phone-dead-0001"))
    assert dead.push_token is None and dead.token_dropped_reason == "UNREGISTERED"
    waiting = make.scalar(select(Delivery).join(Device).where(Device.client_id == "phone-quota-001"))
    assert waiting.last_error.startswith("QUOTA_EXCEEDED") and waiting.attempts == 1
    assert waiting.next_attempt_at.timestamp() >= started + 1
    sent = make.scalar(select(Delivery).join(Device).where(Device.client_id == "phone-good-0001"))
    assert sent.provider_message_id.startswith("projects/zhida-demo/messages/")
    # what FCM received: the v1 message with the task id, addressed by token, authorized by OAuth
    first = next(m for m in fcm.delivered if m.get("token", "").startswith("good-token"))
    assert first["data"]["task_id"] == str(sent.notification_id and first["data"]["task_id"])
    assert first["android"]["collapse_key"].startswith("task-") and fcm.token_requests >= 1
    # a new publish adds nothing for the dropped device
    make.campaign(w.admin, "PUSH2", targeting={"stores": ["S001"]}, tasks=[{"title": "Two"}])
    assert make.scalar(select(func.count()).select_from(Delivery).join(Device)
                       .where(Device.client_id == "phone-dead-0001")) == 1


def test_an_oversized_script_is_trimmed_and_accepted(make, client, app, fcm, transport):
    w = make.world()
    make.session.add(Script(product_id=w.lip.id, locale="zh-CN", text="这是一段很长的话术。" * 800,
                            source="hq", status="approved"))
    make.session.commit()
    register(client, w.h["clerk1"], "phone-long-0001", "cAbCdEfGhIjKlMnOpQrStU")  # an installation id
    make.campaign(w.admin, "LONG", featured_skus=["LIP-01"], targeting={"stores": ["S001"]})
    assert Worker(app, transport=transport).dispatch() == {"sent": 1}
    message = fcm.delivered[-1]
    assert message["fid"] == "cAbCdEfGhIjKlMnOpQrStU" and "token" not in message
    assert message["data"]["script"].startswith("这是一段很长的话术。") and message["data"]["script"].endswith("…")
    assert len(json.dumps({k: v for k, v in message.items() if k != "fid"}, ensure_ascii=False,
                          separators=(",", ":")).encode()) <= 4096


def test_a_worker_killed_between_send_and_acknowledgement_loses_nothing(
        make, client, app, fcm, database_url, tmp_path):
    w = make.world()
    for n in range(5):
        register(client, w.h["clerk1"], f"phone-crash-{n:04d}", f"crash-token-{n}-" + "e" * 140)
    make.campaign(w.admin, "CRASH", targeting={"stores": ["S001"]}, tasks=[{"title": "A"}, {"title": "B"}])
    expected = make.scalar(select(func.count()).select_from(Delivery).where(Delivery.state == "pending"))
    assert expected == 5 * 2  # 5 devices × the 2 CRASH tasks (D11 came before the devices)
    credentials = tmp_path / "sa.json"
    credentials.write_text(json.dumps(fake_service_account(fcm.token_uri)))

    fcm.hold()  # FCM receives the messages but the answers wait
    first = worker_process(database_url, NOTIFY_TRANSPORT="fcm", FCM_CREDENTIALS_FILE=str(credentials),
                           FCM_ENDPOINT=fcm.base_url)
    try:
        assert wait_until(lambda: len(fcm.received) >= expected, 60), "the worker never sent"
        first.send_signal(signal.SIGKILL)  # dies after FCM got them, before recording anything
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    fcm.release()
    make.session.commit()
    assert make.scalar(select(func.count()).select_from(Delivery).where(Delivery.state == "sent")) == 0
    second = worker_process(database_url, NOTIFY_TRANSPORT="fcm", FCM_CREDENTIALS_FILE=str(credentials),
                           FCM_ENDPOINT=fcm.base_url)
    try:
        def all_sent():
            make.session.commit()
            return make.scalar(select(func.count()).select_from(Delivery)
                               .where(Delivery.state == "sent")) == expected
        assert wait_until(all_sent, 60), states(make)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
    delivered = {(m["token"], m["data"]["notification_id"]) for m in fcm.delivered}
    assert len(delivered) == expected  # every message arrived (the killed batch twice: at least once)


def test_invalid_payloads_and_exhausted_retries_are_dead_lettered(make, client, app, fcm, transport):
    w = make.world()
    register(client, w.h["clerk1"], "phone-bad-00001", "bad-token-" + "f" * 140)
    register(client, w.h["clerk1b"], "phone-busy-0001", "busy-token-" + "g" * 140)
    fcm.plan("bad-token-" + "f" * 140, [400])
    fcm.plan("busy-token-" + "g" * 140, [503] * 30)  # unavailable, whatever we do
    app.config.update(NOTIFY_MAX_ATTEMPTS=2, NOTIFY_BACKOFF_SECONDS=0.01)
    fcm.retry_after = 0
    make.campaign(w.admin, "BAD", targeting={"stores": ["S001"]}, tasks=[{"title": "One"}])
    worker = Worker(app, transport=transport)
    assert worker.dispatch(max_batches=1) == {"dead": 1, "retry": 1}
    bad = make.scalar(select(Delivery).join(Device).where(Device.client_id == "phone-bad-00001"))
    assert bad.state == "dead" and bad.last_error.startswith("INVALID_ARGUMENT")
    time.sleep(0.05)
    assert worker.dispatch() == {"dead": 1}  # the second attempt was the last
    busy = make.scalar(select(Delivery).join(Device).where(Device.client_id == "phone-busy-0001"))
    assert busy.state == "dead" and busy.attempts == 2 and busy.last_error.startswith("UNAVAILABLE")
    # both devices keep their addresses: only dead tokens are forgotten
    assert make.scalar(select(func.count()).select_from(Device).where(Device.push_token.is_not(None))) == 2
