"""Notification dispatch: the worker draining the outbox vs bare firebase-admin send_each.

    python -m bench.notify [--messages 100000] [--rounds 3] [--backends postgresql,sqlite]

Both sides send the same messages through the real firebase-admin SDK to the local FCM
imitation, which runs in its own process. "bare" is ``messaging.send_each`` over pre-built
messages in batches of 500 — the floor. "worker" is our dispatcher: lease 500 deliveries,
read their notifications, tasks and recommendations, build and fit each message, send with
the same ``send_each``, record every outcome. Each round runs bare then worker on the same
messages back to back; overhead = the median over rounds of worker / bare − 1 (target ≤ 20 %),
so a load spike on the shared machine spoils one round's pair, not the comparison. Each round
also reports the client's CPU seconds (this process, every thread; the imitation and PostgreSQL
run elsewhere) as worker / bare − 1, and the 1-minute load average when it started.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import resource
import tempfile
import time

from firebase_admin import messaging
from sqlalchemy import func, insert, select
from sqlalchemy.orm import sessionmaker

from backend.app import create_app
from backend.db import utcnow
from backend.org.models import Region, Store, User
from bench.common import SECRET, database_factory, emit, median
from notifications import content, dispatch
from notifications.fcm_imitation import FcmImitation, fake_service_account
from notifications.messages import build_push
from notifications.models import Delivery, Device, Notification
from notifications.transports import FcmTransport, Target
from tests.factories import PASSWORD_HASH

DEVICES = 1000


def _serve(port_queue):
    imitation = FcmImitation(port=0)
    port_queue.put(imitation.server.server_address[1])
    imitation.server.serve_forever()


def start_imitation():
    """The FCM imitation in another process (it must not share our GIL)."""
    queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=_serve, args=(queue,), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{queue.get(timeout=30)}"


def seed(url: str, messages: int) -> None:
    """DEVICES clerks with one device each, and ``messages`` pending deliveries."""
    from backend.db import build_engine
    engine = build_engine(url)
    Session = sessionmaker(bind=engine)
    with Session() as session:
        region = Region(code="R", name="R")
        store = Store(code="S", name="S", region=region)
        session.add_all([region, store])
        session.flush()
        now = utcnow()
        users = [dict(username=f"u{i}", display_name=f"u{i}", role="clerk", password_hash=PASSWORD_HASH,
                      store_id=store.id, locale="zh-CN" if i % 2 else "en", active=True, created_at=now)
                 for i in range(DEVICES)]
        session.execute(insert(User), users)
        user_ids = list(session.scalars(select(User.id).order_by(User.id)))
        session.execute(insert(Device), [dict(client_id=f"bench-device-{i:06d}", user_id=uid, platform="android",
                                              push_token=f"bench-token-{i:06d}-" + "t" * 140,
                                              token_kind="registration_token", locale="zh-CN",
                                              created_at=now, updated_at=now)
                                         for i, uid in enumerate(user_ids)])
        device_ids = list(session.scalars(select(Device.id).order_by(Device.id)))
        for start in range(0, messages, 10_000):
            chunk = range(start, min(messages, start + 10_000))
            session.execute(insert(Notification), [
                dict(user_id=user_ids[i % DEVICES], kind="task_published", store_id=store.id,
                     params={"task_title": f"端架陈列 {i}", "campaign_title": "双十一", "store_code": "S"},
                     created_at=now) for i in chunk])
        notification_ids = list(session.scalars(select(Notification.id).order_by(Notification.id)))
        for start in range(0, messages, 10_000):
            session.execute(insert(Delivery), [
                dict(notification_id=notification_ids[i], device_id=device_ids[i % DEVICES], state="pending",
                     attempts=0, next_attempt_at=now, created_at=now)
                for i in range(start, min(messages, start + 10_000))])
        session.commit()
    engine.dispose()


def bare_messages(url: str, transport: FcmTransport) -> list:
    """The same messages the worker will send, built up front (not timed)."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    with app.extensions["zhida.sessionmaker"]() as session:
        rows = session.execute(select(Notification, Device).join(Delivery, Delivery.notification_id == Notification.id)
                               .join(Device, Device.id == Delivery.device_id).order_by(Delivery.id)).all()
        facts = content.Facts(session)
        facts.preload([n for n, _ in rows])
        return transport.encode([(Target(d.push_token, d.token_kind), build_push(facts.push_content(n, d.locale)))
                                 for n, d in rows])


def _cpu_seconds() -> float:
    """CPU time of this process (every thread): what the sender and the worker cost the client,
    which a busy shared machine disturbs far less than the wall clock."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_bare(transport: FcmTransport, sdk_messages: list) -> tuple[float, float]:
    start, cpu = time.perf_counter(), _cpu_seconds()
    for i in range(0, len(sdk_messages), 500):
        answer = messaging.send_each(sdk_messages[i:i + 500], app=transport.app)
        assert answer.failure_count == 0
    return time.perf_counter() - start, _cpu_seconds() - cpu


def run_worker(url: str, transport: FcmTransport) -> tuple[float, float, dict]:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    settings = dispatch.DispatchSettings(quiet_hours=None)
    start, cpu = time.perf_counter(), _cpu_seconds()
    counts = dispatch.drain(app.extensions["zhida.sessionmaker"], transport, worker_id="bench",
                            settings=settings)
    elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    app.extensions["zhida.engine"].dispose()
    return elapsed, cpu, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args()
    process, base_url = start_imitation()
    credentials = fake_service_account(f"{base_url}/token")
    transport = FcmTransport(credentials_info=credentials, endpoint=base_url)
    try:
        for backend in args.backends.split(","):
            with database_factory(backend) as fresh:
                bare, worker, cpu_ratios = [], [], []
                for round_ in range(args.rounds):
                    url = fresh(f"notify_{round_}")
                    seed(url, args.messages)
                    sdk_messages = bare_messages(url, transport)
                    load = os.getloadavg()[0]
                    bare_s, bare_cpu = run_bare(transport, sdk_messages)
                    seconds, cpu, counts = run_worker(url, transport)
                    assert counts == {"sent": args.messages}, counts
                    bare.append(bare_s)
                    worker.append(seconds)
                    cpu_ratios.append(cpu / bare_cpu - 1)
                    emit(bench="notify_round", backend=backend, messages=args.messages,
                         bare_s=round(bare_s, 2), worker_s=round(seconds, 2),
                         overhead_pct=round((seconds / bare_s - 1) * 100, 1),
                         client_cpu_overhead_pct=round(cpu_ratios[-1] * 100, 1), load_avg_1m=round(load, 1))
                b, w = median(bare), median(worker)
                ratios = [wi / bi - 1 for wi, bi in zip(worker, bare)]
                emit(bench="notify", backend=backend, messages=args.messages, rounds=args.rounds,
                     bare_msgs_per_s=round(args.messages / b), worker_msgs_per_s=round(args.messages / w),
                     overhead_pct=round(median(ratios) * 100, 1),
                     overhead_range_pct=[round(min(ratios) * 100, 1), round(max(ratios) * 100, 1)],
                     client_cpu_overhead_pct=round(median(cpu_ratios) * 100, 1), target_pct=20)
    finally:
        transport.close()
        process.terminate()


if __name__ == "__main__":
    main()
