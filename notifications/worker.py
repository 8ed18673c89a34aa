"""The notification worker: APScheduler runs three jobs in each worker process — drain the
outbox every few seconds, queue the clock-driven notifications every minute, and import the POS
files queued in the console (a lease on each import keeps workers apart).

APScheduler needs no broker (the embedded default runs it inside the web process); several
worker processes each run the same jobs, and the database is what keeps them apart: outbox
leases (SKIP LOCKED) for sends, unique dedupe keys for scheduled notifications.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from backend.campaigns import recurring
from backend.sales import jobs as sales_jobs
from backend.db import utcnow
from integrations import dispatch as webhook_dispatch
from integrations import outbox as webhook_outbox
from notifications import dispatch, schedule
from notifications.quiet_hours import QuietHours
from rules import engine as rules_engine
from notifications.transports import FcmTransport, RecordTransport

log = logging.getLogger("zhida.worker")


def settings_from(config: dict) -> dispatch.DispatchSettings:
    """Dispatch settings from the app config."""
    return dispatch.DispatchSettings(
        batch_size=config["NOTIFY_BATCH_SIZE"], lease_seconds=config["NOTIFY_LEASE_SECONDS"],
        max_attempts=config["NOTIFY_MAX_ATTEMPTS"], backoff_base_seconds=config["NOTIFY_BACKOFF_SECONDS"],
        quiet_hours=QuietHours.parse(config["NOTIFY_QUIET_HOURS"]),
        default_timezone=config["DEFAULT_TIMEZONE"])


def webhook_settings_from(config: dict) -> webhook_dispatch.WebhookSettings:
    """Webhook delivery settings from the app config."""
    return webhook_dispatch.WebhookSettings(
        allow_private=config["WEBHOOK_ALLOW_PRIVATE"], timeout_seconds=config["WEBHOOK_TIMEOUT_SECONDS"],
        batch_size=config["WEBHOOK_BATCH_SIZE"], lease_seconds=config["WEBHOOK_LEASE_SECONDS"],
        backoff_base_seconds=config["WEBHOOK_BACKOFF_SECONDS"])


def transport_from(config: dict):
    """The configured transport: the embedded recorder or FCM through firebase-admin."""
    if config["NOTIFY_TRANSPORT"] == "record":
        return RecordTransport()
    if config["NOTIFY_TRANSPORT"] == "fcm":
        if not config["FCM_CREDENTIALS_FILE"]:
            raise RuntimeError("NOTIFY_TRANSPORT=fcm needs FCM_CREDENTIALS_FILE (a service account JSON)")
        return FcmTransport.from_file(config["FCM_CREDENTIALS_FILE"], project_id=config["FCM_PROJECT_ID"] or None,
                                      endpoint=config["FCM_ENDPOINT"] or None)
    raise RuntimeError(f"Unknown NOTIFY_TRANSPORT {config['NOTIFY_TRANSPORT']!r} (record | fcm)")


class Worker:
    """One worker process's jobs, bound to an app's database and a transport."""

    def __init__(self, app: Flask, *, transport=None, worker_id: str | None = None):
        self.sessions = app.extensions["zhida.sessionmaker"]
        self.config = app.config
        self.transport = transport if transport is not None else transport_from(app.config)
        self.settings = settings_from(app.config)
        self.webhook_settings = webhook_settings_from(app.config)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def dispatch(self, *, max_batches: int | None = None) -> dict[str, int]:
        """Deliver every push due now, then every webhook due now."""
        counts = dispatch.drain(self.sessions, self.transport, worker_id=self.worker_id,
                                settings=self.settings, max_batches=max_batches)
        if counts:
            log.info("dispatched %s", counts)
        self.dispatch_webhooks(max_batches=max_batches)
        return counts

    def dispatch_webhooks(self, *, max_batches: int | None = None, now=utcnow) -> dict[str, int]:
        """Deliver every webhook due now (``now``: the clock, replaceable in tests)."""
        counts = webhook_dispatch.drain(self.sessions, worker_id=self.worker_id,
                                        settings=self.webhook_settings, max_batches=max_batches, now=now)
        if counts:
            log.info("webhooks %s", counts)
        return counts

    def run_schedule(self, now: dt.datetime | None = None) -> None:
        """Queue the reminders, escalations and summaries due at ``now``, create the recurring
        tasks' upcoming occurrences, fire the overdue and store-metric rules, and queue task.overdue webhooks."""
        now = now or utcnow()
        lookback = dt.timedelta(hours=self.config["NOTIFY_LOOKBACK_HOURS"])
        with self.sessions() as session:
            schedule.run_schedule(
                session, now=now, reminder_lead=dt.timedelta(hours=self.config["NOTIFY_REMINDER_HOURS"]),
                lookback=lookback)
        with self.sessions() as session:
            recurring.create_due_occurrences(
                session, now=now, lead=dt.timedelta(hours=self.config["RECURRENCE_LEAD_HOURS"]))
        with self.sessions() as session:
            rules_engine.fire_overdue(session, now=now, lookback=lookback)
        with self.sessions() as session:
            rules_engine.fire_store_metrics(session, now=now)
        with self.sessions() as session:
            webhook_outbox.queue_overdue(session, now=now, lookback=lookback)
            session.commit()

    def run_imports(self) -> int:
        """Import the POS files queued in the console (backend.sales.jobs)."""
        return sales_jobs.run_waiting(self.sessions, worker_id=self.worker_id)

    def add_jobs(self, scheduler: BaseScheduler) -> BaseScheduler:
        """The jobs, one instance at a time each, late runs coalesced."""
        scheduler.add_job(self.dispatch, "interval", seconds=self.config["NOTIFY_POLL_SECONDS"],
                          id="dispatch", max_instances=1, coalesce=True)
        scheduler.add_job(self.run_schedule, "interval", seconds=self.config["NOTIFY_SCHEDULE_SECONDS"],
                          id="schedule", max_instances=1, coalesce=True,
                          next_run_time=dt.datetime.now(dt.timezone.utc))
        scheduler.add_job(self.run_imports, "interval", seconds=self.config["SALES_IMPORT_POLL_SECONDS"],
                          id="imports", max_instances=1, coalesce=True)
        return scheduler

    def run_forever(self) -> None:
        """Block, running the jobs, until interrupted."""
        self.add_jobs(BlockingScheduler(timezone=dt.timezone.utc)).start()


def start_in_process(app: Flask) -> BackgroundScheduler:
    """The embedded default: the worker's jobs on a background thread of the web process."""
    scheduler = Worker(app).add_jobs(BackgroundScheduler(timezone=dt.timezone.utc, daemon=True))
    scheduler.start()
    return scheduler
