"""Helpers to drive the reference phone client against the app under test."""

from sqlalchemy import select

from backend import db
from backend.auth import policy
from backend.tasks.models import StoreTask
from backend.tasks import sections
from sync.payloads import TaskPayloads
from sync.client import PhoneClient


def phone(client, headers: dict, client_id: str) -> PhoneClient:
    def send(path, body):
        response = client.post(path, json=body, headers=headers)
        return response.status_code, response.get_json()
    return PhoneClient(client_id, send)


def server_view(app, user_id: int) -> dict[int, dict]:
    """What the server says this user's scope holds, in the shape sync sends."""
    from backend.org.models import User
    with app.app_context():
        session = db.new_session()
        try:
            user = session.get(User, user_id)
            tasks = session.scalars(select(StoreTask).where(policy.store_scope(user, StoreTask.store_id)))
            payloads = TaskPayloads(session, user, sections.detail_sections(app))
            return {task.id: _normal(payloads.dump(task)) for task in tasks}
        finally:
            session.close()


def _normal(data: dict) -> dict:
    import json
    return json.loads(json.dumps(data, sort_keys=True))


def local_view(device: PhoneClient) -> dict[int, dict]:
    return {task_id: _normal(data) for task_id, data in device.view().items()}


def server_inbox(app, user_id: int) -> dict[int, tuple]:
    """The user's notifications of the last month: (kind, task id, read or not) by id."""
    from notifications.models import Notification
    with app.app_context():
        session = db.new_session()
        try:
            return {n.id: (n.kind, n.task_id, n.read_at is not None) for n in session.scalars(
                select(Notification).where(Notification.user_id == user_id))}
        finally:
            session.close()


def local_inbox(device: PhoneClient) -> dict[int, tuple]:
    return {n_id: (data["kind"], data["task_id"], data["read_at"] is not None)
            for n_id, data in device.view("notification").items()}
