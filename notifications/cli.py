"""`flask --app wsgi worker`, `flask --app wsgi notify deliveries` and `notify fake-fcm`."""

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from backend import db
from notifications import service
from notifications.worker import Worker


def register_notifications_cli(app: Flask) -> None:
    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Queue what is due, deliver everything due, exit.")
    @click.option("--id", "worker_id", default=None, help="Worker name in leases (default host:pid).")
    def worker_command(once, worker_id):
        """Deliver push notifications from the outbox and queue reminders and escalations."""
        worker = Worker(current_app, worker_id=worker_id)
        click.echo(f"worker {worker.worker_id}: transport {worker.transport.name}")
        if once:
            worker.run_schedule()
            click.echo(json.dumps(worker.dispatch()))
            return
        worker.run_forever()

    group = AppGroup("notify", help="Notification tools.")

    @group.command("deliveries")
    @click.option("--user", "username", required=True, help="Whose pushes.")
    @click.option("--last", "limit", default=5, show_default=True, type=click.IntRange(1, 1000))
    def deliveries_command(username, limit):
        """The user's latest pushes, newest first: state, next attempt, provider id, title."""
        session = db.new_session()
        try:
            for row in service.recent_deliveries(session=session, username=username, limit=limit):
                click.echo(json.dumps(row, ensure_ascii=False))
        finally:
            session.close()

    @group.command("fake-fcm")
    @click.option("--port", default=8765, show_default=True)
    @click.option("--credentials-out", default="instance/fake-fcm-service-account.json", show_default=True)
    def fake_fcm_command(port, credentials_out):
        """Run the local FCM imitation (no network) and write matching fake credentials."""
        from notifications.fcm_imitation import FcmImitation, fake_service_account

        imitation = FcmImitation(port=port)
        with open(credentials_out, "w", encoding="utf-8") as handle:
            json.dump(fake_service_account(imitation.token_uri), handle)
        click.echo(f"FCM imitation on {imitation.base_url}; credentials in {credentials_out}\n"
                   f"run the worker with NOTIFY_TRANSPORT=fcm FCM_CREDENTIALS_FILE={credentials_out} "
                   f"FCM_ENDPOINT={imitation.base_url}")
        try:
            imitation.server.serve_forever()
        except KeyboardInterrupt:
            pass

    app.cli.add_command(group)
