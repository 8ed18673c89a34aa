"""Migration 0025 moves push and webhook deliveries into one outbox and back, losing nothing: every
row keeps its state and targets, the webhook attempt log stays with its delivery, and new rows get
fresh ids afterwards (both databases)."""

import datetime as dt

from sqlalchemy import select, text

from backend import migrate
from backend.db import build_engine, utcnow
from integrations.models import WebhookAttempt, WebhookDelivery
from notifications.models import Delivery
from notifications.transports import RecordTransport
from notifications.worker import Worker
from tests.notifications.test_notifications import register as register_device
from tests.integrations.test_webhooks import approve_a_task, register as register_endpoint
from tests.webhook_receiver import WebhookReceiver

PUSH = ("notification_id", "device_id", "state", "attempts", "provider_message_id")
HOOK = ("endpoint_id", "event_id", "state", "attempts", "last_status", "give_up_at")


def _rows(make):
    make.session.expire_all()
    pushes = sorted(tuple(getattr(d, c) for c in PUSH) for d in make.session.scalars(select(Delivery)))
    hooks = sorted(tuple(getattr(d, c) for c in HOOK) for d in make.session.scalars(select(WebhookDelivery)))
    log = sorted((d.event_id, a.status) for a, d in make.session.execute(
        select(WebhookAttempt, WebhookDelivery).join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)))
    make.session.rollback()  # reads only: release SQLite's lock before the migration runs
    return pushes, hooks, log


def test_deliveries_move_into_the_outbox_and_back(make, client, app, database_url):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    receiver = WebhookReceiver([500])
    try:
        w = make.world()
        assert register_device(client, w.h["clerk1"], "phone-clerk1-0001").status_code == 200
        register_endpoint(client, w, receiver.url, ["task.claimed", "task.approved"])
        make.campaign(w.admin, "WEEK", targeting={"stores": ["S001"]}, tasks=[{"title": "端架陈列"}])
        approve_a_task(client, make, w)
        worker = Worker(app, transport=RecordTransport())
        assert sorted(worker.dispatch_webhooks(max_batches=1).items()) == [("delivered", 1), ("retry", 1)]
        assert worker.dispatch(max_batches=1)["sent"] >= 1
        make.session.commit()
        before = _rows(make)
        assert before[0] and len(before[1]) == 2 and len(before[2]) == 2

        engine = build_engine(database_url)
        try:
            migrate.downgrade(engine, "0024")
            with engine.connect() as connection:
                old = connection.execute(text(
                    "SELECT (SELECT COUNT(*) FROM deliveries), (SELECT COUNT(*) FROM webhook_deliveries), "
                    "(SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id)"
                )).one()
                connection.rollback()
            assert tuple(old) == (len(before[0]), 2, 2)
            migrate.upgrade(engine)
        finally:
            migrate.upgrade(engine)  # leave the shared test database at head whatever happened
            engine.dispose()
        assert _rows(make) == before

        # New rows after the move get fresh ids (sequences follow the copied rows).
        receiver.statuses.clear()
        worker = Worker(app, transport=RecordTransport())
        later = utcnow() + dt.timedelta(minutes=5)  # the failed delivery's backoff is over
        assert worker.dispatch_webhooks(now=lambda: later) == {"delivered": 1}
        assert register_device(client, w.h["clerk1b"], "phone-clerk1b-001").status_code == 200
        make.campaign(w.admin, "NEXT", targeting={"stores": ["S001"]}, tasks=[{"title": "试用装"}])
        assert worker.dispatch()["sent"] >= 2
        pushes, hooks, log = _rows(make)
        assert len(pushes) > len(before[0]) and all(p[2] == "sent" for p in pushes)
        assert [h[2] for h in hooks] == ["delivered", "delivered"] and len(log) == 3
    finally:
        receiver.close()
